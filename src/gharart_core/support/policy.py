"""Support policies as pure functions: audience boundaries, dedupe, channel choice.

Three audiences, three channels (the guides' "Audience boundaries"):

- end user: ``POST /v2/support/report`` and ``GET /v2/support/reports[/{id}]``; any
  authenticated principal with ``support:write``.
- operator: ``/v2/operator/escalations``; the operator flag AND the ``operator`` scope,
  everyone else gets 403 ``operator_only`` pointing to the end-user route.
- public: ``POST /v2/public/content-report``; anyone, abuse moderation only; product
  incidents get 422 ``wrong_channel``.

A report is visible to its reporter only (others get 404 ``report_not_found``, including
operators on the end-user route: operators read reports through their escalations).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ..identity.model import Principal
from ..shared.errors import Forbidden, NotFound, ValidationFailed
from .model import Report

__all__ = [
    "DEDUPE_WINDOW",
    "INCIDENT_CATEGORIES",
    "INCIDENT_FIELDS",
    "SUPPORT_REPORT_PATH",
    "Audience",
    "audience_of",
    "find_duplicate",
    "require_end_user",
    "require_operator",
    "require_reporter",
    "summary_key",
    "wrong_channel",
    "wrong_channel_reason",
]

SUPPORT_REPORT_PATH = "/v2/support/report"
DEDUPE_WINDOW = timedelta(hours=24)
#: Body fields that only make sense for a product incident (they name a session or request).
INCIDENT_FIELDS = ("requestId", "sessionId", "reproArtifact")
#: Categories people use for product incidents, which belong to the support channel.
INCIDENT_CATEGORIES = frozenset({"bug", "incident", "outage", "support"})


class Audience(enum.Enum):
    PUBLIC = "public"
    END_USER = "end_user"
    OPERATOR = "operator"


def audience_of(principal: Principal | None) -> Audience:
    if principal is None:
        return Audience.PUBLIC
    return Audience.OPERATOR if principal.is_operator else Audience.END_USER


def require_operator(principal: Principal) -> None:
    """Operator workflow only: flag and scope. The detail points end users to their channel."""
    if audience_of(principal) is not Audience.OPERATOR:
        raise Forbidden(
            "operator_only",
            "Escalations are an internal operator workflow. To report a problem, use "
            f"POST {SUPPORT_REPORT_PATH} with a summary, details and any request ID or artifact.",
            extra={"supportUrl": SUPPORT_REPORT_PATH},
        )


def require_end_user(principal: Principal) -> None:
    """Filing and reading one's own reports needs the ``support:write`` scope."""
    if "support:write" not in principal.scopes:
        raise Forbidden(
            "insufficient_scope",
            "This action needs the `support:write` scope.",
            extra={"requiredScope": "support:write"},
        )


def require_reporter(principal: Principal, report: Report | None, report_id: str) -> Report:
    """Only the reporter sees a report; anyone else gets the same 404 as for a missing one."""
    if report is None or report.reporter_id != principal.user_id:
        raise NotFound("report_not_found", f"Report `{report_id}` was not found.")
    return report


def summary_key(summary: str) -> str:
    """Normalised summary for dedupe: NFKC, case-folded, whitespace collapsed, trailing dots dropped."""
    text = unicodedata.normalize("NFKC", summary).casefold()
    return re.sub(r"\s+", " ", text).strip().rstrip(".!").strip()[:200]


def find_duplicate(
    candidates: Iterable[Report], *, reporter_id: str, request_id: str | None, key: str, now: datetime
) -> Report | None:
    """The existing report a new one duplicates, if any.

    Same reporter and same ``requestId`` (any age), or same reporter and same normalised
    summary filed within :data:`DEDUPE_WINDOW`. The oldest match wins, so repeats converge.
    """
    matches = [
        r
        for r in candidates
        if r.reporter_id == reporter_id
        and (
            (request_id is not None and r.request_id == request_id)
            or (r.summary_key == key and now - r.created_at < DEDUPE_WINDOW)
        )
    ]
    return min(matches, key=lambda r: (r.created_at, r.id)) if matches else None


def wrong_channel_reason(body: Mapping[str, Any]) -> str | None:
    """Why a content-report body is a product incident, or None. Exact rule, no guessing:
    a non-null ``requestId``/``sessionId``/``reproArtifact``, or an incident category."""
    for name in INCIDENT_FIELDS:
        if body.get(name) is not None:
            return f"`{name}` identifies a product session or request"
    category = body.get("category")
    if isinstance(category, str) and category.strip().lower() in INCIDENT_CATEGORIES:
        return f"category `{category}` is a product incident"
    return None


def wrong_channel(reason: str) -> ValidationFailed:
    return ValidationFailed(
        "wrong_channel",
        f"Public content reports are for abuse moderation ({reason}). Report product problems "
        f"with POST {SUPPORT_REPORT_PATH} (authenticated) instead.",
        extra={"supportUrl": SUPPORT_REPORT_PATH},
    )
