"""The crawler: a breadth-first walk of one host over a :class:`PageSource`.

Level-synchronous BFS: every page of depth *d* is fetched (concurrently, bounded) before any
page of depth *d+1*, so each page is reached at its shortest depth and the set of visited pages
is exactly "reachable within ``max_depth``", cut at ``max_pages`` in discovery order. The
walk ends early when the time budget runs out; pages fetched by then are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

import attrs

from .extract import extract_links, host_of, normalize_url
from .model import BrokenLink, CrawlLimits, SnapshotPage
from .ports import FetchedPage, PageSource
from .robots import RobotsRules

__all__ = ["CrawlResult", "Crawler", "HostLimiter", "broken_links", "fetch_many", "fetch_to_page"]

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_ROBOTS_MAX_BYTES = 512 * 1024
Progress = Callable[[int], Awaitable[None]]


@attrs.frozen
class CrawlResult:
    pages: tuple[SnapshotPage, ...]
    broken_links: tuple[BrokenLink, ...]
    stopped: str | None = None  # None (frontier exhausted), "max_pages" or "time_budget"
    robots_skipped: tuple[str, ...] = ()


class HostLimiter:
    """Per-host concurrency shared by every crawl of a process (one semaphore per host)."""

    def __init__(self, per_host: int = 4) -> None:
        self.per_host = max(1, per_host)
        self._sems: dict[str, asyncio.Semaphore] = {}

    def for_host(self, host: str) -> asyncio.Semaphore:
        sem = self._sems.get(host)
        if sem is None:
            sem = self._sems[host] = asyncio.Semaphore(self.per_host)
        return sem


def _header(headers: Mapping[str, str], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers.items() if k.lower() == name), None)


def fetch_to_page(fetched: FetchedPage, url: str) -> SnapshotPage:
    """Turn a fetch into a snapshot page: digest, title and links (HTML only, plus a redirect target)."""
    if fetched.status is None:
        return SnapshotPage(
            url=url,
            status=None,
            content_type=None,
            digest=None,
            title=None,
            links=(),
            timing_ms=round(fetched.timing_ms, 1),
            error=fetched.error or "fetch_failed",
        )
    ctype = fetched.content_type or _header(fetched.headers, "content-type")
    mime = (ctype or "").split(";")[0].strip().lower()
    title: str | None = None
    links: list[str] = []
    if mime in _HTML_TYPES and fetched.body:
        charset: str | None = None
        if "charset=" in (ctype or "").lower():
            charset = (ctype or "").lower().split("charset=")[1].split(";")[0].strip().strip('"') or None
            try:
                b"".decode(charset or "utf-8")
            except LookupError:
                charset = None
        found = extract_links(fetched.body, url, charset)
        title, links = found.title, list(found.links)
    if 300 <= fetched.status < 400:
        location = _header(fetched.headers, "location")
        target = normalize_url(location, url) if location else None
        if target is not None and target not in links:
            links.append(target)
    if fetched.final_url:
        final = normalize_url(fetched.final_url)
        if final is not None and final != url and final not in links:
            links.append(final)
    error = fetched.error or ("body_truncated" if fetched.truncated else None)
    return SnapshotPage(
        url=url,
        status=fetched.status,
        content_type=ctype,
        digest=hashlib.sha256(fetched.body).hexdigest(),
        title=title,
        links=tuple(links),
        timing_ms=round(fetched.timing_ms, 1),
        error=error,
    )


def broken_links(pages: Iterable[SnapshotPage], host: str) -> tuple[BrokenLink, ...]:
    """Links between pages of ``host`` whose target answered 4xx/5xx or not at all."""
    by_url = {p.url: p for p in pages}
    out: list[BrokenLink] = []
    for page in by_url.values():
        for link in page.links:
            target = by_url.get(link)
            if target is None or host_of(link) != host:
                continue
            if target.status is None or target.status >= 400:
                out.append(BrokenLink(from_url=page.url, to_url=link, status=target.status))
    return tuple(out)


async def fetch_many(
    source: PageSource,
    urls: Sequence[str],
    limits: CrawlLimits,
    sem: asyncio.Semaphore | None,
    remaining: Callable[[], float],
) -> list[SnapshotPage | None]:
    """Fetch ``urls`` concurrently (``limits.concurrency`` at a time); None where the budget ran out."""
    local = asyncio.Semaphore(max(1, limits.concurrency))

    async def one(url: str) -> SnapshotPage | None:
        async with local:
            if sem is not None:
                async with sem:
                    return await _fetch(url)
            return await _fetch(url)

    async def _fetch(url: str) -> SnapshotPage | None:
        left = remaining()
        if left <= 0:
            return None
        timeout = min(limits.page_timeout_s, left)
        started = time.perf_counter()
        try:
            fetched = await asyncio.wait_for(
                source.get(url, max_bytes=limits.max_body_bytes, timeout_s=timeout), timeout
            )
        except TimeoutError:
            if timeout < limits.page_timeout_s:
                return None  # cut by the crawl's time budget, not the page's own fault
            fetched = FetchedPage(
                url=url, status=None, error="timeout", timing_ms=(time.perf_counter() - started) * 1000
            )
        except Exception as exc:  # a source bug must not end the crawl: record it on the page
            fetched = FetchedPage(
                url=url,
                status=None,
                error=f"fetch_failed: {type(exc).__name__}",
                timing_ms=(time.perf_counter() - started) * 1000,
            )
        return fetch_to_page(fetched, url)

    return list(await asyncio.gather(*(one(u) for u in urls)))


class Crawler:
    """Crawls one host from a start URL, within :class:`CrawlLimits`, respecting robots.txt."""

    def __init__(
        self,
        source: PageSource,
        limits: CrawlLimits,
        *,
        host_limiter: HostLimiter | None = None,
        respect_robots: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        on_progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.limits = limits
        self.host_limiter = host_limiter
        self.respect_robots = respect_robots
        self.monotonic = monotonic
        self.on_progress = on_progress

    async def crawl(self, start_url: str) -> CrawlResult:
        start = normalize_url(start_url)
        if start is None:
            raise ValueError(f"not a crawlable URL: {start_url!r}")
        host = host_of(start)
        deadline = self.monotonic() + self.limits.time_budget_s

        def remaining() -> float:
            return deadline - self.monotonic()

        sem = self.host_limiter.for_host(host) if self.host_limiter else None
        robots, off_limits = await self._robots(start, sem, remaining)
        pages: dict[str, SnapshotPage] = {}
        skipped: list[str] = []
        seen = {start}
        frontier = [start]
        max_depth = self.limits.max_depth
        if off_limits:
            # robots.txt answered 5xx or nothing (blocked by the SSRF guard, timeout, refused): RFC 9309
            # says stay out. Fetch the start page alone so the snapshot shows why (503, blocked...).
            max_depth = 0
        elif not robots.allowed(start):
            skipped.append(start)
            frontier = []
        depth = 0
        stopped: str | None = None
        while frontier:
            room = self.limits.max_pages - len(pages)
            if room <= 0:
                stopped = "max_pages"
                break
            if remaining() <= 0:
                stopped = "time_budget"
                break
            if len(frontier) > room:
                stopped = "max_pages"
            batch = frontier[:room]
            results = await fetch_many(self.source, batch, self.limits, sem, remaining)
            next_frontier: list[str] = []
            for url, page in zip(batch, results, strict=True):
                if page is None:
                    stopped = "time_budget"
                    continue
                pages[url] = page
                if depth >= max_depth:
                    continue
                for link in page.links:
                    if link in seen or host_of(link) != host:
                        continue
                    seen.add(link)
                    if robots.allowed(link):
                        next_frontier.append(link)
                    else:
                        skipped.append(link)
            if self.on_progress is not None:
                await self.on_progress(len(pages))
            if stopped is not None:
                break
            frontier = next_frontier
            depth += 1
        ordered = tuple(pages.values())
        return CrawlResult(
            pages=ordered,
            broken_links=broken_links(ordered, host),
            stopped=stopped,
            robots_skipped=tuple(skipped),
        )

    async def _robots(
        self, start: str, sem: asyncio.Semaphore | None, remaining: Callable[[], float]
    ) -> tuple[RobotsRules, bool]:
        """The rules, and whether the site is off limits (robots.txt answered 5xx or nothing)."""
        if not self.respect_robots:
            return RobotsRules(None), False
        robots_url = start.split("/", 3)
        url = "/".join(robots_url[:3]) + "/robots.txt"
        timeout = max(0.001, min(self.limits.page_timeout_s, remaining()))
        try:
            if sem is not None:
                async with sem:
                    fetched = await asyncio.wait_for(
                        self.source.get(url, max_bytes=_ROBOTS_MAX_BYTES, timeout_s=timeout), timeout
                    )
            else:
                fetched = await asyncio.wait_for(
                    self.source.get(url, max_bytes=_ROBOTS_MAX_BYTES, timeout_s=timeout), timeout
                )
        except TimeoutError:
            fetched = FetchedPage(url=url, status=None, error="timeout")
        except Exception as exc:
            fetched = FetchedPage(url=url, status=None, error=f"fetch_failed: {type(exc).__name__}")
        off_limits = fetched.status is None or fetched.status >= 500
        return RobotsRules.from_response(fetched.status, fetched.body), off_limits
