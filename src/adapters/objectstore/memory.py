"""In-memory object store (harness and tests)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from gharart_core.shared.errors import FieldError, TooLarge, ValidationFailed
from gharart_core.shared.ports import ObjectInfo

from .keys import check_key

__all__ = ["MemoryObjectStore"]


class MemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None,
                         expected_sha256: str | None = None) -> ObjectInfo:
        check_key(key)
        h = hashlib.sha256()
        buf = bytearray()
        async for chunk in chunks:
            buf += chunk
            h.update(chunk)
            if max_bytes is not None and len(buf) > max_bytes:
                raise TooLarge("file_too_large", f"The body is larger than {max_bytes} bytes.")
        digest = h.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise ValidationFailed("digest_mismatch", "The uploaded bytes do not match the digest.",
                                   errors=[FieldError("sha256", "digest_mismatch", f"got {digest}")],
                                   extra={"actualSha256": digest})
        self.objects[key] = bytes(buf)
        return ObjectInfo(key, len(buf), digest)

    async def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        check_key(key)
        self.objects[key] = bytes(data)
        return ObjectInfo(key, len(data), hashlib.sha256(data).hexdigest())

    async def get_stream(self, key: str, *, start: int = 0, end: int | None = None,
                         chunk_size: int = 65536) -> AsyncIterator[bytes]:
        data = self.objects[check_key(key)]
        stop = len(data) if end is None else min(len(data), end + 1)
        for i in range(max(0, start), stop, chunk_size):
            yield data[i:min(stop, i + chunk_size)]

    async def get_bytes(self, key: str) -> bytes:
        return self.objects[check_key(key)]

    async def head(self, key: str) -> ObjectInfo | None:
        data = self.objects.get(check_key(key))
        return None if data is None else ObjectInfo(key, len(data))

    async def delete(self, key: str) -> None:
        self.objects.pop(check_key(key), None)

    async def exists(self, key: str) -> bool:
        return check_key(key) in self.objects

    async def ping(self) -> None:
        return None

    async def download_url(self, key: str, *, content_type: str, content_disposition: str,
                           ttl_s: int) -> str | None:
        """No direct URLs: downloads stream through the service."""
        return None
