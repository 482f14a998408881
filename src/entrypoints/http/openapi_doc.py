"""Finishing touches on the generated OpenAPI document.

Every error leaves as an RFC 9457 problem (``application/problem+json``), whatever the route, so
each operation documents a ``default`` problem response instead of the framework's own
validation-error shape (which this service never sends). Routes that answer files, pages or CSV
keep a JSON-or-anything 2xx so schema-driven clients (schemathesis) accept their real media types.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from .openapi_bodies import request_body

__all__ = ["PROBLEM_SCHEMA", "ProblemDocumentingJsonPlugin", "document_problems"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MARK = "x-gharart-problems"
_PUBLIC_PREFIXES = ("/v2/public/", "/_edge/", "/l/", "/profiles/")
_PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable snake_case.",
    "required": ["type", "title", "status", "detail", "code", "requestId"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "requestId": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {"field": {"type": "string"}, "code": {"type": "string"},
                               "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}


def _is_framework_validation_error(response: dict[str, Any]) -> bool:
    for media in (response.get("content") or {}).values():
        schema = media.get("schema") or {}
        if schema.get("description") == "Validation Exception" or "status_code" in (schema.get("properties") or {}):
            return True
    return False


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem responses to every operation (idempotent; changes ``schema`` in place)."""
    if schema.get(_MARK):
        return schema
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, item in (schema.get("paths") or {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if path.startswith(_PUBLIC_PREFIXES) or path in _PUBLIC_PATHS:
                # anonymous callers are served; a bearer token is optional (and used when sent)
                operation["security"] = [{}, {"bearer": []}]
            body = request_body(method, path)
            if body is not None and "requestBody" not in operation:
                operation["requestBody"] = body
            for param in operation.get("parameters") or []:
                if param.get("in") == "query" and param.get("name") == "limit":
                    param["schema"] = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
            responses = operation.setdefault("responses", {})
            for status in [s for s, r in responses.items() if s == "400" and _is_framework_validation_error(r)]:
                del responses[status]
            for status, response in responses.items():
                content = response.get("content")
                if str(status).startswith("2") and content and set(content) == {"application/json"} \
                        and not content["application/json"].get("schema"):
                    content["*/*"] = {"schema": {}}
            responses.setdefault("default", {
                "description": "An error: an RFC 9457 problem (IGNY8: its JSON envelope; profiles: an HTML page).",
                "content": {"application/problem+json": {"schema": ref}, "application/json": {"schema": {}},
                            "text/html": {"schema": {"type": "string"}}},
            })
    schema[_MARK] = True
    return schema


class ProblemDocumentingJsonPlugin(JsonRenderPlugin):
    """`/schema/openapi.json` with the problem responses documented."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, document_problems(openapi_schema))
