"""Support entities: end-user reports, operator escalations, public content reports.

Everything here is a frozen value; changes go through ``attrs.evolve``. The escalation
status machine is an explicit transition table (:data:`ESCALATION_TRANSITIONS`) applied by
:func:`transition_escalation`, which raises 409 ``invalid_transition`` for anything else.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from ..shared.errors import Conflict

__all__ = [
    "ESCALATION_TRANSITIONS",
    "PRIORITY_ORDER",
    "ArtifactRef",
    "AttachedRequest",
    "ContentCategory",
    "ContentReport",
    "ContentTarget",
    "Escalation",
    "EscalationNote",
    "Priority",
    "Queue",
    "Report",
    "Status",
    "transition_escalation",
]


class Queue(enum.Enum):
    LINKS = "links"
    SITES = "sites"
    FILES = "files"
    DOCS = "docs"
    ACCOUNT = "account"
    GENERAL = "general"


class Priority(enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return PRIORITY_ORDER.index(self)


PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


class Status(enum.Enum):
    """Shared by reports and escalations: a report follows the escalation that carries it."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


ESCALATION_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.ACKNOWLEDGED}),
    Status.ACKNOWLEDGED: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset(),
}


class ContentCategory(enum.Enum):
    SPAM = "spam"
    PHISHING = "phishing"
    MALWARE = "malware"
    COPYRIGHT = "copyright"
    HARASSMENT = "harassment"
    OTHER = "other"


@attrs.frozen
class AttachedRequest:
    """The reporter's own logged request, as support sees it."""

    request_id: str
    route: str
    status: int
    code: str | None
    at: datetime


@attrs.frozen
class ArtifactRef:
    """What a repro artifact resolved to.

    ``kind`` is one of ``link deployment run file share page snapshot binding token user``;
    ``subkind`` refines a run (``health_check``, ``import``, ``crawl``, ``replay``).
    """

    kind: str
    id: str
    handle: str | None
    subkind: str | None = None


@attrs.frozen
class Report:
    id: str
    reporter_id: str
    summary: str
    details: str
    handle: str | None
    session_id: str | None
    request_id: str | None
    repro_artifact: str | None
    queue: Queue
    priority: Priority
    status: Status
    attached_request: AttachedRequest | None
    attached_artifact: ArtifactRef | None
    summary_key: str
    created_at: datetime
    updated_at: datetime
    escalation_id: str | None = None


@attrs.frozen
class EscalationNote:
    at: datetime
    author_id: str
    text: str


@attrs.frozen
class Escalation:
    id: str
    report_ids: tuple[str, ...]
    assignee: str | None
    priority: Priority
    queue: Queue
    status: Status
    notes: tuple[EscalationNote, ...]
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int = 1


def transition_escalation(escalation: Escalation, target: Status, at: datetime) -> Escalation:
    """Apply one step of ``open -> acknowledged -> resolved``; 409 ``invalid_transition`` otherwise."""
    if target not in ESCALATION_TRANSITIONS[escalation.status]:
        allowed = sorted(s.value for s in ESCALATION_TRANSITIONS[escalation.status])
        raise Conflict(
            "invalid_transition",
            f"An escalation cannot go from `{escalation.status.value}` to `{target.value}`; "
            f"allowed: {', '.join(allowed) or 'none (resolved is final)'}.",
            extra={"currentStatus": escalation.status.value, "allowed": allowed},
        )
    return attrs.evolve(escalation, status=target, updated_at=at, version=escalation.version + 1)


@attrs.frozen
class ContentTarget:
    """A public URL of this service, reduced to what moderation acts on.

    ``kind`` is ``link``, ``profile``, ``file`` or ``docs``; ``key`` identifies the object within
    the handle (slug, file id, docs path; empty for a whole profile).
    """

    kind: str
    handle: str | None
    key: str

    @property
    def case_key(self) -> str:
        return f"{self.kind}:{self.handle or ''}:{self.key}"


@attrs.frozen
class ContentReport:
    id: str
    category: ContentCategory
    target_url: str
    target_key: str
    description: str
    reporter_email: str | None
    case_id: str
    status: str
    client_ip: str | None
    created_at: datetime
