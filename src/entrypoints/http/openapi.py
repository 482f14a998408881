"""Completes the OpenAPI document Litestar generates from the route handlers.

Handlers read their bodies and most query strings through ``ctx`` (validation lives in the core), so
Litestar cannot see them. This module adds, once per process, what a client (and schemathesis) needs:
request bodies and query parameters per operation, the RFC 9457 problem responses every ``/v2`` route
may answer, the envelope of ``/api/v1``, honest media types for redirects, profiles, previews and
downloads, the ``Idempotency-Key`` / ``If-Match`` / ``X-Request-ID`` headers, and an entry for every
route of the app's route table that Litestar left out (bare ``/profiles/{handle}``, ``/_edge/docs/{handle}``,
``/schema/openapi.json``).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from litestar.openapi.plugins import JsonRenderPlugin

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

_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_STRS = {"type": "array", "items": _STR}
_TS = {"type": "string", "format": "date-time"}
_LIMIT = ("limit", {"type": "integer", "minimum": 1, "maximum": 500})
_CURSOR = ("cursor", _STR)
_PAGE = [_LIMIT, _CURSOR]


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


_CONDITIONS = _obj({
    "device": {"type": "array", "items": {"enum": ["mobile", "desktop", "tablet", "bot"]}},
    "os": _STRS, "browser": _STRS, "country": _STRS, "language": _STRS,
    "queryParam": _obj({"name": _STR, "equals": _STR}, ("name",)),
    "referrerHost": _STRS, "timeWindow": _obj({"from": _TS, "until": _TS}),
})
_RULE = _obj({"conditions": _CONDITIONS, "destination": _STR,
              "variants": {"type": "array", "items": _obj({"destination": _STR, "weight": _INT})}})
_LINK_FIELDS = {"destination": _STR, "rules": {"type": "array", "items": _RULE}, "tags": _STRS,
                "redirectStatus": {"enum": [301, 302, 307, 308]}, "forwardQuery": _BOOL}
_PRINCIPALS = _obj({"roles": _STRS, "emails": _STRS, "emailDomains": _STRS, "anyone": _BOOL})
_MANIFEST = {"type": "object", "additionalProperties": _obj(
    {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "size": _INT, "contentType": _STR})}

_H = "/v2/handles/{handle}"
# (METHOD, path) -> {media type: schema}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v2/handles"): _json(_obj({"handle": _STR}, ("handle",))),
    ("POST", f"{_H}/members"): _json(_obj({"email": _STR, "role": {"enum": ["owner", "admin", "editor", "viewer"]}},
                                          ("email", "role"))),
    ("PATCH", f"{_H}/members/{{member_id}}"): _json(_obj({"role": {"enum": ["owner", "admin", "editor", "viewer"]}},
                                                        ("role",))),
    ("POST", "/v2/tokens"): _json(_obj({"name": _STR, "scopes": _STRS, "handle": {"type": ["string", "null"]},
                                        "expiresAt": {"type": ["string", "null"], "format": "date-time"}},
                                       ("name", "scopes"))),
    ("POST", f"{_H}/links"): _json(_obj({"slug": _STR, **_LINK_FIELDS}, ("slug", "destination"))),
    ("PATCH", f"{_H}/links/{{slug}}"): _json(_obj({**_LINK_FIELDS, "expectedVersion": _INT, "reason": _STR})),
    ("POST", f"{_H}/links/{{slug}}/rollback"): _json(_obj(
        {"targetVersion": _INT, "expectedCurrentVersion": _INT, "reason": _STR}, ("targetVersion",))),
    ("POST", f"{_H}/links/{{slug}}/route-preview"): _json(_obj({
        "userAgent": _STR, "country": _STR, "language": _STR, "query": {"type": "object",
                                                                        "additionalProperties": _STR},
        "referrer": _STR, "at": _TS, "visitorKey": _STR})),
    ("POST", f"{_H}/links/bulk-import"): {"text/csv": {"schema": _STR},
                                          "application/x-ndjson": {"schema": _STR}},
    ("POST", f"{_H}/links/health-check"): _json(_obj({"slugs": _STRS, "tag": _STR})),
    ("POST", f"{_H}/site-deployments"): {
        **_json(_obj({"manifest": _MANIFEST, "message": _STR,
                      "functionBindings": {"type": "array", "items": {"type": "object"}}}, ("manifest",))),
        "application/zip": {"schema": {"type": "string", "format": "binary"}},
        "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
        "application/gzip": {"schema": {"type": "string", "format": "binary"}},
    },
    ("PUT", f"{_H}/site-deployments/{{deployment_id}}/files/{{sha256}}"): {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    ("POST", f"{_H}/site-deployments/{{deployment_id}}/promote"): _json(_obj(
        {"expectedLiveDeploymentId": {"type": ["string", "null"]}})),
    ("POST", f"{_H}/site-deployments/rollback"): _json(_obj(
        {"targetDeploymentId": _STR, "expectedLiveDeploymentId": {"type": ["string", "null"]}, "reason": _STR},
        ("targetDeploymentId",))),
    ("PATCH", f"{_H}/site"): _json(_obj({"requireReplayGate": _BOOL, "hostnames": _STRS})),
    ("PUT", f"{_H}/site-mode"): _json(_obj({
        "mode": {"enum": ["live", "maintenance", "private", "redirect"]}, "expectedModeVersion": _INT,
        "message": _STR, "redirectUrl": {"type": ["string", "null"]}}, ("mode",))),
    ("POST", f"{_H}/function-bindings"): _json(_obj({
        "route": _STR, "function": _STR, "config": {"type": "object"}, "deploymentId": _STR},
        ("route", "function"))),
    ("POST", f"{_H}/site-intel/{{hostname}}/crawl-runs"): _json({"type": "object"}),
    ("POST", f"{_H}/site-intel/{{hostname}}/replay-runs"): _json(_obj(
        {"snapshotId": _STR, "deploymentId": _STR}, ("deploymentId",))),
    ("POST", f"{_H}/files"): {"multipart/form-data": {"schema": _obj({
        "file": {"type": "string", "format": "binary"}, "name": _STR,
        "mode": {"enum": ["private", "link", "public"]}, "expiresAt": _TS, "tags": _STR}, ("file",))}},
    ("PATCH", f"{_H}/files/{{file_id}}"): _json(_obj({
        "name": _STR, "mode": {"enum": ["private", "link", "public"]},
        "expiresAt": {"type": ["string", "null"], "format": "date-time"}, "tags": _STRS, "expectedVersion": _INT})),
    ("POST", f"{_H}/files/{{file_id}}/shares"): _json(_obj(
        {"emails": _STRS, "expiresAt": _TS, "note": _STR}, ("emails",))),
    ("POST", "/v2/public/files/{file_id}/magic-link"): _json(_obj({"email": _STR}, ("email",))),
    ("PUT", f"{_H}/internal-docs/pages/{{path}}"): _json(_obj({
        "content": _STR, "contentType": _STR,
        "classification": {"enum": ["public", "internal", "confidential"]}}, ("content",))),
    ("PUT", f"{_H}/internal-docs/access"): _json(_obj({
        "rules": {"type": "array", "items": _obj({
            "id": _STR, "pathPrefix": _STR, "effect": {"enum": ["allow", "deny"]}, "principals": _PRINCIPALS,
            "description": _STR})},
        "defaultEffect": {"enum": ["allow", "deny"]}, "expectedVersion": _INT, "acknowledgeExposure": _STRS},
        ("rules",))),
    ("POST", f"{_H}/internal-docs/access/evaluate"): _json(_obj({
        "path": _STR, "principal": _obj({"email": _STR, "role": _STR, "anonymous": _BOOL})}, ("path",))),
    ("POST", f"{_H}/internal-docs/session"): _json({"type": "object"}),
    ("POST", f"{_H}/internal-docs/shares"): _json({"type": "object"}),
    ("POST", "/v2/support/report"): _json(_obj({
        "summary": _STR, "details": _STR, "handle": _STR, "sessionId": _STR, "requestId": _STR,
        "reproArtifact": _STR}, ("summary", "details"))),
    ("POST", "/v2/operator/escalations"): _json(_obj({
        "reportIds": _STRS, "assignee": _STR, "priority": {"enum": ["low", "normal", "high", "urgent"]},
        "note": _STR}, ("reportIds",))),
    ("PATCH", "/v2/operator/escalations/{escalation_id}"): _json(_obj(
        {"status": {"enum": ["open", "acknowledged", "resolved"]}}, ("status",))),
    ("POST", "/v2/public/content-report"): _json(_obj({
        "category": {"enum": ["spam", "phishing", "malware", "copyright", "harassment", "other"]},
        "targetUrl": _STR, "description": _STR, "reporterEmail": _STR}, ("category", "targetUrl"))),
}

# (METHOD, path) -> [(name, schema)] query parameters read through ``ctx``.
QUERIES: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {
    ("GET", f"{_H}/links"): [("tag", _STR), ("prefix", _STR), ("health", _STR), ("q", _STR), *_PAGE],
    ("GET", f"{_H}/links/{{slug}}/history"): [("diff", _STR), *_PAGE],
    ("POST", f"{_H}/links/bulk-import"): [("mode", {"enum": ["dryRun", "atomic", "partial"]})],
    ("GET", f"{_H}/links/export"): [("format", {"enum": ["csv", "jsonl"]}), ("includeHistory", _BOOL)],
    ("GET", f"{_H}/links/health-check/{{runId}}"): [("classification", _STR)],
    ("GET", f"{_H}/files"): [("mode", _STR), ("expired", _STR), ("tag", _STR), *_PAGE],
    ("GET", f"{_H}/files/{{file_id}}/shares"): _PAGE,
    ("GET", f"{_H}/files/{{file_id}}/access-log"): _PAGE,
    ("GET", "/v2/public/files/{file_id}"): [("token", _STR)],
    ("PUT", f"{_H}/internal-docs/access"): [("dryRun", _BOOL)],
}

# Non-JSON success bodies.
_ANY = {"*/*": {"schema": {}}}
_CSV = {"text/csv": {"schema": _STR}}
SUCCESS_CONTENT: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/l/{handle}/{slug}"): None,
    ("GET", f"{_H}/links/export"): {**_CSV, "application/x-ndjson": {"schema": _STR}},
    ("GET", f"{_H}/links/bulk-import/{{runId}}/errors.csv"): _CSV,
    ("GET", "/v2/public/files/{file_id}"): _ANY,
    ("GET", "/metrics"): {"text/plain": {"schema": _STR}},
}
# success statuses a route answers besides its declared one
ALSO_ANSWERS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("PUT", f"{_H}/internal-docs/pages/{{path}}"): (("201", "Created (200 when an existing page is replaced)"),),
}
_NON_JSON_PREFIXES = ("/profiles/", "/_edge/", f"{_H}/site-deployments/{{deployment_id}}/preview")


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
    return doc


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
