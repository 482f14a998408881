"""Shared pieces of the links routes: rendering, query helpers and the service lookup."""

from __future__ import annotations

from typing import Any

from gharart_core.links.bulk import ImportResult
from gharart_core.links.health import HealthResult, HealthRun
from gharart_core.links.importing import ImportRun
from gharart_core.links.model import Link, LinkVersion
from gharart_core.links.rules import Decision
from gharart_core.links.schema import rules_to_data
from gharart_core.shared.clock import format_ts
from gharart_core.shared.errors import FieldError, ValidationFailed

from ..context import RequestContext

__all__ = [
    "BASE",
    "diff_value",
    "links_service",
    "query_bool",
    "query_str",
    "render_decision",
    "render_health_run",
    "render_import",
    "render_import_run",
    "render_link",
    "render_version",
]

BASE = "/v2/handles/{handle:str}/links"


# -- rendering --------------------------------------------------------------------------------

def render_link(link: Link) -> dict[str, Any]:
    h = link.health
    return {
        "id": link.id, "handle": link.handle, "slug": link.slug, "version": link.version,
        "destination": link.destination, "redirectStatus": link.redirect_status,
        "forwardQuery": link.forward_query, "rules": rules_to_data(link.rules), "tags": list(link.tags),
        "health": {"classification": h.classification, "checkedAt": format_ts(h.checked_at), "runId": h.run_id}
        if h else None,
        "createdAt": format_ts(link.created_at), "updatedAt": format_ts(link.updated_at),
    }


def render_version(v: LinkVersion) -> dict[str, Any]:
    return {"version": v.version, "destination": v.destination, "rules": rules_to_data(v.rules),
            "redirectStatus": v.redirect_status, "forwardQuery": v.forward_query, "tags": list(v.tags),
            "createdBy": v.created_by, "createdAt": format_ts(v.created_at), "source": v.source,
            "reason": v.reason, "requestId": v.request_id, "runId": v.run_id}


def diff_value(field: str, value: Any) -> Any:
    if field == "rules":
        return rules_to_data(value)
    if field == "tags":
        return list(value)
    return value


def render_decision(d: Decision) -> dict[str, Any]:
    return {"destination": d.destination, "matchedRule": d.matched_rule, "variant": d.variant,
            "trace": [{"rule": t.rule, "matched": t.matched, "failed": list(t.failed)} for t in d.trace]}


def render_import_run(run: ImportRun) -> dict[str, Any]:
    return {"runId": run.id, "mode": run.mode, "status": run.status, "counts": run.counts, "total": run.total,
            "createdAt": format_ts(run.created_at), "finishedAt": format_ts(run.finished_at)}


def render_import(result: ImportResult) -> dict[str, Any]:
    out = render_import_run(result.run)
    out["rows"] = [{k: v for k, v in {"row": r.row, "slug": r.slug, "outcome": r.outcome, "code": r.code,
                                      "message": r.message}.items() if v is not None or k in ("row", "slug")}
                   for r in result.rows]
    out["rowsTruncated"] = result.rows_truncated
    return out


def render_health_run(run: HealthRun, results: list[HealthResult]) -> dict[str, Any]:
    return {"runId": run.id, "status": run.status, "createdAt": format_ts(run.created_at),
            "startedAt": format_ts(run.started_at), "finishedAt": format_ts(run.finished_at),
            "total": run.total, "counts": dict(run.counts),
            "results": [{"slug": r.slug, "destination": r.destination, "classification": r.classification,
                         "httpStatus": r.http_status, "durationMs": r.duration_ms, "detail": r.detail}
                        for r in results]}


def links_service(ctx: RequestContext) -> Any:
    return ctx.container.links_service()


def query_str(ctx: RequestContext, name: str) -> str | None:
    value = ctx.request.query_params.get(name)
    return value if isinstance(value, str) else None


def query_bool(ctx: RequestContext, name: str) -> bool:
    value = (query_str(ctx, name) or "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise ValidationFailed(errors=[FieldError(name, "invalid_value", f"{name} is true or false")])
