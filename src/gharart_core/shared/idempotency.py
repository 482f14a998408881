"""Idempotency records (Stripe semantics): one per actor + route + key."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime, timedelta
from typing import Protocol

import attrs

__all__ = [
    "IDEMPOTENCY_TTL",
    "IdempotencyRecord",
    "IdempotencyState",
    "IdempotencyStore",
    "body_fingerprint",
    "decide",
]

IDEMPOTENCY_TTL = timedelta(hours=24)


class IdempotencyState(enum.Enum):
    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"


@attrs.frozen
class IdempotencyRecord:
    actor: str
    route: str
    key: str
    fingerprint: str
    state: IdempotencyState
    created_at: datetime
    expires_at: datetime
    locked_until: datetime | None = None
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def body_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode()):
        h.update(part)
        h.update(b"\0")
    h.update(body)
    return h.hexdigest()


class Decision(enum.Enum):
    PROCEED = "proceed"
    REPLAY = "replay"
    REUSED = "reused"
    IN_PROGRESS = "in_progress"


def decide(existing: IdempotencyRecord | None, fingerprint: str, now: datetime) -> Decision:
    """Pure decision for an incoming request carrying an Idempotency-Key."""
    if existing is None or existing.expires_at <= now:
        return Decision.PROCEED
    if existing.fingerprint != fingerprint:
        return Decision.REUSED
    if existing.state is IdempotencyState.COMPLETED:
        return Decision.REPLAY
    if existing.locked_until is not None and existing.locked_until <= now:
        # the request that held the key died without finishing: its transaction rolled back
        return Decision.PROCEED
    return Decision.IN_PROGRESS


class IdempotencyStore(Protocol):
    async def get(self, actor: str, route: str, key: str) -> IdempotencyRecord | None: ...

    async def reserve(self, record: IdempotencyRecord, *, replace: bool) -> bool:
        """Insert an in-flight record; False when another request holds the key."""
        ...

    async def complete(self, record: IdempotencyRecord) -> None: ...

    async def release(self, actor: str, route: str, key: str) -> None: ...
