"""Memory repositories for the publisher area (publishing records, deployment metadata)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gharart_core.publisher.model import PublishingRecord, PublishStatus
from gharart_core.publisher.ports import DeploymentMeta
from gharart_core.publisher.tenancy import TenantScope, matches

from .state import MemoryState

__all__ = ["REPOSITORIES", "MemoryDeploymentMeta", "MemoryPublishingRecords"]


def _in(scope: TenantScope, r: PublishingRecord) -> bool:
    return matches(scope, site_id=r.site_id, sector_id=r.sector_id, account_id=r.account_id)


class MemoryPublishingRecords:
    # Tables are looked up on every call: a rollback replaces the table dicts with snapshots.
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    @property
    def t(self) -> dict[str, PublishingRecord]:
        return self.s.table("publishing_records")

    async def add(self, record: PublishingRecord) -> None:
        self.t[record.id] = record

    async def get(self, record_id: str) -> PublishingRecord | None:
        r: PublishingRecord | None = self.t.get(record_id)
        return r

    async def update(self, record: PublishingRecord, *, expected_version: int) -> bool:
        current = self.t.get(record.id)
        if current is None or current.version != expected_version:
            return False
        self.t[record.id] = record
        return True

    async def delete(self, record_id: str) -> None:
        self.t.pop(record_id, None)

    async def list(self, scope: TenantScope, *, status: PublishStatus | None, destination: str | None,
                   content_id: str | None, offset: int, limit: int) -> tuple[Sequence[PublishingRecord], int]:
        rows = [r for r in self.t.values() if _in(scope, r)
                and (status is None or r.status is status)
                and (destination is None or r.destination == destination)
                and (content_id is None or r.content_id == content_id)]
        rows.sort(key=lambda r: r.id, reverse=True)
        return rows[offset:offset + limit], len(rows)

    async def status_counts(self, scope: TenantScope) -> Sequence[tuple[str, str, str, int]]:
        counts: dict[tuple[str, str, str], int] = {}
        for r in self.t.values():
            if _in(scope, r):
                key = (r.site_id, r.account_id, r.status.value)
                counts[key] = counts.get(key, 0) + 1
        return [(*k, n) for k, n in sorted(counts.items())]

    async def last_published(self, scope: TenantScope) -> Mapping[str, datetime]:
        out: dict[str, datetime] = {}
        for r in self.t.values():
            if (_in(scope, r) and r.published_at is not None
                    and (r.site_id not in out or r.published_at > out[r.site_id])):
                out[r.site_id] = r.published_at
        return out


class MemoryDeploymentMeta:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    @property
    def t(self) -> dict[str, DeploymentMeta]:
        return self.s.table("publisher_deployment_meta")

    async def get(self, deployment_id: str) -> DeploymentMeta | None:
        m: DeploymentMeta | None = self.t.get(deployment_id)
        return m

    async def put(self, meta: DeploymentMeta) -> None:
        self.t[meta.deployment_id] = meta

    async def for_handles(self, handles: Sequence[str] | None) -> Mapping[str, DeploymentMeta]:
        wanted = None if handles is None else set(handles)
        return {k: m for k, m in self.t.items() if wanted is None or m.handle in wanted}


REPOSITORIES: dict[str, Any] = {
    "publishing": MemoryPublishingRecords,
    "deployment_meta": MemoryDeploymentMeta,
}
