"""Ports of the links area: the link repository, its unit of work and the outbound fetcher.

The :class:`Fetcher` port is shared: any area that makes outbound HTTP requests on a
user's behalf (health checks, crawls) takes one, and gets the SSRF guard with it.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

from ..shared.ports import UnitOfWork
from .health import HealthResult, HealthRun
from .importing import ImportedLink, ImportMeta, ImportRowError, ImportRun
from .model import Health, Link, LinkVersion

__all__ = [
    "FETCH_ERROR_KINDS",
    "FetchError",
    "FetchResponse",
    "Fetcher",
    "LinkRepository",
    "LinksUoW",
]

FETCH_ERROR_KINDS = ("timeout", "dns_error", "tls_error", "connection_error", "blocked",
                     "too_many_redirects", "invalid_url")


@attrs.frozen
class FetchResponse:
    """The final response after following at most ``max_redirects`` redirects."""

    status: int
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    redirects: tuple[str, ...] = ()  # every URL that answered with a redirect, in order
    elapsed_ms: float = 0.0

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)


class FetchError(Exception):
    """A fetch that produced no HTTP response; ``kind`` is one of :data:`FETCH_ERROR_KINDS`."""

    def __init__(self, kind: str, detail: str = "", *, url: str | None = None,
                 redirects: tuple[str, ...] = ()) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail or kind.replace("_", " ")
        self.url = url
        self.redirects = redirects


class Fetcher(Protocol):
    """Outbound HTTP with the SSRF guard applied to the URL and to every redirect hop."""

    async def fetch(self, url: str, *, method: str = "GET", timeout: float = 5.0, max_redirects: int = 5,
                    max_body: int = 1 << 20, headers: Mapping[str, str] | None = None,
                    body: bytes | None = None, follow_redirects: bool = True) -> FetchResponse:
        """Raise :class:`FetchError` when no response could be had (or the target is blocked).

        ``headers`` are sent on every hop (the fetcher sets ``Host`` itself). ``body`` is the
        request body (e.g. a webhook POST); a 307/308 hop sends it again with the same method,
        while a 303, or a 301/302 answering a POST, continues as a GET without it. With
        ``follow_redirects=False`` the first answer comes back as it is, 3xx included, and the
        guard has checked that one hop; otherwise at most ``max_redirects`` hops are followed
        (one more is ``too_many_redirects``), each checked again before it is connected to.
        """
        ...


class LinkRepository(Protocol):
    # links -------------------------------------------------------------------------------
    async def get(self, handle: str, slug: str) -> Link | None:
        """The link, deleted or not (callers check ``is_deleted``)."""
        ...

    async def get_many(self, handle: str, slugs: Sequence[str]) -> dict[str, Link]: ...

    async def insert(self, link: Link) -> bool:
        """False when the (handle, slug) is taken."""
        ...

    async def update(self, link: Link, expected_version: int) -> bool:
        """Replace the link iff its stored version is ``expected_version``."""
        ...

    async def save_batch(self, new: Sequence[Link], changed: Sequence[tuple[Link, int]],
                         versions: Sequence[LinkVersion]) -> None:
        """Bulk write for imports: inserts, version-checked updates and history rows."""
        ...

    async def insert_imported(self, meta: ImportMeta, rows: Sequence[ImportedLink]) -> None:
        """Bulk insert of links an import creates, each at version 1 with its first history entry
        (``imported_link`` / ``imported_version`` give the values); a taken slug is an error."""
        ...

    async def add_version(self, version: LinkVersion) -> None: ...

    async def list(self, handle: str, *, tag: str | None = None, prefix: str | None = None,
                   health: str | None = None, q: str | None = None, after: str | None = None,
                   limit: int = 50) -> builtins.list[Link]:
        """Live links ordered by slug, after the slug ``after``."""
        ...

    async def versions(self, link_id: str, *, before: int | None = None, limit: int = 50) -> builtins.list[LinkVersion]:
        """Newest first."""
        ...

    async def get_version(self, link_id: str, version: int) -> LinkVersion | None: ...

    async def set_health(self, updates: Sequence[tuple[str, Health]]) -> None:
        """(link id, health) pairs; not a new version."""
        ...

    async def bump_generation(self, handle: str) -> int:
        """Advance the handle's links generation (read by the redirect cache)."""
        ...

    async def generation(self, handle: str) -> int: ...

    async def add_clicks(self, counts: Sequence[tuple[str, str, int]]) -> None:
        """(link id, day ``YYYY-MM-DD``, count) to add."""
        ...

    async def clicks(self, link_id: str) -> int: ...

    # runs --------------------------------------------------------------------------------
    async def save_import_run(self, run: ImportRun) -> None: ...

    async def get_import_run(self, handle: str, run_id: str) -> ImportRun | None: ...

    async def add_import_errors(self, errors: Sequence[ImportRowError]) -> None: ...

    async def import_errors(self, run_id: str, *, after_row: int = 0,
                            limit: int = 1000) -> builtins.list[ImportRowError]: ...

    async def save_health_run(self, run: HealthRun) -> None: ...

    async def get_health_run(self, handle: str, run_id: str) -> HealthRun | None: ...

    async def find_health_run(self, run_id: str) -> HealthRun | None:
        """By id alone, whatever its handle (the background job carries only the run id)."""
        ...

    async def add_health_results(self, results: Sequence[HealthResult]) -> None: ...

    async def clear_health_results(self, run_id: str) -> int:
        """Delete the run's results (a re-run after a crash starts from none); return how many."""
        ...

    async def health_results(self, run_id: str, *,
                             classification: str | None = None) -> builtins.list[HealthResult]: ...


class LinksUoW(UnitOfWork, Protocol):
    links: LinkRepository
