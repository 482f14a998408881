"""Completes the OpenAPI document Litestar generates from the route handlers.

Handlers read their bodies and most query strings through ``ctx`` (validation lives in the core), so
Litestar cannot see them. This module adds, once per process, what a client (and schemathesis) needs:
request bodies and query parameters per operation, the RFC 9457 problem responses every ``/v2`` route
may answer, the envelope of ``/api/v1``, honest media types for redirects, profiles, previews and
downloads, the ``Idempotency-Key`` / ``If-Match`` / ``X-Request-ID`` headers, and an entry for every
route of the app's route table that Litestar left out (bare ``/profiles/{handle}``, ``/_edge/docs/{handle}``,
``/schema/openapi.json``), and OpenAPI links for the link lifecycle (a created or updated link's slug
and version feed its read, update, history and rollback).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from litestar.openapi.plugins import JsonRenderPlugin

from .openapi_tables import (  # the tables were split out of this module; their helpers stay private
    _ANY,
    _H,
    _NON_JSON_PREFIXES,
    _STR,
    ALSO_ANSWERS,
    BODIES,
    OPENAPI_LINKS,
    QUERIES,
    SUCCESS_CONTENT,
    _json,
)

__all__ = ["GharartJsonRenderPlugin", "complete_openapi"]

_METHODS = ("get", "put", "post", "delete", "patch", "head")
_PARAM_RE = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "requestId": {"type": ["string", "null"]},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "code"],
            "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
        }},
    },
    "additionalProperties": True,
}
ENVELOPE = {
    "type": "object",
    "required": ["success"],
    "properties": {
        "success": {"type": "boolean"}, "data": {}, "message": {"type": ["string", "null"]},
        "errors": {}, "request_id": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ENVELOPE_REF = {"$ref": "#/components/schemas/Envelope"}

_ERROR_STATUSES = {
    "400": "Malformed request (`malformed_body`, `invalid_cursor`, ...)",
    "401": "Missing, invalid or expired credentials (`unauthenticated`)",
    "403": "`insufficient_scope`, `forbidden_role` or a route-specific refusal",
    "404": "`handle_not_found` or `<kind>_not_found`",
    "405": "Method not allowed",
    "409": "Conflict (`version_conflict`, `idempotency_in_progress`, ...)",
    "410": "Gone",
    "412": "Stale `If-Match` (`version_conflict`)",
    "413": "`body_too_large` / `file_too_large`",
    "415": "`unsupported_media_type`",
    "422": "`validation_failed` with `errors[]`, or a route-specific code",
    "428": "`precondition_required`",
    "429": "`rate_limited` / `daily_quota_exceeded` (with `Retry-After`)",
    "503": "Unavailable",
}
# Only a request that carries a body can stall half-way (GHARART_BODY_TIMEOUT_S): the writes.
_TIMEOUT = ("408", "`request_timeout`: the body stalled longer than the server's idle limit; nothing was saved "
                   "and the connection is closed (`Connection: close`). Send it again.")


def _template(path: str) -> str:
    return _PARAM_RE.sub(lambda m: "{" + m.group(1) + "}", path)


def _error_responses(path: str) -> dict[str, Any]:
    ref = _ENVELOPE_REF if path.startswith("/api/v1/") else _PROBLEM_REF
    media = "application/json" if path.startswith("/api/v1/") else "application/problem+json"
    return {code: {"description": text, "content": {media: {"schema": ref}}} for code, text in _ERROR_STATUSES.items()}


def _path_params(path: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM_RE.findall(path)]


def _fix_operation(method: str, path: str, op: dict[str, Any]) -> None:
    key = (method.upper(), path)
    params = op.setdefault("parameters", [])
    for p in params:
        if p.get("in") == "query" and p.get("name") == "limit":  # parsed by the handler, always 1..500
            p["schema"] = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    have = {(p.get("in"), p.get("name")) for p in params}
    for name, schema in QUERIES.get(key, []):
        if ("query", name) not in have:
            params.append({"name": name, "in": "query", "required": False, "schema": schema})
    if ("header", "X-Request-ID") not in have:
        params.append({"name": "X-Request-ID", "in": "header", "required": False,
                       "description": "Echoed back; ignored when longer than 128 or not printable ASCII.",
                       "schema": {"type": "string"}})
    if method in ("post", "put", "patch", "delete") and not path.startswith(("/profiles/", "/l/")):
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
        if method in ("put", "patch"):
            params.append({"name": "If-Match", "in": "header", "required": False,
                           "description": 'The resource version as an ETag, e.g. `"3"`.', "schema": _STR})
    if key in BODIES and "requestBody" not in op:
        op["requestBody"] = {"required": method != "patch", "content": BODIES[key]}
    responses = op.setdefault("responses", {})
    for status, description in ALSO_ANSWERS.get(key, ()):
        if status not in responses and "200" in responses:
            responses[status] = {**copy.deepcopy(responses["200"]), "description": description}
    # Litestar's default 400 describes its own validation exception; our errors are problems.
    errors = _error_responses(path)
    if "requestBody" in op or method in ("post", "put", "patch", "delete"):  # writes buffer their body
        ref = _ENVELOPE_REF if path.startswith("/api/v1/") else _PROBLEM_REF
        media = "application/json" if path.startswith("/api/v1/") else "application/problem+json"
        errors[_TIMEOUT[0]] = {"description": _TIMEOUT[1], "content": {media: {"schema": ref}}}
    for code, resp in errors.items():
        if code not in responses or code == "400":
            responses[code] = resp
    for code, resp in list(responses.items()):
        if not code.startswith(("2", "3")):
            continue
        if key in SUCCESS_CONTENT:
            content = SUCCESS_CONTENT[key]
            if content is None:
                resp.pop("content", None)
            else:
                resp["content"] = content
        elif path.startswith(_NON_JSON_PREFIXES):
            resp["content"] = _ANY
        elif code == "204":
            resp.pop("content", None)
        headers = resp.setdefault("headers", {})
        headers.setdefault("X-Request-ID", {"schema": _STR})
    if path.startswith(("/profiles/", "/_edge/", "/l/")) or ("/preview" in path and path.startswith(_H)):
        # Served pages: the deployment's own files, error pages, function answers (any media type).
        for extra in ("200", "302", "304"):
            responses.setdefault(extra, {"description": "Served", "content": _ANY} if extra == "200"
                                 else {"description": "Redirect or not modified"})
        responses["503"] = {"description": "Maintenance (`Retry-After: 300`)", "content": _ANY}
        for code, resp in responses.items():
            if not code.startswith(("2", "3")):
                resp["content"] = {**resp.get("content", {}), **_ANY}
    if path.startswith("/dashboard"):
        # the browser UI answers its refusals as HTML pages (and redirects to sign in), not problems
        for code, resp in responses.items():
            if code.startswith(("4", "5")):
                resp["content"] = {**resp.get("content", {}), **_ANY}
    if key == ("GET", "/v2/public/files/{file_id}"):
        responses.setdefault("206", {"description": "Partial content (`Range`)", "content": _ANY})
        responses.setdefault("302", {"description": "With `GHARART_S3_PRESIGNED_DOWNLOADS` on and an S3 store: "
                                                    "an allowed download, redirected to a presigned bucket URL",
                                     "headers": {"Location": _hdr("The presigned URL (valid "
                                                                  "`GHARART_S3_PRESIGN_TTL_S` seconds)."),
                                                 "Cache-Control": _hdr("`private, no-store`")}})
        responses.setdefault("304", {"description": "Not modified (`If-None-Match`)"})
    _document_headers(method, path, responses)
    if path == "/schema/openapi.json":
        responses["200"] = {"description": "This document",
                            "content": {"application/vnd.oai.openapi+json": {"schema": {"type": "object"}}}}


_VERSIONED = (f"{_H}/links/{{slug}}", f"{_H}/files/{{file_id}}", f"{_H}/site", f"{_H}/internal-docs/access")


def _hdr(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


def _document_headers(method: str, path: str, responses: dict[str, Any]) -> None:
    """The response headers the contract promises (SPEC §3, A.1-A.3)."""
    api = path.startswith(("/v2/", "/api/v1/"))
    for code, resp in responses.items():
        headers = resp.setdefault("headers", {})
        headers.setdefault("X-Request-ID", _hdr("The request's ID (echoed or minted `req_…`)."))
        if api:
            headers.setdefault("RateLimit", _hdr("IETF draft: remaining requests in the current window."))
            headers.setdefault("RateLimit-Policy", _hdr("IETF draft: the route class's limit."))
        if code == "401":
            headers["WWW-Authenticate"] = _hdr('`Bearer realm="gharart"`, with `error="invalid_token"` when a '
                                               "token was sent.")
        if code in ("429", "503"):
            headers["Retry-After"] = _hdr("Seconds to wait before retrying.")
        if code.startswith("2") and method in ("post", "put", "patch", "delete") and api:
            headers["Idempotent-Replayed"] = _hdr("`true` when the stored answer to an Idempotency-Key is replayed.")
        if code == "200" and method == "get" and path in _VERSIONED:
            headers["ETag"] = _hdr('The resource version, e.g. `"3"`.')
        if path.startswith("/l/") and code.startswith("3"):
            headers["Location"] = _hdr("The chosen destination.")
            headers["Cache-Control"] = _hdr("`private, max-age=0`")
        if (path.startswith("/profiles/") or "/preview" in path) and code in ("200", "304"):
            headers["ETag"] = _hdr("The file's sha256, quoted.")
            headers["X-Gharart-Deployment"] = _hdr("The deployment served.")
            headers["Cache-Control"] = _hdr("`public, max-age=0, must-revalidate` on profiles.")


def complete_openapi(doc: dict[str, Any], routes: list[tuple[str, set[str]]]) -> dict[str, Any]:
    """A completed copy of ``doc``; ``routes`` = (path template, methods) from the app's route table."""
    doc = copy.deepcopy(doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    schemas["Envelope"] = ENVELOPE
    paths = doc.setdefault("paths", {})
    for raw, methods in routes:
        path = _template(raw)
        if path.startswith("/schema") and path != "/schema/openapi.json":
            continue
        if path == "/dashboard" or path.startswith("/dashboard/"):
            continue  # the web UI's HTML pages are not part of the API
        entry = paths.setdefault(path, {})
        for method in sorted(m.lower() for m in methods):
            if method not in _METHODS or method in entry:
                continue
            public = path.startswith(("/profiles/", "/_edge/", "/l/", "/healthz", "/readyz", "/schema/"))
            op: dict[str, Any] = {
                "summary": f"{method.upper()} {path}",
                "operationId": re.sub(r"[^A-Za-z0-9]", "", f"{method}{path.title()}") + "Extra",
                "parameters": _path_params(path),
                "responses": {"200": {"description": "OK",
                                      "content": _ANY if not path.startswith("/schema/") else
                                      _json({"type": "object"})}},
            }
            if public:
                op["security"] = []
            entry[method] = op
    for path in [p for p in paths if p.startswith("/api/v1/") and not p.endswith("/")]:
        paths[path + "/"] = paths.pop(path)  # DRF routes end with "/" (both forms are served)
    for path, entry in paths.items():
        for method, op in entry.items():
            if method in _METHODS and isinstance(op, dict):
                _fix_operation(method, path.rstrip("/") if path.startswith("/api/v1/") else path, op)
                if path.startswith(_ANONYMOUS_PREFIXES) or path in _ANONYMOUS_PATHS:
                    op["security"] = [{}]  # no credential needed (one may still be sent)
    _add_links(paths)
    return doc


def _add_links(paths: dict[str, Any]) -> None:
    for (method, path, status), links in OPENAPI_LINKS.items():
        response = paths.get(path, {}).get(method.lower(), {}).get("responses", {}).get(status)
        if response is None:
            continue
        out = response.setdefault("links", {})
        for name, (t_method, t_path, definition) in links.items():
            target = paths.get(t_path, {}).get(t_method.lower(), {}).get("operationId")
            if target:
                out[name] = {"operationId": target, **copy.deepcopy(definition)}


_ANONYMOUS_PREFIXES = ("/v2/public/", "/_edge/", "/l/", "/profiles/")
_ANONYMOUS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/schema/openapi.json"})


class GharartJsonRenderPlugin(JsonRenderPlugin):
    """Serves the completed document (computed once per process)."""

    _completed: dict[str, Any] | None = None

    def render(self, request: Any, openapi_schema: dict[str, Any]) -> bytes:
        if self._completed is None:
            routes = [(r.path, set(getattr(r, "methods", ()))) for r in request.app.routes]
            self._completed = complete_openapi(openapi_schema, routes)
        return self.render_json(request, self._completed)
