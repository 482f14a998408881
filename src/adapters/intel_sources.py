"""Page sources of the intel crawler.

- :class:`ProfilePageSource`: the handle's own hostnames, answered in-process by the sites
  service's profile serving (no network, no sockets).
- :class:`PreviewPageSource`: a deployment's preview, for replays (in-process too).
- :class:`FetcherPageSource`: custom hostnames over the network through the links area's
  outbound ``Fetcher`` (SSRF guard on the URL and every redirect hop).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from gharart_core.intel.gate import DEFAULT_REPLAY_MAX_AGE_S
from gharart_core.intel.model import CrawlLimits
from gharart_core.intel.ports import FetchedPage, PageSource
from gharart_core.intel.robots import USER_AGENT
from gharart_core.intel.service import IntelConfig, IntelReplayGate, IntelService
from gharart_core.shared.errors import DomainError, ErrorKind, NotFound

__all__ = [
    "FetcherPageSource",
    "IntelPageSources",
    "NoSites",
    "PreviewPageSource",
    "ProfilePageSource",
    "intel_service_from",
    "make_intel_service",
    "make_replay_gate",
]

UowFactory = Callable[..., AbstractAsyncContextManager[Any]]
_KIND_STATUS = {
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.VALIDATION: 422,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.GONE: 410,
    ErrorKind.PRECONDITION_FAILED: 412,
    ErrorKind.PRECONDITION_REQUIRED: 428,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED_MEDIA: 415,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return unquote(parts.path or "/").lstrip("/"), parts.query


async def _served(
    serve: Callable[[Any, str, str], Awaitable[Any]], uow_factory: UowFactory, url: str, max_bytes: int
) -> FetchedPage:
    path, query = _split(url)
    started = time.perf_counter()
    async with uow_factory(write=False) as uow:
        try:
            page = await serve(uow, path, query)
        except DomainError as exc:
            status = _KIND_STATUS.get(exc.kind, 400)
            return FetchedPage(
                url=url,
                status=status,
                content_type="application/problem+json",
                body=exc.code.encode(),
                headers={"x-gharart-code": exc.code},
                timing_ms=(time.perf_counter() - started) * 1000,
            )
    body: bytes = page.body
    return FetchedPage(
        url=url,
        status=page.status,
        content_type=page.content_type,
        body=body[:max_bytes],
        headers={k: v for k, v in page.headers},
        truncated=len(body) > max_bytes,
        timing_ms=(time.perf_counter() - started) * 1000,
    )


class ProfilePageSource:
    """What ``GET /profiles/{handle}/{path}`` would answer an anonymous visitor."""

    def __init__(self, sites: Any, uow_factory: UowFactory, handle: str) -> None:
        self.sites = sites
        self.uow_factory = uow_factory
        self.handle = handle

    async def get(self, url: str, *, max_bytes: int, timeout_s: float) -> FetchedPage:
        async def serve(uow: Any, path: str, query: str) -> Any:
            return await self.sites.serve_profile(uow, self.handle, path, query=query)

        return await _served(serve, self.uow_factory, url, max_bytes)


class PreviewPageSource:
    """What ``GET .../site-deployments/{id}/preview/{path}`` answers, whatever is live."""

    def __init__(self, sites: Any, uow_factory: UowFactory, handle: str, deployment_id: str) -> None:
        self.sites = sites
        self.uow_factory = uow_factory
        self.handle = handle
        self.deployment_id = deployment_id

    async def get(self, url: str, *, max_bytes: int, timeout_s: float) -> FetchedPage:
        async def serve(uow: Any, path: str, query: str) -> Any:
            return await self.sites.serve_preview(uow, self.handle, self.deployment_id, path, query=query)

        return await _served(serve, self.uow_factory, url, max_bytes)


class FetcherPageSource:
    """Network pages through the links ``Fetcher`` (guarded; it follows redirects itself)."""

    def __init__(self, fetcher: Any, *, max_redirects: int = 5) -> None:
        self.fetcher = fetcher
        self.max_redirects = max_redirects

    async def get(self, url: str, *, max_bytes: int, timeout_s: float) -> FetchedPage:
        started = time.perf_counter()
        try:
            resp = await self.fetcher.fetch(
                url,
                method="GET",
                timeout=timeout_s,
                max_redirects=self.max_redirects,
                max_body=max_bytes,
                headers={"User-Agent": USER_AGENT},
            )
        except Exception as exc:
            kind = getattr(exc, "kind", None) or "connection_error"
            return FetchedPage(url=url, status=None, error=str(kind), timing_ms=(time.perf_counter() - started) * 1000)
        headers = {k: v for k, v in resp.headers}
        ctype = next((v for k, v in resp.headers if k.lower() == "content-type"), None)
        body: bytes = resp.body
        declared = next((v for k, v in resp.headers if k.lower() == "content-length"), None)
        truncated = len(body) >= max_bytes or (
            declared is not None and declared.isascii() and declared.isdigit() and int(declared) > max_bytes
        )
        return FetchedPage(
            url=url,
            status=resp.status,
            content_type=ctype,
            body=body[:max_bytes],
            headers=headers,
            truncated=truncated,
            timing_ms=getattr(resp, "elapsed_ms", 0.0) or (time.perf_counter() - started) * 1000,
            final_url=resp.url if resp.url != url else None,
        )


class IntelPageSources:
    """The ``PageSourceFactory`` the container wires: in-process for own hostnames and previews."""

    def __init__(self, sites: Any, uow_factory: UowFactory, fetcher: Any | None) -> None:
        self.sites = sites
        self.uow_factory = uow_factory
        self.fetcher = fetcher

    def for_site(self, handle: str, hostname: str, *, in_process: bool) -> PageSource:
        if in_process:
            return ProfilePageSource(self.sites, self.uow_factory, handle)
        if self.fetcher is None:
            raise RuntimeError("no outbound fetcher is configured for custom hostnames")
        return FetcherPageSource(self.fetcher)

    def for_preview(self, handle: str, deployment_id: str) -> PageSource:
        return PreviewPageSource(self.sites, self.uow_factory, handle, deployment_id)


def make_intel_service(
    *,
    settings: Any,
    clock: Any,
    ids: Any,
    jobs: Any,
    uow_factory: UowFactory,
    sites: Any,
    fetcher: Any | None = None,
) -> IntelService:
    """Build the intel service from settings (the container's provider calls this).

    Reads ``site_domain``, ``replay_max_age_s`` and the crawl knobs ``GHARART_CRAWL_MAX_PAGES``,
    ``_MAX_DEPTH``, ``_TIME_BUDGET_S``, ``_PAGE_TIMEOUT_S``, ``_MAX_PAGE_BYTES``, ``_CONCURRENCY`` (a
    ``crawl_*`` settings attribute, else the raw environment in ``settings.extra``); absent ones
    keep their defaults.
    """
    defaults = CrawlLimits()
    extra = getattr(settings, "extra", None) or {}

    def knob(name: str, default: float) -> float:
        value = getattr(settings, f"crawl_{name}", None)
        if value is None:
            value = extra.get(f"GHARART_CRAWL_{name.upper()}")
        try:
            return float(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            return default

    limits = CrawlLimits(
        max_pages=max(1, int(knob("max_pages", defaults.max_pages))),
        max_depth=max(0, int(knob("max_depth", defaults.max_depth))),
        time_budget_s=knob("time_budget_s", defaults.time_budget_s),
        page_timeout_s=knob("page_timeout_s", defaults.page_timeout_s),
        max_body_bytes=max(1, int(knob("max_page_bytes", defaults.max_body_bytes))),
        concurrency=max(1, int(knob("concurrency", defaults.concurrency))),
    )
    config = IntelConfig(
        site_domain=str(getattr(settings, "site_domain", "localhost")),
        replay_max_age_s=int(getattr(settings, "replay_max_age_s", DEFAULT_REPLAY_MAX_AGE_S)),
        limits=limits,
        replay_limits=attrs.evolve(
            limits, max_pages=max(limits.max_pages * 4, 2000), time_budget_s=limits.time_budget_s * 2
        ),
        per_host_concurrency=limits.concurrency,
    )
    return IntelService(
        clock=clock,
        ids=ids,
        jobs=jobs,
        uow_factory=uow_factory,
        sites=sites,
        sources=IntelPageSources(sites, uow_factory, fetcher),
        config=config,
    )


class NoSites:
    """Stands in for the sites service in a container without one: only the default hostname, no
    deployments, nothing served (every page 404)."""

    async def hostnames(self, uow: Any, handle: str) -> list[Any]:
        return []

    async def get_deployment_internal(self, uow: Any, handle: str, deployment_id: str) -> None:
        return None

    async def serve_profile(self, uow: Any, handle: str, path: str, **_: Any) -> Any:
        raise NotFound("page_not_found", "No sites service is configured.")

    async def serve_preview(self, uow: Any, handle: str, deployment_id: str, path: str, **_: Any) -> Any:
        raise NotFound("deployment_not_found", "No sites service is configured.")


def intel_service_from(container: Any) -> IntelService:
    """``make_intel_service`` from a container that provides ``sites_service`` (and maybe ``fetcher``)."""
    fetcher = container.fetcher() if hasattr(container, "fetcher") else None
    sites = container.sites_service() if hasattr(container, "sites_service") else NoSites()
    return make_intel_service(
        settings=container.settings(),
        clock=container.clock(),
        ids=container.ids(),
        jobs=container.jobs(),
        uow_factory=container.uow_factory(),
        sites=sites,
        fetcher=fetcher,
    )


def make_replay_gate(*, settings: Any, clock: Any) -> IntelReplayGate:
    """The sites service's ``replay_gate`` (``GHARART_REPLAY_MAX_AGE_S``)."""
    return IntelReplayGate(clock, int(getattr(settings, "replay_max_age_s", DEFAULT_REPLAY_MAX_AGE_S)))
