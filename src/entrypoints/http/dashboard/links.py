"""Dashboard section: links, imports and health checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from .common import PREFIX, Dash, _dt, _guard, _h, _int, _items, _s

__all__ = [
    "health_run", "health_start", "import_errors", "import_page", "import_run", "import_run_page", "link_create",
    "link_edit", "link_page", "link_preview", "link_rollback", "links_export", "links_page",
]


@get(f"{PREFIX}/h/{{handle:str}}/links", include_in_schema=False)
async def links_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    filters = {k: request.query_params.get(k, "") for k in ("tag", "prefix", "health", "q")}
    params = {k: v for k, v in filters.items() if v}
    r = await d.call("GET", f"{_h(handle)}/links", params={**params, "limit": 200})
    return await d.page("links.html", handle=handle, links=_items(r), problem=r.problem, filters=filters,
                        next_cursor=(r.data or {}).get("nextCursor") if r.ok else None)


@get(f"{PREFIX}/h/{{handle:str}}/links-export", include_in_schema=False)
async def links_export(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    """The API's export (current versions) as a download, fetched with the session's token."""
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    fmt = "jsonl" if request.query_params.get("format") == "jsonl" else "csv"
    r = await d.call("GET", f"{_h(handle)}/links/export", params={"format": fmt})
    if not r.ok:
        return await d.page("error.html", status=r.status, problem=r.problem)
    return Response(r.response.content, media_type=r.response.headers.get("content-type", "text/csv"),
                    headers={"Content-Disposition": f'attachment; filename="{handle}-links.{fmt}"',
                             "X-Request-ID": r.request_id, "Cache-Control": "no-store"})


@post(f"{PREFIX}/h/{{handle:str}}/links/create", include_in_schema=False, status_code=200)
async def link_create(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {"slug": _s(form, "slug"), "destination": _s(form, "destination")}
    if _s(form, "tags"):
        body["tags"] = [t.strip() for t in _s(form, "tags").split(",") if t.strip()]
    r = await d.call("POST", f"{_h(handle)}/links", json=body, action=True)
    return d.after(r, f"Created link {body['slug']}.", f"{PREFIX}/h/{handle}/links")


@get(f"{PREFIX}/h/{{handle:str}}/links/{{slug:str}}", include_in_schema=False)
async def link_page(handle: str, slug: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    return await _link_page(d, handle, slug)


async def _link_page(d: Dash, handle: str, slug: str, **extra: Any) -> Response[Any]:
    base = f"{_h(handle)}/links/{quote(slug, safe='')}"
    link = await d.call("GET", base)
    hist = await d.call("GET", f"{base}/history", params={"limit": 100})
    diff_spec = d.request.query_params.get("diff", "")
    diff = None
    if diff_spec:
        dr = await d.call("GET", f"{base}/history", params={"diff": diff_spec})
        diff = dr.data if dr.ok else {"problem": dr.problem}
    return await d.page("link.html", handle=handle, slug=slug, link=link.data if link.ok else None,
                        problem=link.problem, history=_items(hist), diff=diff, diff_spec=diff_spec,
                        artifact=(link.data or {}).get("id", slug) if link.ok else slug, **extra)


@post(f"{PREFIX}/h/{{handle:str}}/links/{{slug:str}}/edit", include_in_schema=False, status_code=200)
async def link_edit(handle: str, slug: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {"destination": _s(form, "destination"),
                            "expectedVersion": _int(_s(form, "expectedVersion"))}
    r = await d.call("PATCH", f"{_h(handle)}/links/{quote(slug, safe='')}", json=body, action=True)
    return d.after(r, f"Updated {slug} (now version {(r.data or {}).get('version') if r.ok else '?'}).",
                   f"{PREFIX}/h/{handle}/links/{slug}")


@post(f"{PREFIX}/h/{{handle:str}}/links/{{slug:str}}/rollback", include_in_schema=False, status_code=200)
async def link_rollback(handle: str, slug: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body = {"targetVersion": _int(_s(form, "targetVersion")),
            "expectedCurrentVersion": _int(_s(form, "expectedCurrentVersion")), "reason": _s(form, "reason")}
    r = await d.call("POST", f"{_h(handle)}/links/{quote(slug, safe='')}/rollback", json=body, action=True)
    return d.after(r, f"Rolled back {slug} to version {body['targetVersion']}"
                      f" (now version {(r.data or {}).get('version') if r.ok else '?'}).",
                   f"{PREFIX}/h/{handle}/links/{slug}")


@post(f"{PREFIX}/h/{{handle:str}}/links/{{slug:str}}/preview", include_in_schema=False, status_code=200)
async def link_preview(handle: str, slug: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {}
    for key in ("userAgent", "country", "language", "referrer", "visitorKey"):
        if _s(form, key):
            body[key] = _s(form, key)
    if _s(form, "at"):
        body["at"] = _dt(_s(form, "at"))
    if _s(form, "query"):
        body["query"] = dict(parse_qsl(_s(form, "query"), keep_blank_values=True))
    r = await d.call("POST", f"{_h(handle)}/links/{quote(slug, safe='')}/route-preview", json=body, action=True)
    return await _link_page(d, handle, slug, preview=r.data if r.ok else None, preview_problem=r.problem,
                            preview_input=body)


@get(f"{PREFIX}/h/{{handle:str}}/import", include_in_schema=False)
async def import_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    return await d.page("import.html", handle=handle, csv_text="", result=None)


@post(f"{PREFIX}/h/{{handle:str}}/import", include_in_schema=False, status_code=200)
async def import_run(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    raw = form.get("csv")
    text = raw if isinstance(raw, str) else ""
    if text.strip() and not text.endswith("\n"):
        text += "\n"
    upload = form.get("upload")
    if isinstance(upload, UploadFile):
        data = await upload.read()
        if data:
            text = data.decode("utf-8-sig", errors="replace")
    mode = _s(form, "mode") or "dryRun"
    r = await d.call("POST", f"{_h(handle)}/links/bulk-import", params={"mode": mode}, content=text.encode(),
                     headers={"Content-Type": "text/csv"}, action=True)
    if r.status == 202 and isinstance(r.data, dict):
        # A big import runs as a job: follow it on its run page.
        return d.redirect(f"{PREFIX}/h/{handle}/import/{r.data.get('runId')}")
    result = r.data if r.ok else (r.data or {}).get("run") if isinstance(r.data, dict) else None
    return await d.page("import.html", handle=handle, csv_text=text, result=result, mode=mode,
                        problem=r.problem, artifact=(result or {}).get("runId", ""))


@get(f"{PREFIX}/h/{{handle:str}}/import/{{run_id:str}}", include_in_schema=False)
async def import_run_page(handle: str, run_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    """An import run's progress (big imports run as jobs); refreshes until it ends."""
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    r = await d.call("GET", f"{_h(handle)}/links/bulk-import/{quote(run_id, safe='')}")
    run = r.data if r.ok else None
    done = run is not None and run.get("status") in ("completed", "failed")
    return await d.page("import.html", handle=handle, csv_text="", result=run, mode=(run or {}).get("mode"),
                        problem=r.problem, refresh=r.ok and not done, artifact=run_id)


@get(f"{PREFIX}/h/{{handle:str}}/import/{{run_id:str}}/errors.csv", include_in_schema=False)
async def import_errors(handle: str, run_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    """The run's failed rows as CSV, fetched from the API with the session's token."""
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    r = await d.call("GET", f"{_h(handle)}/links/bulk-import/{quote(run_id, safe='')}/errors.csv")
    if not r.ok:
        return await d.page("error.html", status=r.status, problem=r.problem)
    return Response(r.response.content, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{run_id}-errors.csv"',
                             "X-Request-ID": r.request_id, "Cache-Control": "no-store"})


@post(f"{PREFIX}/h/{{handle:str}}/health-check", include_in_schema=False, status_code=200)
async def health_start(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {}
    if _s(form, "tag"):
        body["tag"] = _s(form, "tag")
    if _s(form, "slugs"):
        body["slugs"] = [s.strip() for s in _s(form, "slugs").split(",") if s.strip()]
    r = await d.call("POST", f"{_h(handle)}/links/health-check", json=body, action=True)
    run_id = (r.data or {}).get("runId") if r.ok else None
    return d.after(r, "Health check started.", f"{PREFIX}/h/{handle}/links",
                   ok_to=f"{PREFIX}/h/{handle}/health-check/{run_id}")


@get(f"{PREFIX}/h/{{handle:str}}/health-check/{{run_id:str}}", include_in_schema=False)
async def health_run(handle: str, run_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    params = {"classification": request.query_params["classification"]} \
        if request.query_params.get("classification") else None
    r = await d.call("GET", f"{_h(handle)}/links/health-check/{quote(run_id, safe='')}", params=params)
    run = r.data if r.ok else None
    done = run is not None and run.get("status") in ("completed", "failed")
    return await d.page("health.html", handle=handle, run=run, run_id=run_id, problem=r.problem,
                        refresh=not done and r.ok, artifact=run_id)
