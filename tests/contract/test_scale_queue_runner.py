"""The queue job runner's routing, without a database: non-durable kinds run in process, a
durable run whose queue is unreachable still runs (in process) instead of being lost, and the
worker's dispatch recovers a health-check run a dead worker left running."""

from __future__ import annotations

import pytest

from adapters.jobs_queue import QueueJobRunner, is_durable, libpq_url, make_handler
from entrypoints.containers import jobs_from_settings
from entrypoints.settings import Settings


def test_libpq_url_and_durable_kinds() -> None:
    assert libpq_url("postgresql+asyncpg://u:p@h:5432/d") == "postgresql://u:p@h:5432/d"
    with pytest.raises(ValueError):
        libpq_url("sqlite+aiosqlite:///x.db")
    assert is_durable("site_intel.crawl") and is_durable("site_intel.replay") and is_durable("links.health_check")
    assert not is_durable("links.import")  # streams a temp file only the accepting process has


def test_settings_pick_the_runner() -> None:
    assert type(jobs_from_settings(Settings())).__name__ == "InProcessJobRunner"
    queued = jobs_from_settings(Settings(database_url="postgresql+asyncpg://u:p@127.0.0.1:1/d",
                                         extra={"GHARART_JOB_QUEUE": "postgres"}))
    assert isinstance(queued, QueueJobRunner)
    with pytest.raises(ValueError, match="PostgreSQL"):
        jobs_from_settings(Settings(extra={"GHARART_JOB_QUEUE": "postgres"}))  # SQLite default


async def test_routing_and_fallback_when_the_queue_is_unreachable() -> None:
    runner = QueueJobRunner("postgresql+asyncpg://nobody:x@127.0.0.1:1/nothing", connect_timeout=1.0)
    done: list[str] = []

    async def job(name: str) -> None:
        done.append(name)

    runner.submit("links.import", "run_1", lambda: job("import"))
    runner.submit("site_intel.crawl", "run_2", lambda: job("crawl"))
    await runner.drain(timeout=30)
    await runner.drain(timeout=30)  # the fallback submitted by the failed defer
    assert sorted(done) == ["crawl", "import"]


async def test_worker_dispatch_recovers_a_health_check_left_running() -> None:
    from datetime import UTC, datetime

    from adapters.http.fake import FakeFetcher
    from adapters.memory.state import MemoryState, MemoryUnitOfWork
    from adapters.registry import memory_factories
    from gharart_core.links.health import HealthResult, HealthRun
    from gharart_core.links.model import Link
    from gharart_core.links.service import LinksService
    from gharart_core.shared.clock import FakeClock
    from gharart_core.shared.ids import SequentialIds

    state, factories = MemoryState(), memory_factories()

    def uow(write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(state, factories, write=write)

    svc = LinksService(clock=FakeClock(), ids=SequentialIds(), uow_factory=uow, fetcher=FakeFetcher())

    class Container:
        def links_service(self) -> LinksService:
            return svc

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    async with uow() as u:
        await u.links.save_batch([Link(id=f"lnk_{s}", handle="acme", slug=s, version=1,
                                       destination=f"https://{s}.example/", redirect_status=302,
                                       forward_query=False, rules=(), tags=(), created_at=t0, updated_at=t0)
                                  for s in ("a", "b")], [], [])
        await u.links.save_health_run(HealthRun("run_1", "acme", "running", t0, None, "{}", total=2, started_at=t0))
        await u.links.add_health_results([HealthResult("run_1", "a", "https://a.example/", "timeout", None, 9)])
        await u.commit()
    handle = make_handler(Container())
    await handle("links.health_check", "run_1", 1)
    await handle("links.health_check", "run_1", 2)  # redelivered: a no-op
    async with uow(False) as u:
        run = await u.links.find_health_run("run_1")
        results = await u.links.health_results("run_1")
    assert run is not None and run.status == "completed" and run.counts == (("ok", 2),)
    assert [(r.slug, r.classification) for r in results] == [("a", "ok"), ("b", "ok")]
    with pytest.raises(ValueError, match="no durable handler"):
        await handle("links.import", "run_2", 0)
