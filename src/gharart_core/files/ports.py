"""Persistence port for files, shares, magic links and the access log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from ..shared.pagination import Page
from ..shared.ports import UnitOfWork
from .model import AccessLogEntry, File, FileMode, MagicLink, Share

__all__ = ["FileRepository", "FilesUoW", "FilesUoWFactory"]


class FileRepository(Protocol):
    async def add(self, file: File) -> None: ...

    async def get(self, file_id: str) -> File | None:
        """The file by id, deleted ones included."""
        ...

    async def update(self, file: File, *, expected_version: int) -> bool:
        """Replace the row iff its stored version is ``expected_version``; False otherwise."""
        ...

    async def list(
        self,
        handle: str,
        *,
        now: datetime,
        mode: FileMode | None,
        expired: bool | None,
        tag: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page[File]:
        """Live (not deleted) files of a handle, newest first."""
        ...

    async def set_share_count(self, file_id: str, count: int) -> None: ...

    async def purgeable(self, deleted_before: datetime, limit: int) -> Sequence[File]:
        """Deleted files whose bytes are still stored and whose deletion is older than the cut-off."""
        ...

    async def mark_purged(self, file_id: str, at: datetime) -> None: ...

    async def add_share(self, share: Share) -> None: ...

    async def get_share(self, share_id: str) -> Share | None: ...

    async def update_share(self, share: Share) -> None: ...

    async def list_shares(self, file_id: str, *, cursor: str | None, limit: int) -> Page[Share]:
        """Shares of a file, oldest first (revoked ones included)."""
        ...

    async def shares_for_email(self, file_id: str, email: str) -> Sequence[Share]:
        """Shares of a file for one recipient (case-insensitive), newest first."""
        ...

    async def count_active_shares(self, file_id: str) -> int: ...

    async def add_link(self, link: MagicLink) -> None: ...

    async def link_by_hash(self, token_hash: str) -> MagicLink | None: ...

    async def add_access(self, entry: AccessLogEntry) -> None: ...

    async def list_access(self, file_id: str, *, cursor: str | None, limit: int) -> Page[AccessLogEntry]:
        """Access log of a file, newest first."""
        ...


class FilesUoW(UnitOfWork, Protocol):
    files: FileRepository


FilesUoWFactory = Callable[..., AbstractAsyncContextManager[FilesUoW]]
