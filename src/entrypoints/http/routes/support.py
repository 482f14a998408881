"""HTTP routes for the support area."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
