"""The one mapping from errors to RFC 9457 problem responses."""

from __future__ import annotations

import json
import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.exceptions.http_exceptions import (
    MethodNotAllowedException,
    NotFoundException,
)

from gharart_core.shared.errors import DomainError, ErrorKind, RateLimited

__all__ = ["PROBLEM_JSON", "STATUS_BY_KIND", "domain_error_handler", "problem_body", "problem_bytes",
           "problem_response", "unexpected_error_handler"]

log = logging.getLogger("gharart.http")

PROBLEM_JSON = "application/problem+json"

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.VALIDATION: 422,
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

TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict", 410: "Gone", 412: "Precondition Failed",
    413: "Content Too Large", 415: "Unsupported Media Type", 416: "Range Not Satisfiable", 422: "Unprocessable Content",
    428: "Precondition Required", 429: "Too Many Requests", 500: "Internal Server Error",
    503: "Service Unavailable",
}

CODES_BY_STATUS = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 408: "request_timeout", 409: "conflict", 413: "body_too_large",
    415: "unsupported_media_type", 416: "range_not_satisfiable", 422: "validation_failed", 429: "rate_limited",
    500: "internal_error", 503: "unavailable",
}


def problem_body(status: int, code: str, detail: str, *, request_id: str | None, title: str | None = None,
                 errors: list[dict[str, str]] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://gharart.dev/problems/{code}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": request_id,
    }
    if errors:
        body["errors"] = errors
    for k, v in (extra or {}).items():
        body.setdefault(k, v)
    return body


def problem_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def _request_id(request: Request[Any, Any, Any]) -> str | None:
    state = request.scope.get("state", {})
    return state.get("request_id")  # type: ignore[no-any-return]


def problem_response(request: Request[Any, Any, Any], status: int, code: str, detail: str, *,
                     title: str | None = None, errors: list[dict[str, str]] | None = None,
                     extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response[Any]:
    body = problem_body(status, code, detail, request_id=_request_id(request), title=title, errors=errors,
                        extra=extra)
    hdrs = dict(headers or {})
    if status == 401:
        has_token = bool(request.headers.get("authorization"))
        hdrs.setdefault("WWW-Authenticate",
                        'Bearer realm="gharart", error="invalid_token"' if has_token else 'Bearer realm="gharart"')
    state = request.scope.setdefault("state", {})
    state["problem_code"] = code
    return Response(content=problem_bytes(body), status_code=status, media_type=PROBLEM_JSON, headers=hdrs)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = STATUS_BY_KIND.get(exc.kind, 400)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    hook = getattr(exc, "headers", None)
    if isinstance(hook, dict):
        headers.update(hook)
    errors = [{"field": e.field, "code": e.code, "message": e.message} for e in exc.errors]
    return problem_response(request, status, exc.code, exc.detail, title=exc.title, errors=errors or None,
                            extra=exc.extra, headers=headers)


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        return problem_response(request, 404, "not_found", "No such route.")
    if isinstance(exc, MethodNotAllowedException):
        return problem_response(request, 405, "method_not_allowed", "Method not allowed on this route.",
                                headers=dict(exc.headers or {}))
    if isinstance(exc, NotAuthorizedException):
        return problem_response(request, 401, "unauthenticated", "Authentication is required.")
    if isinstance(exc, ValidationException):
        errors = []
        for item in (exc.extra if isinstance(exc.extra, list) else []):
            if isinstance(item, dict):
                errors.append({"field": str(item.get("key") or item.get("source") or ""),
                               "code": "invalid", "message": str(item.get("message", ""))})
        return problem_response(request, 422 if status in (400, 422) else status, "validation_failed",
                                "The request failed validation.", errors=errors or None)
    if status == 413:
        return problem_response(request, 413, "body_too_large", "The request body is too large.")
    code = CODES_BY_STATUS.get(status, "error")
    detail = exc.detail if isinstance(exc.detail, str) and status < 500 else TITLES.get(status, "Error")
    return problem_response(request, status, code, detail, headers=dict(exc.headers or {}))


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "internal_error", "An unexpected error occurred; quote the requestId.")
