"""Memory repository for the files area: files, shares, magic links and the access log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from gharart_core.files.model import AccessLogEntry, File, FileMode, MagicLink, Share
from gharart_core.shared.pagination import Page, decode_cursor, encode_cursor

from .state import MemoryState

__all__ = ["REPOSITORIES", "MemoryFiles"]


def _page(rows: list[Any], limit: int, key: Any) -> Page[Any]:
    page = rows[: limit + 1]
    nxt = encode_cursor([key(page[limit - 1])]) if len(page) > limit else None
    return Page(page[:limit], nxt)


class MemoryFiles:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    # files
    async def add(self, file: File) -> None:
        self.s.table("files")[file.id] = file

    async def get(self, file_id: str) -> File | None:
        f: File | None = self.s.table("files").get(file_id)
        return f

    async def update(self, file: File, *, expected_version: int) -> bool:
        table = self.s.table("files")
        current = table.get(file.id)
        if current is None or current.version != expected_version:
            return False
        table[file.id] = file
        return True

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
        after = decode_cursor(cursor)
        rows = sorted(
            (f for f in self.s.table("files").values() if f.handle == handle and f.deleted_at is None),
            key=lambda f: f.id,
            reverse=True,
        )
        rows = [
            f
            for f in rows
            if (mode is None or f.mode is mode)
            and (expired is None or f.is_expired(now) == expired)
            and (tag is None or tag in f.tags)
            and (after is None or f.id < str(after[0]))
        ]
        return _page(rows, limit, lambda f: f.id)

    async def set_share_count(self, file_id: str, count: int) -> None:
        table = self.s.table("files")
        if file_id in table:
            table[file_id] = attrs.evolve(table[file_id], share_count=count)

    async def purgeable(self, deleted_before: datetime, limit: int) -> Sequence[File]:
        rows = sorted(
            (
                f
                for f in self.s.table("files").values()
                if f.deleted_at is not None and f.purged_at is None and f.deleted_at <= deleted_before
            ),
            key=lambda f: f.id,
        )
        return rows[:limit]

    async def mark_purged(self, file_id: str, at: datetime) -> None:
        table = self.s.table("files")
        if file_id in table:
            table[file_id] = attrs.evolve(table[file_id], purged_at=at)

    # shares
    async def add_share(self, share: Share) -> None:
        self.s.table("file_shares")[share.id] = share

    async def get_share(self, share_id: str) -> Share | None:
        s: Share | None = self.s.table("file_shares").get(share_id)
        return s

    async def update_share(self, share: Share) -> None:
        self.s.table("file_shares")[share.id] = share

    async def list_shares(self, file_id: str, *, cursor: str | None, limit: int) -> Page[Share]:
        after = decode_cursor(cursor)
        rows = sorted(
            (s for s in self.s.table("file_shares").values() if s.file_id == file_id), key=lambda s: s.id
        )
        rows = [s for s in rows if after is None or s.id > str(after[0])]
        return _page(rows, limit, lambda s: s.id)

    async def shares_for_email(self, file_id: str, email: str) -> Sequence[Share]:
        email = email.lower()
        return sorted(
            (
                s
                for s in self.s.table("file_shares").values()
                if s.file_id == file_id and s.email.lower() == email
            ),
            key=lambda s: s.id,
            reverse=True,
        )

    async def count_active_shares(self, file_id: str) -> int:
        return sum(
            1 for s in self.s.table("file_shares").values() if s.file_id == file_id and s.revoked_at is None
        )

    # magic links
    async def add_link(self, link: MagicLink) -> None:
        self.s.table("file_links")[link.token_hash] = link

    async def link_by_hash(self, token_hash: str) -> MagicLink | None:
        link: MagicLink | None = self.s.table("file_links").get(token_hash)
        return link

    # access log
    async def add_access(self, entry: AccessLogEntry) -> None:
        self.s.table("file_access_log")[entry.id] = entry

    async def list_access(self, file_id: str, *, cursor: str | None, limit: int) -> Page[AccessLogEntry]:
        after = decode_cursor(cursor)
        rows = sorted(
            (e for e in self.s.table("file_access_log").values() if e.file_id == file_id),
            key=lambda e: e.id,
            reverse=True,
        )
        rows = [e for e in rows if after is None or e.id < str(after[0])]
        return _page(rows, limit, lambda e: e.id)


REPOSITORIES: dict[str, Any] = {"files": MemoryFiles}
