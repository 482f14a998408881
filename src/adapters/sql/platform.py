"""SQL repositories for audit, idempotency, request log and quota counters."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gharart_core.shared.audit import AuditEvent
from gharart_core.shared.idempotency import IdempotencyRecord, IdempotencyState
from gharart_core.shared.pagination import Page, decode_cursor, encode_cursor
from gharart_core.shared.ports import RequestLogEntry

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["REPOSITORIES", "audit_log", "buckets", "idempotency_keys", "quota_daily", "request_log"]

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor_id", sa.String(40)),
    sa.Column("credential_id", sa.String(40)),
    sa.Column("handle", sa.String(40), index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(512)),
    sa.Column("request_id", sa.String(128)),
    sa.Column("before_version", sa.Integer),
    sa.Column("after_version", sa.Integer),
    sa.Column("detail", sa.Text),
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("actor", sa.String(64), primary_key=True),
    sa.Column("route", sa.String(600), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("locked_until", UtcDateTime),
    sa.Column("status", sa.Integer),
    sa.Column("headers", sa.JSON),
    sa.Column("body", sa.LargeBinary),
)

request_log = sa.Table(
    "request_log", metadata,
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("route", sa.String(300), nullable=False),
    sa.Column("path", sa.String(2048), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("code", sa.String(64)),
    sa.Column("actor_id", sa.String(40)),
    sa.Column("handle", sa.String(40)),
    sa.Column("duration_ms", sa.Float, nullable=False),
)

quota_daily = sa.Table(
    "quota_daily", metadata,
    sa.Column("handle", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("used", sa.BigInteger, nullable=False),
)

buckets = sa.Table(
    "rate_buckets", metadata,
    sa.Column("bucket", sa.String(300), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)


def _insert(dialect: str, table: sa.Table) -> Any:
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


class SqlAudit(SqlRepository):
    async def add(self, event: AuditEvent) -> None:
        await self.execute(audit_log.insert().values(
            id=event.id, at=event.at, actor_id=event.actor_id, credential_id=event.credential_id,
            handle=event.handle, action=event.action, target=event.target, request_id=event.request_id,
            before_version=event.before_version, after_version=event.after_version, detail=event.detail))

    async def list(self, handle: str, *, action: str | None, target: str | None, cursor: str | None,
                   limit: int) -> Page[AuditEvent]:
        after = decode_cursor(cursor)
        q = sa.select(audit_log).where(audit_log.c.handle == handle)
        if action:
            q = q.where(audit_log.c.action == action)
        if target:
            q = q.where(audit_log.c.target == target)
        if after:
            q = q.where(audit_log.c.id < str(after[0]))
        rows = (await self.execute(q.order_by(audit_log.c.id.desc()).limit(limit + 1))).mappings().all()
        items = [AuditEvent(**dict(r)) for r in rows[:limit]]
        nxt = encode_cursor([items[-1].id]) if len(rows) > limit else None
        return Page(items, nxt)


def _rec(row: Any) -> IdempotencyRecord:
    return IdempotencyRecord(
        actor=row.actor, route=row.route, key=row.key, fingerprint=row.fingerprint,
        state=IdempotencyState(row.state), created_at=row.created_at, expires_at=row.expires_at,
        locked_until=row.locked_until, status=row.status,
        headers=tuple(tuple(h) for h in (row.headers or [])),  # type: ignore[misc]
        body=row.body or b"",
    )


class SqlIdempotency(SqlRepository):
    async def get(self, actor: str, route: str, key: str) -> IdempotencyRecord | None:
        t = idempotency_keys
        row = (await self.execute(sa.select(t).where(t.c.actor == actor, t.c.route == route, t.c.key == key))).first()
        return _rec(row) if row else None

    def _values(self, r: IdempotencyRecord) -> dict[str, Any]:
        return dict(actor=r.actor, route=r.route, key=r.key, fingerprint=r.fingerprint, state=r.state.value,
                    created_at=r.created_at, expires_at=r.expires_at, locked_until=r.locked_until,
                    status=r.status, headers=[list(h) for h in r.headers], body=r.body)

    async def reserve(self, record: IdempotencyRecord, *, replace: bool) -> bool:
        t = idempotency_keys
        if replace:
            await self.execute(t.delete().where(t.c.actor == record.actor, t.c.route == record.route,
                                                t.c.key == record.key))
        stmt = _insert(self.dialect, t).values(**self._values(record)).on_conflict_do_nothing()
        res = await self.execute(stmt)
        return bool(res.rowcount)

    async def complete(self, record: IdempotencyRecord) -> None:
        t = idempotency_keys
        values = self._values(record)
        values["state"] = IdempotencyState.COMPLETED.value
        stmt = _insert(self.dialect, t).values(**values)
        stmt = stmt.on_conflict_do_update(index_elements=[t.c.actor, t.c.route, t.c.key],
                                          set_={k: stmt.excluded[k] for k in values
                                                if k not in ("actor", "route", "key")})
        await self.execute(stmt)

    async def release(self, actor: str, route: str, key: str) -> None:
        t = idempotency_keys
        await self.execute(t.delete().where(t.c.actor == actor, t.c.route == route, t.c.key == key,
                                            t.c.state == IdempotencyState.IN_FLIGHT.value))


class SqlRequestLog(SqlRepository):
    async def add(self, entry: RequestLogEntry) -> None:
        stmt = _insert(self.dialect, request_log).values(
            request_id=entry.request_id, at=entry.at, method=entry.method, route=entry.route[:300],
            path=entry.path[:2048], status=entry.status, code=entry.code, actor_id=entry.actor_id,
            handle=entry.handle, duration_ms=entry.duration_ms).on_conflict_do_nothing()
        await self.execute(stmt)

    async def add_many(self, entries: list[RequestLogEntry]) -> None:
        """Insert a batch in one statement (the request log flushes successful reads in batches)."""
        if not entries:
            return
        rows = [dict(request_id=e.request_id, at=e.at, method=e.method, route=e.route[:300], path=e.path[:2048],
                     status=e.status, code=e.code, actor_id=e.actor_id, handle=e.handle,
                     duration_ms=e.duration_ms) for e in entries]
        await self.execute(_insert(self.dialect, request_log).on_conflict_do_nothing(), rows)

    async def get(self, request_id: str) -> RequestLogEntry | None:
        row = (await self.execute(sa.select(request_log).where(request_log.c.request_id == request_id))).first()
        return RequestLogEntry(**dict(row._mapping)) if row else None


class SqlQuotas(SqlRepository):
    async def add_daily(self, handle: str, kind: str, day: str, amount: int, limit: int) -> tuple[bool, int]:
        t = quota_daily
        stmt = _insert(self.dialect, t).values(handle=handle, kind=kind, day=day, used=0).on_conflict_do_nothing()
        await self.execute(stmt)
        res = await self.execute(
            t.update().where(t.c.handle == handle, t.c.kind == kind, t.c.day == day, t.c.used + amount <= limit)
            .values(used=t.c.used + amount))
        used = (await self.execute(sa.select(t.c.used).where(
            t.c.handle == handle, t.c.kind == kind, t.c.day == day))).scalar_one()
        return bool(res.rowcount), int(used)

    async def take_token(self, bucket: str, rate_per_s: float, burst: int, now: float) -> tuple[bool, float, float]:
        t = buckets
        stmt = _insert(self.dialect, t).values(bucket=bucket, tokens=float(burst), updated=now)
        await self.execute(stmt.on_conflict_do_nothing())
        q = sa.select(t.c.tokens, t.c.updated).where(t.c.bucket == bucket)
        if self.dialect == "postgresql":
            q = q.with_for_update()
        row = (await self.execute(q)).one()
        tokens = min(float(burst), row.tokens + max(0.0, now - row.updated) * rate_per_s)
        allowed = tokens >= 1
        left = tokens - 1 if allowed else tokens
        await self.execute(t.update().where(t.c.bucket == bucket).values(tokens=left, updated=now))
        wait = 0.0 if allowed else ((1 - tokens) / rate_per_s if rate_per_s > 0 else 3600.0)
        return allowed, left, wait


REPOSITORIES: dict[str, Any] = {
    "audit": SqlAudit,
    "idempotency": SqlIdempotency,
    "request_log": SqlRequestLog,
    "quotas": SqlQuotas,
}
