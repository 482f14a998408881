"""HTTP routes for the links area."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
