"""The escalation routing policy: a pure, total, deterministic function.

``route(RoutingInput) -> RoutingDecision`` gives every possible input exactly one queue and
one priority. The queue comes from, in order:

1. the repro artifact: its resolved kind when it was resolved (``run_`` ids are looked up to
   their run kind), else its ID prefix (:data:`PREFIX_QUEUES`), else a URL path of this
   service, else a bare slug (``links``);
2. the attached request's route (:func:`queue_for_route`);
3. ``general``.

The priority is the highest of the signals in :data:`CODE_PRIORITY`, a 5xx status
(``urgent``) and the keywords in :data:`KEYWORD_PRIORITY`; with no signal it is ``normal``.
The tables are documented in ``docs/support.md``.
"""

from __future__ import annotations

import re

import attrs

from .model import Priority, Queue

__all__ = [
    "CODE_PRIORITY",
    "KEYWORD_PRIORITY",
    "PREFIX_QUEUES",
    "RUN_KIND_QUEUES",
    "RoutingDecision",
    "RoutingInput",
    "artifact_queue",
    "priority_for",
    "queue_for_route",
    "route",
]

#: ID prefix of a repro artifact -> queue. ``run_`` is absent on purpose: it is looked up.
PREFIX_QUEUES: dict[str, Queue] = {
    "dep": Queue.SITES,
    "snp": Queue.SITES,
    "fb": Queue.SITES,
    "hst": Queue.SITES,
    "pub": Queue.SITES,
    "lnk": Queue.LINKS,
    "fil": Queue.FILES,
    "shr": Queue.FILES,
    "pg": Queue.DOCS,
    "pat": Queue.ACCOUNT,
    "usr": Queue.ACCOUNT,
    "acc": Queue.ACCOUNT,
    "aud": Queue.ACCOUNT,
    "gha": Queue.ACCOUNT,  # a pasted ``gha_pat_`` secret (redacted before it is stored)
}

#: Resolved artifact kinds (and run kinds) -> queue.
KIND_QUEUES: dict[str, Queue] = {
    "link": Queue.LINKS,
    "deployment": Queue.SITES,
    "snapshot": Queue.SITES,
    "binding": Queue.SITES,
    "profile": Queue.SITES,
    "file": Queue.FILES,
    "share": Queue.FILES,
    "page": Queue.DOCS,
    "token": Queue.ACCOUNT,
    "user": Queue.ACCOUNT,
}
RUN_KIND_QUEUES: dict[str, Queue] = {
    "health_check": Queue.LINKS,
    "import": Queue.LINKS,
    "crawl": Queue.SITES,
    "replay": Queue.SITES,
}

# Route/path fragments, checked in order: the first match wins (so ``/l/`` beats ``/links``
# nowhere, but ``/public/files`` is files before anything more general).
_ROUTE_RULES: tuple[tuple[re.Pattern[str], Queue], ...] = (
    (re.compile(r"^/l/"), Queue.LINKS),
    (re.compile(r"/links(/|$)"), Queue.LINKS),
    (re.compile(r"^/profiles/"), Queue.SITES),
    (re.compile(r"/(site-deployments|site-mode|site|site-intel|function-bindings|blobs)(/|$)"), Queue.SITES),
    (re.compile(r"^/api/v1/publisher(/|$)"), Queue.SITES),
    (re.compile(r"/files(/|$)"), Queue.FILES),
    (re.compile(r"^/_edge/docs(/|$)"), Queue.DOCS),
    (re.compile(r"/internal-docs(/|$)"), Queue.DOCS),
    (re.compile(r"^/v2/tokens(/|$)"), Queue.ACCOUNT),
    (re.compile(r"/(members|audit-log)(/|$)"), Queue.ACCOUNT),
    (re.compile(r"^/v2/handles(/[^/]+)?/?$"), Queue.ACCOUNT),
)

#: Error codes -> priority (the attached request's ``code``).
CODE_PRIORITY: dict[str, Priority] = {
    "internal_error": Priority.URGENT,
    "unavailable": Priority.URGENT,
    "artifact_missing": Priority.HIGH,
    "replay_failed": Priority.HIGH,
    "replay_gate_required": Priority.HIGH,
    "import_failed": Priority.HIGH,
    "file_expired": Priority.HIGH,
    "link_expired": Priority.HIGH,
    "link_invalid": Priority.HIGH,
    "docs_access_denied": Priority.HIGH,
    "daily_quota_exceeded": Priority.HIGH,
    "deployment_immutable": Priority.NORMAL,
    "version_conflict": Priority.NORMAL,
    "stale_version": Priority.NORMAL,
    "invalid_transition": Priority.NORMAL,
    "rate_limited": Priority.NORMAL,
    "validation_failed": Priority.NORMAL,
    "forbidden_role": Priority.NORMAL,
    "insufficient_scope": Priority.NORMAL,
    "handle_not_found": Priority.NORMAL,
}

#: Keywords in the summary or details -> priority (whole words, case-insensitive).
KEYWORD_PRIORITY: tuple[tuple[str, Priority], ...] = (
    ("data loss", Priority.URGENT),
    ("security", Priority.URGENT),
    ("breach", Priority.URGENT),
    ("leaked", Priority.URGENT),
    ("outage", Priority.URGENT),
    ("urgent", Priority.HIGH),
    ("production", Priority.HIGH),
    ("down", Priority.HIGH),
    ("broken", Priority.HIGH),
    ("customers", Priority.HIGH),
    ("cannot access", Priority.HIGH),
    ("can't access", Priority.HIGH),
    ("question", Priority.LOW),
    ("how do i", Priority.LOW),
    ("feature request", Priority.LOW),
    ("suggestion", Priority.LOW),
    ("typo", Priority.LOW),
)
_KEYWORD_RES = tuple(
    (re.compile(r"(?<!\w)" + re.escape(k) + r"(?!\w)", re.IGNORECASE), p) for k, p in KEYWORD_PRIORITY
)
_METHOD_RE = re.compile(r"^[A-Z]{3,7}\s+")
_HANDLE_SEGMENT_RE = re.compile(r"^/v2/handles/[^/]+")
_PREFIX_RE = re.compile(r"^([a-z]{2,4})_")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}\Z")


@attrs.frozen
class RoutingInput:
    """Everything the policy looks at. Resolution (lookups) happens before, in the service."""

    artifact: str | None = None
    artifact_kind: str | None = None  # resolved kind; for a run, its run kind
    request_route: str | None = None
    request_status: int | None = None
    request_code: str | None = None
    text: str = ""
    handle: str | None = None


@attrs.frozen
class RoutingDecision:
    queue: Queue
    priority: Priority
    basis: str  # "artifact", "request" or "default": why this queue


def queue_for_route(route_or_path: str | None) -> Queue | None:
    """The queue owning a route template or path, or None when no area owns it."""
    if not isinstance(route_or_path, str):
        return None
    path = route_or_path.split("?", 1)[0].strip()
    path = _METHOD_RE.sub("", path, count=1)  # route templates may carry the method: "GET /v2/..."
    path = _HANDLE_SEGMENT_RE.sub("/v2/handles/{handle}", path, count=1)  # a handle named "site" is no route
    for pattern, queue in _ROUTE_RULES:
        if pattern.search(path):
            return queue
    return None


def _path_of(text: str) -> str | None:
    if text.startswith("/"):
        return text
    m = re.match(r"^https?://[^/\s]+(/\S*)$", text)
    return m.group(1) if m else None


def artifact_queue(artifact: str | None, artifact_kind: str | None) -> Queue | None:
    """Step 1 of the policy: the artifact's queue, or None when it says nothing."""
    if artifact_kind is not None:
        queue = RUN_KIND_QUEUES.get(artifact_kind) or KIND_QUEUES.get(artifact_kind)
        if queue is not None:
            return queue
    if not isinstance(artifact, str):
        return None
    text = artifact.strip()
    if not text:
        return None
    m = _PREFIX_RE.match(text)
    if m:
        if m.group(1) in PREFIX_QUEUES:
            return PREFIX_QUEUES[m.group(1)]
        if m.group(1) in {"run", "req", "rpt", "esc", "cr"}:
            return None  # an unresolved run, or an id that names no product area
    path = _path_of(text)
    if path is not None:
        return queue_for_route(path)
    if _SLUG_RE.match(text) or re.match(r"^[a-z0-9-]{1,40}/[A-Za-z0-9._~-]{1,128}$", text):
        return Queue.LINKS  # a bare slug, or ``handle/slug``
    return None


def priority_for(status: int | None, code: str | None, text: str) -> Priority:
    signals: list[Priority] = []
    if isinstance(status, int) and not isinstance(status, bool) and status >= 500:
        signals.append(Priority.URGENT)
    if isinstance(code, str) and code in CODE_PRIORITY:
        signals.append(CODE_PRIORITY[code])
    if isinstance(text, str):
        signals.extend(p for pattern, p in _KEYWORD_RES if pattern.search(text))
    if not signals:
        return Priority.NORMAL
    return max(signals, key=lambda p: p.rank)


def route(inp: RoutingInput) -> RoutingDecision:
    """Pick the queue and priority for a report. Total: never raises, always one queue."""
    priority = priority_for(inp.request_status, inp.request_code, inp.text)
    queue = artifact_queue(inp.artifact, inp.artifact_kind)
    if queue is not None:
        return RoutingDecision(queue, priority, "artifact")
    queue = queue_for_route(inp.request_route)
    if queue is not None:
        return RoutingDecision(queue, priority, "request")
    return RoutingDecision(Queue.GENERAL, priority, "default")
