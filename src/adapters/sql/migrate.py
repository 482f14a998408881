"""Run Alembic migrations programmatically (``gharart db upgrade`` and app start-up).

Each area keeps its own branch of revisions rooted at the foundation revision, so
``heads`` (every branch) is the target.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

__all__ = ["alembic_config", "autogenerate", "upgrade", "upgrade_sync"]

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and not path.startswith(":memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)


async def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the schema at ``url`` to ``revision`` (all area heads by default)."""
    ensure_sqlite_dir(url)
    engine = create_async_engine(url)
    cfg = alembic_config(url)

    def _do(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(_do)
    finally:
        await engine.dispose()


def upgrade_sync(url: str, revision: str = "heads") -> None:
    asyncio.run(upgrade(url, revision))


def autogenerate(url: str, message: str, *, head: str = "base", branch_label: str | None = None,
                 rev_id: str | None = None, depends_on: str | None = None) -> None:
    """Developer helper: write a new revision from the difference between the tables and ``url``."""
    ensure_sqlite_dir(url)
    cfg = alembic_config(url)
    command.revision(cfg, message=message, autogenerate=True, head=head, branch_label=branch_label,
                     rev_id=rev_id, depends_on=depends_on)
