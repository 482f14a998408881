"""HTTP routes for the docs area."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
