"""The queue job runner's routing, without a database: non-durable kinds run in process, and a
durable run whose queue is unreachable still runs (in process) instead of being lost."""

from __future__ import annotations

import pytest

from adapters.jobs_queue import QueueJobRunner, is_durable, libpq_url
from entrypoints.containers import jobs_from_settings
from entrypoints.settings import Settings


def test_libpq_url_and_durable_kinds() -> None:
    assert libpq_url("postgresql+asyncpg://u:p@h:5432/d") == "postgresql://u:p@h:5432/d"
    with pytest.raises(ValueError):
        libpq_url("sqlite+aiosqlite:///x.db")
    assert is_durable("site_intel.crawl") and is_durable("site_intel.replay")
    assert not is_durable("links.import") and not is_durable("links.health_check")


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
