"""Build an object store from ``GHARART_OBJECT_STORE`` (``file://PATH``, ``memory://``, ``s3://...``)."""

from __future__ import annotations

import os
from pathlib import Path

from gharart_core.shared.ports import ObjectStore

from .filesystem import FilesystemObjectStore
from .memory import MemoryObjectStore

__all__ = ["object_store_from_url"]


def object_store_from_url(url: str | None, data_dir: str | os.PathLike[str] = ".gharart") -> ObjectStore:
    """``file://PATH`` (relative paths are taken from the working directory; the default is
    ``<data_dir>/objects``), ``memory://``. ``s3://`` needs the S3 adapter."""
    if not url:
        return FilesystemObjectStore(Path(data_dir) / "objects")
    if url.startswith("file://"):
        path = url[len("file://"):]
        return FilesystemObjectStore(Path(path) if path else Path(data_dir) / "objects")
    if url.startswith("memory://"):
        return MemoryObjectStore()
    if url.startswith("s3://"):
        raise ValueError("GHARART_OBJECT_STORE=s3://... needs the S3 object-store adapter, not installed yet")
    raise ValueError(f"GHARART_OBJECT_STORE: unsupported URL {url!r} (file://PATH, memory://, s3://bucket/prefix)")
