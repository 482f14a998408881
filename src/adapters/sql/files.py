"""SQL repository for the files area: files, shares, magic links and the access log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gharart_core.files.model import AccessLogEntry, File, FileMode, MagicLink, Share
from gharart_core.shared.pagination import Page, decode_cursor, encode_cursor

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["REPOSITORIES", "SqlFiles", "file_access_log", "file_links", "file_shares", "files"]

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False, index=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("access_version", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # "|a|b|": a tag filter is a LIKE on "|tag|" (tags never contain "|")
    sa.Column("tags", sa.String(1100), nullable=False, default=""),
    sa.Column("share_count", sa.Integer, nullable=False, default=0),
    sa.Column("created_by", sa.String(40)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("object_key", sa.String(200), nullable=False),
    sa.Column("deleted_at", UtcDateTime, index=True),
    sa.Column("purged_at", UtcDateTime),
)
file_shares = sa.Table(
    "file_shares",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("file_id", sa.String(40), nullable=False, index=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("email_lower", sa.String(254), nullable=False, index=True),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("note", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(40)),
    sa.Column("revoked_at", UtcDateTime),
)
file_links = sa.Table(
    "file_links",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("file_id", sa.String(40), nullable=False, index=True),
    sa.Column("share_id", sa.String(40), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("access_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
file_access_log = sa.Table(
    "file_access_log",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("file_id", sa.String(40), nullable=False, index=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("share_id", sa.String(40)),
    sa.Column("outcome", sa.String(40), nullable=False),
    sa.Column("request_id", sa.String(130)),
)


def _tags_to_row(tags: Sequence[str]) -> str:
    return "|" + "|".join(tags) + "|" if tags else ""


def _file_values(f: File) -> dict[str, Any]:
    return dict(
        handle=f.handle,
        name=f.name,
        content_type=f.content_type,
        size=f.size,
        sha256=f.sha256,
        mode=f.mode.value,
        expires_at=f.expires_at,
        access_version=f.access_version,
        version=f.version,
        tags=_tags_to_row(f.tags),
        share_count=f.share_count,
        created_by=f.created_by,
        created_at=f.created_at,
        updated_at=f.updated_at,
        object_key=f.object_key,
        deleted_at=f.deleted_at,
        purged_at=f.purged_at,
    )


def _file(r: Any) -> File:
    return File(
        id=r.id,
        handle=r.handle,
        name=r.name,
        content_type=r.content_type,
        size=int(r.size),
        sha256=r.sha256,
        mode=FileMode(r.mode),
        expires_at=r.expires_at,
        access_version=r.access_version,
        version=r.version,
        tags=tuple(t for t in (r.tags or "").split("|") if t),
        share_count=r.share_count,
        created_by=r.created_by,
        created_at=r.created_at,
        updated_at=r.updated_at,
        object_key=r.object_key,
        deleted_at=r.deleted_at,
        purged_at=r.purged_at,
    )


def _share(r: Any) -> Share:
    return Share(
        id=r.id,
        file_id=r.file_id,
        handle=r.handle,
        email=r.email,
        expires_at=r.expires_at,
        note=r.note,
        created_at=r.created_at,
        created_by=r.created_by,
        revoked_at=r.revoked_at,
    )


def _link(r: Any) -> MagicLink:
    return MagicLink(
        token_hash=r.token_hash,
        file_id=r.file_id,
        share_id=r.share_id,
        email=r.email,
        access_version=r.access_version,
        created_at=r.created_at,
    )


def _entry(r: Any) -> AccessLogEntry:
    return AccessLogEntry(
        id=r.id,
        file_id=r.file_id,
        handle=r.handle,
        at=r.at,
        email=r.email,
        share_id=r.share_id,
        outcome=r.outcome,
        request_id=r.request_id,
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _page(rows: list[Any], limit: int, key: Any) -> Page[Any]:
    nxt = encode_cursor([key(rows[limit - 1])]) if len(rows) > limit else None
    return Page(rows[:limit], nxt)


class SqlFiles(SqlRepository):
    # files
    async def add(self, file: File) -> None:
        await self.execute(files.insert().values(id=file.id, **_file_values(file)))

    async def get(self, file_id: str) -> File | None:
        r = (await self.execute(sa.select(files).where(files.c.id == file_id))).first()
        return _file(r) if r else None

    async def update(self, file: File, *, expected_version: int) -> bool:
        res = await self.execute(
            files.update()
            .where(files.c.id == file.id, files.c.version == expected_version)
            .values(**_file_values(file))
        )
        return res.rowcount == 1

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
        q = sa.select(files).where(files.c.handle == handle, files.c.deleted_at.is_(None))
        if mode is not None:
            q = q.where(files.c.mode == mode.value)
        if expired is True:
            q = q.where(files.c.expires_at.is_not(None), files.c.expires_at <= now)
        elif expired is False:
            q = q.where(sa.or_(files.c.expires_at.is_(None), files.c.expires_at > now))
        if tag is not None:
            q = q.where(files.c.tags.like(f"%|{_like_escape(tag)}|%", escape="\\"))
        if after is not None:
            q = q.where(files.c.id < str(after[0]))
        q = q.order_by(files.c.id.desc()).limit(limit + 1)
        return _page([_file(r) for r in (await self.execute(q)).all()], limit, lambda f: f.id)

    async def set_share_count(self, file_id: str, count: int) -> None:
        await self.execute(files.update().where(files.c.id == file_id).values(share_count=count))

    async def purgeable(self, deleted_before: datetime, limit: int) -> Sequence[File]:
        q = (
            sa.select(files)
            .where(
                files.c.deleted_at.is_not(None),
                files.c.purged_at.is_(None),
                files.c.deleted_at <= deleted_before,
            )
            .order_by(files.c.id)
            .limit(limit)
        )
        return [_file(r) for r in (await self.execute(q)).all()]

    async def mark_purged(self, file_id: str, at: datetime) -> None:
        await self.execute(files.update().where(files.c.id == file_id).values(purged_at=at))

    # shares
    async def add_share(self, share: Share) -> None:
        await self.execute(
            file_shares.insert().values(
                id=share.id,
                file_id=share.file_id,
                handle=share.handle,
                email=share.email,
                email_lower=share.email.lower(),
                expires_at=share.expires_at,
                note=share.note,
                created_at=share.created_at,
                created_by=share.created_by,
                revoked_at=share.revoked_at,
            )
        )

    async def get_share(self, share_id: str) -> Share | None:
        r = (await self.execute(sa.select(file_shares).where(file_shares.c.id == share_id))).first()
        return _share(r) if r else None

    async def update_share(self, share: Share) -> None:
        await self.execute(
            file_shares.update()
            .where(file_shares.c.id == share.id)
            .values(
                email=share.email,
                email_lower=share.email.lower(),
                expires_at=share.expires_at,
                note=share.note,
                revoked_at=share.revoked_at,
            )
        )

    async def list_shares(self, file_id: str, *, cursor: str | None, limit: int) -> Page[Share]:
        after = decode_cursor(cursor)
        q = sa.select(file_shares).where(file_shares.c.file_id == file_id)
        if after is not None:
            q = q.where(file_shares.c.id > str(after[0]))
        q = q.order_by(file_shares.c.id).limit(limit + 1)
        return _page([_share(r) for r in (await self.execute(q)).all()], limit, lambda s: s.id)

    async def shares_for_email(self, file_id: str, email: str) -> Sequence[Share]:
        q = (
            sa.select(file_shares)
            .where(file_shares.c.file_id == file_id, file_shares.c.email_lower == email.lower())
            .order_by(file_shares.c.id.desc())
        )
        return [_share(r) for r in (await self.execute(q)).all()]

    async def count_active_shares(self, file_id: str) -> int:
        q = (
            sa.select(sa.func.count())
            .select_from(file_shares)
            .where(file_shares.c.file_id == file_id, file_shares.c.revoked_at.is_(None))
        )
        return int((await self.execute(q)).scalar_one())

    # magic links
    async def add_link(self, link: MagicLink) -> None:
        await self.execute(
            file_links.insert().values(
                token_hash=link.token_hash,
                file_id=link.file_id,
                share_id=link.share_id,
                email=link.email,
                access_version=link.access_version,
                created_at=link.created_at,
            )
        )

    async def link_by_hash(self, token_hash: str) -> MagicLink | None:
        r = (await self.execute(sa.select(file_links).where(file_links.c.token_hash == token_hash))).first()
        return _link(r) if r else None

    # access log
    async def add_access(self, entry: AccessLogEntry) -> None:
        await self.execute(
            file_access_log.insert().values(
                id=entry.id,
                file_id=entry.file_id,
                handle=entry.handle,
                at=entry.at,
                email=entry.email,
                share_id=entry.share_id,
                outcome=entry.outcome,
                request_id=entry.request_id,
            )
        )

    async def list_access(self, file_id: str, *, cursor: str | None, limit: int) -> Page[AccessLogEntry]:
        after = decode_cursor(cursor)
        q = sa.select(file_access_log).where(file_access_log.c.file_id == file_id)
        if after is not None:
            q = q.where(file_access_log.c.id < str(after[0]))
        q = q.order_by(file_access_log.c.id.desc()).limit(limit + 1)
        return _page([_entry(r) for r in (await self.execute(q)).all()], limit, lambda e: e.id)


REPOSITORIES: dict[str, Any] = {"files": SqlFiles}
