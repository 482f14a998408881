"""Dashboard section: files and their shares."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from .common import PREFIX, Dash, _dt, _guard, _h, _int, _items, _s

__all__ = ["file_page", "file_share", "file_update", "file_upload", "files_page", "share_revoke"]


@get(f"{PREFIX}/h/{{handle:str}}/files", include_in_schema=False)
async def files_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    params = {k: request.query_params[k] for k in ("mode", "expired", "tag") if request.query_params.get(k)}
    r = await d.call("GET", f"{_h(handle)}/files", params={**params, "limit": 200})
    return await d.page("files.html", handle=handle, files=_items(r), problem=r.problem, filters=params)


@post(f"{PREFIX}/h/{{handle:str}}/files/upload", include_in_schema=False, status_code=200)
async def file_upload(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    upload = form.get("file")
    back = f"{PREFIX}/h/{handle}/files"
    if not isinstance(upload, UploadFile):
        d.set_flash("error", "Choose a file to upload.")
        return d.redirect(back)
    data = await upload.read()
    fields = {k: _s(form, k) for k in ("name", "mode", "tags") if _s(form, k)}
    if _s(form, "expiresAt"):
        fields["expiresAt"] = _dt(_s(form, "expiresAt")) or ""
    r = await d.call("POST", f"{_h(handle)}/files", data=fields, action=True,
                     files={"file": (upload.filename or "upload.bin", data,
                                     upload.content_type or "application/octet-stream")})
    file_id = (r.data or {}).get("id") if r.ok else None
    return d.after(r, f"Uploaded {upload.filename}.", back, ok_to=f"{back}/{file_id}" if file_id else None)


@get(f"{PREFIX}/h/{{handle:str}}/files/{{file_id:str}}", include_in_schema=False)
async def file_page(handle: str, file_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    base = f"{_h(handle)}/files/{quote(file_id, safe='')}"
    f = await d.call("GET", base)
    shares = await d.call("GET", f"{base}/shares")
    log = await d.call("GET", f"{base}/access-log")
    return await d.page("file.html", handle=handle, file=f.data if f.ok else None, problem=f.problem,
                        shares=_items(shares), log=_items(log), file_id=file_id, artifact=file_id)


@post(f"{PREFIX}/h/{{handle:str}}/files/{{file_id:str}}/update", include_in_schema=False, status_code=200)
async def file_update(handle: str, file_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {}
    if _s(form, "mode"):
        body["mode"] = _s(form, "mode")
    if _s(form, "expiresAt"):
        body["expiresAt"] = _dt(_s(form, "expiresAt"))
    if _s(form, "expectedVersion"):
        body["expectedVersion"] = _int(_s(form, "expectedVersion"))
    r = await d.call("PATCH", f"{_h(handle)}/files/{quote(file_id, safe='')}", json=body, action=True)
    what = ", ".join(f"{k} = {v}" for k, v in body.items() if k != "expectedVersion")
    return d.after(r, f"Updated the file ({what}).", f"{PREFIX}/h/{handle}/files/{file_id}")


@post(f"{PREFIX}/h/{{handle:str}}/files/{{file_id:str}}/share", include_in_schema=False, status_code=200)
async def file_share(handle: str, file_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    emails = [e.strip() for e in _s(form, "emails").replace("\n", ",").split(",") if e.strip()]
    body: dict[str, Any] = {"emails": emails, "note": _s(form, "note")}
    if _s(form, "expiresAt"):
        body["expiresAt"] = _dt(_s(form, "expiresAt"))
    r = await d.call("POST", f"{_h(handle)}/files/{quote(file_id, safe='')}/shares", json=body, action=True)
    return d.after(r, f"Shared with {', '.join(emails)}; each recipient was mailed a magic link.",
                   f"{PREFIX}/h/{handle}/files/{file_id}")


@post(f"{PREFIX}/h/{{handle:str}}/files/{{file_id:str}}/shares/{{share_id:str}}/revoke", include_in_schema=False,
      status_code=200)
async def share_revoke(handle: str, file_id: str, share_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    r = await d.call("DELETE", f"{_h(handle)}/files/{quote(file_id, safe='')}/shares/{quote(share_id, safe='')}",
                     action=True)
    return d.after(r, f"Revoked share {share_id}; its magic link stops working now.",
                   f"{PREFIX}/h/{handle}/files/{file_id}")
