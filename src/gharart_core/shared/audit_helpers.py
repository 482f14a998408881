"""Helper every service uses to write an audit entry for a handle-scoped action."""

from __future__ import annotations

from ..identity.model import HandleAccess
from .audit import AuditEvent
from .clock import Clock
from .ids import IdGenerator
from .ports import UnitOfWork

__all__ = ["record"]


async def record(uow: UnitOfWork, clock: Clock, ids: IdGenerator, access: HandleAccess, action: str,
                 target: str | None, *, before: int | None = None, after: int | None = None,
                 detail: str | None = None) -> None:
    await uow.audit.add(AuditEvent(
        id=ids.new("aud"), at=clock.now(), actor_id=access.principal.user_id,
        credential_id=access.principal.credential_id, handle=access.handle, action=action,
        target=target, request_id=access.request_id, before_version=before, after_version=after,
        detail=detail,
    ))
