"""memory repositories for the support area."""

from __future__ import annotations

from typing import Any

REPOSITORIES: dict[str, Any] = {}
