"""S3 adapter specifics on a real server: multipart uploads, aborts, presigned URLs, settings."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
import uuid
from collections.abc import AsyncIterator

import pytest

from adapters.objectstore.s3 import MIN_PART, S3ObjectStore, S3Settings
from gharart_core.shared.errors import TooLarge, ValidationFailed

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


@pytest.fixture
async def s3(s3_target: tuple[str, dict[str, str]]) -> AsyncIterator[S3ObjectStore]:
    url, env = s3_target
    store = S3ObjectStore.from_url(f"{url.rstrip('/')}/scale-{uuid.uuid4().hex[:12]}",
                                   env={**env, "GHARART_S3_PART_SIZE_MIB": "5"})
    try:
        yield store
    finally:
        await store.aclose()


async def _pattern(total: int, piece: int = 256 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    i = 0
    while sent < total:
        n = min(piece, total - sent)
        yield bytes([i % 251]) * n
        sent += n
        i += 1
        await asyncio.sleep(0)


def _pattern_bytes(total: int, piece: int = 256 * 1024) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < total:
        out += bytes([i % 251]) * min(piece, total - len(out))
        i += 1
    return bytes(out)


async def test_multipart_round_trip_and_ranges(s3: S3ObjectStore) -> None:
    total = 2 * MIN_PART + 123_457  # three parts
    data = _pattern_bytes(total)
    digest = hashlib.sha256(data).hexdigest()
    info = await s3.put_stream("big/obj", _pattern(total), expected_sha256=digest)
    assert (info.size, info.sha256) == (total, digest)
    head = await s3.head("big/obj")
    assert head is not None and head.size == total and head.sha256 == digest
    got = b"".join([c async for c in s3.get_stream("big/obj", start=MIN_PART - 10, end=MIN_PART + 9)])
    assert got == data[MIN_PART - 10:MIN_PART + 10]
    assert hashlib.sha256(await s3.get_bytes("big/obj")).hexdigest() == digest
    assert await s3.pending_uploads() == []


async def test_multipart_oversize_aborts_and_keeps_previous(s3: S3ObjectStore) -> None:
    await s3.put_bytes("k", b"v1")
    with pytest.raises(TooLarge):
        await s3.put_stream("k", _pattern(3 * MIN_PART), max_bytes=2 * MIN_PART)
    assert await s3.get_bytes("k") == b"v1"
    assert await s3.pending_uploads() == []


async def test_multipart_digest_mismatch_aborts(s3: S3ObjectStore) -> None:
    with pytest.raises(ValidationFailed) as err:
        await s3.put_stream("d", _pattern(MIN_PART + 10), expected_sha256="0" * 64)
    assert err.value.code == "digest_mismatch"
    assert not await s3.exists("d")
    assert await s3.pending_uploads() == []


async def test_multipart_source_failure_and_cancellation_abort(s3: S3ObjectStore) -> None:
    async def failing() -> AsyncIterator[bytes]:
        async for chunk in _pattern(MIN_PART + MIB):
            yield chunk
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await s3.put_stream("f", failing())

    gate = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        async for chunk in _pattern(MIN_PART + MIB):
            yield chunk
        gate.set()
        await asyncio.sleep(3600)
        yield b""

    task = asyncio.ensure_future(s3.put_stream("c", stalls()))
    await asyncio.wait_for(gate.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(50):  # the abort runs shielded; give it a moment
        if await s3.pending_uploads() == []:
            break
        await asyncio.sleep(0.1)
    assert await s3.pending_uploads() == []
    assert not await s3.exists("f") and not await s3.exists("c")


async def test_presigned_download(s3: S3ObjectStore) -> None:
    await s3.put_bytes("pub/a.txt", b"public bytes")
    url = await s3.presigned_get_url("pub/a.txt", expires_s=60, filename="a b.txt")

    def fetch() -> tuple[bytes, str]:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.read(), resp.headers.get("Content-Disposition", "")

    body, disposition = await asyncio.to_thread(fetch)
    assert body == b"public bytes"
    assert "a%20b.txt" in disposition


def test_from_url_and_settings() -> None:
    store = S3ObjectStore.from_url("s3://bucket/some/prefix/", env={
        "GHARART_S3_ENDPOINT": "http://127.0.0.1:9", "GHARART_S3_REGION": "eu-west-1",
        "GHARART_S3_ACCESS_KEY_ID": "id", "GHARART_S3_SECRET_ACCESS_KEY": "secret"})
    assert (store.bucket, store.prefix) == ("bucket", "some/prefix/")
    s = store.settings
    assert (s.endpoint_url, s.region, s.access_key_id, s.secret_access_key, s.path_style) == (
        "http://127.0.0.1:9", "eu-west-1", "id", "secret", True)
    assert S3ObjectStore.from_url("s3://b", env={}).prefix == ""
    assert S3Settings(part_size=1).part_size == MIN_PART
    with pytest.raises(ValueError):
        S3ObjectStore.from_url("s3:///nobucket", env={})
