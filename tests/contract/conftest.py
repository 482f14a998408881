"""The contract suite's fixture: one unit-of-work factory per adapter set.

``uow_factory`` is parametrized over memory, SQLite and (when ``GHARART_TEST_POSTGRES_URL`` is
set) PostgreSQL. Each yields ``make(write=True)``: an async context manager unit of work
with every area's repositories as attributes, on a fresh, migrated, empty database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade

PG_URL = os.environ.get("GHARART_TEST_POSTGRES_URL")

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _pg_database() -> tuple[str, Callable[[], Any]]:
    assert PG_URL
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(PG_URL)
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = PG_URL.rsplit("/", 1)[0] + "/" + name

    async def drop() -> None:
        admin2 = Database(PG_URL)
        async with admin2.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin2.dispose()

    return url, drop


@pytest.fixture(params=BACKENDS)
async def uow_factory(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Callable[..., Any]]:
    backend = request.param
    if backend == "memory":
        state = MemoryState()
        factories = memory_factories()

        def make_memory(write: bool = True) -> MemoryUnitOfWork:
            return MemoryUnitOfWork(state, factories, write=write)

        yield make_memory
        return
    if backend == "postgres":
        if not PG_URL:
            pytest.skip("GHARART_TEST_POSTGRES_URL not set")
        url, drop = await _pg_database()
    else:
        url, drop = f"sqlite+aiosqlite:///{tmp_path}/contract.db", None
    await upgrade(url)
    db = Database(url)
    sql = sql_factories()

    def make_sql(write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(db, sql, write=write)

    try:
        yield make_sql
    finally:
        await db.dispose()
        if drop is not None:
            await drop()
