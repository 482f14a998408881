"""Crash safety with a real server process (SQLite + filesystem store in a temporary data dir):
SIGKILL it in the middle of a bulk import and in the middle of a blob upload, restart it on the same
data, and check that nothing half-made is visible and that a retry with the same Idempotency-Key
completes the operation exactly once (SPEC §3 idempotency, §13).

The in-flight idempotency lease is shortened (GHARART_IDEMPOTENCY_LEASE_S=1) so the retry can take the
key over from the killed process without waiting the default five minutes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
ROWS = 3000


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data: Path) -> None:
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "GHARART_DATA_DIR": str(data), "GHARART_JWT_SECRET": secrets.token_hex(16),
                    "GHARART_IDEMPOTENCY_LEASE_S": "1", "PYTHONPATH": SRC}
        for name in ("GHARART_DATABASE_URL", "GHARART_OBJECT_STORE"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen[bytes] | None = None

    def init(self) -> str:
        out = subprocess.run([sys.executable, "-c", "from entrypoints.cli.main import main; main()", "init",
                              "--handle", "acme", "--email", "owner@acme.test", "--json"],
                             env=self.env, capture_output=True, check=True, timeout=60)
        return str(json.loads(out.stdout)["token"])

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning", "entrypoints.http.app:create_app"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    srv = Server(tmp_path / "data")
    token = srv.init()
    srv.start()
    try:
        yield srv, token
    finally:
        srv.stop()


def _kill_mid_stream(srv: Server, request: Any, chunks: list[bytes], kill_after: int) -> None:
    """Send ``chunks`` slowly from a thread; SIGKILL the server once ``kill_after`` chunks are out."""
    sent = threading.Event()

    def body() -> Iterator[bytes]:
        for i, chunk in enumerate(chunks):
            if i == kill_after:
                sent.set()
                time.sleep(5)  # the server dies here
            yield chunk

    errors: list[BaseException] = []

    def run() -> None:
        try:
            request(body())
        except BaseException as exc:  # the connection dies with the server
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert sent.wait(30)
    time.sleep(0.3)
    srv.kill()
    t.join(timeout=30)


def _links(srv: Server, auth: dict[str, str]) -> list[str]:
    r = httpx.get(srv.base + "/v2/handles/acme/links/export", params={"format": "jsonl"}, headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    return [json.loads(line)["slug"] for line in r.text.splitlines() if line.strip()]


def test_sigkill_mid_bulk_import_then_retry(server: tuple[Server, str]) -> None:
    srv, token = server
    auth = {"Authorization": f"Bearer {token}"}
    rows = [f"crash-{i},https://example.com/{i}\n".encode() for i in range(ROWS)]
    chunks = [b"slug,destination\n"] + [b"".join(rows[i:i + 100]) for i in range(0, ROWS, 100)]
    headers = {**auth, "Idempotency-Key": "import-1", "content-type": "text/csv"}

    def request(body: Iterator[bytes]) -> Any:
        return httpx.post(srv.base + "/v2/handles/acme/links/bulk-import", params={"mode": "atomic"},
                          content=body, headers=headers, timeout=60)

    _kill_mid_stream(srv, request, chunks, kill_after=len(chunks) // 2)
    srv.start()
    assert httpx.get(srv.base + "/readyz").status_code == 200
    assert [s for s in _links(srv, auth) if s.startswith("crash-")] == []  # atomic: nothing half-imported
    time.sleep(1.2)  # the killed request's in-flight lease runs out
    full = b"".join(chunks)
    r = httpx.post(srv.base + "/v2/handles/acme/links/bulk-import", params={"mode": "atomic"}, content=full,
                   headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["created"] == ROWS
    again = httpx.post(srv.base + "/v2/handles/acme/links/bulk-import", params={"mode": "atomic"}, content=full,
                       headers=headers, timeout=60)
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert len([s for s in _links(srv, auth) if s.startswith("crash-")]) == ROWS
    redirect = httpx.get(srv.base + "/l/acme/crash-7", follow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["location"] == "https://example.com/7"


def test_sigkill_mid_blob_upload_then_retry(server: tuple[Server, str]) -> None:
    srv, token = server
    auth = {"Authorization": f"Bearer {token}"}
    blob = b"<!doctype html>" + os.urandom(1024 * 1024).hex().encode()
    digest = hashlib.sha256(blob).hexdigest()
    r = httpx.post(srv.base + "/v2/handles/acme/site-deployments", headers=auth,
                   json={"manifest": {"index.html": {"sha256": digest, "size": len(blob)}}, "message": "crash"})
    assert r.status_code == 201, r.text
    dep = r.json()["id"]
    url = f"{srv.base}/v2/handles/acme/site-deployments/{dep}/files/{digest}"
    headers = {**auth, "Idempotency-Key": "blob-1", "content-type": "application/octet-stream",
               "content-length": str(len(blob))}
    chunks = [blob[i:i + 64 * 1024] for i in range(0, len(blob), 64 * 1024)]

    def request(body: Iterator[bytes]) -> Any:
        return httpx.put(url, content=body, headers=headers, timeout=60)

    _kill_mid_stream(srv, request, chunks, kill_after=len(chunks) // 2)
    srv.start()
    d = httpx.get(f"{srv.base}/v2/handles/acme/site-deployments/{dep}", headers=auth).json()
    assert d["status"] == "pending" and d["missingBlobs"] == 1, d
    p = httpx.get(f"{srv.base}/v2/handles/acme/site-deployments/{dep}/preview", headers=auth)
    assert p.status_code == 409 and p.json()["code"] == "artifact_missing", p.text
    time.sleep(1.2)
    r = httpx.put(url, content=blob, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    again = httpx.put(url, content=blob, headers=headers, timeout=60)
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    d = httpx.get(f"{srv.base}/v2/handles/acme/site-deployments/{dep}", headers=auth).json()
    assert d["status"] == "deployed", d
    p = httpx.get(f"{srv.base}/v2/handles/acme/site-deployments/{dep}/preview", headers=auth)
    assert p.status_code == 200 and p.content == blob
