"""Health-check runs: the run model, status table and the classification of one probe."""

from __future__ import annotations

from datetime import datetime

import attrs

from ..shared.errors import Conflict

__all__ = [
    "CLASSIFICATIONS",
    "RECOVERY_TRANSITIONS",
    "RUN_TRANSITIONS",
    "HealthResult",
    "HealthRun",
    "classify_error",
    "classify_status",
    "requeue_orphan",
    "transition",
]

CLASSIFICATIONS = ("ok", "redirect", "client_error", "server_error", "timeout", "dns_error", "tls_error",
                   "connection_error", "blocked")
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "failed"}),
    "running": frozenset({"completed", "failed"}),
    "completed": frozenset(),
    "failed": frozenset(),
}
# Not a step of a run's life: only the retry of a job whose worker died may move a run back, so
# it is kept out of RUN_TRANSITIONS (``transition`` never allows it) and used by
# ``requeue_orphan`` alone.
RECOVERY_TRANSITIONS: dict[str, frozenset[str]] = {"running": frozenset({"queued"})}


@attrs.frozen
class HealthRun:
    id: str
    handle: str
    status: str
    created_at: datetime
    created_by: str | None
    selector: str  # "all", "tag:<tag>" or "slugs"
    total: int = 0
    counts: tuple[tuple[str, int], ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str | None = None


@attrs.frozen
class HealthResult:
    run_id: str
    slug: str
    destination: str
    classification: str
    http_status: int | None
    duration_ms: int
    detail: str | None = None


def transition(run: HealthRun, to: str, **changes: object) -> HealthRun:
    if to not in RUN_TRANSITIONS[run.status]:
        raise Conflict("invalid_transition", f"a {run.status} run cannot become {to}")
    return attrs.evolve(run, status=to, **changes)  # type: ignore[arg-type]


def requeue_orphan(run: HealthRun) -> HealthRun:
    """A run a dead worker left ``running`` goes back to ``queued`` with its progress cleared
    (its results are deleted in the same transaction), ready to run again from the start."""
    if "queued" not in RECOVERY_TRANSITIONS.get(run.status, frozenset()):
        raise Conflict("invalid_transition", f"a {run.status} run cannot be requeued")
    return attrs.evolve(run, status="queued", total=0, counts=(), started_at=None, finished_at=None, detail=None)


def classify_status(status: int, redirected: bool) -> str:
    if 200 <= status < 300:
        return "redirect" if redirected else "ok"
    if 300 <= status < 400:
        return "redirect"
    if 400 <= status < 500:
        return "client_error"
    return "server_error"


def classify_error(kind: str) -> str:
    """Map a fetcher error kind to a classification (``too_many_redirects`` is a redirect loop)."""
    if kind in CLASSIFICATIONS:
        return kind
    if kind == "too_many_redirects":
        return "redirect"
    return "connection_error"
