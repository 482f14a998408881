"""Process-memory state shared by memory repositories, with undo-log transactions.

Each unit of work hands its repositories a view of the state whose tables record the
previous value of every key they change; rollback replays that log backwards. Repository
methods do their reads and writes without awaiting in between, so on one event loop each
method is atomic (which is what optimistic version checks need).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

__all__ = ["MemoryState", "MemoryUnitOfWork"]

_MISSING = object()


class MemoryState:
    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.counters: dict[str, int] = {}
        self.lock = asyncio.Lock()

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables.setdefault(name, {})

    def next_seq(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]


class _TrackedTable(MutableMapping[Any, Any]):
    __slots__ = ("_data", "_log")

    def __init__(self, data: dict[Any, Any], log: list[tuple[dict[Any, Any], Any, Any]]) -> None:
        self._data = data
        self._log = log

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._log.append((self._data, key, self._data.get(key, _MISSING)))
        self._data[key] = value

    def __delitem__(self, key: Any) -> None:
        self._log.append((self._data, key, self._data[key]))
        del self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def values(self) -> Any:  # type: ignore[override]
        return list(self._data.values())

    def items(self) -> Any:  # type: ignore[override]
        return list(self._data.items())

    def keys(self) -> Any:  # type: ignore[override]
        return list(self._data.keys())


class _StateView:
    """What a repository sees: the shared state, with writes logged for rollback."""

    def __init__(self, state: MemoryState, log: list[tuple[dict[Any, Any], Any, Any]]) -> None:
        self._state = state
        self._log = log

    def table(self, name: str) -> _TrackedTable:
        return _TrackedTable(self._state.table(name), self._log)

    def next_seq(self, name: str) -> int:
        return self._state.next_seq(name)

    @property
    def tables(self) -> dict[str, dict[Any, Any]]:
        return self._state.tables

    @property
    def counters(self) -> dict[str, int]:
        return self._state.counters


class MemoryUnitOfWork:
    """Unit of work over :class:`MemoryState`; repositories come from the area registries."""

    def __init__(self, state: MemoryState, factories: dict[str, Callable[[Any], Any]],
                 *, write: bool = True) -> None:
        self.state = state
        self._log: list[tuple[dict[Any, Any], Any, Any]] = []
        self._callbacks: list[Callable[[], Awaitable[None]]] = []
        self._view = _StateView(state, self._log)
        self._factories = factories

    def __getattr__(self, name: str) -> Any:
        # repositories are built on first use
        factories = self.__dict__.get("_factories")
        if factories is None or name not in factories:
            raise AttributeError(name)
        repo = factories[name](self._view)
        setattr(self, name, repo)
        return repo

    async def __aenter__(self) -> MemoryUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rollback()

    async def commit(self) -> None:
        self._log.clear()
        callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            await cb()

    async def rollback(self) -> None:
        while self._log:
            data, key, old = self._log.pop()
            if old is _MISSING:
                data.pop(key, None)
            else:
                data[key] = old
        self._callbacks = []

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._callbacks.append(callback)
