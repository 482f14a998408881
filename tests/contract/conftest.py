"""The contract suite's fixtures: one unit-of-work factory per adapter set, one object store per adapter.

``uow_factory`` is parametrized over memory, SQLite and (when ``GHARART_TEST_POSTGRES_URL`` is
set) PostgreSQL. Each yields ``make(write=True)``: an async context manager unit of work
with every area's repositories as attributes, on a fresh, migrated, empty database.

``object_store`` is parametrized over memory, filesystem and S3; the S3 parameter is marked
``s3`` and runs on a real server (the session's SeaweedFS from ``s3_target`` in tests/conftest.py,
or ``GHARART_TEST_S3_URL``), under a fresh key prefix per test. ``stored_keys(store)`` lists what
a store holds, unfinished writes included, for "nothing left behind" checks.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.objectstore.filesystem import FilesystemObjectStore
from adapters.objectstore.memory import MemoryObjectStore
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


# -- object stores --------------------------------------------------------------------------------

OBJECT_STORES = ["memory", "filesystem", pytest.param("s3", marks=pytest.mark.s3)]


def make_object_store(kind: str, tmp_path: Any, request: pytest.FixtureRequest) -> Any:
    if kind == "memory":
        return MemoryObjectStore()
    if kind == "filesystem":
        return FilesystemObjectStore(tmp_path / "store")
    if kind == "s3":
        from adapters.objectstore.s3 import S3ObjectStore

        url, env = request.getfixturevalue("s3_target")  # skips when no SeaweedFS can be started
        # A fresh prefix per test (the bucket is shared by the session); 5 MiB parts so a
        # multipart upload is cheap to reach.
        return S3ObjectStore.from_url(f"{url.rstrip('/')}/t-{uuid.uuid4().hex[:12]}",
                                      env={**env, "GHARART_S3_PART_SIZE_MIB": "5"})
    raise AssertionError(kind)


@pytest.fixture(params=OBJECT_STORES)
async def object_store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Any]:
    store = make_object_store(request.param, tmp_path, request)
    try:
        yield store
    finally:
        aclose = getattr(store, "aclose", None)
        if aclose is not None:
            await aclose()


async def stored_keys(store: Any) -> list[str]:
    """Every key ``store`` holds, plus any unfinished write (``tmp/...`` files, ``pending:`` uploads)."""
    if isinstance(store, MemoryObjectStore):
        return sorted(store.objects)
    if isinstance(store, FilesystemObjectStore):
        done = [p.relative_to(store.objects_dir).as_posix() for p in store.objects_dir.rglob("*") if p.is_file()]
        partial = [f"tmp/{p.name}" for p in store.tmp_dir.iterdir()]
        return sorted(done + partial)
    from adapters.objectstore.s3 import S3ObjectStore

    assert isinstance(store, S3ObjectStore), type(store)
    client = await store._client()
    keys: list[str] = []
    async for page in client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=store.prefix):
        keys += [o["Key"][len(store.prefix):] for o in page.get("Contents", []) or []]
    return sorted(keys + [f"pending:{k}" for k in await store.pending_uploads()])
