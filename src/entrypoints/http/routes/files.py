"""HTTP routes for the files area."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
