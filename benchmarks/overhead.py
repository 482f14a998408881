"""Framework overhead: authenticated ``GET /v2/handles/{handle}`` vs a bare Litestar JSON handler.

Both run on granian, 1 worker, on loopback, in the same setup; the load comes from a separate
process (``wrk -t1 -c50`` when installed, else or with ``BENCH_LOADGEN=python`` a small asyncio
keep-alive client). The gharart
side is the real app on the embedded default (SQLite + filesystem in a temp data dir) with a PAT
minted through the identity service, so the figure includes authentication, the handle lookup,
request IDs, throttling, metrics and the problem/idempotency middleware.

Prints requests/s of each and the ratio (target >= 0.5). Bounded: ``BENCH_DURATION`` seconds per
side (default 8) plus a short warm-up.

    .venv/bin/python benchmarks/overhead.py
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(os.environ.get("GHARART_BENCH_SRC", ROOT / "src"))
DURATION = float(os.environ.get("BENCH_DURATION", "8"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
TARGET = 0.5
USE_WRK = bool(shutil.which("wrk")) and os.environ.get("BENCH_LOADGEN", "wrk") == "wrk"
HANDLE = "bench"


# -- the two apps (granian factory targets: "overhead:bare_app", "overhead:gharart_app") ---------
def bare_app() -> Any:
    from litestar import Litestar, get

    @get("/v2/handles/{handle:str}", sync_to_thread=False)
    def handle_view(handle: str) -> dict[str, Any]:
        return {"handle": handle, "accountId": "acc_01JD00000000000000000000AA", "role": "owner",
                "createdAt": "2026-01-01T00:00:00.000Z"}

    return Litestar([handle_view], openapi_config=None)


def gharart_app() -> Any:
    from entrypoints.http.app import create_app

    return create_app()


# -- set-up ----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _mint_token(database_url: str) -> str:
    """Migrate a fresh embedded database and create a user, the handle and a PAT."""
    from adapters.registry import sql_factories
    from adapters.sql.database import Database, SqlUnitOfWork
    from adapters.sql.migrate import upgrade
    from gharart_core.identity.model import SCOPES, Principal
    from gharart_core.identity.service import IdentityService
    from gharart_core.shared.clock import SystemClock
    from gharart_core.shared.ids import UlidIds
    from gharart_core.shared.tokens import SecretsTokenSource

    await upgrade(database_url)
    db = Database(database_url)
    factories = sql_factories()
    svc = IdentityService(SystemClock(), UlidIds(), SecretsTokenSource())
    try:
        async with SqlUnitOfWork(db, factories, write=True) as uow:
            user = await svc.provision(uow, subject="bench", email="bench@example.com")
            owner = Principal(user.id, user.email, frozenset(s for s in SCOPES if s != "operator"), None,
                              kind="jwt")
            await svc.create_handle(uow, owner, HANDLE)
            issued = await svc.create_token(uow, owner, name="bench", scopes=["links:read"], handle=None,
                                            expires_at=None)
            await uow.commit()
    finally:
        await db.dispose()
    return issued.secret


def _pin(cpu: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


class Server:
    def __init__(self, target: str, env: dict[str, str], probe: str, headers: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [*_pin(0), sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
               "--workers", "1", "--host", "127.0.0.1", "--port", str(self.port),
               "--log-level", "warning", "--no-ws", target]
        self.proc = subprocess.Popen(cmd, env=env, cwd=Path(__file__).parent, start_new_session=True)
        self._wait(probe, headers)

    def _wait(self, path: str, headers: dict[str, str]) -> None:
        deadline = time.monotonic() + 60
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                req = urllib.request.Request(self.url + path, headers=headers)
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except Exception as exc:  # not up yet
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer {path}: {last}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# -- load ------------------------------------------------------------------------------------------
def _wrk(url: str, headers: dict[str, str], duration: float) -> tuple[float, int]:
    cmd = [*_pin(1), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(duration))}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, int(bad.group(1)) if bad else 0


_LOADGEN = r'''
import asyncio, sys, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
duration, conns, headers = float(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]
req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()
count = bad = 0
async def worker(stop):
    global count, bad
    r, w = await asyncio.open_connection(host, port)
    while time.monotonic() < stop:
        w.write(req)
        head = await r.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await r.readexactly(length)
        count += 1
        bad += not 200 <= status < 400
    w.close()
async def main():
    stop = time.monotonic() + duration
    t0 = time.monotonic()
    await asyncio.gather(*(worker(stop) for _ in range(conns)))
    print(count / (time.monotonic() - t0), bad)
asyncio.run(main())
'''


def _pyload(url: str, path: str, headers: dict[str, str], duration: float) -> tuple[float, int]:
    port = url.rsplit(":", 1)[1]
    cmd = [*_pin(1), sys.executable, "-c", _LOADGEN, "127.0.0.1", port, path, str(duration), str(CONNECTIONS),
           *(f"{k}: {v}" for k, v in headers.items())]
    rps, bad = subprocess.run(cmd, capture_output=True, text=True, check=True,
                              timeout=duration + 60).stdout.split()
    return float(rps), int(bad)


def measure(server: Server, path: str, headers: dict[str, str]) -> tuple[float, int]:
    if USE_WRK:
        _wrk(server.url + path, headers, WARMUP)
        return _wrk(server.url + path, headers, DURATION)
    _pyload(server.url, path, headers, WARMUP)
    return _pyload(server.url, path, headers, DURATION)


def main() -> int:
    sys.path.insert(0, str(SRC))
    tool = f"wrk -t1 -c{CONNECTIONS}" if USE_WRK else f"asyncio keep-alive client, {CONNECTIONS} conns"
    data_dir = Path(tempfile.mkdtemp(prefix="gharart-bench-"))
    path = f"/v2/handles/{HANDLE}"
    try:
        database_url = f"sqlite+aiosqlite:///{data_dir / 'gharart.db'}"
        logging.disable(logging.WARNING)  # migrations log at INFO
        try:
            token = asyncio.run(_mint_token(database_url))
        finally:
            logging.disable(logging.NOTSET)
        auth = {"Authorization": f"Bearer {token}"}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(Path(__file__).parent)]),
               "GHARART_DATA_DIR": str(data_dir),
               # the throttle still runs on every request; the limit is raised so the load is not refused
               "GHARART_RATE_LIMITS": "api=1000000/s:1000000"}
        env.pop("GHARART_DATABASE_URL", None)
        env.pop("GHARART_OBJECT_STORE", None)

        bare = Server("overhead:bare_app", env, path, {})
        try:
            bare_rps, bare_bad = measure(bare, path, {})
        finally:
            bare.stop()
        app = Server("overhead:gharart_app", env, path, auth)
        try:
            with urllib.request.urlopen(urllib.request.Request(app.url + path, headers=auth), timeout=5) as r:
                body = json.loads(r.read())
            assert body.get("handle") == HANDLE and body.get("role") == "owner", body
            app_rps, app_bad = measure(app, path, auth)
        finally:
            app.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    ratio = app_rps / bare_rps if bare_rps else 0.0
    pinned = "server on CPU 0, load on CPU 1" if _pin(0) else "not pinned"
    print(f"setup: granian 1 worker, loopback, {tool}, {DURATION:.0f}s per side, {pinned}")
    print(f"bare Litestar JSON handler:          {bare_rps:10.0f} req/s  (non-2xx: {bare_bad})")
    print(f"gharart GET /v2/handles/{{handle}} (PAT): {app_rps:7.0f} req/s  (non-2xx: {app_bad})")
    print(f"ratio: {ratio:.2f}  (target >= {TARGET})")
    if bare_bad or app_bad:
        print("INVALID: some responses were not 2xx")
        return 1
    return 0 if ratio >= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
