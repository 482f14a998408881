"""Memory repositories for cross-cutting records: audit, idempotency, request log, quotas."""

from __future__ import annotations

from typing import Any

import attrs

from gharart_core.shared.audit import AuditEvent
from gharart_core.shared.idempotency import IdempotencyRecord, IdempotencyState
from gharart_core.shared.pagination import Page, decode_cursor, encode_cursor
from gharart_core.shared.ports import RequestLogEntry

from .state import MemoryState  # repositories receive a view with the same API

__all__ = ["REPOSITORIES", "MemoryAudit", "MemoryIdempotency", "MemoryQuotas", "MemoryRequestLog"]


class MemoryAudit:
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def add(self, event: AuditEvent) -> None:
        self.state.table("audit")[event.id] = event

    async def list(self, handle: str, *, action: str | None, target: str | None, cursor: str | None,
                   limit: int) -> Page[AuditEvent]:
        after = decode_cursor(cursor)
        rows = sorted((e for e in self.state.table("audit").values() if e.handle == handle),
                      key=lambda e: e.id, reverse=True)
        rows = [e for e in rows if (action is None or e.action == action)
                and (target is None or e.target == target)
                and (after is None or e.id < after[0])]
        page = rows[: limit + 1]
        nxt = encode_cursor([page[limit - 1].id]) if len(page) > limit else None
        return Page(page[:limit], nxt)


class MemoryIdempotency:
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def get(self, actor: str, route: str, key: str) -> IdempotencyRecord | None:
        rec: IdempotencyRecord | None = self.state.table("idempotency").get((actor, route, key))
        return rec

    async def reserve(self, record: IdempotencyRecord, *, replace: bool) -> bool:
        table = self.state.table("idempotency")
        k = (record.actor, record.route, record.key)
        if k in table and not replace:
            return False
        table[k] = record
        return True

    async def complete(self, record: IdempotencyRecord) -> None:
        self.state.table("idempotency")[(record.actor, record.route, record.key)] = attrs.evolve(
            record, state=IdempotencyState.COMPLETED)

    async def release(self, actor: str, route: str, key: str) -> None:
        self.state.table("idempotency").pop((actor, route, key), None)


class MemoryRequestLog:
    MAX = 100_000

    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def add(self, entry: RequestLogEntry) -> None:
        table = self.state.table("request_log")
        table[entry.request_id] = entry
        if len(table) > self.MAX:
            for k in list(table)[: len(table) - self.MAX]:
                del table[k]

    async def add_many(self, entries: list[RequestLogEntry]) -> None:
        for entry in entries:
            await self.add(entry)

    async def get(self, request_id: str) -> RequestLogEntry | None:
        entry: RequestLogEntry | None = self.state.table("request_log").get(request_id)
        return entry


class MemoryQuotas:
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    async def add_daily(self, handle: str, kind: str, day: str, amount: int, limit: int) -> tuple[bool, int]:
        table = self.state.table("quota_daily")
        used = int(table.get((handle, kind, day), 0))
        if used + amount > limit:
            return False, used
        table[(handle, kind, day)] = used + amount
        return True, used + amount

    async def take_token(self, bucket: str, rate_per_s: float, burst: int, now: float) -> tuple[bool, float, float]:
        table = self.state.table("buckets")
        tokens, last = table.get(bucket, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate_per_s)
        if tokens >= 1:
            table[bucket] = (tokens - 1, now)
            return True, tokens - 1, 0.0
        table[bucket] = (tokens, now)
        return False, tokens, (1 - tokens) / rate_per_s if rate_per_s > 0 else 3600.0


REPOSITORIES: dict[str, Any] = {
    "audit": MemoryAudit,
    "idempotency": MemoryIdempotency,
    "request_log": MemoryRequestLog,
    "quotas": MemoryQuotas,
}
