"""PostgreSQL job queue (procrastinate) behind the ``JobRunner`` port, and the worker's dispatch.

Enabled with ``GHARART_JOB_QUEUE=postgres`` (the database must be PostgreSQL). Kinds whose work
can be rebuilt from ``(kind, run_id)`` alone are *durable*: ``submit`` stores a procrastinate
job (task ``gharart.run``, queue ``gharart``, ``queueing_lock`` = the run id so a run is
queued at most once, ``lock`` = the run id so it runs at most once at a time) and a
``gharart worker`` process executes it. Other kinds keep running in process: an import streams
a temp file only the accepting process has.

Durable today: ``site_intel.crawl`` and ``site_intel.replay`` (``IntelService.run_job``) and
``links.health_check`` (``LinksService.run_health_job``).

A worker that dies mid-run leaves its job in ``doing``; the next worker's recovery loop finds
jobs whose worker stopped sending heartbeats and retries them under the same run id. Before
re-running, a run left ``running`` by the dead worker is put back to ``queued``:

- a crawl or replay stores its result in the same transaction that completes the run, so
  nothing partial was kept and the retry produces exactly one result;
- a health check writes its results in batches as it goes, so the requeue also deletes the
  results the dead worker wrote for that run (``LinksService.requeue_orphaned_health_run``, one
  transaction) and the retry ends with exactly one result per link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .jobs import InProcessJobRunner

__all__ = ["DURABLE_PREFIXES", "QUEUE", "TASK", "QueueJobRunner", "libpq_url", "make_app", "recover_stalled"]

log = logging.getLogger("gharart.jobs")

TASK = "gharart.run"
QUEUE = "gharart"
# Kind prefixes (a full kind is its own prefix): never ``links.`` as a whole, ``links.import`` stays in process.
DURABLE_PREFIXES = ("site_intel.", "links.health_check")
HEALTH_CHECK = "links.health_check"

Handler = Callable[[str, str, int], Awaitable[None]]  # (kind, run_id, attempts) -> None


def libpq_url(database_url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) -> ``postgresql://…`` (libpq/psycopg)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or not scheme.startswith(("postgresql", "postgres")):
        raise ValueError("GHARART_JOB_QUEUE=postgres needs a PostgreSQL GHARART_DATABASE_URL")
    return "postgresql://" + rest


def is_durable(kind: str) -> bool:
    return kind.startswith(DURABLE_PREFIXES)


def make_app(database_url: str, handler: Handler | None = None) -> Any:
    """A procrastinate ``App`` with the one task; ``handler`` runs it (worker side only)."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq_url(database_url)))

    @app.task(name=TASK, queue=QUEUE, pass_context=True,
              retry=procrastinate.RetryStrategy(max_attempts=5, wait=2))
    async def run(context: Any, kind: str, run_id: str) -> None:
        if handler is None:  # pragma: no cover - only a worker executes tasks
            raise RuntimeError("no job handler registered in this process")
        await handler(kind, run_id, int(getattr(context.job, "attempts", 0) or 0))

    return app


async def ensure_schema(app: Any) -> None:
    """Create procrastinate's tables once (its schema is not part of our Alembic history)."""
    exists = "SELECT to_regclass('procrastinate_jobs') AS t"
    if (await app.connector.execute_query_one_async(exists))["t"] is not None:
        return
    try:
        await app.schema_manager.apply_schema_async()
    except Exception:
        # another process created it at the same moment
        if (await app.connector.execute_query_one_async(exists))["t"] is None:
            raise


async def recover_stalled(app: Any, seconds_since_heartbeat: float) -> int:
    """Retry the jobs of workers that stopped sending heartbeats; return how many."""
    stalled = await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=seconds_since_heartbeat)
    count = 0
    for job in stalled:
        with contextlib.suppress(Exception):
            await app.job_manager.retry_job(job)
            count += 1
            log.warning("retrying stalled job %s (%s)", job.id, job.task_kwargs)
    return count


class QueueJobRunner:
    """``JobRunner``: durable kinds go to PostgreSQL, the rest run in this process."""

    def __init__(self, database_url: str, fallback: InProcessJobRunner | None = None, *,
                 connect_timeout: float = 10.0) -> None:
        libpq_url(database_url)  # refuse a non-PostgreSQL database at start-up, not at the first job
        self.database_url = database_url
        self.connect_timeout = connect_timeout
        self.fallback = fallback or InProcessJobRunner()
        self.app: Any = None
        self._open_loop: asyncio.AbstractEventLoop | None = None
        self.pending: set[asyncio.Task[Any]] = set()
        self.counts = self.fallback.counts

    def submit(self, kind: str, run_id: str, job: Callable[[], Awaitable[Any]]) -> None:
        if not is_durable(kind):
            self.fallback.submit(kind, run_id, job)
            return
        task = asyncio.get_running_loop().create_task(self._defer(kind, run_id, job), name=f"defer:{kind}:{run_id}")
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _ensure_open(self) -> Any:
        loop = asyncio.get_running_loop()
        if self.app is None or self._open_loop is not loop:
            app = make_app(self.database_url)
            try:
                await asyncio.wait_for(app.open_async(), self.connect_timeout)
                await ensure_schema(app)
            except BaseException:
                with contextlib.suppress(Exception):
                    await app.close_async()
                raise
            self.app, self._open_loop = app, loop
        return self.app

    async def _defer(self, kind: str, run_id: str, job: Callable[[], Awaitable[Any]]) -> None:
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            app = await self._ensure_open()
            await app.configure_task(TASK, queueing_lock=run_id, lock=run_id).defer_async(kind=kind, run_id=run_id)
            self.fallback._count(kind, "queued")
        except AlreadyEnqueued:
            pass
        except Exception:
            # The run row is committed; never lose it because the queue is unreachable.
            log.exception("could not queue %s %s; running it in process", kind, run_id)
            self.fallback.submit(kind, run_id, job)

    async def drain(self, timeout: float = 30.0) -> None:
        if self.pending:
            await asyncio.wait(set(self.pending), timeout=timeout)
        await self.fallback.drain(timeout)

    async def aclose(self) -> None:
        if self.app is not None and self._open_loop is asyncio.get_running_loop():
            await self.app.close_async()
        self.app = None


def make_handler(container: Any) -> Handler:
    """The worker's dispatch: ``(kind, run_id)`` -> the area service's resumable entry point."""

    async def handle(kind: str, run_id: str, attempts: int) -> None:
        if kind.startswith("site_intel."):
            intel = container.intel_service()
            if await intel.requeue_orphaned_run(run_id):
                log.warning("run %s was left running by a dead worker; running it again", run_id)
            await intel.run_job(run_id)
            return
        if kind == HEALTH_CHECK:
            links = container.links_service()
            if await links.requeue_orphaned_health_run(run_id):
                log.warning("health-check run %s was left running by a dead worker; its results were "
                            "cleared and it runs again", run_id)
            await links.run_health_job(run_id)
            return
        raise ValueError(f"no durable handler for job kind {kind!r}")

    return handle

