"""Audit regressions: cross-cutting contract, identity and the CLI entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_cli_module_runs_as_a_script() -> None:
    """`python -m entrypoints.cli.main ...` is the documented way to run the CLI from a checkout."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-m", "entrypoints.cli.main", "--help"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "init" in done.stdout
