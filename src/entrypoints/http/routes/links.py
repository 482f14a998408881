"""HTTP routes of the links area (SPEC §4, A.2): thin handlers over ``LinksService``."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from litestar import Response, delete, get, patch, post
from litestar.response import Stream

from gharart_core.links.bulk import ImportFailed, ImportResult
from gharart_core.links.health import HealthResult, HealthRun
from gharart_core.links.importing import ImportRowError, ImportRun, neutralise
from gharart_core.links.model import Link, LinkVersion, rules_to_data
from gharart_core.links.rules import Decision
from gharart_core.links.service import build_facts
from gharart_core.shared.clock import format_ts
from gharart_core.shared.errors import FieldError, NotFound, TooLarge, UnsupportedMedia, ValidationFailed

from ...settings import int_setting
from ..context import RequestContext
from ..render import page, parse_limit
from .links_openapi import (
    EXPORT_QUERY,
    HEALTH_CHECK_BODY,
    HEALTH_RUN_QUERY,
    HISTORY_QUERY,
    IMPORT_BODY,
    IMPORT_QUERY,
    LINK_CREATE_BODY,
    LINK_UPDATE_BODY,
    LIST_QUERY,
    ROLLBACK_BODY,
    ROUTE_PREVIEW_BODY,
    documented,
    documented_body,
)

__all__ = ["FAST_PATHS", "ROUTES", "render_link", "render_version"]

BASE = "/v2/handles/{handle:str}/links"
CSV_TYPES = ("text/csv", "application/csv")
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/ndjson")
DEFAULT_MAX_IMPORT_BYTES = 1024**3

EXPORT_COLUMNS = ("slug", "destination", "tags", "rules", "redirectStatus", "forwardQuery", "version",
                  "updatedAt", "health")


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


def _diff_value(field: str, value: Any) -> Any:
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


def _svc(ctx: RequestContext) -> Any:
    return ctx.container.links_service()


def _q(ctx: RequestContext, name: str) -> str | None:
    value = ctx.request.query_params.get(name)
    return value if isinstance(value, str) else None


def _bool_q(ctx: RequestContext, name: str) -> bool:
    value = (_q(ctx, name) or "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise ValidationFailed(errors=[FieldError(name, "invalid_value", f"{name} is true or false")])


# -- CRUD -------------------------------------------------------------------------------------

@post(BASE, status_code=201, tags=["links"], operation_class=documented_body(LINK_CREATE_BODY))
async def create_link(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    link = await _svc(ctx).create(ctx.uow, access, body)
    await ctx.quota(handle, "link_writes", 1)
    return ctx.respond(render_link(link), status=201, etag=link.version,
                       headers={"Location": f"/v2/handles/{handle}/links/{link.slug}"})


@get(BASE, tags=["links"], operation_class=documented(query=LIST_QUERY))
async def list_links(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    result = await _svc(ctx).list(ctx.uow, access, tag=_q(ctx, "tag"), prefix=_q(ctx, "prefix"),
                                  health=_q(ctx, "health"), q=_q(ctx, "q"), cursor=_q(ctx, "cursor"),
                                  limit=parse_limit(_q(ctx, "limit")))
    return ctx.respond(page(result, render_link))


@get(BASE + "/{slug:str}", tags=["links"])
async def get_link(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    link = await _svc(ctx).get(ctx.uow, access, slug)
    return ctx.respond(render_link(link), etag=link.version)


@patch(BASE + "/{slug:str}", tags=["links"], operation_class=documented_body(LINK_UPDATE_BODY))
async def update_link(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    link = await _svc(ctx).update(ctx.uow, access, slug, body, ctx.if_match())
    await ctx.quota(handle, "link_writes", 1)
    return ctx.respond(render_link(link), etag=link.version)


@delete(BASE + "/{slug:str}", status_code=204, tags=["links"])
async def delete_link(handle: str, slug: str, ctx: RequestContext) -> None:
    access = await ctx.access(handle)
    await _svc(ctx).delete(ctx.uow, access, slug, ctx.if_match())
    await ctx.quota(handle, "link_writes", 1)


# -- history, rollback, preview ------------------------------------------------------------

@get(BASE + "/{slug:str}/history", tags=["links"], operation_class=documented(query=HISTORY_QUERY))
async def link_history(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    spec = _q(ctx, "diff")
    if spec is not None:
        a, b, changes = await _svc(ctx).diff(ctx.uow, access, slug, spec)
        return ctx.respond({"from": a, "to": b, "changes": [
            {"field": f, "before": _diff_value(f, x), "after": _diff_value(f, y)} for f, x, y in changes]})
    result = await _svc(ctx).history(ctx.uow, access, slug, cursor=_q(ctx, "cursor"),
                                     limit=parse_limit(_q(ctx, "limit")))
    return ctx.respond(page(result, render_version))


@post(BASE + "/{slug:str}/rollback", status_code=200, tags=["links"],
      operation_class=documented_body(ROLLBACK_BODY))
async def rollback_link(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    link = await _svc(ctx).rollback(ctx.uow, access, slug, body)
    await ctx.quota(handle, "link_writes", 1)
    return ctx.respond(render_link(link), etag=link.version)


@post(BASE + "/{slug:str}/route-preview", status_code=200, tags=["links"],
      operation_class=documented_body(ROUTE_PREVIEW_BODY))
async def route_preview(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json(required=False)
    decision = await _svc(ctx).route_preview(ctx.uow, access, slug, body if body is not None else {})
    return ctx.respond(render_decision(decision))


# -- bulk import ------------------------------------------------------------------------------

def _import_format(ctx: RequestContext) -> str:
    ctype = (ctx.request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype in CSV_TYPES:
        return "csv"
    if ctype in NDJSON_TYPES:
        return "ndjson"
    raise UnsupportedMedia("unsupported_media_type",
                           "Send the import as text/csv or application/x-ndjson.")


async def _spool(ctx: RequestContext) -> tuple[str, int]:
    """Write the body to a temporary file (never whole in memory); return its path and line count."""
    fd, path = tempfile.mkstemp(prefix="gharart-import-", suffix=".part")
    size = lines = 0
    limit = int_setting(ctx.settings.extra, "GHARART_MAX_IMPORT_BYTES", DEFAULT_MAX_IMPORT_BYTES)
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in ctx.request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge("body_too_large", f"An import is at most {limit} bytes.")
                lines += chunk.count(b"\n")
                fh.write(chunk)
    except BaseException:
        os.unlink(path)
        raise
    return path, lines


async def _file_chunks(path: str, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk


@post(BASE + "/bulk-import", status_code=200, tags=["links"],
      operation_class=documented(IMPORT_BODY, IMPORT_QUERY))
async def bulk_import(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    svc = _svc(ctx)
    fmt = _import_format(ctx)
    mode = svc.check_import_mode(_q(ctx, "mode"))
    path, lines = await _spool(ctx)
    try:
        if lines > ctx.settings.import_sync_rows + 1:
            if mode != "dryRun":
                # a job's outcome is not known yet: its data rows count up front (SPEC §3 quotas)
                await ctx.quota(handle, "link_writes", max(lines - 1 if fmt == "csv" else lines, 0))
            spooled = path
            run = await svc.start_import_job(ctx.uow, access, lambda: _file_chunks(spooled), fmt=fmt, mode=mode,
                                             cleanup=lambda: _unlink(spooled))
            path = ""  # the job owns the file now
            return ctx.respond({"runId": run.id, "mode": run.mode, "status": run.status,
                                "counts": run.counts}, status=202)
        try:
            result = await svc.import_links(ctx.uow, access, _file_chunks(path), fmt=fmt, mode=mode)
        except ImportFailed as exc:
            failed = [FieldError(f"rows.{r.row}", r.code or "failed", r.message or "")
                      for r in exc.result.rows if r.outcome == "failed"][:100]
            raise ValidationFailed("import_failed", exc.detail, errors=failed,
                                   extra={"run": render_import(exc.result)}) from exc
        writes = result.run.created + result.run.updated
        if mode != "dryRun" and writes:
            await ctx.quota(handle, "link_writes", writes)
        return ctx.respond(render_import(result))
    finally:
        if path:
            _unlink(path)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


@get(BASE + "/bulk-import/{runId:str}", tags=["links"])
async def get_import_run(handle: str, runId: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    run = await _svc(ctx).get_import_run(ctx.uow, access, runId)
    out = render_import_run(run)
    # the stored rows of a run are its failed ones (as when a POST lists over 1,000 rows)
    failed = await ctx.uow.links.import_errors(run.id, after_row=0, limit=1000)
    out["rows"] = [{"row": e.row, "slug": e.slug, "outcome": "failed", "code": e.code, "message": e.message}
                   for e in failed]
    out["rowsTruncated"] = len(failed) < (run.total or 0)
    return ctx.respond(out)


def _csv_line(cells: list[Any]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([neutralise(str(c)) for c in cells])
    return buf.getvalue().encode()


@get(BASE + "/bulk-import/{runId:str}/errors.csv", tags=["links"])
async def import_errors_csv(handle: str, runId: str, ctx: RequestContext) -> Stream:
    access = await ctx.access(handle)
    svc = _svc(ctx)
    await svc.get_import_run(ctx.uow, access, runId)

    async def body() -> AsyncIterator[bytes]:
        yield _csv_line(["row", "slug", "destination", "tags", "rules", "redirectStatus", "code", "message"])
        async for e in svc.iter_import_errors(access, runId):
            yield _error_line(e)

    return Stream(body(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{runId}-errors.csv"', "Cache-Control": "no-store"})


def _error_line(e: ImportRowError) -> bytes:
    return _csv_line([e.row, e.slug, e.destination, e.tags, e.rules, e.redirect_status, e.code, e.message])


# -- export -----------------------------------------------------------------------------------

def _export_cells(link: Link) -> list[Any]:
    return [link.slug, link.destination, "|".join(link.tags),
            json.dumps(rules_to_data(link.rules), separators=(",", ":")) if link.rules else "",
            link.redirect_status, "true" if link.forward_query else "false", link.version,
            format_ts(link.updated_at), link.health.classification if link.health else ""]


def _export_json(link: Link, history: list[LinkVersion] | None) -> dict[str, Any]:
    out = render_link(link)
    if history is not None:
        out["history"] = [render_version(v) for v in history]
    return out


@get(BASE + "/export", tags=["links"], operation_class=documented(query=EXPORT_QUERY))
async def export_links(handle: str, ctx: RequestContext) -> Stream:
    access = await ctx.access(handle)
    fmt = (_q(ctx, "format") or "csv").lower()
    if fmt not in ("csv", "jsonl", "ndjson", "json"):
        raise ValidationFailed(errors=[FieldError("format", "invalid_value", "format is csv or jsonl")])
    include_history = _bool_q(ctx, "includeHistory")
    svc = _svc(ctx)
    from gharart_core.identity.policy import Action, authorize

    authorize(access, Action.LINKS_READ)

    async def body() -> AsyncIterator[bytes]:
        buf: list[bytes] = []
        if fmt == "csv":
            header = [*EXPORT_COLUMNS, "history"] if include_history else list(EXPORT_COLUMNS)
            buf.append(_csv_line(header))
        async for link, history in svc.iter_export(access, include_history=include_history):
            if fmt == "csv":
                cells = _export_cells(link)
                if include_history:
                    cells.append(json.dumps([render_version(v) for v in history], separators=(",", ":")))
                buf.append(_csv_line(cells))
            else:
                buf.append(json.dumps(_export_json(link, history if include_history else None),
                                      separators=(",", ":")).encode() + b"\n")
            if len(buf) >= 500:
                yield b"".join(buf)
                buf = []
        if buf:
            yield b"".join(buf)

    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    ext = "csv" if fmt == "csv" else "jsonl"
    return Stream(body(), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{handle}-links.{ext}"', "Cache-Control": "no-store"})


# -- health checks ----------------------------------------------------------------------------

@post(BASE + "/health-check", status_code=202, tags=["links"],
      operation_class=documented_body(HEALTH_CHECK_BODY))
async def start_health_check(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json(required=False)
    run = await _svc(ctx).start_health_check(ctx.uow, access, body)
    return ctx.respond({"runId": run.id, "status": run.status}, status=202,
                       headers={"Location": f"/v2/handles/{handle}/links/health-check/{run.id}"})


@get(BASE + "/health-check/{runId:str}", tags=["links"], operation_class=documented(query=HEALTH_RUN_QUERY))
async def get_health_check(handle: str, runId: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    run, results = await _svc(ctx).get_health_run(ctx.uow, access, runId, _q(ctx, "classification"))
    return ctx.respond(render_health_run(run, results))


# -- public redirect --------------------------------------------------------------------------

def location_for(destination: str, query_string: str, forward: bool) -> str:
    """The ``Location``: the destination, plus the incoming query string when the link forwards it."""
    if not forward or not query_string:
        return destination
    base, hash_sep, fragment = destination.partition("#")
    joined = base + ("&" if "?" in base else "?") + query_string
    return joined + (hash_sep + fragment if hash_sep else "")


def client_country(headers: Any, client_ip: str, settings: Any) -> str | None:
    """Country from the configured proxy header, trusted only from a configured proxy address."""
    name = getattr(settings, "country_header", None)
    if not name or not _trusted(client_ip, getattr(settings, "trusted_proxies", ())):
        return None
    value = headers.get(name.lower()) if hasattr(headers, "get") else None
    if not value or len(value) != 2 or not value.isalpha() or value.upper() in ("XX", "T1"):
        return None
    return str(value.upper())


def _trusted(ip: str, proxies: Any) -> bool:
    import ipaddress

    if not ip or not proxies:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for p in proxies:
        try:
            if addr in ipaddress.ip_network(p, strict=False):
                return True
        except ValueError:
            continue
    return False


def not_found_response(accept: str | None, request_id: str | None) -> Response[Any]:
    if accept and "text/html" in accept:
        html = ("<!doctype html><html><head><meta charset=utf-8><title>Link not found</title></head>"
                "<body><h1>Link not found</h1><p>This short link does not exist or was removed.</p></body></html>")
        return Response(content=html.encode(), status_code=404, media_type="text/html",
                        headers={"Cache-Control": "private, max-age=0"})
    raise NotFound("link_not_found", "This short link does not exist or was removed.")


@get("/l/{handle:str}/{slug:str}", status_code=302, tags=["links"])
async def public_redirect(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    svc = _svc(ctx)
    link = await svc.resolve(ctx.uow, handle, slug)
    req = ctx.request
    if link is None:
        return not_found_response(req.headers.get("accept"), ctx.request_id)
    query_string = req.scope.get("query_string", b"").decode("latin-1")
    ua = req.headers.get("user-agent") or ""
    destination = link.destination
    if link.rules:
        from gharart_core.links.rules import evaluate

        facts = build_facts(user_agent=ua, country=client_country(req.headers, ctx.client_ip, ctx.settings),
                            accept_language=req.headers.get("accept-language"),
                            query=dict(parse_qsl(query_string, keep_blank_values=True)),
                            referrer=req.headers.get("referer"), at=ctx.clock.now(),
                            visitor_key=f"{ctx.client_ip}|{ua}")
        destination = evaluate(link.destination, link.rules, facts, salt=link.id).destination
    from ..fastpath_links import clicks_for

    clicks_for(ctx.rt).record(link.id)
    return Response(content=b"", status_code=link.redirect_status, headers={
        "Location": location_for(destination, query_string, link.forward_query),
        "Cache-Control": "private, max-age=0"})


async def on_startup(runtime: Any) -> None:
    return None


async def on_shutdown(runtime: Any) -> None:
    from ..fastpath_links import close_clicks

    await close_clicks(runtime)


def _make_fast_path(runtime: Any, litestar: Any) -> Any:
    from ..fastpath_links import LinksFastPath

    return LinksFastPath(runtime).try_redirect


FAST_PATHS = [_make_fast_path]

ROUTES = [
    create_link, list_links, get_link, update_link, delete_link, link_history, rollback_link, route_preview,
    bulk_import, get_import_run, import_errors_csv, export_links, start_health_check, get_health_check,
    public_redirect,
]
