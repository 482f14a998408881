"""Benchmark: upload and download of a large file through the HTTP API of a real server process.

Measures, in the same run:
- baseline: a plain file copy of the same bytes (``shutil.copyfile``) on the same disk;
- upload: ``POST /v2/handles/{h}/files`` (multipart, streamed) to a server on 127.0.0.1
  (SQLite + filesystem object store in a temporary data dir);
- download: ``GET /v2/public/files/{id}`` streamed to a file.

For each direction it prints throughput, the ratio to the plain copy, and the server's RSS growth
(peak during the transfer minus the RSS just before it). The bar (SPEC §12): RSS growth < 64 MiB
each way for 1 GiB.

    PYTHONPATH=src python benchmarks/files_transfer.py [--size-mib 1024] [--server uvicorn|granian]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

MIB = 1024 * 1024
RSS_BAR_MIB = 64
CHUNK = 1 * MIB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_payload(path: Path, size: int) -> str:
    """``size`` bytes: a random 1 MiB block repeated (incompressible per block), returns its sha256."""
    block = os.urandom(CHUNK)
    h = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            part = block[: min(CHUNK, left)]
            fh.write(part)
            h.update(part)
            left -= len(part)
    return h.hexdigest()


class RssSampler:
    """Samples a process's RSS every 20 ms in a thread; ``peak`` since ``start``."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.base = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _rss(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return int(total)

    def start(self) -> None:
        self.base = self.peak = self._rss()
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.peak = max(self.peak, self._rss())
                except psutil.NoSuchProcess:
                    return
                time.sleep(0.02)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        if self._thread:
            self._thread.join()
        return (self.peak - self.base) / MIB


def start_server(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    if kind == "granian":
        cmd = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "entrypoints.http.app:create_app",
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "entrypoints.http.app:create_app",
        ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                "server exited: " + (proc.stderr.read().decode()[-2000:] if proc.stderr else "")
            )
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


async def make_token(env: dict[str, str]) -> str:
    """A user and PAT created directly in the server's database (no identity provider needed)."""
    from entrypoints.containers import build_container
    from entrypoints.settings import Settings
    from gharart_core.identity.model import SCOPES, Principal

    container = build_container(Settings.from_env(env, dotenv=False))
    identity = container.identity_service()
    async with container.uow_factory()(write=True) as uow:
        user = await identity.ensure_user(uow, "bench@example.com")
        principal = Principal(user.id, user.email, frozenset(SCOPES), None, False)
        issued = await identity.create_token(
            uow, principal, name="bench", scopes=["files:read", "files:write"], handle=None, expires_at=None
        )
        await uow.commit()
    await container.database().dispose()
    return str(issued.secret)


def multipart_body(path: Path, boundary: str) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\npublic\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def gen() -> Iterator[bytes]:
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
        yield tail

    return gen(), len(head) + path.stat().st_size + len(tail)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    ap.add_argument("--timeout", type=float, default=900, help="bound for each transfer, seconds")
    ap.add_argument(
        "--object-store", default=None, help="GHARART_OBJECT_STORE (default: file store in data dir)"
    )
    args = ap.parse_args()
    size = args.size_mib * MIB

    tmp = Path(tempfile.mkdtemp(prefix="gharart-bench-files-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        src = tmp / "payload.bin"
        digest = make_payload(src, size)

        t0 = time.perf_counter()
        shutil.copyfile(src, tmp / "copy.bin")
        os.sync()
        copy_s = time.perf_counter() - t0
        (tmp / "copy.bin").unlink()
        copy_rate = size / copy_s

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "GHARART_DATA_DIR": str(tmp / "data"),
            "GHARART_JWT_SECRET": secrets.token_hex(16),
            "GHARART_RATE_LIMITS": "api=100000/s:100000",
            "PYTHONPATH": os.environ.get("PYTHONPATH", "src"),
        }
        env.pop("GHARART_DATABASE_URL", None)
        env.pop("GHARART_OBJECT_STORE", None)
        if args.object_store:
            env["GHARART_OBJECT_STORE"] = args.object_store
        proc = start_server(args.server, port, env)
        wait_ready(base, proc)
        token = asyncio.run(make_token(env))
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(base + "/v2/handles", json={"handle": "bench"}, headers=auth, timeout=30)
        assert r.status_code == 201, r.text
        sampler = RssSampler(proc.pid)
        timeout = httpx.Timeout(args.timeout, connect=10)

        # upload
        boundary = "bench" + secrets.token_hex(8)
        body, length = multipart_body(src, boundary)
        sampler.start()
        t0 = time.perf_counter()
        r = httpx.post(
            base + "/v2/handles/bench/files",
            content=body,
            timeout=timeout,
            headers={
                **auth,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
        up_s = time.perf_counter() - t0
        up_rss = sampler.stop()
        assert r.status_code == 201, r.text
        f = r.json()
        assert f["size"] == size and f["sha256"] == digest, f

        # download
        out = tmp / "download.bin"
        h = hashlib.sha256()
        sampler.start()
        t0 = time.perf_counter()
        with (
            httpx.stream("GET", f"{base}/v2/public/files/{f['id']}", timeout=timeout) as resp,
            out.open("wb") as fh,
        ):
            assert resp.status_code == 200, resp.read()
            for chunk in resp.iter_raw(CHUNK):
                h.update(chunk)
                fh.write(chunk)
        down_s = time.perf_counter() - t0
        down_rss = sampler.stop()
        assert h.hexdigest() == digest

        up_rate, down_rate = size / up_s, size / down_s
        print(f"files_transfer: {args.size_mib} MiB via {args.server}, SQLite + filesystem store, loopback")
        print(f"  plain file copy : {copy_rate / MIB:8.1f} MiB/s ({copy_s:.2f} s)")
        bar = f"(bar < {RSS_BAR_MIB})"
        up = f"{up_rate / MIB:8.1f} MiB/s ({up_s:.2f} s)  ratio {up_rate / copy_rate:.2f}x copy"
        down = f"{down_rate / MIB:8.1f} MiB/s ({down_s:.2f} s)  ratio {down_rate / copy_rate:.2f}x copy"
        print(f"  upload   (HTTP) : {up}  server RSS growth {up_rss:.1f} MiB {bar}")
        print(f"  download (HTTP) : {down}  server RSS growth {down_rss:.1f} MiB {bar}")
        ok = up_rss < RSS_BAR_MIB and down_rss < RSS_BAR_MIB
        print("  RSS bar:", "PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
