"""Engine set-up and the SQL unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

__all__ = ["Database", "SqlRepository", "SqlUnitOfWork"]


class Database:
    """Owns the engine. On SQLite, writers in one process are serialised by a lock
    (SQLite allows one writer; WAL + busy_timeout handle other processes)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.dialect = sa.engine.make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "postgresql":
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self.write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        if self.dialect == "sqlite":
            @event.listens_for(self.engine.sync_engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=10000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


class SqlUnitOfWork:
    """One transaction on one connection, opened lazily on first use."""

    def __init__(self, db: Database, factories: dict[str, Callable[[SqlUnitOfWork], Any]],
                 *, write: bool = True) -> None:
        self.db = db
        self._write = write
        self._conn: AsyncConnection | None = None
        self._locked = False
        self._callbacks: list[Callable[[], Awaitable[None]]] = []
        self._factories = factories

    def __getattr__(self, name: str) -> Any:
        # repositories are built on first use: a request touches two or three of thirty
        factories = self.__dict__.get("_factories")
        if factories is None or name not in factories:
            raise AttributeError(name)
        repo = factories[name](self)
        setattr(self, name, repo)
        return repo

    async def __aenter__(self) -> SqlUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._conn is not None:
                await self._conn.rollback()
                await self._conn.close()
        finally:
            self._conn = None
            self._release()

    def _release(self) -> None:
        if self._locked and self.db.write_lock is not None:
            self.db.write_lock.release()
        self._locked = False

    async def connection(self) -> AsyncConnection:
        if self._conn is None:
            if self._write and self.db.write_lock is not None and not self._locked:
                await self.db.write_lock.acquire()
                self._locked = True
            try:
                self._conn = await self.db.engine.connect()
                await self._conn.begin()
            except BaseException:
                self._release()
                raise
        return self._conn

    async def commit(self) -> None:
        if self._conn is not None:
            await self._conn.commit()
            await self._conn.close()
            self._conn = None
        self._release()
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            await cb()

    async def rollback(self) -> None:
        if self._conn is not None:
            await self._conn.rollback()
            await self._conn.close()
            self._conn = None
        self._release()
        self._callbacks = []

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._callbacks.append(callback)


class SqlRepository:
    """Base for SQL repositories: ``await self.execute(stmt)`` runs in the unit of work."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self.uow = uow

    async def execute(self, stmt: Any, params: Any = None) -> sa.CursorResult[Any]:
        conn = await self.uow.connection()
        if params is None:
            return await conn.execute(stmt)
        return await conn.execute(stmt, params)

    @property
    def dialect(self) -> str:
        return self.uow.db.dialect
