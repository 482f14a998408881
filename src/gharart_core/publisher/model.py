"""Publishing records: entity, status state machine and field rules (SPEC §10, A.5).

A publishing record says "content ``content_id`` of site ``site_id`` (a handle) went, or is
going, to ``destination``". Its status moves along :data:`TRANSITIONS` only; every change goes
through :func:`transition`, a pure function that raises :class:`InvalidTransition` otherwise.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ..shared.errors import FieldError, ValidationFailed

__all__ = [
    "DEFAULT_SECTOR",
    "SECTOR_RE",
    "TRANSITIONS",
    "InvalidTransition",
    "PublishStatus",
    "PublishingRecord",
    "can_transition",
    "parse_status",
    "transition",
    "validate_content_id",
    "validate_sector",
    "validate_title",
]

DEFAULT_SECTOR = "default"
SECTOR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
_CONTENT_ID_MAX = 200
_TITLE_MAX = 500


class PublishStatus(enum.Enum):
    PENDING = "pending"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"


#: The only moves a record's status may make. ``failed -> publishing`` is a retry;
#: ``published`` is final.
TRANSITIONS: Mapping[PublishStatus, frozenset[PublishStatus]] = {
    PublishStatus.PENDING: frozenset({PublishStatus.PUBLISHING}),
    PublishStatus.PUBLISHING: frozenset({PublishStatus.PUBLISHED, PublishStatus.FAILED}),
    PublishStatus.FAILED: frozenset({PublishStatus.PUBLISHING}),
    PublishStatus.PUBLISHED: frozenset(),
}


class InvalidTransition(ValidationFailed):
    """An illegal status move; the IGNY8 API answers it as 400 with ``errors.status``."""

    def __init__(self, current: PublishStatus, target: PublishStatus) -> None:
        allowed = sorted(s.value for s in TRANSITIONS[current])
        message = (f"Cannot move from `{current.value}` to `{target.value}`; allowed: "
                   f"{', '.join(allowed) if allowed else 'none (final status)'}.")
        super().__init__("invalid_transition", message,
                         errors=[FieldError("status", "invalid_transition", message)],
                         extra={"currentStatus": current.value})
        self.current = current
        self.target = target


def can_transition(current: PublishStatus, target: PublishStatus) -> bool:
    return target in TRANSITIONS[current]


def parse_status(value: object, field: str = "status") -> PublishStatus:
    try:
        return PublishStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in PublishStatus)
        raise ValidationFailed(errors=[FieldError(
            field, "invalid_choice", f'"{value}" is not a valid choice; use one of: {choices}.')]) from None


@attrs.frozen
class PublishingRecord:
    id: str
    account_id: str
    site_id: str
    sector_id: str
    content_id: str
    destination: str
    title: str
    status: PublishStatus
    created_at: datetime
    updated_at: datetime
    external_url: str | None = None
    error: str | None = None
    attempts: int = 0
    published_at: datetime | None = None
    config: Mapping[str, Any] = attrs.field(factory=dict)
    content: str | None = None
    version: int = 1


def transition(record: PublishingRecord, target: PublishStatus, now: datetime, *,
               external_url: str | None = None, error: str | None = None) -> PublishingRecord:
    """Apply one status move; raise :class:`InvalidTransition` for anything off the table.

    Entering ``publishing`` counts an attempt and clears the last error; ``published`` stamps
    ``published_at`` (once: the status is final) and the external URL; ``failed`` keeps the error.
    """
    if not can_transition(record.status, target):
        raise InvalidTransition(record.status, target)
    changes: dict[str, Any] = {"status": target, "updated_at": now, "version": record.version + 1}
    if target is PublishStatus.PUBLISHING:
        changes.update(attempts=record.attempts + 1, error=None)
    elif target is PublishStatus.PUBLISHED:
        changes.update(published_at=now, error=None)
        if external_url is not None:
            changes["external_url"] = external_url
    elif target is PublishStatus.FAILED:
        changes["error"] = error or "publish failed"
    return attrs.evolve(record, **changes)


def validate_sector(value: object, field: str = "sector_id") -> str:
    if value is None:
        return DEFAULT_SECTOR
    if not isinstance(value, str) or not SECTOR_RE.match(value):
        raise ValidationFailed(errors=[FieldError(
            field, "invalid", "A sector id is 1-64 letters, digits, `_`, `.`, `:` or `-`.")])
    return value


def validate_content_id(value: object, field: str = "content_id") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # IGNY8 content ids are integers; we keep them as strings
    if value is None or value == "":
        raise ValidationFailed(errors=[FieldError(field, "required", "This field is required.")])
    if not isinstance(value, str) or len(value) > _CONTENT_ID_MAX or any(ord(c) < 32 for c in value):
        raise ValidationFailed(errors=[FieldError(
            field, "invalid", f"A content id is a string of at most {_CONTENT_ID_MAX} printable characters.")])
    return value


def validate_title(value: object, field: str = "title") -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise ValidationFailed(errors=[FieldError(field, "invalid", "Not a valid string.")])
    if len(value) > _TITLE_MAX:
        raise ValidationFailed(errors=[FieldError(
            field, "max_length", f"Ensure this field has no more than {_TITLE_MAX} characters.")])
    return value
