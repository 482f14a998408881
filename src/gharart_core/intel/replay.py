"""Replay: fetch a snapshot's URLs from a candidate, then diff (a pure function) for a verdict."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from .crawler import HostLimiter, broken_links, fetch_many
from .extract import host_of
from .model import BrokenLink, CrawlLimits, Reason, Snapshot, SnapshotPage, is_ok_status
from .ports import PageSource

__all__ = ["FAILING_KINDS", "ReplayIncomplete", "ReplayResult", "diff_replay", "replay_snapshot"]

FAILING_KINDS = frozenset({"page_missing", "new_broken_link"})
_GONE = frozenset({404, 410})


class ReplayIncomplete(Exception):
    """The time budget ended before every snapshot URL was replayed: no verdict is possible."""


@attrs.frozen
class ReplayResult:
    pages: tuple[SnapshotPage, ...]
    broken_links: tuple[BrokenLink, ...]
    verdict: str
    reasons: tuple[Reason, ...]


def _fails(reason: Reason) -> bool:
    if reason.kind in FAILING_KINDS:
        return True
    if reason.kind == "status_changed":
        return is_ok_status(reason.before) and not is_ok_status(reason.after)
    return False


def diff_replay(
    before: Snapshot, after: Mapping[str, SnapshotPage], after_broken: Sequence[BrokenLink]
) -> tuple[str, tuple[Reason, ...]]:
    """Compare a snapshot with the same URLs fetched from a candidate.

    Reasons, in snapshot order then link order:

    - ``page_missing``: the page answered 2xx/3xx before and now 404/410 (or is absent);
    - ``status_changed``: any other status change (fails when 2xx/3xx became 4xx/5xx or no answer);
    - ``content_changed``: same status, different digest (reported, never fails on its own);
    - ``new_broken_link``: a link of the candidate to a 4xx/5xx page that the snapshot did not have.

    The verdict is ``fail`` when any reason fails, else ``pass``.
    """
    reasons: list[Reason] = []
    for page in before.pages:
        now = after.get(page.url)
        now_status = now.status if now is not None else None
        if is_ok_status(page.status) and (now is None or now_status in _GONE):
            reasons.append(Reason("page_missing", page.url, page.status, now_status))
        elif now_status != page.status:
            reasons.append(Reason("status_changed", page.url, page.status, now_status))
        elif now is not None and now.digest != page.digest:
            reasons.append(Reason("content_changed", page.url, page.digest, now.digest))
    known = {(b.from_url, b.to_url) for b in before.broken_links}
    for link in after_broken:
        if (link.from_url, link.to_url) not in known:
            reasons.append(Reason("new_broken_link", link.to_url, None, link.status, source=link.from_url))
    verdict = "fail" if any(_fails(r) for r in reasons) else "pass"
    return verdict, tuple(reasons)


async def replay_snapshot(
    snapshot: Snapshot,
    source: PageSource,
    limits: CrawlLimits,
    *,
    host_limiter: HostLimiter | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> ReplayResult:
    """Fetch every snapshot URL from ``source``, plus the same-host targets their links now point to
    (one hop, to find broken links), then diff."""
    deadline = monotonic() + limits.time_budget_s

    def remaining() -> float:
        return deadline - monotonic()

    urls = [p.url for p in snapshot.pages]
    host = host_of(urls[0]) if urls else snapshot.hostname
    sem = host_limiter.for_host(f"replay:{host}") if host_limiter else None
    fetched = await fetch_many(source, urls, limits, sem, remaining)
    if any(p is None for p in fetched):
        raise ReplayIncomplete("The replay ran out of its time budget before every snapshot URL was fetched.")
    pages = {p.url: p for p in fetched if p is not None}
    extra: list[str] = []
    for page in list(pages.values()):
        for link in page.links:
            if host_of(link) == host and link not in pages and link not in extra:
                extra.append(link)
    extra = extra[: max(0, limits.max_pages)]
    if extra:
        for page2 in await fetch_many(source, extra, limits, sem, remaining):
            if page2 is not None:
                pages[page2.url] = page2
    replayed = tuple(pages.values())
    broken = broken_links(replayed, host)
    verdict, reasons = diff_replay(snapshot, pages, broken)
    return ReplayResult(pages=replayed, broken_links=broken, verdict=verdict, reasons=reasons)
