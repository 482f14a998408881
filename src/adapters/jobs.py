"""In-process job runner: background asyncio tasks, tracked so shutdown and tests can wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["InProcessJobRunner"]

log = logging.getLogger("gharart.jobs")


class InProcessJobRunner:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.counts: dict[tuple[str, str], int] = {}

    def submit(self, kind: str, run_id: str, job: Callable[[], Awaitable[Any]]) -> None:
        async def _run() -> None:
            try:
                await job()
                self._count(kind, "completed")
            except Exception:
                self._count(kind, "failed")
                log.exception("job %s %s failed", kind, run_id)

        task = asyncio.get_running_loop().create_task(_run(), name=f"{kind}:{run_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self._count(kind, "submitted")

    def _count(self, kind: str, status: str) -> None:
        self.counts[(kind, status)] = self.counts.get((kind, status), 0) + 1

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for every submitted job (tests and shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.tasks:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await asyncio.wait(set(self.tasks), timeout=remaining)
