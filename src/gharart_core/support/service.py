"""Support use cases: file and read reports, operator escalations, public content reports.

The caller owns the transaction (one unit of work per request); mail goes out only after
commit (``uow.after_commit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..identity.model import Principal
from ..identity.policy import handle_visible
from ..shared.audit import AuditEvent
from ..shared.clock import Clock
from ..shared.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from ..shared.ids import IdGenerator
from ..shared.pagination import Page, decode_cursor, encode_cursor, validate_limit
from ..shared.ports import Mailer
from .model import (
    ArtifactRef,
    AttachedRequest,
    ContentReport,
    Escalation,
    EscalationNote,
    Queue,
    Report,
    Status,
    transition_escalation,
)
from .notifications import Notifier
from .policy import (
    DEDUPE_WINDOW,
    find_duplicate,
    require_end_user,
    require_operator,
    require_reporter,
    summary_key,
    wrong_channel,
    wrong_channel_reason,
)
from .ports import ArtifactDirectory, SupportUoW
from .routing import RoutingInput, route
from .targets import parse_target
from .validation import (
    parse_content_report,
    parse_escalation,
    parse_escalation_patch,
    parse_report,
)

__all__ = ["FiledReport", "SupportService", "redact_artifact"]

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


class SupportService:
    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        mailer: Mailer,
        directory: ArtifactDirectory,
        operator_emails: Iterable[str] = (),
        public_url: str | None = None,
        site_domain: str | None = None,
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.directory = directory
        self.notifier = Notifier(mailer, operator_emails)
        self.public_url = public_url
        self.site_domain = site_domain

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

    # -- operators -----------------------------------------------------------
    async def list_queue(
        self,
        uow: SupportUoW,
        principal: Principal,
        *,
        queue: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Report]:
        require_operator(principal)
        n = validate_limit(limit)
        if queue is not None and queue not in {q.value for q in Queue}:
            raise ValidationFailed(errors=[FieldError("queue", "invalid_choice", "unknown queue")])
        rows = await uow.support.list_reports(
            reporter_id=None,
            queue=queue,
            status=_status_filter(status),
            before_id=_cursor_id(cursor),
            limit=n + 1,
        )
        return _page(rows, n)

    async def create_escalation(
        self, uow: SupportUoW, principal: Principal, body: object, request_id: str | None = None
    ) -> Escalation:
        require_operator(principal)
        data = parse_escalation(body)
        reports: list[Report] = []
        errors: list[FieldError] = []
        for i, rid in enumerate(data.report_ids):
            report = await uow.support.get_report(rid)
            if report is None:
                errors.append(
                    FieldError(f"reportIds.{i}", "report_not_found", f"report `{rid}` was not found")
                )
            else:
                reports.append(report)
        if errors:
            raise ValidationFailed(detail="Some reports do not exist.", errors=errors)
        now = self.clock.now()
        top = max(reports, key=lambda r: (r.priority.rank, -reports.index(r)))
        notes = (EscalationNote(now, principal.user_id, data.note),) if data.note else ()
        escalation = Escalation(
            id=self.ids.new("esc"),
            report_ids=tuple(r.id for r in reports),
            assignee=data.assignee,
            priority=data.priority or top.priority,
            queue=top.queue,
            status=Status.OPEN,
            notes=notes,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        await uow.support.add_escalation(escalation)
        for report in reports:
            await uow.support.update_report(attrs.evolve(report, escalation_id=escalation.id, updated_at=now))
        await self._audit(uow, principal, None, "escalation.create", escalation.id, request_id, after=1)
        return escalation

    async def list_escalations(
        self,
        uow: SupportUoW,
        principal: Principal,
        *,
        status: str | None = None,
        assignee: str | None = None,
        queue: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Escalation]:
        require_operator(principal)
        n = validate_limit(limit)
        rows = await uow.support.list_escalations(
            status=_status_filter(status),
            assignee=assignee,
            queue=queue,
            before_id=_cursor_id(cursor),
            limit=n + 1,
        )
        return _page(rows, n)

    async def get_escalation(self, uow: SupportUoW, principal: Principal, escalation_id: str) -> Escalation:
        require_operator(principal)
        escalation = await uow.support.get_escalation(escalation_id)
        if escalation is None:
            raise NotFound("escalation_not_found", f"Escalation `{escalation_id}` was not found.")
        return escalation

    async def update_escalation(
        self,
        uow: SupportUoW,
        principal: Principal,
        escalation_id: str,
        body: object,
        *,
        if_match: int | None = None,
        request_id: str | None = None,
    ) -> Escalation:
        require_operator(principal)
        current = await self.get_escalation(uow, principal, escalation_id)
        patch = parse_escalation_patch(body)
        if if_match is not None and if_match != current.version:
            raise PreconditionFailed(
                "version_conflict",
                "The escalation changed since you read it.",
                extra={"currentVersion": current.version},
            )
        if patch.expected_version is not None and patch.expected_version != current.version:
            raise Conflict(
                "version_conflict",
                "The escalation changed since you read it.",
                extra={"currentVersion": current.version},
            )
        now = self.clock.now()
        updated = current
        if patch.status is not None:
            updated = transition_escalation(updated, patch.status, now)
        changes: dict[str, Any] = {}
        if patch.assignee_given:
            changes["assignee"] = patch.assignee
        if patch.priority is not None:
            changes["priority"] = patch.priority
        if patch.note is not None:
            changes["notes"] = (*updated.notes, EscalationNote(now, principal.user_id, patch.note))
        if changes:
            updated = attrs.evolve(updated, updated_at=now, **changes)
        updated = attrs.evolve(updated, version=current.version + 1, updated_at=now)
        if not await uow.support.update_escalation(updated, current.version):
            latest = await uow.support.get_escalation(escalation_id)
            raise Conflict(
                "version_conflict",
                "The escalation changed concurrently.",
                extra={"currentVersion": latest.version if latest else None},
            )
        if patch.status is not None:
            await self._follow_status(uow, updated)
        await self._audit(
            uow,
            principal,
            None,
            "escalation.update",
            updated.id,
            request_id,
            before=current.version,
            after=updated.version,
        )
        return updated

    async def _follow_status(self, uow: SupportUoW, escalation: Escalation) -> None:
        """Reports carried by an escalation show its status to their reporters."""
        for rid in escalation.report_ids:
            report = await uow.support.get_report(rid)
            if report is None or report.status is escalation.status:
                continue
            updated = attrs.evolve(report, status=escalation.status, updated_at=escalation.updated_at)
            await uow.support.update_report(updated)
            if escalation.status is Status.RESOLVED:
                reporter = await uow.identity.get_user(report.reporter_id)
                self.notifier.report_resolved(uow, reporter.email if reporter else None, updated)

    # -- public --------------------------------------------------------------
    async def file_content_report(
        self, uow: SupportUoW, body: object, *, base_url: str | None, client_ip: str | None = None
    ) -> ContentReport:
        if isinstance(body, dict):
            reason = wrong_channel_reason(body)
            if reason is not None:
                raise wrong_channel(reason)
        data = parse_content_report(body)
        bases = tuple(b for b in (self.public_url, base_url) if b)
        target = parse_target(data.target_url, base_urls=bases, site_domain=self.site_domain)
        found = None
        if target is not None:
            try:
                found = await self.directory.target_exists(uow, target)
            except Exception:
                found = None
        if found is None:
            raise ValidationFailed(
                "unknown_target",
                "`targetUrl` must be an existing link, profile, public file or docs URL of this service.",
                errors=[
                    FieldError("targetUrl", "unknown_target", "not a link, profile, file or docs URL of ours")
                ],
            )
        report_id = self.ids.new("cr")
        case_id = await uow.support.case_for_target(found.case_key) or report_id
        report = ContentReport(
            id=report_id,
            category=data.category,
            target_url=data.target_url,
            target_key=found.case_key,
            description=data.description,
            reporter_email=data.reporter_email,
            case_id=case_id,
            status="received",
            client_ip=client_ip,
            created_at=self.clock.now(),
        )
        await uow.support.add_content_report(report)
        self.notifier.content_reported(uow, report, first=case_id == report_id)
        return report

    # -- helpers -------------------------------------------------------------
    async def _audit(
        self,
        uow: SupportUoW,
        principal: Principal,
        handle: str | None,
        action: str,
        target: str,
        request_id: str | None,
        *,
        before: int | None = None,
        after: int | None = None,
    ) -> None:
        await uow.audit.add(
            AuditEvent(
                id=self.ids.new("aud"),
                at=self.clock.now(),
                actor_id=principal.user_id,
                credential_id=principal.credential_id,
                handle=handle,
                action=action,
                target=target,
                request_id=request_id,
                before_version=before,
                after_version=after,
            )
        )


def _cursor_id(cursor: str | None) -> str | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], str):
        from ..shared.errors import BadRequest

        raise BadRequest("invalid_cursor", "The cursor could not be decoded.")
    return key[0]


def _status_filter(status: str | None) -> Status | None:
    if status is None:
        return None
    try:
        return Status(status)
    except ValueError:
        raise ValidationFailed(
            errors=[FieldError("status", "invalid_choice", "one of open, acknowledged, resolved")]
        ) from None


def _page(rows: Sequence[object], n: int) -> Page:  # type: ignore[type-arg]
    items = list(rows[:n])
    nxt = encode_cursor([items[-1].id]) if len(rows) > n and items else None  # type: ignore[attr-defined]
    return Page(items, nxt)
