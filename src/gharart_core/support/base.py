"""Shared state of the support service: its ports, the audit helper, cursor and page helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..identity.model import Principal
from ..shared.audit import AuditEvent
from ..shared.clock import Clock
from ..shared.errors import FieldError, ValidationFailed
from ..shared.ids import IdGenerator
from ..shared.pagination import Page, decode_cursor, encode_cursor
from ..shared.ports import Mailer
from .model import Status
from .notifications import Notifier
from .ports import ArtifactDirectory, SupportUoW

__all__ = ["SupportServiceBase"]


class SupportServiceBase:
    """Constructor and helpers shared by the support use-case mixins."""

    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        mailer: Mailer,
        directory: ArtifactDirectory,
        operator_emails: Iterable[str] = (),
        public_url: str | None = None,
        site_domain: str | None = None,
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.directory = directory
        self.notifier = Notifier(mailer, operator_emails)
        self.public_url = public_url
        self.site_domain = site_domain

    # -- helpers -------------------------------------------------------------
    async def _audit(
        self,
        uow: SupportUoW,
        principal: Principal,
        handle: str | None,
        action: str,
        target: str,
        request_id: str | None,
        *,
        before: int | None = None,
        after: int | None = None,
    ) -> None:
        await uow.audit.add(
            AuditEvent(
                id=self.ids.new("aud"),
                at=self.clock.now(),
                actor_id=principal.user_id,
                credential_id=principal.credential_id,
                handle=handle,
                action=action,
                target=target,
                request_id=request_id,
                before_version=before,
                after_version=after,
            )
        )


def _cursor_id(cursor: str | None) -> str | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], str):
        from ..shared.errors import BadRequest

        raise BadRequest("invalid_cursor", "The cursor could not be decoded.")
    return key[0]


def _status_filter(status: str | None) -> Status | None:
    if status is None:
        return None
    try:
        return Status(status)
    except ValueError:
        raise ValidationFailed(
            errors=[FieldError("status", "invalid_choice", "one of open, acknowledged, resolved")]
        ) from None


def _page(rows: Sequence[object], n: int) -> Page:  # type: ignore[type-arg]
    items = list(rows[:n])
    nxt = encode_cursor([items[-1].id]) if len(rows) > n and items else None  # type: ignore[attr-defined]
    return Page(items, nxt)
