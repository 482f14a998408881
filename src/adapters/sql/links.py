"""SQL repository for links: current rows, append-only versions, clicks; import and health runs
come from :mod:`.links_runs`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from typing import Any

import sqlalchemy as sa

from gharart_core.links.importing import ImportedLink, ImportMeta
from gharart_core.links.model import Health, Link, LinkVersion, Rule
from gharart_core.links.schema import rules_from_data, rules_to_data

from .links_runs import (
    SqlLinkRuns,
    link_health_results,
    link_health_runs,
    link_import_errors,
    link_import_runs,
)
from .schema import UtcDateTime, metadata

__all__ = [
    "REPOSITORIES",
    "SqlLinks",
    "link_clicks",
    "link_generations",
    "link_health_results",
    "link_health_runs",
    "link_import_errors",
    "link_import_runs",
    "link_versions",
    "links",
]

links = sa.Table(
    "links", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("slug", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("destination", sa.Text, nullable=False),
    sa.Column("redirect_status", sa.Integer, nullable=False),
    sa.Column("forward_query", sa.Boolean, nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),  # "|a|b|" so a tag filter is one LIKE
    sa.Column("health_classification", sa.String(20)),
    sa.Column("health_checked_at", UtcDateTime),
    sa.Column("health_run_id", sa.String(40)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime),
    sa.UniqueConstraint("handle", "slug", name="uq_links_handle_slug"),
)
link_versions = sa.Table(
    "link_versions", metadata,
    sa.Column("link_id", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("destination", sa.Text, nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("redirect_status", sa.Integer, nullable=False),
    sa.Column("forward_query", sa.Boolean, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(40)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("request_id", sa.String(128)),
    sa.Column("run_id", sa.String(40)),
)
link_generations = sa.Table(
    "link_generations", metadata,
    sa.Column("handle", sa.String(40), primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
)
link_clicks = sa.Table(
    "link_clicks", metadata,
    sa.Column("link_id", sa.String(40), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)


def rules_json(rules: Sequence[Rule]) -> str:
    return json.dumps(rules_to_data(rules), separators=(",", ":")) if rules else "[]"


@lru_cache(maxsize=8192)
def _rules(text: str) -> tuple[Rule, ...]:
    return () if text == "[]" else rules_from_data(json.loads(text))


def tags_text(tags: Sequence[str]) -> str:
    return "|" + "|".join(tags) + "|" if tags else ""


def _tags(text: str) -> tuple[str, ...]:
    return tuple(t for t in text.split("|") if t)


def _link(r: Any) -> Link:
    health = None
    if r.health_classification is not None:
        health = Health(r.health_classification, r.health_checked_at, r.health_run_id)
    return Link(id=r.id, handle=r.handle, slug=r.slug, version=r.version, destination=r.destination,
                redirect_status=r.redirect_status, forward_query=bool(r.forward_query), rules=_rules(r.rules),
                tags=_tags(r.tags), created_at=r.created_at, updated_at=r.updated_at, health=health,
                deleted_at=r.deleted_at)


def link_row(link: Link) -> dict[str, Any]:
    h = link.health
    return {"id": link.id, "handle": link.handle, "slug": link.slug, "version": link.version,
            "destination": link.destination, "redirect_status": link.redirect_status,
            "forward_query": link.forward_query, "rules": rules_json(link.rules), "tags": tags_text(link.tags),
            "health_classification": h.classification if h else None, "health_checked_at": h.checked_at if h else None,
            "health_run_id": h.run_id if h else None, "created_at": link.created_at,
            "updated_at": link.updated_at, "deleted_at": link.deleted_at}


def version_row(v: LinkVersion) -> dict[str, Any]:
    return {"link_id": v.link_id, "version": v.version, "destination": v.destination,
            "rules": rules_json(v.rules), "redirect_status": v.redirect_status,
            "forward_query": v.forward_query, "tags": tags_text(v.tags), "created_by": v.created_by,
            "created_at": v.created_at, "source": v.source, "reason": v.reason, "request_id": v.request_id,
            "run_id": v.run_id}


def _version(r: Any) -> LinkVersion:
    return LinkVersion(link_id=r.link_id, version=r.version, destination=r.destination, rules=_rules(r.rules),
                       redirect_status=r.redirect_status, forward_query=bool(r.forward_query),
                       tags=_tags(r.tags), created_by=r.created_by, created_at=r.created_at, source=r.source,
                       reason=r.reason, request_id=r.request_id, run_id=r.run_id)


class _TsText:
    """SQLite's stored form of a UTC datetime (what SQLAlchemy writes), memoised per batch."""

    def __init__(self) -> None:
        self.memo: dict[datetime, str] = {}

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        text = self.memo.get(value)
        if text is None:
            text = self.memo[value] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return text


def _link_tuple(link: Link, ts: _TsText) -> tuple[Any, ...]:
    """A ``links`` row in column order, for driver-level executemany on SQLite."""
    h = link.health
    return (link.id, link.handle, link.slug, link.version, link.destination, link.redirect_status,
            int(link.forward_query), rules_json(link.rules), tags_text(link.tags),
            h.classification if h else None, ts(h.checked_at) if h else None, h.run_id if h else None,
            ts(link.created_at), ts(link.updated_at), ts(link.deleted_at))


def _version_tuple(v: LinkVersion, ts: _TsText) -> tuple[Any, ...]:
    return (v.link_id, v.version, v.destination, rules_json(v.rules), v.redirect_status, int(v.forward_query),
            tags_text(v.tags), v.created_by, ts(v.created_at), v.source, v.reason, v.request_id, v.run_id)


# bound parameters per statement: 32,766 since SQLite 3.32, 999 before
_SQLITE_MAX_VARS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_ROWS_PER_INSERT = 500
_SQLITE_GET_MANY = sa.select(links).where(
    links.c.handle == sa.bindparam("handle"),
    links.c.slug.in_(sa.select(sa.column("value", sa.String)).select_from(
        sa.func.json_each(sa.bindparam("slugs", type_=sa.String)))))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlLinks(SqlLinkRuns):
    async def get(self, handle: str, slug: str) -> Link | None:
        r = (await self.execute(sa.select(links).where(links.c.handle == handle, links.c.slug == slug))).first()
        return _link(r) if r else None

    async def get_many(self, handle: str, slugs: Sequence[str]) -> dict[str, Link]:
        out: dict[str, Link] = {}
        if self.dialect == "sqlite" and slugs:
            # one statement whatever the count: the slugs travel as one JSON array parameter
            res = await self.execute(_SQLITE_GET_MANY, {"handle": handle, "slugs": json.dumps(list(slugs))})
            return {r.slug: _link(r) for r in res}
        for i in range(0, len(slugs), 500):
            part = list(slugs[i:i + 500])
            res = await self.execute(sa.select(links).where(links.c.handle == handle, links.c.slug.in_(part)))
            for r in res:
                out[r.slug] = _link(r)
        return out

    async def insert(self, link: Link) -> bool:
        stmt = self._insert(links).values(**link_row(link)).on_conflict_do_nothing(
            index_elements=[links.c.handle, links.c.slug])
        res = await self.execute(stmt)
        return res.rowcount == 1

    async def update(self, link: Link, expected_version: int) -> bool:
        row = link_row(link)
        del row["id"]
        res = await self.execute(links.update().where(links.c.id == link.id, links.c.version == expected_version)
                                 .values(**row))
        return res.rowcount == 1

    async def save_batch(self, new: Sequence[Link], changed: Sequence[tuple[Link, int]],
                         versions: Sequence[LinkVersion]) -> None:
        if self.dialect == "sqlite":
            # bulk imports are the heavy path: plain executemany on the driver, no per-row Core processing
            ts = _TsText()
            await self._sqlite_many(links, [_link_tuple(link, ts) for link in new])
            for link, expected in changed:
                if not await self.update(link, expected):
                    raise RuntimeError(f"link changed during import: {link.slug}")
            await self._sqlite_many(link_versions, [_version_tuple(v, ts) for v in versions])
            return
        if new:
            await self.execute(links.insert(), [link_row(link) for link in new])
        for link, expected in changed:
            if not await self.update(link, expected):
                raise RuntimeError(f"link changed during import: {link.slug}")
        if versions:
            await self.execute(link_versions.insert(), [version_row(v) for v in versions])

    async def insert_imported(self, meta: ImportMeta, rows: Sequence[ImportedLink]) -> None:
        """Links and their first history entries from one pass over the rows (the bulk-import path)."""
        if not rows:
            return
        handle, by, request_id, run_id, source = meta.handle, meta.created_by, meta.request_id, meta.run_id, \
            meta.source
        if self.dialect != "sqlite":
            at = meta.at
            link_dicts, version_dicts = [], []
            for r in rows:
                rules, tags = rules_json(r.rules), tags_text(r.tags)
                link_dicts.append({
                    "id": r.id, "handle": handle, "slug": r.slug, "version": 1, "destination": r.destination,
                    "redirect_status": r.redirect_status, "forward_query": r.forward_query, "rules": rules,
                    "tags": tags, "health_classification": None, "health_checked_at": None,
                    "health_run_id": None, "created_at": at, "updated_at": at, "deleted_at": None})
                version_dicts.append({
                    "link_id": r.id, "version": 1, "destination": r.destination, "rules": rules,
                    "redirect_status": r.redirect_status, "forward_query": r.forward_query, "tags": tags,
                    "created_by": by, "created_at": at, "source": source, "reason": None,
                    "request_id": request_id, "run_id": run_id})
            await self.execute(links.insert(), link_dicts)
            await self.execute(link_versions.insert(), version_dicts)
            return
        at_text = _TsText()(meta.at)
        link_rows: list[tuple[Any, ...]] = []
        version_rows: list[tuple[Any, ...]] = []
        tag_texts: dict[tuple[str, ...], str] = {}
        for r in rows:
            rules = rules_json(r.rules) if r.rules else "[]"
            tags = tag_texts.get(r.tags)
            if tags is None:
                tags = tag_texts[r.tags] = tags_text(r.tags)
            fq = 1 if r.forward_query else 0
            link_rows.append((r.id, handle, r.slug, 1, r.destination, r.redirect_status, fq, rules, tags,
                              None, None, None, at_text, at_text, None))
            version_rows.append((r.id, 1, r.destination, rules, r.redirect_status, fq, tags, by, at_text,
                                 source, None, request_id, run_id))
        await self._sqlite_many(links, link_rows)
        await self._sqlite_many(link_versions, version_rows)

    async def _sqlite_many(self, table: sa.Table, rows: list[tuple[Any, ...]]) -> None:
        """Insert row tuples (in column order) with multi-row ``VALUES`` statements: SQLite binds
        one statement of a few hundred rows faster than it steps one row at a time."""
        if not rows:
            return
        names = [c.name for c in table.columns]
        per = max(1, min(_ROWS_PER_INSERT, _SQLITE_MAX_VARS // len(names)))
        one = "(" + ", ".join("?" for _ in names) + ")"
        head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "
        conn = await self.uow.connection()
        full = len(rows) - len(rows) % per
        if full:
            flat = chain.from_iterable
            await conn.exec_driver_sql(head + ", ".join([one] * per),
                                       [tuple(flat(rows[i:i + per])) for i in range(0, full, per)])
        if full < len(rows):
            rest = rows[full:]
            await conn.exec_driver_sql(head + ", ".join([one] * len(rest)), tuple(chain.from_iterable(rest)))

    async def add_version(self, version: LinkVersion) -> None:
        await self.execute(link_versions.insert().values(**version_row(version)))

    async def list(self, handle: str, *, tag: str | None = None, prefix: str | None = None,
                   health: str | None = None, q: str | None = None, after: str | None = None,
                   limit: int = 50) -> list[Link]:
        stmt = sa.select(links).where(links.c.handle == handle, links.c.deleted_at.is_(None))
        if after is not None:
            stmt = stmt.where(links.c.slug > after)
        if tag is not None:
            stmt = stmt.where(links.c.tags.like(f"%|{_like_escape(tag)}|%", escape="\\"))
        if prefix is not None:
            stmt = stmt.where(links.c.slug.like(f"{_like_escape(prefix)}%", escape="\\"))
            if self.dialect == "sqlite":  # LIKE is case-insensitive on SQLite
                stmt = stmt.where(sa.func.substr(links.c.slug, 1, len(prefix)) == prefix)
        if health is not None:
            stmt = stmt.where(links.c.health_classification.is_(None) if health == "unchecked"
                              else links.c.health_classification == health)
        if q:
            pattern = f"%{_like_escape(q.lower())}%"
            stmt = stmt.where(sa.or_(sa.func.lower(links.c.slug).like(pattern, escape="\\"),
                                     sa.func.lower(links.c.destination).like(pattern, escape="\\")))
        stmt = stmt.order_by(links.c.slug).limit(limit)
        return [_link(r) for r in await self.execute(stmt)]

    async def versions(self, link_id: str, *, before: int | None = None, limit: int = 50) -> list[LinkVersion]:
        stmt = sa.select(link_versions).where(link_versions.c.link_id == link_id)
        if before is not None:
            stmt = stmt.where(link_versions.c.version < before)
        stmt = stmt.order_by(link_versions.c.version.desc()).limit(limit)
        return [_version(r) for r in await self.execute(stmt)]

    async def get_version(self, link_id: str, version: int) -> LinkVersion | None:
        r = (await self.execute(sa.select(link_versions).where(
            link_versions.c.link_id == link_id, link_versions.c.version == version))).first()
        return _version(r) if r else None

    async def set_health(self, updates: Sequence[tuple[str, Health]]) -> None:
        if not updates:
            return
        stmt = links.update().where(links.c.id == sa.bindparam("b_id")).values(
            health_classification=sa.bindparam("b_cls"), health_checked_at=sa.bindparam("b_at"),
            health_run_id=sa.bindparam("b_run"))
        await self.execute(stmt, [{"b_id": lid, "b_cls": h.classification, "b_at": h.checked_at,
                                   "b_run": h.run_id} for lid, h in updates])

    async def bump_generation(self, handle: str) -> int:
        ins = self._insert(link_generations).values(handle=handle, generation=1)
        stmt = ins.on_conflict_do_update(index_elements=[link_generations.c.handle],
                                         set_={"generation": link_generations.c.generation + 1})
        await self.execute(stmt)
        return await self.generation(handle)

    async def generation(self, handle: str) -> int:
        r = (await self.execute(sa.select(link_generations.c.generation)
                                .where(link_generations.c.handle == handle))).first()
        return int(r[0]) if r else 0

    async def add_clicks(self, counts: Sequence[tuple[str, str, int]]) -> None:
        if not counts:
            return
        ins = self._insert(link_clicks)
        stmt = ins.on_conflict_do_update(index_elements=[link_clicks.c.link_id, link_clicks.c.day],
                                         set_={"count": link_clicks.c.count + ins.excluded.count})
        await self.execute(stmt, [{"link_id": lid, "day": day, "count": n} for lid, day, n in counts])

    async def clicks(self, link_id: str) -> int:
        r = (await self.execute(sa.select(sa.func.coalesce(sa.func.sum(link_clicks.c.count), 0))
                                .where(link_clicks.c.link_id == link_id))).first()
        return int(r[0]) if r else 0


REPOSITORIES: dict[str, Any] = {"links": SqlLinks}
