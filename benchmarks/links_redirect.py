"""Public redirect ``GET /l/{handle}/{slug}`` (3 rules, SQLite, clicks counted) against a bare
Litestar handler returning a fixed 302, both on granian with one worker, load from ``wrk`` on loopback.

    PYTHONPATH=src python benchmarks/links_redirect.py [--seconds 5] [--connections 50]

Needs ``wrk`` (Debian package). Prints both rates and the ratio (bar >= 1.0, floor 0.6), and checks
that every request was counted as a click.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from litestar import Litestar, Response, get

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
RULES = [
    {"conditions": {"device": ["mobile"], "country": ["FR"]}, "destination": "https://fr-mobile.example/"},
    {"conditions": {"queryParam": {"name": "utm_campaign", "equals": "spring"}}, "destination": "https://spring.example/"},
    {"conditions": {"os": ["ios"]}, "variants": [{"destination": "https://a.example/", "weight": 50},
                                                 {"destination": "https://b.example/", "weight": 50}]},
]


# -- the two apps (granian imports these factories) ----------------------------------------------

def bare_app():  # pragma: no cover - benchmark target
    @get("/l/{handle:str}/{slug:str}", status_code=302)
    async def redirect(handle: str, slug: str) -> Response[bytes]:
        return Response(b"", status_code=302, headers={"Location": "https://example.com/landing",
                                                       "Cache-Control": "private, max-age=0"})

    return Litestar([redirect], openapi_config=None)


def ours_app():  # pragma: no cover - benchmark target
    from entrypoints.containers import build_container
    from entrypoints.http.app import create_app
    from entrypoints.settings import Settings

    return create_app(build_container(Settings.from_env(dotenv=False)))


# -- driver -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(data_dir: Path) -> None:
    sys.path.insert(0, str(SRC))
    from adapters.memory.state import MemoryState  # noqa: F401  (import check)
    from adapters.registry import sql_factories
    from adapters.sql.database import Database, SqlUnitOfWork
    from adapters.sql.migrate import upgrade
    from gharart_core.identity.model import HandleAccess, Principal, Role
    from gharart_core.links.service import LinksService
    from gharart_core.shared.clock import SystemClock
    from gharart_core.shared.ids import UlidIds

    url = f"sqlite+aiosqlite:///{data_dir / 'gharart.db'}"
    access = HandleAccess(Principal("usr_b", None, frozenset({"links:write", "links:read"}), None), "bench", "acc_b",
                          Role.OWNER, None)

    async def go() -> None:
        await upgrade(url)
        db = Database(url)
        svc = LinksService(clock=SystemClock(), ids=UlidIds())
        async with SqlUnitOfWork(db, sql_factories()) as uow:
            await svc.create(uow, access, {"slug": "launch", "destination": "https://example.com/landing",
                                           "rules": RULES})
            await uow.commit()
        await db.dispose()

    asyncio.run(go())


def start(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    granian = Path(sys.executable).with_name("granian")
    cmd = [str(granian), "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
           "--factory", "--no-ws", f"links_redirect:{factory}"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{factory} did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")


def wrk(port: int, seconds: int, connections: int) -> tuple[float, int]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"User-Agent: {UA}",
           f"http://127.0.0.1:{port}/l/bench/launch"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"errors during the run: {out}")
    return rate, total


def measure(factory: str, env: dict[str, str], seconds: int, connections: int) -> tuple[float, int]:
    port = free_port()
    proc = start(factory, port, env)
    try:
        wrk(port, 1, connections)  # warm-up
        return wrk(port, seconds, connections)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("links_redirect: skipped, wrk is not installed (apt-get install wrk)")
        return
    with tempfile.TemporaryDirectory(prefix="links-redirect-") as d:
        data = Path(d)
        seed(data)
        env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{HERE}", "GHARART_DATA_DIR": str(data),
               "GHARART_OBJECT_STORE": "memory://", "GHARART_AUTO_MIGRATE": "false"}
        bare_rate, _ = measure("bare_app", env, args.seconds, args.connections)
        ours_rate, ours_total = measure("ours_app", env, args.seconds, args.connections)
        conn = sqlite3.connect(data / "gharart.db")
        clicks = conn.execute("SELECT COALESCE(SUM(count), 0) FROM link_clicks").fetchone()[0]
        conn.close()
    print(f"bare Litestar 302 on granian: {bare_rate:,.0f} req/s")
    print(f"GET /l/bench/launch (3 rules, SQLite, clicks counted): {ours_rate:,.0f} req/s")
    print(f"clicks recorded: {clicks:,} for {ours_total:,} measured requests (+ warm-up)")
    print(f"ratio (ours/bare): {ours_rate / bare_rate:.2f}  (bar >= 1.0, floor 0.6)")


if __name__ == "__main__":
    main()
