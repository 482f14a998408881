"""Support use cases for end users: filing and reading reports."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..identity.model import Principal
from ..identity.policy import handle_visible
from ..shared.pagination import Page, validate_limit
from .base import SupportServiceBase, _cursor_id, _page, _status_filter
from .model import ArtifactRef, AttachedRequest, Report, Status
from .policy import DEDUPE_WINDOW, find_duplicate, require_end_user, require_reporter, summary_key
from .ports import SupportUoW
from .routing import RoutingInput, route
from .validation import parse_report

__all__ = ["FiledReport", "ReportsMixin", "redact_artifact"]

_MAX_SLUG_HANDLES = 20


@attrs.frozen
class FiledReport:
    report: Report
    created: bool  # False when an existing report was returned (dedupe)


def redact_artifact(text: str | None) -> str | None:
    """Never store a pasted PAT secret: keep its public prefix (12 chars) only."""
    if text is not None and text.startswith("gha_pat_") and len(text) > 12:
        return text[:12] + "…(redacted)"
    return text


class ReportsMixin(SupportServiceBase):
    # -- end users -----------------------------------------------------------
    async def file_report(
        self, uow: SupportUoW, principal: Principal, body: object, request_id: str | None = None
    ) -> FiledReport:
        require_end_user(principal)
        data = parse_report(body)
        now = self.clock.now()
        key = summary_key(data.summary)
        candidates = await uow.support.dedupe_candidates(
            principal.user_id, request_id=data.request_id, summary_key=key, since=now - DEDUPE_WINDOW
        )
        existing = find_duplicate(
            candidates, reporter_id=principal.user_id, request_id=data.request_id, key=key, now=now
        )
        if existing is not None:
            return FiledReport(existing, created=False)

        attached = await self._attach_request(uow, principal, data.request_id)
        visible = await self._visible_handles(uow, principal, data.handle)
        artifact = redact_artifact(data.repro_artifact)
        ref = await self._resolve_artifact(uow, data.repro_artifact, visible)
        decision = route(
            RoutingInput(
                artifact=artifact,
                artifact_kind=(ref.subkind or ref.kind) if ref is not None else None,
                request_route=attached.route if attached else None,
                request_status=attached.status if attached else None,
                request_code=attached.code if attached else None,
                text=f"{data.summary}\n{data.details}",
                handle=data.handle,
            )
        )
        report = Report(
            id=self.ids.new("rpt"),
            reporter_id=principal.user_id,
            summary=data.summary,
            details=data.details,
            handle=data.handle,
            session_id=data.session_id,
            request_id=data.request_id,
            repro_artifact=artifact,
            queue=decision.queue,
            priority=decision.priority,
            status=Status.OPEN,
            attached_request=attached,
            attached_artifact=ref,
            summary_key=key,
            created_at=now,
            updated_at=now,
        )
        await uow.support.add_report(report)
        await self._audit(
            uow, principal, ref.handle if ref else None, "support.report", report.id, request_id
        )
        self.notifier.report_filed(uow, principal, report)
        return FiledReport(report, created=True)

    async def _attach_request(
        self, uow: SupportUoW, principal: Principal, request_id: str | None
    ) -> AttachedRequest | None:
        """Only the caller's own logged requests attach; anything else stays text."""
        if request_id is None:
            return None
        entry = await uow.request_log.get(request_id)
        if entry is None or entry.actor_id is None or entry.actor_id != principal.user_id:
            return None
        # the concrete path the reporter called (what they see and quote); routing reads it as well
        # as it reads a template
        route = entry.path or entry.route
        return AttachedRequest(entry.request_id, route, entry.status, entry.code, entry.at)

    async def _visible_handles(self, uow: SupportUoW, principal: Principal, named: str | None) -> list[str]:
        """Handles the reporter is a member of (and may see with this credential); the named one first."""
        pairs = await uow.identity.handles_for_user(principal.user_id)
        handles = [h.handle for h, role in pairs if handle_visible(principal, h.handle, role)]
        if named in handles:
            handles.remove(named)
            handles.insert(0, named)
        return handles[:_MAX_SLUG_HANDLES]

    async def _resolve_artifact(
        self, uow: SupportUoW, artifact: str | None, visible: Sequence[str]
    ) -> ArtifactRef | None:
        if artifact is None or artifact.startswith("gha_pat_"):
            return None
        try:
            ref = await self.directory.owner_of(uow, artifact, handles=visible)
        except Exception:  # another area's lookup failing must not lose the report
            return None
        if ref is None:
            return None
        # ownerless refs (tokens, users) cannot be checked against the reporter: keep them as text
        return ref if ref.handle is not None and ref.handle in visible else None

    async def list_reports(
        self,
        uow: SupportUoW,
        principal: Principal,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        status: str | None = None,
    ) -> Page[Report]:
        require_end_user(principal)
        n = validate_limit(limit)
        before = _cursor_id(cursor)
        st = _status_filter(status)
        rows = await uow.support.list_reports(
            reporter_id=principal.user_id, queue=None, status=st, before_id=before, limit=n + 1
        )
        return _page(rows, n)

    async def get_report(self, uow: SupportUoW, principal: Principal, report_id: str) -> Report:
        require_end_user(principal)
        report = await uow.support.get_report(report_id) if isinstance(report_id, str) else None
        return require_reporter(principal, report, report_id)
