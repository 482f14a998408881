"""``gharart worker``: run durable background jobs from the PostgreSQL queue (procrastinate).

The API processes queue durable runs when ``GHARART_JOB_QUEUE=postgres``; any number of
``gharart worker`` processes (on any host) execute them. A worker recovers the jobs of workers
that died (no heartbeat for ``--stalled-after`` seconds) at start and then periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import typer

from .common import console, run, settings

__all__ = ["worker"]


def worker(concurrency: int = typer.Option(4, "--concurrency", min=1, help="Jobs run at the same time."),
           stalled_after: float = typer.Option(10.0, "--stalled-after", min=1.0,
                                               help="Seconds without heartbeat before a worker's jobs are retried."),
           once: bool = typer.Option(False, "--once", help="Exit when the queue is empty (scripts, tests).")) -> None:
    """Run background jobs from the PostgreSQL queue (needs a PostgreSQL GHARART_DATABASE_URL)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(_work(concurrency, stalled_after, once))


async def _work(concurrency: int, stalled_after: float, once: bool) -> None:
    from adapters.jobs_queue import QUEUE, ensure_schema, make_app, make_handler, recover_stalled
    from adapters.sql.migrate import upgrade

    from ..containers import build_container

    container = build_container(settings())
    url = container.settings().resolved_database_url
    if container.settings().auto_migrate:
        await upgrade(url)
    app = make_app(url, make_handler(container))
    async with app.open_async():
        await ensure_schema(app)
        recovered = await recover_stalled(app, stalled_after)
        console.print(f"gharart worker: queue `{QUEUE}`, concurrency {concurrency}"
                      + (f", {recovered} stalled job(s) requeued" if recovered else ""))

        async def recovery_loop() -> None:
            while True:
                await asyncio.sleep(max(1.0, stalled_after / 2))
                with contextlib.suppress(Exception):
                    await recover_stalled(app, stalled_after)

        recovery = asyncio.ensure_future(recovery_loop())
        try:
            options: dict[str, Any] = {
                "queues": [QUEUE], "concurrency": concurrency, "wait": not once,
                "update_heartbeat_interval": max(0.5, stalled_after / 4),
                "stalled_worker_timeout": stalled_after,
            }
            await app.run_worker_async(**options)
        finally:
            recovery.cancel()
            with contextlib.suppress(BaseException):
                await recovery
            with contextlib.suppress(Exception):
                await container.database().dispose()
            aclose = getattr(container.object_store(), "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
