"""SQL repositories for the support area: reports, escalations, content reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gharart_core.shared.clock import format_ts, parse_ts
from gharart_core.support.model import (
    ArtifactRef,
    AttachedRequest,
    ContentCategory,
    ContentReport,
    Escalation,
    EscalationNote,
    Priority,
    Queue,
    Report,
    Status,
)

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["REPOSITORIES", "SqlSupport", "content_reports", "support_escalations", "support_reports"]

support_reports = sa.Table(
    "support_reports",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("reporter_id", sa.String(40), nullable=False, index=True),
    sa.Column("summary", sa.String(200), nullable=False),
    sa.Column("summary_key", sa.String(200), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("handle", sa.String(40)),
    sa.Column("session_id", sa.String(200)),
    sa.Column("request_id", sa.String(128)),
    sa.Column("repro_artifact", sa.String(500)),
    sa.Column("queue", sa.String(16), nullable=False, index=True),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("req_id", sa.String(128)),
    sa.Column("req_route", sa.String(300)),
    sa.Column("req_status", sa.Integer),
    sa.Column("req_code", sa.String(64)),
    sa.Column("req_at", UtcDateTime),
    sa.Column("artifact_kind", sa.String(32)),
    sa.Column("artifact_id", sa.String(300)),
    sa.Column("artifact_handle", sa.String(40)),
    sa.Column("artifact_subkind", sa.String(32)),
    sa.Column("escalation_id", sa.String(40)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_support_reports_dedupe", "reporter_id", "summary_key"),
)
support_escalations = sa.Table(
    "support_escalations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("report_ids", sa.JSON, nullable=False),
    sa.Column("assignee", sa.String(254)),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("queue", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("notes", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(40), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)
content_reports = sa.Table(
    "content_reports",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("target_url", sa.String(2048), nullable=False),
    sa.Column("target_key", sa.String(600), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("reporter_email", sa.String(254)),
    sa.Column("case_id", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("client_ip", sa.String(64)),
    sa.Column("created_at", UtcDateTime, nullable=False),
)


def _report_to_row(r: Report) -> dict[str, Any]:
    req, art = r.attached_request, r.attached_artifact
    return dict(
        id=r.id,
        reporter_id=r.reporter_id,
        summary=r.summary,
        summary_key=r.summary_key,
        details=r.details,
        handle=r.handle,
        session_id=r.session_id,
        request_id=r.request_id,
        repro_artifact=r.repro_artifact,
        queue=r.queue.value,
        priority=r.priority.value,
        status=r.status.value,
        req_id=req.request_id if req else None,
        req_route=req.route if req else None,
        req_status=req.status if req else None,
        req_code=req.code if req else None,
        req_at=req.at if req else None,
        artifact_kind=art.kind if art else None,
        artifact_id=art.id if art else None,
        artifact_handle=art.handle if art else None,
        artifact_subkind=art.subkind if art else None,
        escalation_id=r.escalation_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _row_to_report(row: Any) -> Report:
    req = (
        AttachedRequest(row.req_id, row.req_route, row.req_status, row.req_code, row.req_at)
        if row.req_id is not None
        else None
    )
    art = (
        ArtifactRef(row.artifact_kind, row.artifact_id, row.artifact_handle, row.artifact_subkind)
        if row.artifact_kind is not None
        else None
    )
    return Report(
        id=row.id,
        reporter_id=row.reporter_id,
        summary=row.summary,
        details=row.details,
        handle=row.handle,
        session_id=row.session_id,
        request_id=row.request_id,
        repro_artifact=row.repro_artifact,
        queue=Queue(row.queue),
        priority=Priority(row.priority),
        status=Status(row.status),
        attached_request=req,
        attached_artifact=art,
        summary_key=row.summary_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
        escalation_id=row.escalation_id,
    )


def _escalation_to_row(e: Escalation) -> dict[str, Any]:
    return dict(
        id=e.id,
        report_ids=list(e.report_ids),
        assignee=e.assignee,
        priority=e.priority.value,
        queue=e.queue.value,
        status=e.status.value,
        notes=[{"at": format_ts(n.at), "author": n.author_id, "text": n.text} for n in e.notes],
        created_by=e.created_by,
        created_at=e.created_at,
        updated_at=e.updated_at,
        version=e.version,
    )


def _row_to_escalation(row: Any) -> Escalation:
    return Escalation(
        id=row.id,
        report_ids=tuple(row.report_ids),
        assignee=row.assignee,
        priority=Priority(row.priority),
        queue=Queue(row.queue),
        status=Status(row.status),
        notes=tuple(EscalationNote(parse_ts(n["at"]), n["author"], n["text"]) for n in row.notes),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def _row_to_content(row: Any) -> ContentReport:
    return ContentReport(
        id=row.id,
        category=ContentCategory(row.category),
        target_url=row.target_url,
        target_key=row.target_key,
        description=row.description,
        reporter_email=row.reporter_email,
        case_id=row.case_id,
        status=row.status,
        client_ip=row.client_ip,
        created_at=row.created_at,
    )


class SqlSupport(SqlRepository):
    # -- reports -------------------------------------------------------------
    async def add_report(self, report: Report) -> None:
        await self.execute(support_reports.insert().values(**_report_to_row(report)))

    async def get_report(self, report_id: str) -> Report | None:
        row = (
            await self.execute(sa.select(support_reports).where(support_reports.c.id == report_id))
        ).first()
        return _row_to_report(row) if row else None

    async def update_report(self, report: Report) -> None:
        values = _report_to_row(report)
        values.pop("id")
        await self.execute(support_reports.update().where(support_reports.c.id == report.id).values(**values))

    async def dedupe_candidates(
        self, reporter_id: str, *, request_id: str | None, summary_key: str, since: datetime
    ) -> Sequence[Report]:
        t = support_reports
        cond = sa.and_(t.c.summary_key == summary_key, t.c.created_at >= since)
        if request_id is not None:
            cond = sa.or_(cond, t.c.request_id == request_id)
        q = sa.select(t).where(t.c.reporter_id == reporter_id, cond)
        return [_row_to_report(r) for r in (await self.execute(q)).all()]

    async def list_reports(
        self,
        *,
        reporter_id: str | None,
        queue: str | None,
        status: Status | None,
        before_id: str | None,
        limit: int,
    ) -> Sequence[Report]:
        t = support_reports
        q = sa.select(t)
        if reporter_id is not None:
            q = q.where(t.c.reporter_id == reporter_id)
        if queue is not None:
            q = q.where(t.c.queue == queue)
        if status is not None:
            q = q.where(t.c.status == status.value)
        if before_id is not None:
            q = q.where(t.c.id < before_id)
        q = q.order_by(t.c.id.desc()).limit(limit)
        return [_row_to_report(r) for r in (await self.execute(q)).all()]

    # -- escalations ---------------------------------------------------------
    async def add_escalation(self, escalation: Escalation) -> None:
        await self.execute(support_escalations.insert().values(**_escalation_to_row(escalation)))

    async def get_escalation(self, escalation_id: str) -> Escalation | None:
        t = support_escalations
        row = (await self.execute(sa.select(t).where(t.c.id == escalation_id))).first()
        return _row_to_escalation(row) if row else None

    async def update_escalation(self, escalation: Escalation, expected_version: int) -> bool:
        t = support_escalations
        values = _escalation_to_row(escalation)
        values.pop("id")
        res = await self.execute(
            t.update().where(t.c.id == escalation.id, t.c.version == expected_version).values(**values)
        )
        return bool(res.rowcount)

    async def list_escalations(
        self,
        *,
        status: Status | None,
        assignee: str | None,
        queue: str | None,
        before_id: str | None,
        limit: int,
    ) -> Sequence[Escalation]:
        t = support_escalations
        q = sa.select(t)
        if status is not None:
            q = q.where(t.c.status == status.value)
        if assignee is not None:
            q = q.where(t.c.assignee == assignee)
        if queue is not None:
            q = q.where(t.c.queue == queue)
        if before_id is not None:
            q = q.where(t.c.id < before_id)
        q = q.order_by(t.c.id.desc()).limit(limit)
        return [_row_to_escalation(r) for r in (await self.execute(q)).all()]

    # -- content reports -----------------------------------------------------
    async def add_content_report(self, report: ContentReport) -> None:
        await self.execute(
            content_reports.insert().values(
                id=report.id,
                category=report.category.value,
                target_url=report.target_url,
                target_key=report.target_key,
                description=report.description,
                reporter_email=report.reporter_email,
                case_id=report.case_id,
                status=report.status,
                client_ip=report.client_ip,
                created_at=report.created_at,
            )
        )

    async def case_for_target(self, target_key: str) -> str | None:
        t = content_reports
        q = sa.select(t.c.case_id).where(t.c.target_key == target_key).order_by(t.c.id).limit(1)
        row = (await self.execute(q)).first()
        return row.case_id if row else None

    async def content_reports_in_case(self, case_id: str) -> Sequence[ContentReport]:
        t = content_reports
        q = sa.select(t).where(t.c.case_id == case_id).order_by(t.c.id)
        return [_row_to_content(r) for r in (await self.execute(q)).all()]


REPOSITORIES: dict[str, Any] = {"support": SqlSupport}
