"""Site-intelligence entities: crawl/replay runs, snapshots, and the run state machine."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ..shared.errors import Conflict

__all__ = [
    "CRAWL",
    "REPLAY",
    "RUN_KINDS",
    "RUN_STATUSES",
    "RUN_TRANSITIONS",
    "BrokenLink",
    "CrawlLimits",
    "Reason",
    "Run",
    "Snapshot",
    "SnapshotPage",
    "is_ok_status",
    "transition_run",
]

CRAWL = "crawl"
REPLAY = "replay"
RUN_KINDS = (CRAWL, REPLAY)
RUN_STATUSES = ("queued", "running", "completed", "failed")

# queued -> running -> completed; a run may fail from either open state. Terminal states stay put.
RUN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "queued": frozenset({"running", "failed"}),
    "running": frozenset({"completed", "failed"}),
    "completed": frozenset(),
    "failed": frozenset(),
}


def is_ok_status(status: int | None) -> bool:
    """2xx and 3xx answers count as a page being served."""
    return status is not None and 200 <= status < 400


@attrs.frozen
class CrawlLimits:
    """Bounds of one crawl (all configurable through settings)."""

    max_pages: int = 500
    max_depth: int = 10
    time_budget_s: float = 60.0
    page_timeout_s: float = 10.0
    max_body_bytes: int = 2 * 1024 * 1024
    concurrency: int = 4


@attrs.frozen
class SnapshotPage:
    """One URL as the crawl saw it. ``status`` is None when the fetch itself failed (``error``)."""

    url: str
    status: int | None
    content_type: str | None
    digest: str | None
    title: str | None
    links: tuple[str, ...]
    timing_ms: float
    error: str | None = None


@attrs.frozen
class BrokenLink:
    from_url: str
    to_url: str
    status: int | None


@attrs.frozen
class Snapshot:
    id: str
    handle: str
    hostname: str
    created_at: datetime
    pages: tuple[SnapshotPage, ...]
    broken_links: tuple[BrokenLink, ...]
    run_id: str | None = None

    def page(self, url: str) -> SnapshotPage | None:
        return next((p for p in self.pages if p.url == url), None)


@attrs.frozen
class Reason:
    """Why a replay differs: ``page_missing``, ``status_changed``, ``content_changed``, ``new_broken_link``.

    ``source`` is the linking page for ``new_broken_link`` (None otherwise).
    """

    kind: str
    url: str
    before: Any
    after: Any
    source: str | None = None


@attrs.frozen
class Run:
    id: str
    handle: str
    kind: str
    status: str
    hostname: str
    created_at: datetime
    created_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    snapshot_id: str | None = None
    deployment_id: str | None = None
    verdict: str | None = None
    reasons: tuple[Reason, ...] = ()
    error: str | None = None
    pages_done: int = 0


def transition_run(run: Run, to: str, **changes: Any) -> Run:
    """Apply one state change, raising 409 ``invalid_transition`` for anything the table forbids."""
    if to not in RUN_TRANSITIONS.get(run.status, frozenset()):
        raise Conflict(
            "invalid_transition",
            f"Run {run.id} cannot go from {run.status} to {to}.",
            extra={"currentStatus": run.status},
        )
    return attrs.evolve(run, status=to, **changes)
