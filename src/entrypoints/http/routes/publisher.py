"""IGNY8-compatible publisher API under ``/api/v1/publisher/`` (SPEC §10, A.5).

DRF-router semantics (list, create, retrieve, update, partial update, delete) for
``publishing-records/`` and ``deployments/``, plus the root actions ``publish/``, ``retry/`` and
``status/``. Every answer is the unified envelope ``{success, data, message, errors, request_id}``
in snake_case: the conversion lives in the entrypoint (explicit render functions here, this
router's own exception handlers in :mod:`.publisher_envelope`), so the core stays shared with
``/v2``. Problems produced outside the router (throttles, idempotency, unknown routes) are
rewritten into the envelope by :data:`FAST_PATHS`. See docs/decisions/publisher-envelope.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Response, Router, delete, get, patch, post, put

from gharart_core.publisher.deployments import DeploymentRecord
from gharart_core.publisher.model import PublishingRecord
from gharart_core.publisher.service import SiteSummary
from gharart_core.shared.clock import format_ts
from gharart_core.shared.errors import FieldError, ValidationFailed

from ..context import RequestContext
from .publisher_envelope import EXCEPTION_HANDLERS, PREFIX, envelope_fast_path, list_window, ok, paginated, query
from .publisher_envelope import body as _body

__all__ = ["FAST_PATHS", "ROUTES", "render_deployment", "render_record", "render_summary"]

_REDACTED = "********"


# -- rendering ----------------------------------------------------------------------------------

def _abs(ctx: RequestContext, url: str | None) -> str | None:
    return ctx.base_url + url if url and url.startswith("/") else url


def _config(config: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(config)
    if isinstance(out.get("headers"), dict):  # header values often carry receivers' secrets
        out["headers"] = dict.fromkeys(out["headers"], _REDACTED)
    return out


def render_record(ctx: RequestContext, r: PublishingRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "account_id": r.account_id,
        "site_id": r.site_id,
        "sector_id": r.sector_id,
        "content_id": r.content_id,
        "destination": r.destination,
        "title": r.title,
        "status": r.status.value,
        "external_url": _abs(ctx, r.external_url),
        "error": r.error,
        "attempts": r.attempts,
        "config": _config(r.config),
        "published_at": format_ts(r.published_at),
        "created_at": format_ts(r.created_at),
        "updated_at": format_ts(r.updated_at),
    }


def render_deployment(ctx: RequestContext, d: DeploymentRecord) -> dict[str, Any]:
    out = {
        "id": d.id,
        "account_id": d.account_id,
        "site_id": d.site_id,
        "sector_id": d.sector_id,
        "status": d.status,
        "message": d.message,
        "deployment_url": _abs(ctx, d.deployment_url),
        "is_live": d.is_live,
        "error": d.error,
        "metadata": dict(d.metadata),
        "file_count": d.file_count,
        "missing_blobs": d.missing_blobs,
        "created_by": d.created_by,
        "deployed_at": format_ts(d.deployed_at),
        "created_at": format_ts(d.created_at),
        "updated_at": format_ts(d.updated_at),
    }
    if d.required:
        out["required"] = list(d.required)
    return out


def render_summary(s: SiteSummary, deployments: Mapping[str, Any] | None) -> dict[str, Any]:
    dep = (deployments or {}).get(s.site_id) or {}
    return {
        "site_id": s.site_id,
        "account_id": s.account_id,
        "publishing": {"total": s.total, **s.counts},
        "last_published_at": format_ts(s.last_published_at),
        "deployments": {
            "live_deployment_id": dep.get("live_deployment_id"),
            **(dep.get("counts") or {k: 0 for k in ("pending", "deploying", "deployed", "failed",
                                                     "rolled_back")}),
        },
    }


def _publisher(ctx: RequestContext) -> Any:
    return ctx.container.publisher_service()


def _deployments(ctx: RequestContext) -> Any:
    return ctx.container.deployment_records_service()


# -- root -------------------------------------------------------------------------------------

@get("/", name="publisher-root")
async def api_root(ctx: RequestContext) -> Response[Any]:
    await ctx.principal()
    base = ctx.base_url + PREFIX
    return ok(ctx, {
        "publishing_records": f"{base}/publishing-records/",
        "deployments": f"{base}/deployments/",
        "publish": f"{base}/publish/",
        "retry": f"{base}/retry/",
        "status": f"{base}/status/",
    })


# -- publishing records ---------------------------------------------------------------------

@get("/publishing-records", name="publishing-record-list")
async def list_records(ctx: RequestContext, page: str | None = None, page_size: str | None = None,
                       site_id: str | None = None, sector_id: str | None = None, account_id: str | None = None,
                       status: str | None = None, destination: str | None = None,
                       content_id: str | None = None) -> Response[Any]:
    """List publishing records (newest first). Query parameters are read as DRF reads them."""
    principal = await ctx.principal()
    svc = _publisher(ctx)

    async def fetch(offset: int, limit: int) -> Any:
        return await svc.list_records(
            ctx.uow, principal, site_id=query(ctx, "site_id"), sector_id=query(ctx, "sector_id"),
            account_id=query(ctx, "account_id"), status=query(ctx, "status"),
            destination=query(ctx, "destination"), content_id=query(ctx, "content_id"),
            offset=offset, limit=limit)

    items, count, page, size = await list_window(ctx, fetch)
    return ok(ctx, paginated(ctx, [render_record(ctx, r) for r in items], count, page, size))


@post("/publishing-records", name="publishing-record-create", status_code=201)
async def create_record(ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    record = await _publisher(ctx).create_record(ctx.uow, principal, await _body(ctx), ctx.request_id)
    ctx.st.handle = record.site_id
    return ok(ctx, render_record(ctx, record), status=201, message="Publishing record created.")


@get("/publishing-records/{record_id:str}", name="publishing-record-detail")
async def get_record(record_id: str, ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    record = await _publisher(ctx).get_record(ctx.uow, principal, record_id, ctx.request_id)
    return ok(ctx, render_record(ctx, record))


async def _update_record(ctx: RequestContext, record_id: str, partial: bool) -> Response[Any]:
    principal = await ctx.principal()
    record = await _publisher(ctx).update_record(ctx.uow, principal, record_id, await _body(ctx),
                                                 partial=partial, request_id=ctx.request_id)
    return ok(ctx, render_record(ctx, record), message="Publishing record updated.")


@put("/publishing-records/{record_id:str}", name="publishing-record-update")
async def put_record(record_id: str, ctx: RequestContext) -> Response[Any]:
    return await _update_record(ctx, record_id, partial=False)


@patch("/publishing-records/{record_id:str}", name="publishing-record-partial-update")
async def patch_record(record_id: str, ctx: RequestContext) -> Response[Any]:
    return await _update_record(ctx, record_id, partial=True)


@delete("/publishing-records/{record_id:str}", name="publishing-record-delete", status_code=200)
async def delete_record(record_id: str, ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    await _publisher(ctx).delete_record(ctx.uow, principal, record_id, ctx.request_id)
    return ok(ctx, None, message="Publishing record deleted.")


async def _publish_answer(ctx: RequestContext, outcome: Any, status: int) -> Response[Any]:
    record = outcome.record
    ctx.st.handle = record.site_id
    if outcome.attempted and record.destination == "site":
        await ctx.quota(record.site_id, "deployments", 1)  # a site publish is one deployment
    if not outcome.attempted:
        message = "Already published; nothing was sent again."
    elif record.status.value == "published":
        message = "Published."
    else:
        message = f"Publishing failed: {record.error}. Retry with POST {PREFIX}/publishing-records/{record.id}/retry/."
    return ok(ctx, render_record(ctx, record), status=status, message=message)


@post("/publishing-records/{record_id:str}/retry", name="publishing-record-retry", status_code=200)
async def retry_record(record_id: str, ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    outcome = await _publisher(ctx).retry(ctx.uow, principal, record_id, ctx.request_id)
    return await _publish_answer(ctx, outcome, 200)


@post("/publish", name="publisher-publish", status_code=201)
async def publish(ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    body = await _body(ctx)
    existing = isinstance(body, dict) and body.get("publishing_record_id") is not None
    outcome = await _publisher(ctx).publish(ctx.uow, principal, body, ctx.request_id)
    return await _publish_answer(ctx, outcome, 200 if existing else 201)


@post("/retry", name="publisher-retry", status_code=200)
async def retry_action(ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    body = await _body(ctx)
    record_id = body.get("publishing_record_id") if isinstance(body, dict) else None
    if not isinstance(record_id, str) or not record_id:
        raise ValidationFailed(errors=[FieldError("publishing_record_id", "required", "This field is required.")])
    outcome = await _publisher(ctx).retry(ctx.uow, principal, record_id, ctx.request_id)
    return await _publish_answer(ctx, outcome, 200)


@get("/status", name="publisher-status")
async def status_summary(ctx: RequestContext, site_id: str | None = None,
                         sector_id: str | None = None) -> Response[Any]:
    """Per site: publishing record counts by status, last publish, live deployment, deployment counts."""
    principal = await ctx.principal()
    site_id, sector_id = query(ctx, "site_id"), query(ctx, "sector_id")
    sites = await _publisher(ctx).summary(ctx.uow, principal, site_id=site_id, sector_id=sector_id)
    deployments = await _deployments(ctx).summary(ctx.uow, principal, [s.site_id for s in sites])
    return ok(ctx, {"count": len(sites), "results": [render_summary(s, deployments) for s in sites]})


# -- deployment records ---------------------------------------------------------------------

@get("/deployments", name="deployment-list")
async def list_deployments(ctx: RequestContext, page: str | None = None, page_size: str | None = None,
                           site_id: str | None = None, sector_id: str | None = None,
                           account_id: str | None = None, status: str | None = None) -> Response[Any]:
    """List deployment records (the sites deployments of the caller's sites, newest first)."""
    principal = await ctx.principal()
    svc = _deployments(ctx)

    async def fetch(offset: int, limit: int) -> Any:
        return await svc.list(ctx.uow, principal, site_id=query(ctx, "site_id"),
                              sector_id=query(ctx, "sector_id"), account_id=query(ctx, "account_id"),
                              status=query(ctx, "status"), offset=offset, limit=limit)

    items, count, page, size = await list_window(ctx, fetch)
    return ok(ctx, paginated(ctx, [render_deployment(ctx, d) for d in items], count, page, size))


@post("/deployments", name="deployment-create", status_code=201)
async def create_deployment(ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    rec = await _deployments(ctx).create(ctx.uow, principal, await _body(ctx), ctx.request_id)
    ctx.st.handle = rec.site_id
    await ctx.quota(rec.site_id, "deployments", 1)
    return ok(ctx, render_deployment(ctx, rec), status=201, message="Deployment created.")


@get("/deployments/{deployment_id:str}", name="deployment-detail")
async def get_deployment(deployment_id: str, ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    rec = await _deployments(ctx).get(ctx.uow, principal, deployment_id, ctx.request_id)
    return ok(ctx, render_deployment(ctx, rec))


async def _update_deployment(ctx: RequestContext, deployment_id: str, partial: bool) -> Response[Any]:
    principal = await ctx.principal()
    rec = await _deployments(ctx).update(ctx.uow, principal, deployment_id, await _body(ctx), partial=partial,
                                         request_id=ctx.request_id)
    return ok(ctx, render_deployment(ctx, rec), message="Deployment updated.")


@put("/deployments/{deployment_id:str}", name="deployment-update")
async def put_deployment(deployment_id: str, ctx: RequestContext) -> Response[Any]:
    return await _update_deployment(ctx, deployment_id, partial=False)


@patch("/deployments/{deployment_id:str}", name="deployment-partial-update")
async def patch_deployment(deployment_id: str, ctx: RequestContext) -> Response[Any]:
    return await _update_deployment(ctx, deployment_id, partial=True)


@delete("/deployments/{deployment_id:str}", name="deployment-delete", status_code=200)
async def delete_deployment(deployment_id: str, ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    await _deployments(ctx).delete(ctx.uow, principal, deployment_id, ctx.request_id)
    return ok(ctx, None, message="Deployment deleted.")


router = Router(
    path=PREFIX,
    route_handlers=[
        api_root, list_records, create_record, get_record, put_record, patch_record, delete_record, retry_record,
        publish, retry_action, status_summary, list_deployments, create_deployment, get_deployment,
        put_deployment, patch_deployment, delete_deployment,
    ],
    exception_handlers=EXCEPTION_HANDLERS,
    tags=["publisher (IGNY8 compatible)"],
)

ROUTES: list[Any] = [router]



FAST_PATHS: list[Any] = [envelope_fast_path]
