"""OpenAPI request bodies and query parameters of the links routes.

The handlers read their bodies and query strings themselves (``ctx.json()`` or the raw stream) so that malformed
JSON stays 400 ``malformed_body`` and validation failures stay 422 ``validation_failed`` with
dotted field paths, as the core reports them. Litestar only documents a body it parses itself
(a ``data`` parameter) or a query parameter it parses itself, so each route names its body and
query parameters here and :func:`documented` puts them into the route's operation. The schemas
follow the core's validation (gharart_core.links.model) and the handlers' parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)

from gharart_core.links.health import CLASSIFICATIONS
from gharart_core.links.importing import IMPORT_MODES
from gharart_core.links.model import DEVICES, MAX_RULES, MAX_TAG_LEN, MAX_TAGS, REDIRECT_STATUSES
from gharart_core.links.urls import MAX_URL_LENGTH

__all__ = [
    "EXPORT_QUERY",
    "HEALTH_CHECK_BODY",
    "HEALTH_RUN_QUERY",
    "HISTORY_QUERY",
    "IMPORT_BODY",
    "IMPORT_QUERY",
    "LINK_CREATE_BODY",
    "LINK_UPDATE_BODY",
    "LIST_QUERY",
    "ROLLBACK_BODY",
    "ROUTE_PREVIEW_BODY",
    "documented",
    "documented_body",
]

_MAX_VERSION = 2**31 - 1


def _str(**kw: Any) -> Schema:
    return Schema(type=OpenAPIType.STRING, **kw)


def _int(**kw: Any) -> Schema:
    return Schema(type=OpenAPIType.INTEGER, **kw)


def _list(items: Schema, **kw: Any) -> Schema:
    return Schema(type=OpenAPIType.ARRAY, items=items, **kw)


def _obj(properties: dict[str, Schema], required: list[str] | None = None, **kw: Any) -> Schema:
    return Schema(type=OpenAPIType.OBJECT, properties=properties, required=required or None, **kw)


_DESTINATION = _str(format=OpenAPIFormat.URI, min_length=1, max_length=MAX_URL_LENGTH,
                    description="Absolute http(s) URL; IDNA hosts; no credentials, control characters or "
                                "`javascript:`/`data:` (422 `invalid_url`).")
_NAMES = _list(_str(min_length=1, max_length=255), min_items=1)
_CONDITIONS = _obj({
    "device": _list(_str(enum=list(DEVICES)), min_items=1),
    "os": _NAMES,
    "browser": _NAMES,
    "country": _list(_str(pattern="^[A-Za-z]{2}$"), min_items=1, description="ISO 3166 alpha-2 codes"),
    "language": _list(_str(min_length=1, max_length=255), min_items=1, description="primary subtags, e.g. `fr`"),
    "queryParam": _obj({"name": _str(min_length=1), "equals": _str()}, ["name"],
                       description="present (no `equals`) or equal to `equals`"),
    "referrerHost": _NAMES,
    "timeWindow": _obj({"from": _str(format=OpenAPIFormat.DATE_TIME),
                        "until": _str(format=OpenAPIFormat.DATE_TIME)}),
}, additional_properties=False, description="All optional; every one given must hold. Empty always matches.")
_VARIANT = _obj({"destination": _DESTINATION, "weight": _int(minimum=0, maximum=100)}, ["destination", "weight"])
_RULE = Schema(one_of=[
    _obj({"conditions": _CONDITIONS, "destination": _DESTINATION}, ["destination"]),
    _obj({"conditions": _CONDITIONS, "variants": _list(_VARIANT, min_items=1,
                                                       description="integer weights summing to 100")},
         ["variants"]),
])
_LINK_FIELDS: dict[str, Schema] = {
    "destination": _DESTINATION,
    "redirectStatus": _int(enum=list(REDIRECT_STATUSES), default=302),
    "forwardQuery": Schema(type=OpenAPIType.BOOLEAN, default=False),
    "rules": _list(_RULE, max_items=MAX_RULES, description="ordered; the first rule whose conditions all hold wins"),
    "tags": _list(_str(min_length=1, max_length=MAX_TAG_LEN, pattern="^[^|\\x00-\\x1f]+$"), max_items=MAX_TAGS),
    "reason": _str(max_length=500, description="kept in the history entry"),
}
_VERSION = _int(minimum=1, maximum=_MAX_VERSION)


def _json(schema: Schema, *, required: bool = True, description: str | None = None) -> RequestBody:
    return RequestBody(content={"application/json": OpenAPIMediaType(schema=schema)}, required=required,
                       description=description)


LINK_CREATE_BODY = _json(_obj({
    "slug": _str(pattern="^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                 description="unique per handle; `export`, `bulk-import`, `health-check` are reserved"),
    **_LINK_FIELDS,
}, ["slug", "destination"]))

LINK_UPDATE_BODY = _json(_obj({
    **_LINK_FIELDS,
    "expectedVersion": _int(minimum=1, maximum=_MAX_VERSION,
                            description="the version being changed (or send If-Match); stale: 409"),
}), description="Only the fields given change; a change makes a new version.")

ROLLBACK_BODY = _json(_obj({
    "targetVersion": _VERSION,
    "expectedCurrentVersion": _int(minimum=1, maximum=_MAX_VERSION,
                                   description="the version believed current; missing: 428, stale: 409"),
    "reason": _str(max_length=500),
}, ["targetVersion", "expectedCurrentVersion"]))

ROUTE_PREVIEW_BODY = _json(_obj({
    "userAgent": _str(),
    "country": _str(description="ISO 3166 alpha-2"),
    "language": _str(description="an Accept-Language value"),
    "query": _obj({}, additional_properties=_str(), description="query parameters, name -> value"),
    "referrer": _str(),
    "at": _str(format=OpenAPIFormat.DATE_TIME),
    "visitorKey": _str(description="sticks a visitor to one weighted variant"),
}), required=False, description="A simulated request; every field optional.")

HEALTH_CHECK_BODY = _json(_obj({
    "slugs": _list(_str(), max_items=100_000),
    "tag": _str(max_length=256),
}), required=False, description="Which links to check: `slugs`, a `tag`, or neither for all.")

_ROWS = "Columns `slug,destination,tags,rules,redirectStatus,forwardQuery` (first two required)"
IMPORT_BODY = RequestBody(content={
    "text/csv": OpenAPIMediaType(schema=_str(description=f"{_ROWS}; a header row; tags joined by `|`, "
                                                         "rules as JSON in the cell.")),
    "application/x-ndjson": OpenAPIMediaType(schema=_str(description="One JSON object per line with the "
                                                                     "fields of a link.")),
}, required=True, description="Streamed; rows are validated one by one (`invalid_url`...).")


def _query(name: str, schema: Schema, description: str | None = None) -> Parameter:
    return Parameter(name=name, param_in="query", schema=schema, description=description, required=False)


_PAGE = [_query("limit", _int(minimum=1, maximum=500, default=50), "out of range: 422 `validation_failed`"),
         _query("cursor", _str(), "`nextCursor` of the previous page; undecodable: 400 `invalid_cursor`")]
LIST_QUERY = [
    _query("tag", _str(), "links carrying this tag"),
    _query("prefix", _str(), "slugs starting with this (case-sensitive)"),
    _query("health", _str(enum=[*CLASSIFICATIONS, "unchecked"]), "last health-check classification"),
    _query("q", _str(), "substring of the slug or destination (case-insensitive)"),
    *_PAGE,
]
HISTORY_QUERY = [
    _query("diff", _str(pattern="^[0-9]+\\.\\.[0-9]+$"), "`3..5`: the field changes between two versions"),
    *_PAGE,
]
IMPORT_QUERY = [_query("mode", _str(enum=list(IMPORT_MODES), default="atomic"),
                       "`atomic`: all rows or none; `partial`: the valid rows; `dryRun`: nothing written")]
EXPORT_QUERY = [
    _query("format", _str(enum=["csv", "jsonl", "ndjson", "json"], default="csv"),
           "CSV, or JSON lines (`jsonl`, `ndjson` and `json` are the same)"),
    _query("includeHistory", _str(enum=["true", "false", "1", "0", "yes", "no"], default="false")),
]
HEALTH_RUN_QUERY = [_query("classification", _str(enum=list(CLASSIFICATIONS)), "only results of this class")]


def documented(body: RequestBody | None = None, query: list[Parameter] | None = None) -> type[Operation]:
    """An ``operation_class`` for a route handler that adds ``body`` as its request body and
    ``query`` to its parameters (the path parameters Litestar found stay)."""

    @dataclass
    class _Documented(Operation):
        def __post_init__(self) -> None:
            if body is not None and self.request_body is None:
                self.request_body = body
            if query:
                self.parameters = [*(self.parameters or []), *query]

    return _Documented


def documented_body(body: RequestBody) -> type[Operation]:
    """:func:`documented` with a request body only."""
    return documented(body)
