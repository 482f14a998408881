"""Cursor pagination: opaque cursors, limit validation and a page model."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import attrs

from .errors import BadRequest, FieldError, ValidationFailed

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Page", "decode_cursor", "encode_cursor", "validate_limit"]

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@attrs.frozen
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None = None


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """Decode a cursor made by :func:`encode_cursor`; 400 ``invalid_cursor`` otherwise."""
    if cursor is None or cursor == "":
        return None
    try:
        if len(cursor) > 1024:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except Exception as exc:  # any decoding failure is the client's
        raise BadRequest("invalid_cursor", "The cursor could not be decoded.") from exc
    if not isinstance(value, list):
        raise BadRequest("invalid_cursor", "The cursor could not be decoded.")
    return value


def validate_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            detail=f"limit must be between 1 and {MAX_LIMIT}",
            errors=[FieldError("limit", "out_of_range", f"limit must be between 1 and {MAX_LIMIT}")],
        )
    return limit
