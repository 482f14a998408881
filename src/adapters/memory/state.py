"""Process-memory state shared by memory repositories, with snapshot-based transactions.

Entities are frozen attrs values, so a transaction snapshot is a shallow copy of each
table dict; rollback puts the copies back. Writers are serialised by one lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["MemoryState", "MemoryUnitOfWork"]


class MemoryState:
    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.lock = asyncio.Lock()
        self.counters: dict[str, int] = {}

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables.setdefault(name, {})

    def next_seq(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]


class MemoryUnitOfWork:
    """Unit of work over :class:`MemoryState`; repositories come from the area registries."""

    def __init__(self, state: MemoryState, factories: dict[str, Callable[[MemoryState], Any]],
                 *, write: bool = True) -> None:
        self.state = state
        self._write = write
        self._snapshot: dict[str, dict[Any, Any]] | None = None
        self._counters: dict[str, int] | None = None
        self._callbacks: list[Callable[[], Awaitable[None]]] = []
        self._locked = False
        for name, factory in factories.items():
            setattr(self, name, factory(state))

    async def __aenter__(self) -> MemoryUnitOfWork:
        if self._write:
            await self.state.lock.acquire()
            self._locked = True
        self._begin()
        return self

    def _begin(self) -> None:
        self._snapshot = {k: dict(v) for k, v in self.state.tables.items()}
        self._counters = dict(self.state.counters)

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._snapshot is not None:
                await self.rollback()
        finally:
            if self._locked:
                self.state.lock.release()
                self._locked = False

    async def commit(self) -> None:
        self._snapshot = None
        callbacks, self._callbacks = self._callbacks, []
        self._begin()
        for cb in callbacks:
            await cb()

    async def rollback(self) -> None:
        if self._snapshot is not None:
            self.state.tables.clear()
            self.state.tables.update(self._snapshot)
            self.state.counters.clear()
            self.state.counters.update(self._counters or {})
        self._snapshot = None
        self._callbacks = []
        self._begin()

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._callbacks.append(callback)
