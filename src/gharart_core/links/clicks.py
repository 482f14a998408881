"""Click counting off the hot path: count in process memory, flush in batches.

A redirect only increments a dict entry; a background task writes the sums every
``interval_s`` seconds (or sooner once ``max_pending`` clicks wait) in one transaction.
A crash loses at most one interval of clicks, never a redirect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["ClickBuffer"]

log = logging.getLogger("gharart.links.clicks")


class ClickBuffer:
    def __init__(self, uow_factory: Callable[..., Any], *, interval_s: float = 1.0, max_pending: int = 5000,
                 today: Callable[[], datetime] | None = None) -> None:
        self.uow_factory = uow_factory
        self.interval_s = interval_s
        self.max_pending = max_pending
        self._today = today
        self._pending: dict[tuple[str, str], int] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.flushed = 0

    def _day(self) -> str:
        from datetime import UTC
        from datetime import datetime as dt

        now = self._today() if self._today else dt.now(UTC)
        return now.strftime("%Y-%m-%d")

    def record(self, link_id: str, n: int = 1) -> None:
        key = (link_id, self._day())
        self._pending[key] = self._pending.get(key, 0) + n
        self._count += n
        if self._task is None or self._task.done():
            self._start()
        elif self._count >= self.max_pending and self._wake is not None:
            self._wake.set()

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._loop(), name="links.clicks.flush")

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            self._wake.clear()
            if not self._pending:
                return  # idle: the next click starts a new task
            try:
                await self.flush()
            except Exception:  # keep counting; the next flush retries with the sums kept
                log.exception("click flush failed")

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending, self._count = self._pending, {}, 0
        try:
            async with self.uow_factory(write=True) as uow:
                await uow.links.add_clicks([(lid, day, n) for (lid, day), n in batch.items()])
                await uow.commit()
        except BaseException:
            for k, n in batch.items():
                self._pending[k] = self._pending.get(k, 0) + n
            raise
        self.flushed += sum(batch.values())

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()
