"""OpenAPI request bodies of the links routes.

The handlers read their bodies themselves (``ctx.json()`` or the raw stream) so that malformed
JSON stays 400 ``malformed_body`` and validation failures stay 422 ``validation_failed`` with
dotted field paths, as the core reports them. Litestar only documents a body it parses itself
(a ``data`` parameter), so each route names its body here and :func:`documented_body` puts it
into the route's operation. The schemas follow the core's validation (gharart_core.links.model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from gharart_core.links.model import DEVICES, MAX_RULES, MAX_TAG_LEN, MAX_TAGS, REDIRECT_STATUSES
from gharart_core.links.urls import MAX_URL_LENGTH

__all__ = [
    "HEALTH_CHECK_BODY",
    "IMPORT_BODY",
    "LINK_CREATE_BODY",
    "LINK_UPDATE_BODY",
    "ROLLBACK_BODY",
    "ROUTE_PREVIEW_BODY",
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


def documented_body(body: RequestBody) -> type[Operation]:
    """An ``operation_class`` for a route handler that describes ``body`` as its request body."""

    @dataclass
    class _WithBody(Operation):
        def __post_init__(self) -> None:
            if self.request_body is None:
                self.request_body = body

    return _WithBody
