"""Ports every area may use: unit of work, object store, mailer, job runner, quotas.

Adapters implement these structurally (``typing.Protocol``); nothing here is async
unless it performs I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import attrs

from .audit import AuditRepository

__all__ = [
    "JobRunner",
    "MailMessage",
    "Mailer",
    "ObjectInfo",
    "ObjectStore",
    "QuotaStore",
    "RequestLogEntry",
    "RequestLogStore",
    "UnitOfWork",
]


class UnitOfWork(Protocol):
    """One transaction. Area repositories are attributes of the concrete unit of work."""

    audit: AuditRepository

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` once the transaction has committed (never if it rolls back)."""
        ...


@attrs.frozen
class ObjectInfo:
    key: str
    size: int
    sha256: str | None = None


class ObjectStore(Protocol):
    """Byte storage. Writes are atomic: a key is either absent or complete."""

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None,
                         expected_sha256: str | None = None) -> ObjectInfo:
        """Stream ``chunks`` into ``key``; hash on the way.

        Raises the core's ``TooLarge`` past ``max_bytes`` and ``ValidationFailed`` (``digest_mismatch``)
        when ``expected_sha256`` differs; in both cases nothing is stored.
        """
        ...

    async def put_bytes(self, key: str, data: bytes) -> ObjectInfo: ...

    async def get_stream(self, key: str, *, start: int = 0, end: int | None = None,
                         chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """Yield bytes ``start``..``end`` (inclusive end, like HTTP ranges)."""
        ...

    async def get_bytes(self, key: str) -> bytes: ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def ping(self) -> None: ...

    async def download_url(self, key: str, *, content_type: str, content_disposition: str,
                           ttl_s: int) -> str | None:
        """A time-limited URL where a client can GET ``key`` straight from the store, served with
        these ``Content-Type`` / ``Content-Disposition`` headers; ``None`` when the store has no
        such URLs (memory, filesystem) and the bytes must go through the service."""
        ...


@attrs.frozen
class MailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    sender: str = "Gharart <no-reply@gharart.localhost>"
    headers: tuple[tuple[str, str], ...] = ()


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None: ...


class JobRunner(Protocol):
    """Runs background work (health checks, crawls, replays, purges)."""

    def submit(self, kind: str, run_id: str, job: Callable[[], Awaitable[Any]]) -> None: ...


@attrs.frozen
class RequestLogEntry:
    request_id: str
    at: datetime
    method: str
    route: str
    path: str
    status: int
    code: str | None
    actor_id: str | None
    handle: str | None
    duration_ms: float


class RequestLogStore(Protocol):
    async def add(self, entry: RequestLogEntry) -> None: ...

    async def add_many(self, entries: list[RequestLogEntry]) -> None: ...

    async def get(self, request_id: str) -> RequestLogEntry | None: ...


class QuotaStore(Protocol):
    """Shared counters for daily quotas and token buckets."""

    async def add_daily(self, handle: str, kind: str, day: str, amount: int, limit: int) -> tuple[bool, int]:
        """Add ``amount`` unless it would pass ``limit``; return (accepted, total after)."""
        ...

    async def take_token(self, bucket: str, rate_per_s: float, burst: int, now: float) -> tuple[bool, float, float]:
        """Take one token; return (allowed, tokens left, seconds until the next token)."""
        ...
