"""The data the OpenAPI completion adds per operation (see ``openapi.py``): request bodies, query
parameters read through ``ctx``, non-JSON success bodies, extra success statuses, and the OpenAPI links
of the link lifecycle."""

from __future__ import annotations

from typing import Any

__all__ = ["ALSO_ANSWERS", "BODIES", "OPENAPI_LINKS", "QUERIES", "SUCCESS_CONTENT"]

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

_LINK = f"{_H}/links/{{slug}}"
_SAME_LINK = {"path.handle": "$request.path.handle", "path.slug": "$response.body#/slug"}
# (METHOD, path, status) -> {link name: (target METHOD, target path, link definition without the target)}
OPENAPI_LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, Any]]]] = {}
for _source in (("POST", f"{_H}/links", "201"), ("GET", _LINK, "200"), ("PATCH", _LINK, "200"),
                ("POST", f"{_LINK}/rollback", "200")):
    OPENAPI_LINKS[_source] = {
        "GetLink": ("GET", _LINK, {"parameters": _SAME_LINK}),
        "UpdateLink": ("PATCH", _LINK, {"parameters": _SAME_LINK,
                                        "requestBody": {"expectedVersion": "$response.body#/version"}}),
        "LinkHistory": ("GET", f"{_LINK}/history", {"parameters": _SAME_LINK}),
        "RollbackLink": ("POST", f"{_LINK}/rollback", {
            "parameters": _SAME_LINK,
            "requestBody": {"targetVersion": 1, "expectedCurrentVersion": "$response.body#/version",
                            "reason": "back to the first version"}}),
    }
