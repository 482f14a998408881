"""Domain error base with stable codes.

The core raises :class:`DomainError` subclasses. Each carries a stable snake_case
``code`` and an :class:`ErrorKind`; the HTTP entrypoint maps kinds (and a few
exact codes) to status codes in one table.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "BadRequest",
    "Conflict",
    "DomainError",
    "ErrorKind",
    "FieldError",
    "Forbidden",
    "Gone",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "RateLimited",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMedia",
    "ValidationFailed",
]


class ErrorKind(enum.Enum):
    BAD_REQUEST = "bad_request"
    VALIDATION = "validation"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    GONE = "gone"
    PRECONDITION_FAILED = "precondition_failed"
    PRECONDITION_REQUIRED = "precondition_required"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


@attrs.frozen
class FieldError:
    """One failed field: ``field`` is a dotted path such as ``rules.0.conditions.device``."""

    field: str
    code: str
    message: str = ""


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    kind: ErrorKind = ErrorKind.BAD_REQUEST
    default_code: str = "bad_request"

    def __init__(
        self,
        code: str | None = None,
        detail: str = "",
        *,
        errors: Iterable[FieldError] = (),
        extra: Mapping[str, Any] | None = None,
        title: str | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.detail = detail or self.code.replace("_", " ")
        self.errors = tuple(errors)
        self.extra = dict(extra or {})
        self.title = title
        super().__init__(f"{self.code}: {self.detail}")


class BadRequest(DomainError):
    kind = ErrorKind.BAD_REQUEST
    default_code = "bad_request"


class ValidationFailed(DomainError):
    kind = ErrorKind.VALIDATION
    default_code = "validation_failed"


class Unauthenticated(DomainError):
    kind = ErrorKind.UNAUTHENTICATED
    default_code = "unauthenticated"


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN
    default_code = "forbidden"


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    default_code = "not_found"


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT
    default_code = "conflict"


class Gone(DomainError):
    kind = ErrorKind.GONE
    default_code = "gone"


class PreconditionFailed(DomainError):
    kind = ErrorKind.PRECONDITION_FAILED
    default_code = "version_conflict"


class PreconditionRequired(DomainError):
    kind = ErrorKind.PRECONDITION_REQUIRED
    default_code = "precondition_required"


class TooLarge(DomainError):
    kind = ErrorKind.TOO_LARGE
    default_code = "body_too_large"


class UnsupportedMedia(DomainError):
    kind = ErrorKind.UNSUPPORTED_MEDIA
    default_code = "unsupported_media_type"


class RateLimited(DomainError):
    kind = ErrorKind.RATE_LIMITED
    default_code = "rate_limited"

    def __init__(self, code: str | None = None, detail: str = "", *, retry_after: int = 1,
                 extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(code, detail, extra=extra)
        self.retry_after = retry_after


class Unavailable(DomainError):
    kind = ErrorKind.UNAVAILABLE
    default_code = "unavailable"
