"""Filesystem object store: the embedded default (``GHARART_OBJECT_STORE=file://PATH``).

Layout under ``root``::

    objects/<key>     complete objects, one file per key
    tmp/              uploads in progress (same filesystem, so ``os.replace`` is atomic)

A write streams into a temp file while hashing, fsyncs it, then ``os.replace``-s it over
the key's path and fsyncs the directory: readers see the old object or the new one, never
a partial file, and a failed or oversized upload leaves nothing behind. Disk I/O runs in
worker threads (``asyncio.to_thread``) so the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from gharart_core.shared.errors import FieldError, TooLarge, ValidationFailed
from gharart_core.shared.ports import ObjectInfo

from .keys import key_segments

__all__ = ["FilesystemObjectStore"]

# Writes are batched so a stream of small chunks does not cost one thread hop per chunk.
_WRITE_BATCH = 1 << 20


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class FilesystemObjectStore:
    """Objects as files under ``root``; see the module docstring for the guarantees."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root).resolve()
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.root / "tmp"
        self.fsync = fsync
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # -- key -> path -----------------------------------------------------------
    def path_for(self, key: str) -> Path:
        """Map a key to its file; refuses anything that could leave ``objects/``."""
        path = self.objects_dir.joinpath(*key_segments(key))
        # Defence in depth: the segment rules already exclude '..' and absolute parts.
        if os.path.commonpath([self.objects_dir, path]) != str(self.objects_dir):
            raise AssertionError("object key escaped the store root")  # pragma: no cover
        return path

    # -- writes ----------------------------------------------------------------
    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None,
                         expected_sha256: str | None = None) -> ObjectInfo:
        target = self.path_for(key)
        tmp = self.tmp_dir / f"{secrets.token_hex(12)}.part"
        fh: BinaryIO = await asyncio.to_thread(open, tmp, "xb")
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []
        pending_size = 0
        committed = False
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge("file_too_large", f"The body is larger than {max_bytes} bytes.")
                digest.update(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= _WRITE_BATCH:
                    data = b"".join(pending)
                    pending, pending_size = [], 0
                    await asyncio.to_thread(fh.write, data)
            hexdigest = digest.hexdigest()
            if expected_sha256 is not None and hexdigest != expected_sha256.lower():
                raise ValidationFailed(
                    "digest_mismatch", "The uploaded bytes do not match the digest.",
                    errors=[FieldError("sha256", "digest_mismatch", f"got {hexdigest}")],
                    extra={"actualSha256": hexdigest},
                )
            await asyncio.to_thread(self._finish, fh, b"".join(pending), tmp, target)
            committed = True
            return ObjectInfo(key, size, hexdigest)
        finally:
            if not committed:
                await asyncio.to_thread(self._discard, fh, tmp)

    async def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        async def one() -> AsyncIterator[bytes]:
            yield bytes(data)

        return await self.put_stream(key, one())

    def _finish(self, fh: BinaryIO, tail: bytes, tmp: Path, target: Path) -> None:
        if tail:
            fh.write(tail)
        fh.flush()
        if self.fsync:
            os.fsync(fh.fileno())
        fh.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        if self.fsync:
            _fsync_dir(target.parent)

    @staticmethod
    def _discard(fh: BinaryIO, tmp: Path) -> None:
        if not fh.closed:
            fh.close()
        tmp.unlink(missing_ok=True)

    # -- reads -----------------------------------------------------------------
    async def get_stream(self, key: str, *, start: int = 0, end: int | None = None,
                         chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """Yield bytes ``start``..``end`` (inclusive end, like HTTP ranges).

        The file is opened before the first byte is yielded; an object replaced mid-read
        keeps streaming the old bytes (POSIX keeps the unlinked inode alive).
        """
        path = self.path_for(key)
        try:
            fh: BinaryIO = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None
        try:
            size = os.fstat(fh.fileno()).st_size
            stop = size if end is None else min(size, end + 1)
            pos = max(0, start)
            if pos < stop:
                await asyncio.to_thread(fh.seek, pos)
            while pos < stop:
                data = await asyncio.to_thread(fh.read, min(chunk_size, stop - pos))
                if not data:
                    break
                pos += len(data)
                yield data
        finally:
            fh.close()

    async def get_bytes(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise KeyError(key) from None

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        try:
            st = await asyncio.to_thread(os.stat, path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return ObjectInfo(key, st.st_size)

    async def delete(self, key: str) -> None:
        path = self.path_for(key)

        def unlink() -> None:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()

        await asyncio.to_thread(unlink)

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def ping(self) -> None:
        """Readiness: the store's directories exist and are writable."""

        def check() -> None:
            probe = self.tmp_dir / f"ping-{secrets.token_hex(6)}"
            probe.write_bytes(b"")
            probe.unlink()

        await asyncio.to_thread(check)

    async def download_url(self, key: str, *, content_type: str, content_disposition: str,
                           ttl_s: int) -> str | None:
        """No direct URLs: downloads stream through the service."""
        return None
