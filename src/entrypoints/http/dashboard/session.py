"""Dashboard section: static files, sign-in and sign-out, the handle home page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post

from .common import (
    MINTED_COOKIE,
    PREFIX,
    RID_COOKIE,
    ROOT,
    STATIC_TYPES,
    TOKEN_COOKIE,
    Dash,
    _csrf_form,
    _h,
    _items,
    _s,
    can,
)

__all__ = ["handle_home", "home", "login", "login_form", "logout", "static"]


@get(f"{PREFIX}/static/{{name:str}}", include_in_schema=False)
async def static(name: str) -> Response[Any]:
    path = ROOT / "static" / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in STATIC_TYPES:
        return Response(b"not found", status_code=404, media_type="text/plain")
    return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix],
                    headers={"Cache-Control": "public, max-age=300"})


@get([PREFIX, f"{PREFIX}/"], include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    r = await d.call("GET", "/v2/handles")
    if r.status == 401:
        d.cookies.append(d._cookie(TOKEN_COOKIE, "", max_age=0))
        d.set_flash("error", "Your token is no longer valid; sign in again.", r.problem)
        return d.redirect(f"{PREFIX}/login")
    op = await d.call("GET", "/v2/operator/escalations", params={"limit": 1})
    return await d.page("home.html", handles=_items(r), problem=r.problem, operator=op.ok)


@get(f"{PREFIX}/login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    return await d.page("login.html")


@post(f"{PREFIX}/login", include_in_schema=False, status_code=200)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _csrf_form(request)
    if refused:
        return refused
    token = _s(form, "token")
    r = await d.call("GET", "/v2/handles", token=token, action=True) if token else None
    if r is None or not r.ok:
        problem = r.problem if r is not None else {"status": 422, "code": "required", "requestId": "",
                                                   "detail": "Paste a personal access token (gha_pat_…)."}
        return await d.page("login.html", status=401 if r is not None else 422, problem=problem)
    d.start_session(token)
    d.set_flash("ok", "Signed in.")
    return d.redirect(f"{PREFIX}/")


@post(f"{PREFIX}/logout", include_in_schema=False, status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _csrf_form(request)
    if refused:
        return refused
    minted = request.cookies.get(MINTED_COOKIE) or ""
    if d.token and minted.startswith("pat_") and len(minted) <= 40:
        # a session PAT minted by an email sign-in dies with the session; a pasted PAT is the user's own
        await d.call("DELETE", f"/v2/tokens/{quote(minted, safe='')}")
    d.cookies += [d._cookie(TOKEN_COOKIE, "", max_age=0), d._cookie(RID_COOKIE, "", max_age=0),
                  d._cookie(MINTED_COOKIE, "", max_age=0)]
    d.set_flash("ok", "Signed out.")
    return d.redirect(f"{PREFIX}/login")


@get(f"{PREFIX}/h/{{handle:str}}", include_in_schema=False)
async def handle_home(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    r = await d.call("GET", _h(handle))
    role = (r.data or {}).get("role") if r.ok else None
    members = await d.call("GET", f"{_h(handle)}/members") if r.ok else None
    audit = await d.call("GET", f"{_h(handle)}/audit-log", params={"limit": 25}) \
        if r.ok and can(role, "admin") else None
    return await d.page("handle.html", handle=handle, info=r.data if r.ok else None, problem=r.problem,
                        role=role, members=_items(members) if members else [],
                        audit=_items(audit) if audit else None)
