"""Ports of the intel area: where pages come from, what it needs from sites, and its repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from ..shared.ports import UnitOfWork
from .model import Run, Snapshot

__all__ = [
    "FetchedPage",
    "HostnameInfo",
    "HostnameLike",
    "IntelRepository",
    "IntelUoW",
    "PageSource",
    "PageSourceFactory",
    "SiteDirectory",
]


@attrs.frozen
class FetchedPage:
    """One answer from a :class:`PageSource`.

    ``status`` is None when nothing was answered (``error`` says why: ``timeout``, ``blocked``,
    ``connection_error``...). ``truncated`` is True when the body passed the size limit and was cut.
    """

    url: str
    status: int | None
    content_type: str | None = None
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    timing_ms: float = 0.0
    error: str | None = None
    truncated: bool = False
    final_url: str | None = None  # set when the source itself followed redirects


class PageSource(Protocol):
    """Fetches one URL without following redirects; bodies are cut at ``max_bytes``."""

    async def get(self, url: str, *, max_bytes: int, timeout_s: float) -> FetchedPage: ...


class HostnameLike(Protocol):
    """A site hostname as the sites area describes it."""

    @property
    def hostname(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def verified(self) -> bool: ...


@attrs.frozen
class HostnameInfo:
    hostname: str
    kind: str  # default | custom
    verified: bool


class SiteDirectory(Protocol):
    """What intel reads from the sites area (``SitesService`` satisfies it structurally)."""

    async def hostnames(self, uow: Any, handle: str) -> Sequence[HostnameLike]:
        """The handle's hostnames: its default one and its custom ones (verified or not)."""
        ...

    async def get_deployment_internal(self, uow: Any, handle: str, deployment_id: str) -> object | None: ...


class PageSourceFactory(Protocol):
    """Chooses how to reach a hostname: in-process for the handle's own, network for custom ones."""

    def for_site(self, handle: str, hostname: str, *, in_process: bool) -> PageSource: ...

    def for_preview(self, handle: str, deployment_id: str) -> PageSource: ...


class IntelRepository(Protocol):
    async def add_run(self, run: Run) -> None: ...

    async def save_run(self, run: Run) -> None: ...

    async def get_run(self, handle: str, run_id: str) -> Run | None: ...

    async def find_run(self, run_id: str) -> Run | None:
        """A run by id alone (job workers only get the id)."""
        ...

    async def replays_for_deployment(self, handle: str, deployment_id: str) -> Sequence[Run]:
        """Replay runs of one deployment, oldest first."""
        ...

    async def add_snapshot(self, snapshot: Snapshot) -> None: ...

    async def get_snapshot(self, handle: str, snapshot_id: str) -> Snapshot | None: ...

    async def latest_snapshot(self, handle: str, hostname: str) -> Snapshot | None: ...


class IntelUoW(UnitOfWork, Protocol):
    intel: IntelRepository
