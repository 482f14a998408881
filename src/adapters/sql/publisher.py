"""SQL repositories for the publisher area (publishing records, deployment metadata)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gharart_core.publisher.model import PublishingRecord, PublishStatus
from gharart_core.publisher.ports import DeploymentMeta
from gharart_core.publisher.tenancy import TenantScope

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["REPOSITORIES", "SqlDeploymentMeta", "SqlPublishingRecords", "deployment_meta", "publishing_records"]

publishing_records = sa.Table(
    "publishing_records", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False, index=True),
    sa.Column("site_id", sa.String(40), nullable=False, index=True),
    sa.Column("sector_id", sa.String(64), nullable=False),
    sa.Column("content_id", sa.String(200), nullable=False),
    sa.Column("destination", sa.String(40), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("external_url", sa.String(2048)),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("published_at", UtcDateTime),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("content", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

deployment_meta = sa.Table(
    "publisher_deployment_meta", metadata,
    sa.Column("deployment_id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False, index=True),
    sa.Column("sector_id", sa.String(64), nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime),
    sa.Column("deleted_at", UtcDateTime),
)


def _to_row(r: PublishingRecord) -> dict[str, Any]:
    return dict(
        id=r.id, account_id=r.account_id, site_id=r.site_id, sector_id=r.sector_id, content_id=r.content_id,
        destination=r.destination, title=r.title, status=r.status.value, external_url=r.external_url,
        error=r.error, attempts=r.attempts, published_at=r.published_at,
        config=json.dumps(dict(r.config), separators=(",", ":")), content=r.content, version=r.version,
        created_at=r.created_at, updated_at=r.updated_at)


def _from_row(row: Any) -> PublishingRecord:
    return PublishingRecord(
        id=row.id, account_id=row.account_id, site_id=row.site_id, sector_id=row.sector_id,
        content_id=row.content_id, destination=row.destination, title=row.title,
        status=PublishStatus(row.status), created_at=row.created_at, updated_at=row.updated_at,
        external_url=row.external_url, error=row.error, attempts=row.attempts, published_at=row.published_at,
        config=json.loads(row.config), content=row.content, version=row.version)


def _where(scope: TenantScope) -> list[Any]:
    t = publishing_records.c
    conds: list[Any] = []
    if scope.handles is not None:
        conds.append(t.site_id.in_(sorted(scope.handles)))
    if scope.sector_id is not None:
        conds.append(t.sector_id == scope.sector_id)
    if scope.account_id is not None:
        conds.append(t.account_id == scope.account_id)
    return conds


class SqlPublishingRecords(SqlRepository):
    async def add(self, record: PublishingRecord) -> None:
        await self.execute(publishing_records.insert().values(**_to_row(record)))

    async def get(self, record_id: str) -> PublishingRecord | None:
        row = (await self.execute(sa.select(publishing_records).where(publishing_records.c.id == record_id))).first()
        return _from_row(row) if row else None

    async def update(self, record: PublishingRecord, *, expected_version: int) -> bool:
        t = publishing_records
        values = _to_row(record)
        values.pop("id")
        res = await self.execute(t.update().where(t.c.id == record.id, t.c.version == expected_version)
                                 .values(**values))
        return res.rowcount == 1

    async def delete(self, record_id: str) -> None:
        await self.execute(publishing_records.delete().where(publishing_records.c.id == record_id))

    async def list(self, scope: TenantScope, *, status: PublishStatus | None, destination: str | None,
                   content_id: str | None, offset: int, limit: int) -> tuple[Sequence[PublishingRecord], int]:
        t = publishing_records.c
        conds = _where(scope)
        if status is not None:
            conds.append(t.status == status.value)
        if destination is not None:
            conds.append(t.destination == destination)
        if content_id is not None:
            conds.append(t.content_id == content_id)
        total = (await self.execute(sa.select(sa.func.count()).select_from(publishing_records)
                                    .where(*conds))).scalar_one()
        rows = (await self.execute(sa.select(publishing_records).where(*conds).order_by(t.id.desc())
                                   .offset(offset).limit(limit))).all()
        return [_from_row(r) for r in rows], int(total)

    async def status_counts(self, scope: TenantScope) -> Sequence[tuple[str, str, str, int]]:
        t = publishing_records.c
        q = (sa.select(t.site_id, t.account_id, t.status, sa.func.count()).where(*_where(scope))
             .group_by(t.site_id, t.account_id, t.status).order_by(t.site_id, t.account_id, t.status))
        return [(r[0], r[1], r[2], int(r[3])) for r in (await self.execute(q)).all()]

    async def last_published(self, scope: TenantScope) -> Mapping[str, datetime]:
        t = publishing_records.c
        q = (sa.select(t.site_id, sa.func.max(t.published_at)).where(*_where(scope), t.published_at.is_not(None))
             .group_by(t.site_id))
        # max() keeps the column's type, so values come back aware UTC on every backend
        return {site: at for site, at in (await self.execute(q)).all() if at is not None}

def _meta(row: Any) -> DeploymentMeta:
    return DeploymentMeta(deployment_id=row.deployment_id, handle=row.handle, sector_id=row.sector_id,
                          metadata=json.loads(row.metadata), updated_at=row.updated_at, deleted_at=row.deleted_at)


class SqlDeploymentMeta(SqlRepository):
    async def get(self, deployment_id: str) -> DeploymentMeta | None:
        row = (await self.execute(sa.select(deployment_meta)
                                  .where(deployment_meta.c.deployment_id == deployment_id))).first()
        return _meta(row) if row else None

    async def put(self, meta: DeploymentMeta) -> None:
        values = dict(handle=meta.handle, sector_id=meta.sector_id,
                      metadata=json.dumps(dict(meta.metadata), separators=(",", ":")),
                      updated_at=meta.updated_at, deleted_at=meta.deleted_at)
        t = deployment_meta
        res = await self.execute(t.update().where(t.c.deployment_id == meta.deployment_id).values(**values))
        if res.rowcount == 0:
            await self.execute(t.insert().values(deployment_id=meta.deployment_id, **values))

    async def for_handles(self, handles: Sequence[str] | None) -> Mapping[str, DeploymentMeta]:
        q = sa.select(deployment_meta)
        if handles is not None:
            q = q.where(deployment_meta.c.handle.in_(sorted(handles)))
        return {r.deployment_id: _meta(r) for r in (await self.execute(q)).all()}


REPOSITORIES: dict[str, Any] = {
    "publishing": SqlPublishingRecords,
    "deployment_meta": SqlDeploymentMeta,
}
