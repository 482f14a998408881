"""Profile route ``GET /profiles/{handle}/index.html`` (10 KiB HTML of the live deployment, SQLite,
filesystem object store) against a bare Litestar handler returning the same bytes from memory,
both on granian with one worker, load from ``wrk`` on loopback.

    PYTHONPATH=src python benchmarks/sites_profile.py [--seconds 5] [--connections 50]

Needs ``wrk`` (Debian package). Prints both rates and the ratio (SPEC §12 bar: >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from litestar import Litestar, Response, get

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>Storefront</title></head><body>"
    + b"<p>"
    + b"Spring collection, free shipping over 50. " * 240
    + b"</p></body></html>"
)[:10240]
ETAG = hashlib.sha256(PAGE).hexdigest()


def bare_app():  # pragma: no cover - benchmark target
    @get("/profiles/{handle:str}/index.html")
    async def page(handle: str) -> Response[bytes]:
        return Response(
            PAGE,
            media_type="text/html; charset=utf-8",
            headers={"ETag": f'"{ETAG}"', "Cache-Control": "public, max-age=0, must-revalidate"},
        )

    return Litestar([page], openapi_config=None)


def ours_app():  # pragma: no cover - benchmark target
    from entrypoints.containers import build_container
    from entrypoints.http.app import create_app
    from entrypoints.settings import Settings

    return create_app(build_container(Settings.from_env(dotenv=False)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(data_dir: Path) -> None:
    sys.path.insert(0, str(SRC))
    from adapters.objectstore.filesystem import FilesystemObjectStore
    from adapters.registry import sql_factories
    from adapters.sql.database import Database, SqlUnitOfWork
    from adapters.sql.migrate import upgrade
    from gharart_core.identity.model import Account, Handle, HandleAccess, Principal, Role
    from gharart_core.shared.clock import SystemClock
    from gharart_core.shared.ids import UlidIds
    from gharart_core.shared.tokens import SecretsTokenSource
    from gharart_core.sites.service import SitesService

    url = f"sqlite+aiosqlite:///{data_dir / 'gharart.db'}"
    access = HandleAccess(
        Principal("usr_b", None, frozenset({"sites:read", "sites:write"}), None), "bench", "acc_b", Role.OWNER, None
    )

    async def body():  # type: ignore[no-untyped-def]
        yield PAGE

    async def go() -> None:
        await upgrade(url)
        db = Database(url)
        now = SystemClock().now()
        svc = SitesService(
            clock=SystemClock(),
            ids=UlidIds(),
            tokens=SecretsTokenSource(),
            object_store=FilesystemObjectStore(data_dir / "objects"),
        )
        async with SqlUnitOfWork(db, sql_factories()) as uow:
            await uow.identity.add_account(Account("acc_b", now))
            await uow.identity.add_handle(Handle("bench", "acc_b", now))
            dep, required = await svc.create_deployment(
                uow, access, {"manifest": {"index.html": {"sha256": ETAG, "size": len(PAGE)}}}
            )
            await svc.upload_blob(uow, access, dep.id, ETAG, body())
            await svc.promote(uow, access, dep.id, {"expectedLiveDeploymentId": None})
            await uow.commit()
        await db.dispose()

    asyncio.run(go())


def start(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    granian = Path(sys.executable).with_name("granian")
    cmd = [
        str(granian),
        "--interface",
        "asgi",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--factory",
        "--no-ws",
        f"sites_profile:{factory}",
    ]
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


def wrk(port: int, seconds: int, connections: int) -> float:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/profiles/bench/index.html"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"errors during the run: {out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def measure(factory: str, env: dict[str, str], seconds: int, connections: int) -> float:
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
        sys.exit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="sites-profile-") as d:
        data = Path(d)
        seed(data)
        env = {
            **os.environ,
            "PYTHONPATH": f"{SRC}{os.pathsep}{HERE}",
            "GHARART_DATA_DIR": str(data),
            "GHARART_AUTO_MIGRATE": "false",
        }
        bare = measure("bare_app", env, args.seconds, args.connections)
        ours = measure("ours_app", env, args.seconds, args.connections)
    print(f"bare Litestar serving the 10 KiB page from memory: {bare:,.0f} req/s")
    print(f"GET /profiles/bench/index.html (live deployment, SQLite, filesystem store): {ours:,.0f} req/s")
    print(f"ratio (ours/bare): {ours / bare:.2f}  (bar >= 0.8)")


if __name__ == "__main__":
    main()
