"""`python -c "import gharart_core"` stays light: time against `python -c "pass"`, no framework loaded.

SPEC §12: imports no litestar/sqlalchemy/httpx; < 100 ms. Runs each interpreter start N times
and compares medians, so the figure is the import's own cost, not the interpreter's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
FORBIDDEN = ("litestar", "sqlalchemy", "httpx", "dependency_injector", "cattrs", "adapters", "entrypoints")
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
BUDGET_MS = 100.0
ALL = ("import importlib, pkgutil, gharart_core\n"
       "for m in pkgutil.walk_packages(gharart_core.__path__, 'gharart_core.'): importlib.import_module(m.name)")


def _time(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "0"}
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> int:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    probe = (ALL + "\nimport json, sys\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r}))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    _time(ALL)  # warm the bytecode cache
    baseline = _time("pass")
    core = _time("import gharart_core")
    everything = _time(ALL)
    cost = core - baseline
    print(f"python -c pass:                {baseline:7.1f} ms (median of {RUNS})")
    print(f"python -c 'import gharart_core': {core:7.1f} ms")
    print(f"import cost: {cost:.1f} ms (budget {BUDGET_MS:.0f} ms); ratio to bare start {core / baseline:.2f}x")
    print(f"every gharart_core module:     {everything:7.1f} ms (+{everything - baseline:.1f} ms)")
    print(f"framework modules loaded: {loaded or 'none'}")
    ok = not loaded and cost < BUDGET_MS
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
