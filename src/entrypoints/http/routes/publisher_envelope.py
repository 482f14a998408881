"""The IGNY8 conventions of ``/api/v1``: the unified envelope, DRF-shaped errors and
page-number pagination, and the rewrite of problems made outside the publisher router.

See docs/decisions/publisher-envelope.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotAuthorizedException, NotFoundException

from gharart_core.shared.errors import DomainError, ErrorKind, FieldError, NotFound, RateLimited, ValidationFailed

from ..context import RequestContext

__all__ = ["DEFAULT_PAGE_SIZE", "EXCEPTION_HANDLERS", "MAX_PAGE_SIZE", "PREFIX", "body", "envelope",
           "envelope_fast_path", "error_response", "field_errors", "list_window", "ok", "paginated", "paging",
           "query"]

log = logging.getLogger("gharart.http.publisher")
_DIGITS = re.compile(r"^[0-9]{1,9}$")  # ASCII only: str.isdigit() accepts "²", which int() refuses

PREFIX = "/api/v1/publisher"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

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



def ok(ctx: RequestContext, data: Any, *, status: int = 200, message: str | None = None) -> Response[Any]:
    return ctx.respond(envelope(data, message=message, request_id=ctx.request_id), status=status)


# -- query parsing ------------------------------------------------------------------------------

def query(ctx: RequestContext, name: str) -> str | None:
    """A filter value; control characters or more than 200 characters are a 400 on that field."""
    value = ctx.request.query_params.get(name)
    if value in (None, ""):
        return None
    if len(value) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationFailed(errors=[FieldError(name, "invalid", "Enter a valid value.")])
    return value


def paging(ctx: RequestContext) -> tuple[int, int, int]:
    """``(page, page_size, offset)`` as DRF's ``PageNumberPagination`` reads them: a bad
    ``page_size`` falls back to the default and is capped at the maximum; a bad page is 404."""
    size_raw = query(ctx, "page_size")
    size = DEFAULT_PAGE_SIZE
    if size_raw is not None and _DIGITS.match(size_raw) and int(size_raw) > 0:
        size = min(int(size_raw), MAX_PAGE_SIZE)
    page_raw = query(ctx, "page") or "1"
    if page_raw == "last":
        return -1, size, 0
    if not _DIGITS.match(page_raw) or int(page_raw) < 1:
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


async def list_window(ctx: RequestContext, fetch: Any) -> tuple[list[Any], int, int, int]:
    """Run ``fetch(offset, limit)`` for the requested page (``page=last`` resolves the count first)."""
    page, size, offset = paging(ctx)
    if page == -1:
        _, count = await fetch(0, 1)
        page = max(1, -(-count // size))
        offset = (page - 1) * size
    items, count = await fetch(offset, size)
    return list(items), count, page, size


async def body(ctx: RequestContext) -> Any:
    body = await ctx.json(required=False)
    return {} if body is None else body


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


def envelope_fast_path(runtime: Any, litestar: Any) -> Any:
    from ..middleware import GharartMiddleware

    inner = GharartMiddleware(litestar, runtime)

    async def fast(scope: dict[str, Any], receive: Any, send: Any) -> bool:
        path = scope.get("path", "")
        if scope.get("type") != "http" or not (path == "/api/v1" or path.startswith("/api/v1/")):
            return False
        await inner(scope, receive, _EnvelopeSend(send, scope))
        return True

    return fast



