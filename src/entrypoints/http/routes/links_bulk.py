"""Links routes for bulk work: streamed CSV/NDJSON import, its runs and errors.csv, and export."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from litestar import Response, get, post
from litestar.response import Stream

from gharart_core.links.bulk import ImportFailed
from gharart_core.links.import_formats import neutralise
from gharart_core.links.importing import ImportRowError
from gharart_core.links.model import Link, LinkVersion
from gharart_core.links.schema import rules_to_data
from gharart_core.shared.clock import format_ts
from gharart_core.shared.errors import FieldError, TooLarge, UnsupportedMedia, ValidationFailed

from ...settings import int_setting
from ..context import RequestContext
from .links_common import (
    BASE,
    links_service,
    query_bool,
    query_str,
    render_import,
    render_import_run,
    render_link,
    render_version,
)
from .links_openapi import EXPORT_QUERY, IMPORT_BODY, IMPORT_QUERY, documented

__all__ = ["EXPORT_COLUMNS", "ROUTES"]

CSV_TYPES = ("text/csv", "application/csv")
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/ndjson")
DEFAULT_MAX_IMPORT_BYTES = 1024**3

EXPORT_COLUMNS = ("slug", "destination", "tags", "rules", "redirectStatus", "forwardQuery", "version",
                  "updatedAt", "health")


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
    svc = links_service(ctx)
    fmt = _import_format(ctx)
    mode = svc.check_import_mode(query_str(ctx, "mode"))
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
    run = await links_service(ctx).get_import_run(ctx.uow, access, runId)
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
    svc = links_service(ctx)
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
    fmt = (query_str(ctx, "format") or "csv").lower()
    if fmt not in ("csv", "jsonl", "ndjson", "json"):
        raise ValidationFailed(errors=[FieldError("format", "invalid_value", "format is csv or jsonl")])
    include_history = query_bool(ctx, "includeHistory")
    svc = links_service(ctx)
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



ROUTES = [bulk_import, get_import_run, import_errors_csv, export_links]
