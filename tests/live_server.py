"""A real ``gharart serve`` process (granian) on loopback over a temporary data dir (SQLite + filesystem
store), and a harness-shaped client so ``tests.seed.seed`` can seed it through the API.

Users and PATs come from the identity provider's side: a JWT signed with the server's
``GHARART_JWT_SECRET`` is exchanged for a PAT at ``POST /v2/tokens``; operators are the e-mails in
``GHARART_OPERATORS``. Processes are stopped by PID.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from entrypoints.harness import ALL_SCOPES, ApiSeeding
from gharart_core.identity.model import SCOPES

__all__ = ["LiveHarness", "LiveServer", "free_port"]

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
# Generous buckets and quotas: the tests measure behaviour, not the throttles.
NO_THROTTLES = {
    "GHARART_RATE_LIMITS": "api=100000/s:100000,magic_link=100000/m:100000,magic_link_email=100000/m:100000,"
                           "content_report=100000/m:100000",
    "GHARART_DAILY_LINK_WRITES": "10000000", "GHARART_DAILY_DEPLOYMENTS": "100000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.jwt_secret = secrets.token_hex(32)
        self.env = {**os.environ, "GHARART_DATA_DIR": str(data), "GHARART_JWT_SECRET": self.jwt_secret,
                    "PYTHONPATH": str(SRC), **env}
        for name in ("GHARART_DATABASE_URL", "GHARART_OBJECT_STORE", "GHARART_PUBLIC_URL", "GHARART_JOB_QUEUE"):
            if name not in env:
                self.env.pop(name, None)
        self.log_path = data.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from entrypoints.cli.main import main; main()", *args],
                              env=self.env, cwd=str(ROOT), capture_output=True, text=True, timeout=timeout)

    def start(self, timeout: float = 60) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it; closed when it exits
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from entrypoints.cli.main import main; main()", "serve",
             "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start: " + self.log()[-3000:])
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class LiveHarness(ApiSeeding):
    """The part of ``entrypoints.harness.Harness`` that ``tests.seed.seed`` uses, over real HTTP."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.client = httpx.AsyncClient(base_url=server.base, timeout=30)

    def jwt(self, email: str, scopes: tuple[str, ...] = tuple(SCOPES)) -> str:
        import jwt

        now = int(time.time())
        claims = {"sub": f"idp|{email}", "email": email, "iat": now, "exp": now + 3600, "scope": " ".join(scopes)}
        return jwt.encode(claims, self.server.jwt_secret, algorithm="HS256")

    async def create_user_token(self, email: str, scopes: tuple[str, ...] = ALL_SCOPES, *,
                                handle: str | None = None, operator: bool = False) -> str:
        """A PAT for ``email``; ``operator`` needs the e-mail in the server's ``GHARART_OPERATORS``."""
        del operator  # the server decides from GHARART_OPERATORS
        r = await self.client.post("/v2/tokens", json={"name": "seed", "scopes": list(scopes), "handle": handle},
                                   headers=self.auth(self.jwt(email)))
        if r.status_code != 201:
            raise RuntimeError(f"could not mint a PAT for {email}: {r.status_code} {r.text}")
        return str(r.json()["token"])

    async def drain(self) -> None:
        """Nothing to wait for: the server runs its own background work."""

    async def aclose(self) -> None:
        await self.client.aclose()
