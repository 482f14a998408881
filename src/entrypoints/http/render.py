"""Rendering helpers shared by route modules (camelCase JSON)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from gharart_core.shared.clock import format_ts
from gharart_core.shared.pagination import Page, validate_limit

__all__ = ["page", "parse_limit", "ts"]

T = TypeVar("T")

ts = format_ts


def page(p: Page[T], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [render(i) for i in p.items], "nextCursor": p.next_cursor}


def items(values: Iterable[T], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [render(i) for i in values], "nextCursor": None}


def parse_limit(raw: str | None) -> int:
    """``?limit=`` as an int in 1..500 (422 ``validation_failed`` otherwise)."""
    if raw is None or raw == "":
        return validate_limit(None)
    try:
        value = int(raw)
    except ValueError:
        value = -1
    return validate_limit(value)
