"""SQL repository part for the links area's runs: imports (with their row errors) and health
checks (with their results)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gharart_core.links.health import HealthResult, HealthRun
from gharart_core.links.importing import ImportRowError, ImportRun

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["SqlLinkRuns", "link_health_results", "link_health_runs", "link_import_errors", "link_import_runs"]

link_import_runs = sa.Table(
    "link_import_runs", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False, index=True),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(40)),
    sa.Column("created", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False),
    sa.Column("unchanged", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("request_id", sa.String(128)),
    sa.Column("detail", sa.Text),
)
link_import_errors = sa.Table(
    "link_import_errors", metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("destination", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("redirect_status", sa.Text, nullable=False),
)
link_health_runs = sa.Table(
    "link_health_runs", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(40)),
    sa.Column("selector", sa.Text, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("counts", sa.Text, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("detail", sa.Text),
)
link_health_results = sa.Table(
    "link_health_results", metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("slug", sa.String(64), primary_key=True),
    sa.Column("destination", sa.Text, nullable=False),
    sa.Column("classification", sa.String(20), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("detail", sa.Text),
)


def _health_run(r: Any) -> HealthRun:
    return HealthRun(id=r.id, handle=r.handle, status=r.status, created_at=r.created_at,
                     created_by=r.created_by, selector=r.selector, total=r.total,
                     counts=tuple(sorted(json.loads(r.counts).items())), started_at=r.started_at,
                     finished_at=r.finished_at, detail=r.detail)


class SqlLinkRuns(SqlRepository):
    def _insert(self, table: sa.Table) -> Any:
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    async def save_import_run(self, run: ImportRun) -> None:
        row = {"id": run.id, "handle": run.handle, "mode": run.mode, "status": run.status,
               "created_at": run.created_at, "created_by": run.created_by, "created": run.created,
               "updated": run.updated, "unchanged": run.unchanged, "failed": run.failed, "total": run.total,
               "finished_at": run.finished_at, "request_id": run.request_id, "detail": run.detail}
        await self._upsert(link_import_runs, row)

    async def _upsert(self, table: sa.Table, row: dict[str, Any]) -> None:
        ins = self._insert(table).values(**row)
        stmt = ins.on_conflict_do_update(index_elements=[table.c.id],
                                         set_={k: v for k, v in row.items() if k != "id"})
        await self.execute(stmt)

    async def get_import_run(self, handle: str, run_id: str) -> ImportRun | None:
        r = (await self.execute(sa.select(link_import_runs).where(
            link_import_runs.c.id == run_id, link_import_runs.c.handle == handle))).first()
        if r is None:
            return None
        return ImportRun(id=r.id, handle=r.handle, mode=r.mode, status=r.status, created_at=r.created_at,
                         created_by=r.created_by, created=r.created, updated=r.updated, unchanged=r.unchanged,
                         failed=r.failed, total=r.total, finished_at=r.finished_at, request_id=r.request_id,
                         detail=r.detail)

    async def add_import_errors(self, errors: Sequence[ImportRowError]) -> None:
        if errors:
            await self.execute(link_import_errors.insert(), [
                {"run_id": e.run_id, "row": e.row, "slug": e.slug, "code": e.code, "message": e.message,
                 "destination": e.destination, "tags": e.tags, "rules": e.rules,
                 "redirect_status": e.redirect_status} for e in errors])

    async def import_errors(self, run_id: str, *, after_row: int = 0, limit: int = 1000) -> list[ImportRowError]:
        res = await self.execute(sa.select(link_import_errors).where(
            link_import_errors.c.run_id == run_id, link_import_errors.c.row > after_row)
            .order_by(link_import_errors.c.row).limit(limit))
        return [ImportRowError(r.run_id, r.row, r.slug, r.code, r.message, r.destination, r.tags, r.rules,
                               r.redirect_status) for r in res]

    async def save_health_run(self, run: HealthRun) -> None:
        row = {"id": run.id, "handle": run.handle, "status": run.status, "created_at": run.created_at,
               "created_by": run.created_by, "selector": run.selector, "total": run.total,
               "counts": json.dumps(dict(run.counts)), "started_at": run.started_at,
               "finished_at": run.finished_at, "detail": run.detail}
        await self._upsert(link_health_runs, row)

    async def get_health_run(self, handle: str, run_id: str) -> HealthRun | None:
        r = (await self.execute(sa.select(link_health_runs).where(
            link_health_runs.c.id == run_id, link_health_runs.c.handle == handle))).first()
        return _health_run(r) if r is not None else None

    async def find_health_run(self, run_id: str) -> HealthRun | None:
        r = (await self.execute(sa.select(link_health_runs).where(link_health_runs.c.id == run_id))).first()
        return _health_run(r) if r is not None else None

    async def add_health_results(self, results: Sequence[HealthResult]) -> None:
        if results:
            await self.execute(link_health_results.insert(), [
                {"run_id": r.run_id, "slug": r.slug, "destination": r.destination,
                 "classification": r.classification, "http_status": r.http_status,
                 "duration_ms": r.duration_ms, "detail": r.detail} for r in results])

    async def clear_health_results(self, run_id: str) -> int:
        res = await self.execute(sa.delete(link_health_results).where(link_health_results.c.run_id == run_id))
        return int(res.rowcount or 0)

    async def health_results(self, run_id: str, *, classification: str | None = None) -> list[HealthResult]:
        stmt = sa.select(link_health_results).where(link_health_results.c.run_id == run_id)
        if classification is not None:
            stmt = stmt.where(link_health_results.c.classification == classification)
        res = await self.execute(stmt.order_by(link_health_results.c.slug))
        return [HealthResult(r.run_id, r.slug, r.destination, r.classification, r.http_status, r.duration_ms,
                             r.detail) for r in res]

