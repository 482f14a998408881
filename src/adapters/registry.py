"""Collects each area's repository factories, so areas plug in without editing shared files.

Every area module ``adapters/memory/<area>.py`` and ``adapters/sql/<area>.py`` exposes
``REPOSITORIES: dict[str, factory]``; the unit of work gets one attribute per entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["AREAS", "memory_factories", "sql_factories"]

AREAS = ("platform", "identity", "links", "sites", "intel", "files", "docs", "support", "publisher", "dashboard")


def _collect(package: str) -> dict[str, Callable[[Any], Any]]:
    out: dict[str, Callable[[Any], Any]] = {}
    for area in AREAS:
        module = importlib.import_module(f"{package}.{area}")
        out.update(getattr(module, "REPOSITORIES", {}))
    return out


def memory_factories() -> dict[str, Callable[[Any], Any]]:
    return _collect("adapters.memory")


def sql_factories() -> dict[str, Callable[[Any], Any]]:
    return _collect("adapters.sql")
