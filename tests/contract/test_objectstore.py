"""One object-store contract, run against every adapter: memory, filesystem and S3.

The stores come from the ``object_store`` fixture (tests/contract/conftest.py); its S3 parameter
runs against a real server: a SeaweedFS started by the ``s3_target`` fixture (tests/conftest.py),
or the server named by ``GHARART_TEST_S3_URL``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.objectstore.filesystem import FilesystemObjectStore
from gharart_core.shared.errors import BadRequest, TooLarge, ValidationFailed
from gharart_core.shared.ports import ObjectStore


@pytest.fixture
def store(object_store: ObjectStore) -> ObjectStore:
    """The contract's store: ``object_store`` (tests/contract/conftest.py), one per adapter."""
    return object_store


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def _failing(after: bytes) -> AsyncIterator[bytes]:
    yield after
    raise ConnectionResetError("client went away")


async def _read(store: ObjectStore, key: str, **kw: Any) -> bytes:
    return b"".join([c async for c in store.get_stream(key, **kw)])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_put_stream_hashes_and_round_trips(store: ObjectStore) -> None:
    info = await store.put_stream("blobs/sha256/ab/abc", _chunks(b"hello ", b"", b"world"))
    assert (info.key, info.size, info.sha256) == ("blobs/sha256/ab/abc", 11, _sha(b"hello world"))
    assert await store.get_bytes("blobs/sha256/ab/abc") == b"hello world"
    assert await _read(store, "blobs/sha256/ab/abc", chunk_size=4) == b"hello world"
    head = await store.head("blobs/sha256/ab/abc")
    assert head is not None and head.size == 11 and head.sha256 in (None, _sha(b"hello world"))
    assert await store.exists("blobs/sha256/ab/abc")


async def test_put_bytes_and_empty_object(store: ObjectStore) -> None:
    info = await store.put_bytes("a/empty", b"")
    assert (info.size, info.sha256) == (0, _sha(b""))
    assert await store.get_bytes("a/empty") == b""
    assert await _read(store, "a/empty") == b""
    head = await store.head("a/empty")
    assert head is not None and head.size == 0


async def test_overwrite_replaces_whole_object(store: ObjectStore) -> None:
    await store.put_bytes("k", b"a much longer first version")
    await store.put_bytes("k", b"short")
    assert await store.get_bytes("k") == b"short"


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, None, b"0123456789"),
    (0, 0, b"0"),
    (2, 5, b"2345"),
    (7, None, b"789"),
    (8, 100, b"89"),
    (9, 9, b"9"),
    (10, None, b""),
    (50, 60, b""),
    (5, 4, b""),
])
async def test_ranged_reads(store: ObjectStore, start: int, end: int | None, expected: bytes) -> None:
    await store.put_bytes("r", b"0123456789")
    assert await _read(store, "r", start=start, end=end, chunk_size=3) == expected


async def test_chunk_size_is_respected(store: ObjectStore) -> None:
    await store.put_bytes("c", b"x" * 1000)
    sizes = [len(c) async for c in store.get_stream("c", chunk_size=128)]
    assert sum(sizes) == 1000 and max(sizes) <= 128


async def test_max_bytes_refuses_and_stores_nothing(store: ObjectStore) -> None:
    info = await store.put_stream("exact", _chunks(b"12345"), max_bytes=5)
    assert info.size == 5
    with pytest.raises(TooLarge) as err:
        await store.put_stream("big", _chunks(b"123", b"456"), max_bytes=5)
    assert err.value.code == "file_too_large"
    assert not await store.exists("big")
    assert await store.head("big") is None


async def test_oversized_overwrite_keeps_previous_version(store: ObjectStore) -> None:
    await store.put_bytes("keep", b"v1")
    with pytest.raises(TooLarge):
        await store.put_stream("keep", _chunks(b"x" * 10), max_bytes=4)
    assert await store.get_bytes("keep") == b"v1"


async def test_digest_mismatch_refuses_and_stores_nothing(store: ObjectStore) -> None:
    good = _sha(b"payload")
    info = await store.put_stream("d/ok", _chunks(b"pay", b"load"), expected_sha256=good.upper())
    assert info.sha256 == good
    with pytest.raises(ValidationFailed) as err:
        await store.put_stream("d/bad", _chunks(b"payload"), expected_sha256="0" * 64)
    assert err.value.code == "digest_mismatch"
    assert err.value.extra["actualSha256"] == good
    assert not await store.exists("d/bad")


async def test_failed_upload_leaves_nothing(store: ObjectStore) -> None:
    await store.put_bytes("f", b"old")
    with pytest.raises(ConnectionResetError):
        await store.put_stream("f", _failing(b"partial new bytes"))
    with pytest.raises(ConnectionResetError):
        await store.put_stream("g", _failing(b"partial"))
    assert await store.get_bytes("f") == b"old"
    assert not await store.exists("g")


async def test_missing_objects(store: ObjectStore) -> None:
    assert await store.head("nope/x") is None
    assert not await store.exists("nope/x")
    await store.delete("nope/x")  # deleting a missing key is fine
    with pytest.raises(KeyError):
        await store.get_bytes("nope/x")
    with pytest.raises(KeyError):
        await _read(store, "nope/x")


async def test_delete(store: ObjectStore) -> None:
    await store.put_bytes("del/me", b"1")
    await store.delete("del/me")
    assert not await store.exists("del/me")
    with pytest.raises(KeyError):
        await store.get_bytes("del/me")


async def test_reader_keeps_its_version_during_overwrite(store: ObjectStore) -> None:
    await store.put_bytes("v", b"A" * 300)
    stream = store.get_stream("v", chunk_size=100)
    first = await stream.__anext__()
    await store.put_bytes("v", b"B" * 300)
    rest = b"".join([c async for c in stream])
    assert first + rest == b"A" * 300
    assert await store.get_bytes("v") == b"B" * 300


BAD_KEYS = [
    "", "/etc/passwd", "../escape", "a/../../b", "a/./b", "a//b", "a/", ".", "..",
    "a\\..\\b", "nul\x00byte", "line\nbreak", "x" * 2000, "seg/" + "y" * 300, "\udc80",
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(BadRequest) as err:
        await store.put_bytes(key, b"x")
    assert err.value.code == "invalid_object_key"
    with pytest.raises(BadRequest):
        await store.put_stream(key, _chunks(b"x"))
    with pytest.raises(BadRequest):
        await store.get_bytes(key)
    with pytest.raises(BadRequest):
        await store.head(key)
    with pytest.raises(BadRequest):
        await store.delete(key)


@pytest.mark.parametrize("key", ["%2e%2e/%2f", "…/ünïcode name.txt", ".well-known/x", "a..b/c..", "sp ace"])
async def test_odd_but_safe_keys_work(store: ObjectStore, key: str) -> None:
    await store.put_bytes(key, b"ok")
    assert await store.get_bytes(key) == b"ok"


async def test_ping(store: ObjectStore) -> None:
    await store.ping()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.binary(max_size=300), max_size=8), start=st.integers(0, 2500),
       length=st.one_of(st.none(), st.integers(0, 2500)))
def test_any_stream_and_range_round_trips(store: ObjectStore, parts: list[bytes], start: int,
                                          length: int | None) -> None:
    async def run() -> None:
        data = b"".join(parts)
        info = await store.put_stream("p/q", _chunks(*parts))
        assert (info.size, info.sha256) == (len(data), _sha(data))
        end = None if length is None else start + length
        expected = data[start:] if end is None else data[start:end + 1]
        try:
            assert await _read(store, "p/q", start=start, end=end, chunk_size=97) == expected
        finally:
            aclose = getattr(store, "aclose", None)  # clients bound to this example's event loop
            if aclose is not None:
                await aclose()

    asyncio.run(run())


def test_filesystem_layout_is_atomic_and_contained(tmp_path: Path) -> None:
    fs = FilesystemObjectStore(tmp_path / "s")

    async def run() -> None:
        await fs.put_bytes("deep/er/key", b"z")
        with pytest.raises(TooLarge):
            await fs.put_stream("deep/er/big", _chunks(b"12"), max_bytes=1)

    asyncio.run(run())
    assert (tmp_path / "s" / "objects" / "deep" / "er" / "key").read_bytes() == b"z"
    assert list((tmp_path / "s" / "tmp").iterdir()) == []  # no temp files left behind
    assert fs.path_for("a/b").is_relative_to(tmp_path / "s" / "objects")



async def test_download_url_serves_the_bytes_with_the_given_headers_or_is_none(store: ObjectStore) -> None:
    """S3 presigns a GET answered with our type and disposition; memory and filesystem have no URLs."""
    import httpx

    from gharart_core.files.model import content_disposition

    data = bytes(range(256)) * 3
    await store.put_bytes("files/fil_1/blob", data)
    disposition = content_disposition("Kit ü \"v2\".pdf")
    url = await store.download_url("files/fil_1/blob", content_type="application/pdf",
                                   content_disposition=disposition, ttl_s=60)
    if not hasattr(store, "bucket"):
        assert url is None
        return
    assert url is not None and "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(url)
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"] == disposition
        tampered = url.replace("application%2Fpdf", "text%2Fhtml")
        assert tampered != url and (await client.get(tampered)).status_code == 403
