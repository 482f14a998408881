"""Memory repositories for the support area: reports, escalations, content reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gharart_core.support.model import ContentReport, Escalation, Report, Status

from .state import MemoryState

__all__ = ["REPOSITORIES", "MemorySupport"]


class MemorySupport:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    # -- reports -------------------------------------------------------------
    async def add_report(self, report: Report) -> None:
        self.s.table("support_reports")[report.id] = report

    async def get_report(self, report_id: str) -> Report | None:
        r: Report | None = self.s.table("support_reports").get(report_id)
        return r

    async def update_report(self, report: Report) -> None:
        self.s.table("support_reports")[report.id] = report

    async def dedupe_candidates(
        self, reporter_id: str, *, request_id: str | None, summary_key: str, since: datetime
    ) -> Sequence[Report]:
        return [
            r
            for r in self.s.table("support_reports").values()
            if r.reporter_id == reporter_id
            and (
                (request_id is not None and r.request_id == request_id)
                or (r.summary_key == summary_key and r.created_at >= since)
            )
        ]

    async def list_reports(
        self,
        *,
        reporter_id: str | None,
        queue: str | None,
        status: Status | None,
        before_id: str | None,
        limit: int,
    ) -> Sequence[Report]:
        rows = [
            r
            for r in self.s.table("support_reports").values()
            if (reporter_id is None or r.reporter_id == reporter_id)
            and (queue is None or r.queue.value == queue)
            and (status is None or r.status is status)
            and (before_id is None or r.id < before_id)
        ]
        return sorted(rows, key=lambda r: r.id, reverse=True)[:limit]

    # -- escalations ---------------------------------------------------------
    async def add_escalation(self, escalation: Escalation) -> None:
        self.s.table("support_escalations")[escalation.id] = escalation

    async def get_escalation(self, escalation_id: str) -> Escalation | None:
        e: Escalation | None = self.s.table("support_escalations").get(escalation_id)
        return e

    async def update_escalation(self, escalation: Escalation, expected_version: int) -> bool:
        table = self.s.table("support_escalations")
        current = table.get(escalation.id)
        if current is None or current.version != expected_version:
            return False
        table[escalation.id] = escalation
        return True

    async def list_escalations(
        self,
        *,
        status: Status | None,
        assignee: str | None,
        queue: str | None,
        before_id: str | None,
        limit: int,
    ) -> Sequence[Escalation]:
        rows = [
            e
            for e in self.s.table("support_escalations").values()
            if (status is None or e.status is status)
            and (assignee is None or e.assignee == assignee)
            and (queue is None or e.queue.value == queue)
            and (before_id is None or e.id < before_id)
        ]
        return sorted(rows, key=lambda e: e.id, reverse=True)[:limit]

    # -- content reports -----------------------------------------------------
    async def add_content_report(self, report: ContentReport) -> None:
        self.s.table("content_reports")[report.id] = report

    async def case_for_target(self, target_key: str) -> str | None:
        matches = [r for r in self.s.table("content_reports").values() if r.target_key == target_key]
        return min(matches, key=lambda r: r.id).case_id if matches else None

    async def content_reports_in_case(self, case_id: str) -> Sequence[ContentReport]:
        return sorted(
            (r for r in self.s.table("content_reports").values() if r.case_id == case_id), key=lambda r: r.id
        )


REPOSITORIES: dict[str, Any] = {"support": MemorySupport}
