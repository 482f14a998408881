"""Audit event model and the audit port."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

from .pagination import Page

__all__ = ["AuditEvent", "AuditRepository"]


@attrs.frozen
class AuditEvent:
    id: str
    at: datetime
    actor_id: str | None
    credential_id: str | None
    handle: str | None
    action: str
    target: str | None
    request_id: str | None
    before_version: int | None = None
    after_version: int | None = None
    detail: str | None = None


class AuditRepository(Protocol):
    async def add(self, event: AuditEvent) -> None: ...

    async def list(
        self, handle: str, *, action: str | None, target: str | None, cursor: str | None, limit: int
    ) -> Page[AuditEvent]: ...
