"""HTTP routes for the intel area."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
