"""Field validators shared by the publisher use cases (DRF-style messages, dotted field paths)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..shared.errors import FieldError, ValidationFailed

__all__ = ["collect", "config_object", "opt_text", "opt_url", "site_id_field"]

T = TypeVar("T")
_URL_MAX = 2048


def collect(errors: list[FieldError], fn: Callable[..., T], *args: Any) -> T | None:
    """Run one field validator, keeping its field errors so every bad field is reported at once."""
    try:
        return fn(*args)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        return None


def opt_url(value: object, field: str) -> str | None:
    if value is None or value == "":
        return None
    if (not isinstance(value, str) or len(value) > _URL_MAX or not value.startswith(("http://", "https://"))
            or any(ord(c) < 33 for c in value)):
        raise ValidationFailed(errors=[FieldError(field, "invalid_url", "Enter a valid URL.")])
    return value


def opt_text(value: object, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise ValidationFailed(errors=[FieldError(field, "invalid", "Not a valid string.")])
    if len(value) > limit:
        raise ValidationFailed(errors=[FieldError(field, "max_length",
                                                  f"Ensure this field has no more than {limit} characters.")])
    return value


def config_object(value: object) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(errors=[FieldError("config", "invalid", "Expected an object.")])
    return value


def site_id_field(value: object) -> str:
    if value is None or value == "":
        raise ValidationFailed(errors=[FieldError("site_id", "required", "This field is required.")])
    if not isinstance(value, str):
        raise ValidationFailed(errors=[FieldError("site_id", "invalid", "Not a valid string.")])
    return value
