"""Publisher repositories: the same behaviour on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from gharart_core.publisher.model import PublishingRecord, PublishStatus
from gharart_core.publisher.ports import DeploymentMeta
from gharart_core.publisher.tenancy import TenantScope
from gharart_core.shared.ids import SequentialIds

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rec(ids: SequentialIds, site: str, *, sector: str = "default", status: PublishStatus = PublishStatus.PENDING,
        account: str = "acc_1", published_at: datetime | None = None) -> PublishingRecord:
    return PublishingRecord(
        id=ids.new("pub"), account_id=account, site_id=site, sector_id=sector, content_id="c1",
        destination="webhook", title="Hello", status=status, created_at=T0, updated_at=T0,
        published_at=published_at, config={"url": "https://hooks.test/x", "headers": {"X-A": "1"}},
        content="<p>é</p>")


async def test_records_round_trip_and_optimistic_update(uow_factory: Callable[..., Any]) -> None:
    ids = SequentialIds()
    r = rec(ids, "acme")
    async with uow_factory() as uow:
        await uow.publishing.add(r)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.publishing.get(r.id) == r
        assert await uow.publishing.get("pub_nope") is None
    moved = attrs.evolve(r, status=PublishStatus.PUBLISHING, attempts=1, version=2, updated_at=T0 + timedelta(1))
    async with uow_factory() as uow:
        assert await uow.publishing.update(moved, expected_version=1)
        assert not await uow.publishing.update(attrs.evolve(moved, version=3), expected_version=1)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.publishing.get(r.id) == moved
        await uow.publishing.delete(r.id)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.publishing.get(r.id) is None


async def test_list_scopes_filters_pages_and_counts(uow_factory: Callable[..., Any]) -> None:
    ids = SequentialIds()
    rows = [rec(ids, "acme"), rec(ids, "acme", sector="news"), rec(ids, "beta", account="acc_2"),
            rec(ids, "acme", status=PublishStatus.PUBLISHED, published_at=T0),
            rec(ids, "acme", status=PublishStatus.PUBLISHED, published_at=T0 + timedelta(hours=1)),
            rec(ids, "gamma", account="acc_3", status=PublishStatus.FAILED)]
    async with uow_factory() as uow:
        for r in rows:
            await uow.publishing.add(r)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        repo = uow.publishing
        kw = dict(status=None, destination=None, content_id=None, offset=0, limit=50)
        items, total = await repo.list(TenantScope(handles=frozenset({"acme", "beta"})), **kw)
        assert total == 5 and [r.id for r in items] == sorted((r.id for r in rows[:5]), reverse=True)
        items, total = await repo.list(TenantScope(handles=None), **{**kw, "offset": 2, "limit": 2})
        assert total == 6 and [r.id for r in items] == [rows[3].id, rows[2].id]
        items, total = await repo.list(TenantScope(handles=None, sector_id="news"), **kw)
        assert [r.id for r in items] == [rows[1].id]
        items, total = await repo.list(TenantScope(handles=None, account_id="acc_2"), **kw)
        assert [r.id for r in items] == [rows[2].id]
        items, total = await repo.list(TenantScope(handles=None), **{**kw, "status": PublishStatus.FAILED})
        assert [r.id for r in items] == [rows[5].id]
        items, total = await repo.list(TenantScope(handles=frozenset()), **kw)
        assert total == 0 and items == []
        counts = await repo.status_counts(TenantScope(handles=frozenset({"acme", "gamma"})))
        assert sorted(counts) == [("acme", "acc_1", "pending", 2), ("acme", "acc_1", "published", 2),
                                  ("gamma", "acc_3", "failed", 1)]
        last = await repo.last_published(TenantScope(handles=None))
        assert last == {"acme": T0 + timedelta(hours=1)}


async def test_deployment_meta(uow_factory: Callable[..., Any]) -> None:
    m = DeploymentMeta("dep_01", "acme", "news", {"version": 3}, T0)
    async with uow_factory() as uow:
        await uow.deployment_meta.put(m)
        await uow.deployment_meta.put(DeploymentMeta("dep_02", "beta", "default", {}, T0))
        await uow.commit()
    gone = attrs.evolve(m, deleted_at=T0 + timedelta(1), sector_id="blog")
    async with uow_factory() as uow:
        assert await uow.deployment_meta.get("dep_01") == m
        await uow.deployment_meta.put(gone)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.deployment_meta.get("dep_01") == gone
        assert await uow.deployment_meta.get("dep_03") is None
        assert set(await uow.deployment_meta.for_handles(["acme"])) == {"dep_01"}
        assert set(await uow.deployment_meta.for_handles(None)) == {"dep_01", "dep_02"}
