"""Dashboard section: sites (deployments, bindings, mode) and site intel."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from .common import PREFIX, PREVIEW_HEADERS, Dash, _env, _guard, _h, _int, _items, _s

__all__ = [
    "binding_create", "deployment_create", "deployment_page", "deployment_preview", "deployment_promote",
    "intel_page", "intel_run", "intel_start", "site_mode", "site_rollback", "sites_page",
]


@get(f"{PREFIX}/h/{{handle:str}}/sites", include_in_schema=False)
async def sites_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    site = await d.call("GET", f"{_h(handle)}/site")
    deps = await d.call("GET", f"{_h(handle)}/site-deployments", params={"limit": 100})
    return await d.page("sites.html", handle=handle, site=site.data if site.ok else None,
                        deployments=_items(deps), problem=site.problem or deps.problem)


ARCHIVE_TYPES = ((".zip", "application/zip"), (".tar.gz", "application/gzip"), (".tgz", "application/gzip"),
                 (".tar", "application/x-tar"))


@post(f"{PREFIX}/h/{{handle:str}}/sites/deploy", include_in_schema=False, status_code=200)
async def deployment_create(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    """Deploy a site archive (zip, tar or tar.gz) through ``POST /site-deployments``; the API extracts
    it safely and the deployment is complete (``deployed``) at once, ready to preview."""
    d, form, refused = await _guard(request)
    if refused:
        return refused
    back = f"{PREFIX}/h/{handle}/sites"
    upload = form.get("archive")
    if not isinstance(upload, UploadFile) or not upload.filename:
        d.set_flash("error", "Choose a .zip, .tar or .tar.gz archive of the site to deploy.")
        return d.redirect(back)
    name = upload.filename.lower()
    ctype = next((t for ext, t in ARCHIVE_TYPES if name.endswith(ext)), None)
    if ctype is None:
        d.set_flash("error", f"{upload.filename} is not a .zip, .tar or .tar.gz archive.")
        return d.redirect(back)
    data = await upload.read()
    r = await d.call("POST", f"{_h(handle)}/site-deployments", params={"message": _s(form, "message")},
                     content=data, headers={"Content-Type": ctype}, action=True)
    dep_id = (r.data or {}).get("id") if r.ok else None
    return d.after(r, f"Deployed {upload.filename} as {dep_id}: preview it, then promote it.", back,
                   ok_to=f"{back}/{dep_id}" if dep_id else None)


@get(f"{PREFIX}/h/{{handle:str}}/sites/{{dep_id:str}}", include_in_schema=False)
async def deployment_page(handle: str, dep_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    dep = await d.call("GET", f"{_h(handle)}/site-deployments/{quote(dep_id, safe='')}")
    site = await d.call("GET", f"{_h(handle)}/site")
    binds = await d.call("GET", f"{_h(handle)}/function-bindings", params={"deploymentId": dep_id})
    return await d.page("deployment.html", handle=handle, dep=dep.data if dep.ok else None,
                        site=site.data if site.ok else None, bindings=_items(binds), problem=dep.problem,
                        dep_id=dep_id, artifact=dep_id)


@get([f"{PREFIX}/h/{{handle:str}}/sites/{{dep_id:str}}/preview",
      f"{PREFIX}/h/{{handle:str}}/sites/{{dep_id:str}}/preview/{{path:path}}"], include_in_schema=False)
async def deployment_preview(handle: str, dep_id: str, request: Request[Any, Any, Any],
                             path: str | None = None) -> Response[Any]:
    """The deployment's preview through the API, so the frame can show it with the session's token."""
    d = Dash(request)
    if not d.token:
        return Response(b"sign in first", status_code=401, media_type="text/plain")
    rel = (path or "").lstrip("/")
    api_path = f"{_h(handle)}/site-deployments/{quote(dep_id, safe='')}/preview" + (f"/{rel}" if rel else "")
    r = await d.call("GET", api_path)
    headers = {k: v for k, v in r.response.headers.items()
               if k.lower() in ("content-type", "etag", "x-gharart-deployment", "x-robots-tag", "x-request-id")}
    # The deployment's own HTML runs under the dashboard's origin here: no scripts, ever.
    headers.update(PREVIEW_HEADERS)
    if r.ok:
        return Response(r.response.content, status_code=r.status, headers=headers)
    body = _env.get_template("preview_error.html").render(problem=r.problem)
    return Response(body, status_code=r.status, media_type="text/html; charset=utf-8",
                    headers={"X-Request-ID": r.request_id, **PREVIEW_HEADERS})


@post(f"{PREFIX}/h/{{handle:str}}/sites/{{dep_id:str}}/promote", include_in_schema=False, status_code=200)
async def deployment_promote(handle: str, dep_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    back = f"{PREFIX}/h/{handle}/sites/{dep_id}"
    if _s(form, "confirm") != "yes":
        d.set_flash("error", "Tick the confirmation box to promote.")
        return d.redirect(back)
    expected = _s(form, "expectedLiveDeploymentId") or None
    r = await d.call("POST", f"{_h(handle)}/site-deployments/{quote(dep_id, safe='')}/promote",
                     json={"expectedLiveDeploymentId": expected}, action=True)
    return d.after(r, f"{dep_id} is live.", back)


@post(f"{PREFIX}/h/{{handle:str}}/sites-rollback", include_in_schema=False, status_code=200)
async def site_rollback(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    target = _s(form, "targetDeploymentId")
    back = _s(form, "back") if _s(form, "back").startswith(PREFIX + "/") else f"{PREFIX}/h/{handle}/sites"
    if _s(form, "confirm") != "yes":
        d.set_flash("error", "Tick the confirmation box to roll back.")
        return d.redirect(back)
    body = {"targetDeploymentId": target, "expectedLiveDeploymentId": _s(form, "expectedLiveDeploymentId") or None,
            "reason": _s(form, "reason")}
    r = await d.call("POST", f"{_h(handle)}/site-deployments/rollback", json=body, action=True)
    return d.after(r, f"Rolled back: {target} is live.", back)


@post(f"{PREFIX}/h/{{handle:str}}/site-mode", include_in_schema=False, status_code=200)
async def site_mode(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {"mode": _s(form, "mode"), "expectedModeVersion": _int(_s(form, "expectedModeVersion")),
                            "message": _s(form, "message")}
    if _s(form, "redirectUrl"):
        body["redirectUrl"] = _s(form, "redirectUrl")
    r = await d.call("PUT", f"{_h(handle)}/site-mode", json=body, action=True)
    return d.after(r, f"Site mode is now {body['mode']}.", f"{PREFIX}/h/{handle}/sites")


@post(f"{PREFIX}/h/{{handle:str}}/bindings", include_in_schema=False, status_code=200)
async def binding_create(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    dep_id = _s(form, "deploymentId")
    back = f"{PREFIX}/h/{handle}/sites/{dep_id}" if dep_id else f"{PREFIX}/h/{handle}/sites"
    try:
        config = json.loads(_s(form, "config") or "{}")
    except ValueError as exc:
        d.set_flash("error", f"The config is not valid JSON: {exc}")
        return d.redirect(back)
    body: dict[str, Any] = {"route": _s(form, "route"), "function": _s(form, "function"), "config": config}
    if dep_id:
        body["deploymentId"] = dep_id
    r = await d.call("POST", f"{_h(handle)}/function-bindings", json=body, action=True)
    return d.after(r, f"Bound {body['route']} to {body['function']}.", back)


@get(f"{PREFIX}/h/{{handle:str}}/intel", include_in_schema=False)
async def intel_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    site = await d.call("GET", f"{_h(handle)}/site")
    hostnames = [h["hostname"] for h in ((site.data or {}).get("hostnames") or [])] if site.ok else []
    hostname = request.query_params.get("hostname") or (hostnames[0] if hostnames else "")
    snapshot = None
    if hostname:
        s = await d.call("GET", f"{_h(handle)}/site-intel/{quote(hostname, safe='')}/snapshot")
        snapshot = s.data if s.ok else None
    deps = await d.call("GET", f"{_h(handle)}/site-deployments", params={"limit": 100})
    return await d.page("intel.html", handle=handle, hostnames=hostnames, hostname=hostname, snapshot=snapshot,
                        deployments=_items(deps), problem=site.problem)


@post(f"{PREFIX}/h/{{handle:str}}/intel/{{kind:str}}", include_in_schema=False, status_code=200)
async def intel_start(handle: str, kind: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    hostname = _s(form, "hostname")
    base = f"{_h(handle)}/site-intel/{quote(hostname, safe='')}"
    if kind == "replay":
        r = await d.call("POST", f"{base}/replay-runs", action=True,
                         json={"snapshotId": _s(form, "snapshotId"), "deploymentId": _s(form, "deploymentId")})
    else:
        kind = "crawl"
        r = await d.call("POST", f"{base}/crawl-runs", json={}, action=True)
    run_id = (r.data or {}).get("runId") if r.ok else ""
    return d.after(r, f"{kind.title()} run started.", f"{PREFIX}/h/{handle}/intel?hostname={quote(hostname)}",
                   ok_to=f"{PREFIX}/h/{handle}/intel/{quote(hostname)}/{kind}/{run_id}")


@get(f"{PREFIX}/h/{{handle:str}}/intel/{{hostname:str}}/{{kind:str}}/{{run_id:str}}", include_in_schema=False)
async def intel_run(handle: str, hostname: str, kind: str, run_id: str,
                    request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    seg = "replay-runs" if kind == "replay" else "crawl-runs"
    r = await d.call("GET", f"{_h(handle)}/site-intel/{quote(hostname, safe='')}/{seg}/{quote(run_id, safe='')}")
    run = r.data if r.ok else None
    done = run is not None and run.get("status") in ("completed", "failed")
    return await d.page("intel_run.html", handle=handle, hostname=hostname, kind=kind, run=run, run_id=run_id,
                        problem=r.problem, refresh=r.ok and not done, artifact=run_id)
