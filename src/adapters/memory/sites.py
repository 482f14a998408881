"""memory repositories for the sites area."""

from __future__ import annotations

from typing import Any

REPOSITORIES: dict[str, Any] = {}
