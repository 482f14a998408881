"""HTTP routes for support: end-user reports, operator escalations, public content reports.

Thin controllers: parse -> one service call -> render. Audience checks live in
``gharart_core.support.policy``.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get, patch, post
from litestar.params import Parameter

from gharart_core.support.model import ArtifactRef, AttachedRequest, ContentReport, Escalation, Report
from gharart_core.support.policy import require_end_user, require_operator

from ..context import RequestContext
from ..render import page, parse_limit, ts
from ..runtime import rate_limit_headers

__all__ = ["ROUTES", "render_escalation", "render_report", "render_report_answer"]


def render_attached(req: AttachedRequest | None) -> dict[str, Any] | None:
    if req is None:
        return None
    return {
        "requestId": req.request_id,
        "route": req.route,
        "status": req.status,
        "code": req.code,
        "at": ts(req.at),
    }


def render_artifact(ref: ArtifactRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    out = {"kind": ref.kind, "id": ref.id, "handle": ref.handle}
    if ref.subkind:
        out["runKind"] = ref.subkind
    return out


def render_report_answer(r: Report) -> dict[str, Any]:
    """The POST answer (SPEC A.5)."""
    return {
        "reportId": r.id,
        "queue": r.queue.value,
        "priority": r.priority.value,
        "status": r.status.value,
        "attachedRequest": render_attached(r.attached_request),
        "createdAt": ts(r.created_at),
    }


def render_report(r: Report) -> dict[str, Any]:
    out = render_report_answer(r)
    out.update(
        {
            "summary": r.summary,
            "details": r.details,
            "handle": r.handle,
            "sessionId": r.session_id,
            "requestId": r.request_id,
            "reproArtifact": r.repro_artifact,
            "attachedArtifact": render_artifact(r.attached_artifact),
            "updatedAt": ts(r.updated_at),
        }
    )
    return out


def render_operator_report(r: Report) -> dict[str, Any]:
    out = render_report(r)
    out.update({"reporterId": r.reporter_id, "escalationId": r.escalation_id})
    return out


def render_escalation(e: Escalation) -> dict[str, Any]:
    return {
        "id": e.id,
        "reportIds": list(e.report_ids),
        "assignee": e.assignee,
        "priority": e.priority.value,
        "queue": e.queue.value,
        "status": e.status.value,
        "notes": [{"at": ts(n.at), "authorId": n.author_id, "text": n.text} for n in e.notes],
        "createdBy": e.created_by,
        "createdAt": ts(e.created_at),
        "updatedAt": ts(e.updated_at),
        "version": e.version,
    }


def render_content_report(c: ContentReport) -> dict[str, Any]:
    return {"reportId": c.id, "status": c.status, "caseId": c.case_id}


def _service(ctx: RequestContext) -> Any:
    return ctx.container.support_service()


# -- end users ----------------------------------------------------------------
@post("/v2/support/report", status_code=201, tags=["support"])
async def file_report(ctx: RequestContext) -> Response[Any]:
    """File a support report (end users, `support:write`). Duplicates return the existing report."""
    principal = await ctx.principal()
    require_end_user(principal)
    body = await ctx.json()
    filed = await _service(ctx).file_report(ctx.uow, principal, body, request_id=ctx.request_id)
    return ctx.respond(
        render_report_answer(filed.report),
        201,
        headers={"Location": f"/v2/support/reports/{filed.report.id}"},
    )


@get("/v2/support/reports", tags=["support"])
async def list_reports(
    ctx: RequestContext,
    cursor: str | None = None,
    status: str | None = None,
    limit_raw: str | None = Parameter(query="limit", default=None, required=False),
) -> Response[Any]:
    """The caller's own reports, newest first."""
    principal = await ctx.principal()
    p = await _service(ctx).list_reports(
        ctx.uow, principal, cursor=cursor, limit=parse_limit(limit_raw), status=status
    )
    return ctx.respond(page(p, render_report))


@get("/v2/support/reports/{report_id:str}", tags=["support"])
async def get_report(report_id: str, ctx: RequestContext) -> Response[Any]:
    """One of the caller's reports; anyone else's is 404 `report_not_found`."""
    principal = await ctx.principal()
    report = await _service(ctx).get_report(ctx.uow, principal, report_id)
    return ctx.respond(render_report(report))


# -- operators ----------------------------------------------------------------
@get("/v2/operator/reports", tags=["operator"])
async def operator_reports(
    ctx: RequestContext,
    queue: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit_raw: str | None = Parameter(query="limit", default=None, required=False),
) -> Response[Any]:
    """The support queues (operators only): reports by queue and status, newest first."""
    principal = await ctx.principal()
    p = await _service(ctx).list_queue(
        ctx.uow, principal, queue=queue, status=status, cursor=cursor, limit=parse_limit(limit_raw)
    )
    return ctx.respond(page(p, render_operator_report))


@post("/v2/operator/escalations", status_code=201, tags=["operator"])
async def create_escalation(ctx: RequestContext) -> Response[Any]:
    """Escalate reports (operators only: operator flag + `operator` scope)."""
    principal = await ctx.principal()
    require_operator(principal)  # before reading the body: end users learn the right channel first
    body = await ctx.json()
    esc = await _service(ctx).create_escalation(ctx.uow, principal, body, request_id=ctx.request_id)
    return ctx.respond(
        render_escalation(esc),
        201,
        etag=esc.version,
        headers={"Location": f"/v2/operator/escalations/{esc.id}"},
    )


@get("/v2/operator/escalations", tags=["operator"])
async def list_escalations(
    ctx: RequestContext,
    status: str | None = None,
    assignee: str | None = None,
    queue: str | None = None,
    cursor: str | None = None,
    limit_raw: str | None = Parameter(query="limit", default=None, required=False),
) -> Response[Any]:
    """Escalations, newest first, filtered by `status`, `assignee`, `queue`."""
    principal = await ctx.principal()
    p = await _service(ctx).list_escalations(
        ctx.uow,
        principal,
        status=status,
        assignee=assignee,
        queue=queue,
        cursor=cursor,
        limit=parse_limit(limit_raw),
    )
    return ctx.respond(page(p, render_escalation))


@get("/v2/operator/escalations/{escalation_id:str}", tags=["operator"])
async def get_escalation(escalation_id: str, ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    esc = await _service(ctx).get_escalation(ctx.uow, principal, escalation_id)
    return ctx.respond(render_escalation(esc), etag=esc.version)


@patch("/v2/operator/escalations/{escalation_id:str}", tags=["operator"])
async def update_escalation(escalation_id: str, ctx: RequestContext) -> Response[Any]:
    """Move `status` along open -> acknowledged -> resolved; change `assignee`, `priority`; add a `note`."""
    principal = await ctx.principal()
    require_operator(principal)
    body = await ctx.json()
    esc = await _service(ctx).update_escalation(
        ctx.uow, principal, escalation_id, body, if_match=ctx.if_match(), request_id=ctx.request_id
    )
    return ctx.respond(render_escalation(esc), etag=esc.version)


# -- public -------------------------------------------------------------------
@post("/v2/public/content-report", status_code=202, tags=["public"])
async def content_report(ctx: RequestContext) -> Response[Any]:
    """Report abusive content we host (anyone). Product incidents: 422 `wrong_channel`."""
    taken = await ctx.rt.throttle("content_report", ctx.client_ip)  # 429 rate_limited per client IP
    headers = rate_limit_headers(*taken) if taken else None
    body = await ctx.json()
    base_url = str(ctx.request.base_url).rstrip("/")
    report = await _service(ctx).file_content_report(
        ctx.uow, body, base_url=base_url, client_ip=ctx.client_ip
    )
    return ctx.respond(render_content_report(report), 202, headers=headers)


ROUTES: list[Any] = [
    file_report,
    list_reports,
    get_report,
    operator_reports,
    create_escalation,
    list_escalations,
    get_escalation,
    update_escalation,
    content_report,
]
