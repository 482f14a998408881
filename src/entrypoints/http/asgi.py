"""ASGI entry for servers: ``granian --interface asgi --factory entrypoints.http.asgi:create``."""

from __future__ import annotations

from .app import GharartApp, create_app

__all__ = ["create"]


def create() -> GharartApp:
    """Build the app from the environment's settings (SQL + object store)."""
    return create_app()
