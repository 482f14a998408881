"""Per-app runtime: the container plus the few process-level helpers the HTTP layer needs."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from gharart_core.shared.errors import RateLimited
from gharart_core.shared.ports import RequestLogEntry

from ..settings import RateLimit, Settings
from .auth import JwtVerifier, PrincipalCache
from .metrics import Metrics

__all__ = ["MemoryBuckets", "RequestLogBuffer", "Runtime"]

log = logging.getLogger("gharart.http")


class MemoryBuckets:
    """Token buckets in process memory: correct for one worker (the embedded default)."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, limit: RateLimit, now: float) -> tuple[bool, float, float]:
        tokens, last = self.buckets.get(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - last) * limit.per_second)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return True, tokens - 1, 0.0
        self.buckets[key] = (tokens, now)
        if len(self.buckets) > 200_000:
            self.buckets.clear()
        return False, tokens, (1 - tokens) / limit.per_second


class RequestLogBuffer:
    """Batches request-log rows of successful reads; writes and errors are stored at once."""

    def __init__(self, uow_factory: Any, max_batch: int = 500) -> None:
        self.uow_factory = uow_factory
        self.pending: list[RequestLogEntry] = []
        self.max_batch = max_batch
        self._task: asyncio.Task[None] | None = None

    def add(self, entry: RequestLogEntry) -> None:
        self.pending.append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0.2)
        await self.flush()

    async def flush(self) -> None:
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()  # everything pending is written below; a sleeping flush must not outlive the loop
        while self.pending:
            batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch:]
            try:
                async with self.uow_factory(write=True) as uow:
                    await uow.request_log.add_many(batch)
                    await uow.commit()
            except Exception:  # the request log must never break serving
                log.exception("request log flush failed")

    async def write_now(self, entry: RequestLogEntry) -> None:
        try:
            async with self.uow_factory(write=True) as uow:
                await uow.request_log.add(entry)
                await uow.commit()
        except Exception:
            log.exception("request log write failed")


class Runtime:
    def __init__(self, container: Any) -> None:
        self.container = container
        self.settings: Settings = container.settings()
        self.clock = container.clock()
        self.ids = container.ids()
        self.uow_factory = container.uow_factory()
        self.identity = container.identity_service()
        self.verifier = JwtVerifier(self.settings)
        self.user_cache: dict[str, tuple[str, str | None]] = {}
        self.auth_cache = PrincipalCache()
        self._background: set[asyncio.Task[Any]] = set()
        self.buckets = MemoryBuckets()
        self.metrics = Metrics()
        self.request_log = RequestLogBuffer(self.uow_factory)

    def background(self, coro: Any) -> None:
        """Run bookkeeping off the request path (kept referenced until done)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def identity_changed(self) -> None:
        """Forget cached credentials and memberships (call after an identity write commits)."""
        self.auth_cache.bump()

    async def throttle(self, cls: str, key: str) -> tuple[RateLimit, float, float] | None:
        """Take a token from ``cls``'s bucket for ``key``; raises 429 ``rate_limited`` when empty."""
        limit = self.settings.rate_limits.get(cls)
        if limit is None:
            return None
        now = time.monotonic() if not self.settings.shared_throttles else time.time()
        bucket = f"{cls}:{key}"
        if self.settings.shared_throttles:
            async with self.uow_factory(write=True) as uow:
                allowed, left, wait = await uow.quotas.take_token(bucket, limit.per_second, limit.burst, now)
                await uow.commit()
        else:
            allowed, left, wait = self.buckets.take(bucket, limit, now)
        if not allowed:
            retry = max(1, int(wait + 0.999))
            reset_at = datetime.now(UTC) + timedelta(seconds=retry)
            err = RateLimited("rate_limited", f"Too many requests for `{cls}`; retry in {retry} s.",
                              retry_after=retry,
                              extra={"routeClass": cls, "resetAt": reset_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
            err.headers = rate_limit_headers(limit, 0, retry)  # type: ignore[attr-defined]
            raise err
        return limit, left, wait


def rate_limit_headers(limit: RateLimit, remaining: float, reset_s: float) -> dict[str, str]:
    window = max(1, int(round(limit.burst / limit.per_second)))
    return {
        "RateLimit-Policy": f'"{limit.name}";q={limit.burst};w={window}',
        "RateLimit": f'"{limit.name}";r={max(0, int(remaining))};t={max(0, int(reset_s + 0.999))}',
    }
