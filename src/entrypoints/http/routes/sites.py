"""HTTP routes for the sites area."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
