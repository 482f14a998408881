"""IGNY8-compatible publisher API under ``/api/v1/publisher/`` (SPEC §10, A.5).

DRF-router semantics (list, create, retrieve, update, partial update, delete) for
``publishing-records/`` and ``deployments/``, plus the root actions ``publish/``, ``retry/`` and
``status/``. Every answer is the unified envelope ``{success, data, message, errors, request_id}``
in snake_case: the conversion lives here (explicit render functions + this router's own
exception handlers), so the core stays shared with ``/v2``. Problems produced outside the router
(throttles, idempotency, unknown routes) are rewritten into the envelope by :data:`FAST_PATHS`.
See docs/decisions/publisher-envelope.md.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotAuthorizedException, NotFoundException

from gharart_core.publisher.deployments import DeploymentRecord
from gharart_core.publisher.model import PublishingRecord
from gharart_core.publisher.service import SiteSummary
from gharart_core.shared.clock import format_ts
from gharart_core.shared.errors import DomainError, ErrorKind, FieldError, NotFound, RateLimited, ValidationFailed

from ..context import RequestContext

__all__ = ["FAST_PATHS", "PREFIX", "ROUTES", "deployment_records_service_for", "envelope", "publisher_service_for",
           "render_deployment", "render_record", "webhook_transport"]

log = logging.getLogger("gharart.http.publisher")

PREFIX = "/api/v1/publisher"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
_REDACTED = "********"

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.VALIDATION: 400,  # DRF answers validation errors with 400
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.GONE: 410,
    ErrorKind.PRECONDITION_FAILED: 412,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED_MEDIA: 415,
    ErrorKind.PRECONDITION_REQUIRED: 428,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}


# -- envelope ---------------------------------------------------------------------------------

def envelope(data: Any = None, *, success: bool = True, message: str | None = None,
             errors: Mapping[str, list[str]] | None = None, request_id: str | None = None) -> dict[str, Any]:
    return {"success": success, "data": data, "message": message, "errors": errors, "request_id": request_id}


def _bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def _request_id(request: Request[Any, Any, Any]) -> str | None:
    return request.scope.get("state", {}).get("request_id")  # type: ignore[no-any-return]


def field_errors(errors: tuple[FieldError, ...] | list[FieldError]) -> dict[str, list[str]]:
    """DRF shape: ``{field: [message, ...]}``; field-less errors go under ``non_field_errors``."""
    out: dict[str, list[str]] = {}
    for e in errors:
        out.setdefault(e.field or "non_field_errors", []).append(e.message or e.code.replace("_", " "))
    return out


def error_response(request: Request[Any, Any, Any], status: int, code: str, detail: str, *,
                   errors: dict[str, list[str]] | None = None,
                   headers: dict[str, str] | None = None) -> Response[Any]:
    hdrs = {"X-Error-Code": code, **(headers or {})}
    if status == 401:
        has_token = bool(request.headers.get("authorization"))
        hdrs.setdefault("WWW-Authenticate",
                        'Bearer realm="gharart", error="invalid_token"' if has_token else 'Bearer realm="gharart"')
    state = request.scope.setdefault("state", {})
    state["problem_code"] = code
    st = state.get("gharart")
    if st is not None:
        st.problem_code = code
    body = envelope(success=False, message=detail, errors=errors or {"detail": [detail]},
                    request_id=_request_id(request))
    return Response(content=_bytes(body), status_code=status, media_type="application/json", headers=hdrs)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = STATUS_BY_KIND.get(exc.kind, 400)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    errors = field_errors(exc.errors) if exc.errors else None
    detail = exc.detail
    if isinstance(exc, ValidationFailed) and exc.errors and detail == exc.code.replace("_", " "):
        detail = "Invalid input."
    return error_response(request, status, exc.code, detail, errors=errors, headers=headers)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, NotFoundException):
        return error_response(request, 404, "not_found", "Not found.")
    if isinstance(exc, MethodNotAllowedException):
        return error_response(request, 405, "method_not_allowed", f'Method "{request.method}" not allowed.',
                              headers=dict(exc.headers or {}))
    if isinstance(exc, NotAuthorizedException):
        return error_response(request, 401, "unauthenticated", "Authentication credentials were not provided.")
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) and status < 500 else "A server error occurred."
    return error_response(request, status, "bad_request" if status == 400 else "error", detail,
                          headers=dict(exc.headers or {}))


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "internal_error", "A server error occurred; quote the request_id.")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}


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


def ok(ctx: RequestContext, data: Any, *, status: int = 200, message: str | None = None) -> Response[Any]:
    return ctx.respond(envelope(data, message=message, request_id=ctx.request_id), status=status)


# -- query parsing ------------------------------------------------------------------------------

def _query(ctx: RequestContext, name: str) -> str | None:
    value = ctx.request.query_params.get(name)
    return value if value not in (None, "") else None


_NUMBER = re.compile(r"[0-9]{1,12}")


def paging(ctx: RequestContext) -> tuple[int, int, int]:
    """``(page, page_size, offset)`` as DRF's ``PageNumberPagination`` reads them: a bad
    ``page_size`` falls back to the default and is capped at the maximum; a bad page is 404."""
    size_raw = _query(ctx, "page_size")
    size = DEFAULT_PAGE_SIZE
    if size_raw is not None and _NUMBER.fullmatch(size_raw) and int(size_raw) > 0:
        size = min(int(size_raw), MAX_PAGE_SIZE)
    page_raw = _query(ctx, "page") or "1"
    if page_raw == "last":
        return -1, size, 0
    # ASCII digits, bounded: "²".isdigit() is True and a 30-digit page overflows a SQL OFFSET.
    if not _NUMBER.fullmatch(page_raw) or int(page_raw) < 1:
        raise NotFound("invalid_page", "Invalid page.")
    page = int(page_raw)
    return page, size, (page - 1) * size


def _page_url(ctx: RequestContext, page: int) -> str:
    params = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "page"]
    if page > 1:
        params.append(("page", str(page)))
    query = urlencode(params)
    path = ctx.request.url.path.rstrip("/") + "/"  # DRF routes end with a slash
    return f"{ctx.base_url}{path}" + (f"?{query}" if query else "")


def paginated(ctx: RequestContext, results: list[dict[str, Any]], count: int, page: int, size: int
              ) -> dict[str, Any]:
    pages = max(1, -(-count // size))
    if page > pages:
        raise NotFound("invalid_page", "Invalid page.")
    return {
        "count": count,
        "next": _page_url(ctx, page + 1) if page < pages else None,
        "previous": _page_url(ctx, page - 1) if page > 1 else None,
        "results": results,
    }


async def _list_window(ctx: RequestContext, fetch: Any) -> tuple[list[Any], int, int, int]:
    """Run ``fetch(offset, limit)`` for the requested page (``page=last`` resolves the count first)."""
    page, size, offset = paging(ctx)
    if page == -1:
        _, count = await fetch(0, 1)
        page = max(1, -(-count // size))
        offset = (page - 1) * size
    items, count = await fetch(offset, size)
    return list(items), count, page, size


async def _body(ctx: RequestContext) -> Any:
    body = await ctx.json(required=False)
    return {} if body is None else body


# -- services -----------------------------------------------------------------------------------

def publisher_service_for(clock: Any, ids: Any, identity: Any, sites: Any, fetcher: Any) -> Any:
    """The container's ``publisher_service``: destinations ``site`` (through the sites service)
    and ``webhook`` (through the shared SSRF-guarded fetcher)."""
    from gharart_core.publisher.destinations import FetcherTransport, SiteDestination, WebhookDestination
    from gharart_core.publisher.service import PublisherService
    from gharart_core.publisher.sites_bridge import SitesBridge

    return PublisherService(clock, ids, identity, {
        "site": SiteDestination(SitesBridge(sites)),
        "webhook": WebhookDestination(webhook_transport(fetcher, FetcherTransport)),
    })


def deployment_records_service_for(clock: Any, ids: Any, publisher: Any, sites: Any) -> Any:
    """The container's ``deployment_records_service``: the IGNY8 view over sites deployments."""
    from gharart_core.publisher.deployments import DeploymentRecordService
    from gharart_core.publisher.sites_bridge import SitesBridge

    return DeploymentRecordService(clock, ids, publisher, SitesBridge(sites))


def _accepts_body(fetcher: Any) -> bool:
    try:
        params = inspect.signature(fetcher.fetch).parameters
    except (TypeError, ValueError):
        return False
    return "body" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def webhook_transport(fetcher: Any, fetcher_transport: Any) -> Any:
    """The webhook transport for the container's fetcher: the ``Fetcher`` port itself when it can
    send a body; for the httpx fetcher (GET/HEAD checks only) a POST through the same SSRF guard
    (its per-hop check and address pinning); for scripted fakes, their ``fetch`` without a body."""
    if fetcher is None:
        return _NoFetcher()
    if _accepts_body(fetcher):
        return fetcher_transport(fetcher)
    if hasattr(fetcher, "_target") and hasattr(fetcher, "_client"):
        return _GuardedPost(fetcher)
    return fetcher_transport(fetcher, send_body=False)


class _GuardedPost:
    """One POST through :class:`adapters.http.fetcher.HttpxFetcher`'s SSRF guard: the host is
    resolved and checked (allowlist included) and the connection goes to the checked address;
    no redirect is followed; at most 64 KiB of the answer is read."""

    def __init__(self, fetcher: Any, timeout: float = 10.0) -> None:
        self.fetcher = fetcher
        self.timeout = timeout

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        import asyncio

        import httpx

        from gharart_core.publisher.ports import WebhookResponse

        try:
            async with asyncio.timeout(self.timeout):
                target, extra, extensions = await self.fetcher._target(url)
                request = self.fetcher._client.build_request(
                    "POST", target, headers={"User-Agent": "GharartPublisher/1.0", **headers, **extra},
                    content=body, extensions=extensions)
                response = await self.fetcher._client.send(request, stream=True)
                try:
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= 65536:
                            break
                    text = b"".join(chunks)[:65536].decode("utf-8", "replace")
                finally:
                    await response.aclose()
                return WebhookResponse(response.status_code, None, text)
        except TimeoutError:
            return WebhookResponse(None, "timeout")
        except httpx.TimeoutException:
            return WebhookResponse(None, "timeout")
        except httpx.TransportError:
            return WebhookResponse(None, "connection_error")
        except Exception as exc:
            kind = getattr(exc, "kind", None)
            if not isinstance(kind, str):
                raise
            return WebhookResponse(None, kind)


class _NoFetcher:
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        from gharart_core.publisher.ports import WebhookResponse

        return WebhookResponse(None, "no outbound fetcher is configured")


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
            ctx.uow, principal, site_id=_query(ctx, "site_id"), sector_id=_query(ctx, "sector_id"),
            account_id=_query(ctx, "account_id"), status=_query(ctx, "status"),
            destination=_query(ctx, "destination"), content_id=_query(ctx, "content_id"),
            offset=offset, limit=limit)

    items, count, page, size = await _list_window(ctx, fetch)
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
    site_id, sector_id = _query(ctx, "site_id"), _query(ctx, "sector_id")
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
        return await svc.list(ctx.uow, principal, site_id=_query(ctx, "site_id"),
                              sector_id=_query(ctx, "sector_id"), account_id=_query(ctx, "account_id"),
                              status=_query(ctx, "status"), offset=offset, limit=limit)

    items, count, page, size = await _list_window(ctx, fetch)
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


# -- the envelope for answers made outside the router -------------------------------------------

def _problem_to_envelope(raw: bytes, request_id: str | None) -> tuple[bytes, int | None]:
    """Rewrite an RFC 9457 problem (from the middleware or the global handler) as an envelope."""
    try:
        problem = json.loads(raw)
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    detail = str(problem.get("detail") or problem.get("title") or "Error")
    status = problem.get("status")
    errors: dict[str, list[str]] = {}
    for item in problem.get("errors") or []:
        if isinstance(item, dict):
            errors.setdefault(str(item.get("field") or "non_field_errors"), []).append(
                str(item.get("message") or item.get("code") or "invalid"))
    body = envelope(success=False, message=detail, errors=errors or {"detail": [detail]},
                    request_id=problem.get("requestId") or request_id)
    new_status = 400 if status == 422 and problem.get("code") == "validation_failed" else None
    return _bytes(body), new_status


class _EnvelopeSend:
    def __init__(self, send: Any, scope: dict[str, Any]) -> None:
        self.send = send
        self.scope = scope
        self.start: dict[str, Any] | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            ctype = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
            if ctype.split(b";")[0].strip() == b"application/problem+json":
                self.start = message
                return
            await self.send(message)
            return
        if message["type"] == "http.response.body" and self.start is not None:
            self.chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            rid = self.scope.get("state", {}).get("request_id")
            body, new_status = _problem_to_envelope(b"".join(self.chunks), rid)
            headers = [(k, v) for k, v in self.start.get("headers", [])
                       if k.lower() not in (b"content-type", b"content-length")]
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            start = dict(self.start, headers=headers)
            if new_status is not None:
                start["status"] = new_status
            self.start = None
            await self.send(start)
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send(message)


def _envelope_path(runtime: Any, litestar: Any) -> Any:
    from ..middleware import GharartMiddleware

    inner = GharartMiddleware(litestar, runtime)

    async def fast(scope: dict[str, Any], receive: Any, send: Any) -> bool:
        path = scope.get("path", "")
        if scope.get("type") != "http" or not (path == "/api/v1" or path.startswith("/api/v1/")):
            return False
        await inner(scope, receive, _EnvelopeSend(send, scope))
        return True

    return fast


FAST_PATHS: list[Any] = [_envelope_path]
