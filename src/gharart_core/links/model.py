"""Link entities and the append-only version history (SPEC §4, A.2); validation is in ``schema``."""

from __future__ import annotations

import re
from datetime import datetime

import attrs

__all__ = [
    "DEVICES",
    "MAX_RULES",
    "RESERVED_SLUGS",
    "SLUG_RE",
    "SOURCES",
    "Conditions",
    "Health",
    "Link",
    "LinkFields",
    "LinkVersion",
    "QueryParam",
    "Rule",
    "TimeWindow",
    "Variant",
    "apply_fields",
    "same_content",
    "version_of",
]

SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
RESERVED_SLUGS = frozenset({"export", "bulk-import", "health-check"})
DEVICES = ("mobile", "desktop", "tablet", "bot")
REDIRECT_STATUSES = (301, 302, 307, 308)
SOURCES = ("api", "import", "rollback")
MAX_RULES = 50
MAX_TAGS = 50
MAX_TAG_LEN = 64
_LIST_CONDITIONS = ("device", "os", "browser", "country", "language", "referrerHost")
CONDITION_NAMES = (*_LIST_CONDITIONS, "queryParam", "timeWindow")


@attrs.frozen
class QueryParam:
    name: str
    equals: str | None = None


@attrs.frozen
class TimeWindow:
    start: datetime | None = None
    until: datetime | None = None


@attrs.frozen
class Conditions:
    """All optional; every present condition must hold. Values are normalised (lowercase etc.)."""

    device: tuple[str, ...] | None = None
    os: tuple[str, ...] | None = None
    browser: tuple[str, ...] | None = None
    country: tuple[str, ...] | None = None
    language: tuple[str, ...] | None = None
    query_param: QueryParam | None = None
    referrer_host: tuple[str, ...] | None = None
    time_window: TimeWindow | None = None


@attrs.frozen
class Variant:
    destination: str
    weight: int


@attrs.frozen
class Rule:
    conditions: Conditions
    destination: str | None = None
    variants: tuple[Variant, ...] = ()


@attrs.frozen
class Health:
    classification: str
    checked_at: datetime
    run_id: str


@attrs.frozen
class Link:
    id: str
    handle: str
    slug: str
    version: int
    destination: str
    redirect_status: int
    forward_query: bool
    rules: tuple[Rule, ...]
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    health: Health | None = None
    deleted_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


@attrs.frozen
class LinkVersion:
    """One immutable entry of a link's history."""

    link_id: str
    version: int
    destination: str
    rules: tuple[Rule, ...]
    redirect_status: int
    forward_query: bool
    tags: tuple[str, ...]
    created_by: str | None
    created_at: datetime
    source: str
    reason: str | None = None
    request_id: str | None = None
    run_id: str | None = None


@attrs.frozen
class LinkFields:
    """The versioned content of a link; ``None`` means "not given" in partial inputs."""

    destination: str | None = None
    rules: tuple[Rule, ...] | None = None
    tags: tuple[str, ...] | None = None
    redirect_status: int | None = None
    forward_query: bool | None = None


def apply_fields(link: Link, fields: LinkFields) -> Link:
    return attrs.evolve(
        link,
        destination=fields.destination if fields.destination is not None else link.destination,
        rules=fields.rules if fields.rules is not None else link.rules,
        tags=fields.tags if fields.tags is not None else link.tags,
        redirect_status=fields.redirect_status if fields.redirect_status is not None else link.redirect_status,
        forward_query=fields.forward_query if fields.forward_query is not None else link.forward_query,
    )


def same_content(a: Link, b: Link) -> bool:
    return (a.destination, a.rules, a.tags, a.redirect_status, a.forward_query) == (
        b.destination, b.rules, b.tags, b.redirect_status, b.forward_query)


def version_of(link: Link, *, created_by: str | None, source: str, reason: str | None,
               request_id: str | None, run_id: str | None = None) -> LinkVersion:
    return LinkVersion(
        link_id=link.id, version=link.version, destination=link.destination, rules=link.rules,
        redirect_status=link.redirect_status, forward_query=link.forward_query, tags=link.tags,
        created_by=created_by, created_at=link.updated_at, source=source, reason=reason,
        request_id=request_id, run_id=run_id,
    )


