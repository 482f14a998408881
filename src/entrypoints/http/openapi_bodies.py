"""Request bodies for the OpenAPI document.

Handlers read their bodies through ``ctx.json()`` / streams (validation lives in the core), so the
framework cannot see them; this table documents them, keyed by ``(method, path)``, so generated
clients and schemathesis send real bodies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REQUEST_BODIES", "request_body"]

_TS = {"type": "string", "format": "date-time"}
_EMAIL = {"type": "string", "format": "email", "maxLength": 254}
_ROLE = {"type": "string", "enum": ["owner", "admin", "editor", "viewer"]}
_SCOPES = ["links:read", "links:write", "sites:read", "sites:write", "files:read", "files:write", "docs:read",
           "docs:admin", "support:write", "operator"]
_CONDITIONS = {
    "type": "object",
    "properties": {
        "device": {"type": "array", "items": {"type": "string", "enum": ["mobile", "desktop", "tablet", "bot"]}},
        "os": {"type": "array", "items": {"type": "string"}},
        "browser": {"type": "array", "items": {"type": "string"}},
        "country": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}$"}},
        "language": {"type": "array", "items": {"type": "string"}},
        "queryParam": {"type": "object", "required": ["name"],
                       "properties": {"name": {"type": "string"}, "equals": {"type": "string"}}},
        "referrerHost": {"type": "array", "items": {"type": "string"}},
        "timeWindow": {"type": "object", "properties": {"from": _TS, "until": _TS}},
    },
}
_RULE = {
    "type": "object",
    "required": ["conditions"],
    "properties": {
        "conditions": _CONDITIONS,
        "destination": {"type": "string", "format": "uri"},
        "variants": {"type": "array", "items": {"type": "object", "required": ["destination", "weight"], "properties": {
            "destination": {"type": "string", "format": "uri"}, "weight": {"type": "integer", "minimum": 0,
                                                                             "maximum": 100}}}},
    },
}
_LINK = {
    "type": "object",
    "properties": {
        "slug": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
        "destination": {"type": "string", "format": "uri", "maxLength": 2048},
        "rules": {"type": "array", "maxItems": 50, "items": _RULE},
        "tags": {"type": "array", "items": {"type": "string"}},
        "redirectStatus": {"type": "integer", "enum": [301, 302, 307, 308]},
        "forwardQuery": {"type": "boolean"},
        "expectedVersion": {"type": "integer", "minimum": 1},
    },
}
_PRINCIPALS = {
    "type": "object",
    "properties": {"roles": {"type": "array", "items": _ROLE}, "emails": {"type": "array", "items": _EMAIL},
                   "emailDomains": {"type": "array", "items": {"type": "string"}}, "anyone": {"type": "boolean"}},
}
_MANIFEST_ENTRY = {"type": "object", "required": ["sha256", "size"], "properties": {
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "size": {"type": "integer", "minimum": 0},
    "contentType": {"type": "string"}}}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    # identity
    ("post", "/v2/handles"): _obj(["handle"], handle={"type": "string", "pattern":
                                                       "^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"}),
    ("post", "/v2/handles/{handle}/members"): _obj(["email", "role"], email=_EMAIL, role=_ROLE),
    ("patch", "/v2/handles/{handle}/members/{member_id}"): _obj(["role"], role=_ROLE),
    ("post", "/v2/tokens"): _obj(["name", "scopes"], name={"type": "string", "minLength": 1, "maxLength": 100},
                                 scopes={"type": "array", "items": {"type": "string", "enum": _SCOPES}},
                                 handle={"type": ["string", "null"]}, expiresAt={**_TS, "type": ["string", "null"]}),
    # links
    ("post", "/v2/handles/{handle}/links"): {**_LINK, "required": ["slug", "destination"]},
    ("patch", "/v2/handles/{handle}/links/{slug}"): _LINK,
    ("post", "/v2/handles/{handle}/links/{slug}/rollback"): _obj(
        ["targetVersion", "expectedCurrentVersion"], targetVersion={"type": "integer", "minimum": 1},
        expectedCurrentVersion={"type": "integer", "minimum": 1}, reason={"type": "string"}),
    ("post", "/v2/handles/{handle}/links/{slug}/route-preview"): _obj(
        [], userAgent={"type": "string"}, country={"type": "string"}, language={"type": "string"},
        query={"type": "object", "additionalProperties": {"type": "string"}}, referrer={"type": "string"}, at=_TS,
        visitorKey={"type": "string"}),
    ("post", "/v2/handles/{handle}/links/health-check"): _obj(
        [], slugs={"type": "array", "items": {"type": "string"}}, tag={"type": "string"}),
    # sites
    ("post", "/v2/handles/{handle}/site-deployments"): _obj(
        ["manifest"], manifest={"type": "object", "additionalProperties": _MANIFEST_ENTRY},
        message={"type": "string"}, functionBindings={"type": "array", "items": {"type": "object"}}),
    ("post", "/v2/handles/{handle}/site-deployments/{deployment_id}/promote"): _obj(
        [], expectedLiveDeploymentId={"type": ["string", "null"]}),
    ("post", "/v2/handles/{handle}/site-deployments/rollback"): _obj(
        ["targetDeploymentId"], targetDeploymentId={"type": "string"},
        expectedLiveDeploymentId={"type": ["string", "null"]}, reason={"type": "string"}),
    ("put", "/v2/handles/{handle}/site-mode"): _obj(
        ["mode", "expectedModeVersion"],
        mode={"type": "string", "enum": ["live", "maintenance", "private", "redirect"]},
        expectedModeVersion={"type": "integer", "minimum": 1}, message={"type": "string"},
        redirectUrl={"type": "string", "format": "uri"}),
    ("patch", "/v2/handles/{handle}/site"): _obj(
        [], requireReplayGate={"type": "boolean"}, hostnames={"type": "array", "items": {"type": "string"}}),
    ("post", "/v2/handles/{handle}/function-bindings"): _obj(
        ["route", "function"], route={"type": "string"}, function={"type": "string",
                                                                  "enum": ["redirect", "json", "form-capture"]},
        config={"type": "object"}, deploymentId={"type": "string"}),
    # site intelligence
    ("post", "/v2/handles/{handle}/site-intel/{hostname}/replay-runs"): _obj(
        ["snapshotId", "deploymentId"], snapshotId={"type": "string"}, deploymentId={"type": "string"}),
    # files
    ("patch", "/v2/handles/{handle}/files/{file_id}"): _obj(
        [], mode={"type": "string", "enum": ["private", "link", "public"]},
        expiresAt={**_TS, "type": ["string", "null"]}, name={"type": "string", "minLength": 1, "maxLength": 255},
        tags={"type": "array", "items": {"type": "string", "maxLength": 64}},
        expectedVersion={"type": "integer", "minimum": 1}),
    ("post", "/v2/handles/{handle}/files/{file_id}/shares"): _obj(
        ["emails"], emails={"type": "array", "minItems": 1, "items": _EMAIL}, expiresAt=_TS,
        note={"type": "string", "maxLength": 2000}),
    ("post", "/v2/public/files/{file_id}/magic-link"): _obj(["email"], email=_EMAIL),
    # internal docs
    ("put", "/v2/handles/{handle}/internal-docs/pages/{path}"): _obj(
        ["content"], content={"type": "string"}, contentType={"type": "string"},
        classification={"type": "string", "enum": ["public", "internal", "confidential"]}),
    ("put", "/v2/handles/{handle}/internal-docs/access"): _obj(
        ["rules"], rules={"type": "array", "items": _obj(
            ["id", "pathPrefix", "effect", "principals"], id={"type": "string"}, pathPrefix={"type": "string"},
            effect={"type": "string", "enum": ["allow", "deny"]}, principals=_PRINCIPALS,
            description={"type": "string"})},
        defaultEffect={"type": "string", "enum": ["deny"]}, expectedVersion={"type": "integer", "minimum": 1},
        acknowledgeExposure={"type": "array", "items": {"type": "string"}}),
    ("post", "/v2/handles/{handle}/internal-docs/access/evaluate"): _obj(
        ["path", "principal"], path={"type": "string"}, principal=_obj(
            [], email=_EMAIL, role=_ROLE, anonymous={"type": "boolean"})),
    ("post", "/v2/handles/{handle}/internal-docs/shares"): _obj(
        ["email"], email=_EMAIL, path={"type": "string"}, expiresAt=_TS, note={"type": "string"}),
    # support
    ("post", "/v2/support/report"): _obj(
        ["summary", "details"], summary={"type": "string", "minLength": 1, "maxLength": 200},
        details={"type": "string", "minLength": 1, "maxLength": 20000}, handle={"type": "string"},
        sessionId={"type": "string"}, requestId={"type": "string"}, reproArtifact={"type": "string"}),
    ("post", "/v2/operator/escalations"): _obj(
        ["reportIds"], reportIds={"type": "array", "minItems": 1, "items": {"type": "string"}},
        assignee={"type": "string"}, priority={"type": "string", "enum": ["low", "normal", "high", "urgent"]},
        note={"type": "string"}),
    ("patch", "/v2/operator/escalations/{escalation_id}"): _obj(
        ["status"], status={"type": "string", "enum": ["open", "acknowledged", "resolved"]}),
    ("post", "/v2/public/content-report"): _obj(
        ["category", "targetUrl", "description"],
        category={"type": "string", "enum": ["spam", "phishing", "malware", "copyright", "harassment", "other"]},
        targetUrl={"type": "string", "format": "uri"}, description={"type": "string"}, reporterEmail=_EMAIL),
}

_MULTIPART_UPLOAD = {"multipart/form-data": {"schema": _obj(
    ["file"], file={"type": "string", "format": "binary"}, name={"type": "string"},
    mode={"type": "string", "enum": ["private", "link", "public"]}, expiresAt=_TS, tags={"type": "string"})}}
_RAW: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v2/handles/{handle}/files"): _MULTIPART_UPLOAD,
    ("put", "/v2/handles/{handle}/site-deployments/{deployment_id}/files/{sha256}"): {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    ("post", "/v2/handles/{handle}/links/bulk-import"): {
        "text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}},
}


# bodies that may be left out entirely
_OPTIONAL = frozenset({
    ("post", "/v2/handles/{handle}/links/health-check"),
    ("post", "/v2/handles/{handle}/site-deployments/{deployment_id}/promote"),
})


def request_body(method: str, path: str) -> dict[str, Any] | None:
    """The OpenAPI ``requestBody`` for an operation, or ``None`` when it takes none we document."""
    raw = _RAW.get((method, path))
    if raw is not None:
        return {"required": True, "content": raw}
    schema = REQUEST_BODIES.get((method, path))
    if schema is None:
        return None
    return {"required": (method, path) not in _OPTIONAL, "content": {"application/json": {"schema": schema}}}
