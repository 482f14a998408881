"""Support use cases for operators: the queue and escalations."""

from __future__ import annotations

from typing import Any

import attrs

from ..identity.model import Principal
from ..shared.errors import Conflict, FieldError, NotFound, PreconditionFailed, ValidationFailed
from ..shared.pagination import Page, validate_limit
from .base import SupportServiceBase, _cursor_id, _page, _status_filter
from .model import Escalation, EscalationNote, Queue, Report, Status, transition_escalation
from .policy import require_operator
from .ports import SupportUoW
from .validation import parse_escalation, parse_escalation_patch

__all__ = ["EscalationsMixin"]


class EscalationsMixin(SupportServiceBase):
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
