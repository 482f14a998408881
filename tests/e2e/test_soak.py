"""The soak benchmark, shortened for CI: mixed traffic on a real server, no 5xx, RSS flat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_short_soak() -> None:
    duration = os.environ.get("SOAK_CI_DURATION", "6")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--duration", duration,
                          "--concurrency", "4", "--json", "--rss-slack-mib", "60"],
                         capture_output=True, timeout=180, cwd=ROOT)
    assert out.stdout, out.stderr.decode()[-2000:]
    result = json.loads(out.stdout.decode().strip().splitlines()[-1])
    assert result["errors"] == 0, result
    assert result["requests"] > 100, result
    assert result["ok"], result
