"""The dashboard: server-rendered pages at ``/dashboard``, a thin client of the ``/v2`` API.

Every page and action calls the app's own API in-process with the signed-in user's bearer token
(the PAT pasted at sign-in, kept in an HttpOnly cookie), so every rule, error code and audit entry
is the API's. Templates and static files live in ``entrypoints/http/dashboard/``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import jinja2
import markupsafe
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, UploadFile

from gharart_core.shared.tokens import constant_time_equals

__all__ = ["ROUTES"]

ROOT = Path(__file__).resolve().parent.parent / "dashboard"
TOKEN_COOKIE = "gharart_dash"
CSRF_COOKIE = "gharart_csrf"
RID_COOKIE = "gharart_rid"
FLASH_COOKIE = "gharart_flash"
PREFIX = "/dashboard"
ROLE_RANK = {"viewer": 1, "editor": 2, "admin": 3, "owner": 4}
PREVIEW_HEADERS = {"Content-Security-Policy": "sandbox allow-same-origin allow-popups",
                   "X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
                          autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.ChainableUndefined)
_env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=False, default=str)


def can(role: str | None, need: str) -> bool:
    """Whether ``role`` on a handle reaches ``need`` (viewer < editor < admin < owner)."""
    return ROLE_RANK.get(role or "", 0) >= ROLE_RANK[need]


_env.globals["can"] = can
_env.globals["show_problem"] = lambda p: markupsafe.Markup(_env.get_template("_problem.html").render(p=p))


class ApiResult:
    """One API answer: status, parsed body, the request ID, and the problem when it failed."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.request_id = response.headers.get("x-request-id", "")
        ctype = response.headers.get("content-type", "")
        self.data: Any = None
        if "json" in ctype and response.content:
            try:
                self.data = response.json()
            except ValueError:
                self.data = None
        self.ok = self.status < 400

    @property
    def problem(self) -> dict[str, Any] | None:
        if self.ok:
            return None
        body = self.data if isinstance(self.data, dict) else {}
        return {"status": self.status, "code": body.get("code", f"http_{self.status}"),
                "detail": body.get("detail", self.response.text[:300]), "errors": body.get("errors") or [],
                "requestId": body.get("requestId") or self.request_id,
                "extra": {k: v for k, v in body.items()
                          if k not in {"type", "title", "status", "detail", "code", "requestId", "errors"}}}


def _inner_app(request: Request[Any, Any, Any]) -> Any:
    """The API as an ASGI app (the middleware around this Litestar app), built once per app."""
    state = request.app.state
    inner = getattr(state, "dashboard_inner", None)
    if inner is None:
        from ..middleware import GharartMiddleware

        inner = GharartMiddleware(request.app, state.runtime)
        state.dashboard_inner = inner
    return inner


def _encode(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except Exception:
        return None


class Dash:
    """Per-request dashboard state: the token, CSRF token, API client and cookies to set."""

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        self.request = request
        self.token = request.cookies.get(TOKEN_COOKIE) or None
        self.csrf = request.cookies.get(CSRF_COOKIE) or ""
        self.new_csrf = not self.csrf
        if self.new_csrf:
            self.csrf = secrets.token_urlsafe(24)
        self.last_rid = request.cookies.get(RID_COOKIE) or ""
        self.flash = _decode(request.cookies.get(FLASH_COOKIE))
        self.clear_flash = self.flash is not None
        self.cookies: list[Cookie] = []
        self.secure = request.url.scheme == "https"
        self.base_url = str(request.base_url).rstrip("/")
        self.page_rid = ""
        self._handles: list[dict[str, Any]] | None = None

    # -- API ---------------------------------------------------------------
    async def call(self, method: str, path: str, *, action: bool = False, token: str | None = None,
                   **kw: Any) -> ApiResult:
        headers = dict(kw.pop("headers", {}) or {})
        tok = token or self.token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        client_ip = self.request.client.host if self.request.client else "127.0.0.1"
        transport = httpx.ASGITransport(app=_inner_app(self.request), client=(client_ip, 0))
        async with httpx.AsyncClient(transport=transport, base_url=self.base_url, timeout=None) as client:
            response = await client.request(method, path, headers=headers, **kw)
        result = ApiResult(response)
        self.page_rid = result.request_id
        if action:
            self.remember_rid(result.request_id)
        return result

    def remember_rid(self, rid: str) -> None:
        if rid:
            self.last_rid = rid
            self.cookies.append(self._cookie(RID_COOKIE, rid))

    async def handles(self) -> list[dict[str, Any]]:
        if self._handles is None:
            r = await self.call("GET", "/v2/handles")
            self._handles = list(r.data.get("items", [])) if r.ok and isinstance(r.data, dict) else []
        return self._handles

    async def role(self, handle: str) -> str | None:
        for h in await self.handles():
            if h.get("handle") == handle:
                return str(h.get("role"))
        return None

    # -- cookies and responses --------------------------------------------
    def _cookie(self, key: str, value: str, *, max_age: int | None = None) -> Cookie:
        return Cookie(key=key, value=value, path=PREFIX, httponly=True, samesite="strict", secure=self.secure,
                      max_age=max_age)

    def set_flash(self, kind: str, message: str, problem: dict[str, Any] | None = None) -> None:
        if problem is not None:  # keep the cookie well under the 4 KiB browsers accept
            problem = {**problem, "detail": str(problem.get("detail", ""))[:500],
                       "errors": list(problem.get("errors") or [])[:10],
                       "extra": {k: v for k, v in (problem.get("extra") or {}).items()
                                 if len(json.dumps(v, default=str)) <= 300}}
        self.cookies.append(self._cookie(FLASH_COOKIE, _encode({"kind": kind, "message": message,
                                                                "problem": problem}), max_age=60))
        self.clear_flash = False

    def _finish(self, response: Response[Any]) -> Response[Any]:
        cookies = list(self.cookies)
        if self.new_csrf:
            cookies.append(self._cookie(CSRF_COOKIE, self.csrf))
        if self.clear_flash:
            cookies.append(self._cookie(FLASH_COOKIE, "", max_age=0))
        for c in cookies:
            response.set_cookie(c)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    async def page(self, template: str, status: int = 200, **context: Any) -> Response[Any]:
        handle = context.get("handle")
        role = context.get("role")
        if handle and role is None and self.token:
            role = await self.role(handle)
            context["role"] = role
        report = {"handle": handle or "", "requestId": self.last_rid or self.page_rid,
                  "artifact": context.get("artifact") or ""}
        body = _env.get_template(template).render(
            csrf=self.csrf, signed_in=bool(self.token), last_rid=self.last_rid or self.page_rid,
            flash=self.flash, report_url=f"{PREFIX}/support?{urlencode(report)}", prefix=PREFIX, **context)
        return self._finish(Response(body, status_code=status, media_type="text/html; charset=utf-8"))

    def redirect(self, to: str) -> Response[Any]:
        return self._finish(Response(b"", status_code=303, headers={"Location": to}))

    def check_csrf(self, form: Mapping[str, Any]) -> bool:
        sent = str(form.get("csrf") or "")
        return bool(sent) and not self.new_csrf and constant_time_equals(sent, self.csrf)

    def after(self, result: ApiResult, ok_message: str, back: str, ok_to: str | None = None) -> Response[Any]:
        """Redirect after an action: a notice on success, the problem on failure."""
        if result.ok:
            self.set_flash("ok", ok_message)
            return self.redirect(ok_to or back)
        self.set_flash("error", "The API refused the action.", result.problem)
        return self.redirect(back)


async def _form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in out:
            prev = out[key]
            out[key] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[key] = value
    return out


def _csrf_refused(d: Dash) -> Response[Any]:
    body = _env.get_template("error.html").render(
        csrf=d.csrf, signed_in=bool(d.token), last_rid=d.last_rid, prefix=PREFIX, flash=None, report_url="",
        problem={"status": 403, "code": "csrf_failed",
                 "detail": "The form's CSRF token is missing or wrong. Reload the page and try again.",
                 "requestId": ""})
    return d._finish(Response(body, status_code=403, media_type="text/html; charset=utf-8"))


async def _guard(request: Request[Any, Any, Any]) -> tuple[Dash, dict[str, Any], Response[Any] | None]:
    """A POST's common checks: a session and a valid CSRF token."""
    d = Dash(request)
    form = await _form(request)
    if not d.check_csrf(form):
        return d, form, _csrf_refused(d)
    if not d.token:
        return d, form, d.redirect(f"{PREFIX}/login")
    return d, form, None


def _h(handle: str) -> str:
    return f"/v2/handles/{quote(handle, safe='')}"


def _items(result: ApiResult) -> list[Any]:
    if result.ok and isinstance(result.data, dict):
        return list(result.data.get("items") or [])
    return []


def _s(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    if isinstance(value, list):
        value = value[-1]
    return value.strip() if isinstance(value, str) else ""


def _int(value: str) -> int | str | None:
    try:
        return int(value)
    except ValueError:
        return value or None


def _dt(value: str) -> str | None:
    """``datetime-local`` input (``2026-01-01T10:00``) to RFC 3339 UTC."""
    if not value:
        return None
    if len(value) == 16:
        value += ":00"
    return value if value.endswith("Z") or "+" in value[10:] else value + "Z"


# -- static, sign-in ----------------------------------------------------------

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
    d = Dash(request)
    form = await _form(request)
    if not d.check_csrf(form):
        return _csrf_refused(d)
    token = _s(form, "token")
    r = await d.call("GET", "/v2/handles", token=token, action=True) if token else None
    if r is None or not r.ok:
        problem = r.problem if r is not None else {"status": 422, "code": "required", "requestId": "",
                                                   "detail": "Paste a personal access token (gha_pat_…)."}
        return await d.page("login.html", status=401 if r is not None else 422, problem=problem)
    d.cookies.append(Cookie(key=TOKEN_COOKIE, value=token, path=PREFIX, httponly=True, samesite="strict",
                            secure=d.secure, max_age=8 * 3600))
    d.set_flash("ok", "Signed in.")
    return d.redirect(f"{PREFIX}/")


@post(f"{PREFIX}/logout", include_in_schema=False, status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    form = await _form(request)
    if not d.check_csrf(form):
        return _csrf_refused(d)
    d.cookies += [d._cookie(TOKEN_COOKIE, "", max_age=0), d._cookie(RID_COOKIE, "", max_age=0)]
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


# -- links --------------------------------------------------------------------

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


# -- sites --------------------------------------------------------------------

@get(f"{PREFIX}/h/{{handle:str}}/sites", include_in_schema=False)
async def sites_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    site = await d.call("GET", f"{_h(handle)}/site")
    deps = await d.call("GET", f"{_h(handle)}/site-deployments", params={"limit": 100})
    return await d.page("sites.html", handle=handle, site=site.data if site.ok else None,
                        deployments=_items(deps), problem=site.problem or deps.problem)


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


# -- files --------------------------------------------------------------------

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


# -- internal docs -------------------------------------------------------------

@get(f"{PREFIX}/h/{{handle:str}}/docs", include_in_schema=False)
async def docs_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    return await _docs_page(d, handle)


async def _docs_page(d: Dash, handle: str, **extra: Any) -> Response[Any]:
    pol = await d.call("GET", f"{_h(handle)}/internal-docs/access")
    pages = await d.call("GET", f"{_h(handle)}/internal-docs/pages", params={"limit": 200})
    data = pol.data if pol.ok and isinstance(pol.data, dict) else None
    policy = (data or {}).get("policy", data) if data else None
    text = extra.pop("policy_text", None)
    if text is None and policy is not None:
        shown = {k: v for k, v in policy.items() if k in ("rules", "defaultEffect")}
        text = json.dumps(shown, indent=2)
    version = (data or {}).get("version", (policy or {}).get("version"))
    return await d.page("docs.html", handle=handle, policy=policy, policy_text=text or "", version=version,
                        findings=(data or {}).get("findings") or (data or {}).get("lint") or [],
                        pages=_items(pages), problem=pol.problem, **extra)


@post(f"{PREFIX}/h/{{handle:str}}/docs/policy", include_in_schema=False, status_code=200)
async def docs_policy(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    text = _s(form, "policy")
    try:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("the policy must be a JSON object")
    except ValueError as exc:
        return await _docs_page(d, handle, policy_text=text, save_problem={
            "status": 400, "code": "malformed_body", "detail": f"Not valid JSON: {exc}", "requestId": ""})
    body["expectedVersion"] = _int(_s(form, "expectedVersion"))
    ack = [a.strip() for a in _s(form, "acknowledgeExposure").split(",") if a.strip()]
    if ack:
        body["acknowledgeExposure"] = ack
    save = _s(form, "action") == "save"
    r = await d.call("PUT", f"{_h(handle)}/internal-docs/access", json=body, action=True,
                     params=None if save else {"dryRun": "true"})
    if save and r.ok:
        d.set_flash("ok", "Policy saved.")
        return d.redirect(f"{PREFIX}/h/{handle}/docs")
    return await _docs_page(d, handle, policy_text=text, dry_run=r.data if r.ok else None,
                            save_problem=r.problem, ack=_s(form, "acknowledgeExposure"))


@post(f"{PREFIX}/h/{{handle:str}}/docs/evaluate", include_in_schema=False, status_code=200)
async def docs_evaluate(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    principal: dict[str, Any] = {}
    if _s(form, "anonymous"):
        principal["anonymous"] = True
    if _s(form, "email"):
        principal["email"] = _s(form, "email")
    if _s(form, "role"):
        principal["role"] = _s(form, "role")
    body = {"path": _s(form, "path"), "principal": principal}
    r = await d.call("POST", f"{_h(handle)}/internal-docs/access/evaluate", json=body, action=True)
    return await _docs_page(d, handle, decision=r.data if r.ok else None, eval_problem=r.problem,
                            eval_input=body)


# -- support ------------------------------------------------------------------

@get(f"{PREFIX}/support", include_in_schema=False)
async def support_page(request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    q = request.query_params
    prefill = {"handle": q.get("handle", ""), "requestId": q.get("requestId", "") or d.last_rid,
               "artifact": q.get("artifact", "")}
    mine = await d.call("GET", "/v2/support/reports", params={"limit": 50})
    return await d.page("support.html", prefill=prefill, reports=_items(mine), handles=await d.handles())


@post(f"{PREFIX}/support", include_in_schema=False, status_code=200)
async def support_report(request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {"summary": _s(form, "summary"), "details": _s(form, "details")}
    for key in ("handle", "requestId", "reproArtifact", "sessionId"):
        if _s(form, key):
            body[key] = _s(form, key)
    r = await d.call("POST", "/v2/support/report", json=body, action=True)
    prefill = {"handle": body.get("handle", ""), "requestId": body.get("requestId", ""),
               "artifact": body.get("reproArtifact", "")}
    mine = await d.call("GET", "/v2/support/reports", params={"limit": 50})
    return await d.page("support.html", prefill=prefill, reports=_items(mine), handles=await d.handles(),
                        report=r.data if r.ok else None, problem=r.problem, form=body,
                        status=201 if r.ok else 200)


@get(f"{PREFIX}/operator", include_in_schema=False)
async def operator_page(request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    esc = await d.call("GET", "/v2/operator/escalations", params={"limit": 100})
    reports = await d.call("GET", "/v2/operator/reports", params={"limit": 100})
    return await d.page("operator.html", escalations=_items(esc), reports=_items(reports), problem=esc.problem)


@post(f"{PREFIX}/operator/escalations", include_in_schema=False, status_code=200)
async def operator_escalate(request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    ids = form.get("reportIds") or []
    ids = ids if isinstance(ids, list) else [ids]
    body: dict[str, Any] = {"reportIds": [str(i) for i in ids]}
    if _s(form, "note"):
        body["note"] = _s(form, "note")
    r = await d.call("POST", "/v2/operator/escalations", json=body, action=True)
    return d.after(r, "Escalation created.", f"{PREFIX}/operator")


@post(f"{PREFIX}/operator/escalations/{{esc_id:str}}", include_in_schema=False, status_code=200)
async def operator_escalation_status(esc_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    r = await d.call("PATCH", f"/v2/operator/escalations/{quote(esc_id, safe='')}",
                     json={"status": _s(form, "status")}, action=True)
    return d.after(r, f"Escalation {esc_id} is {_s(form, 'status')}.", f"{PREFIX}/operator")


ROUTES = [
    static, home, login_form, login, logout, handle_home, links_page, links_export, link_create, link_page,
    link_edit, link_rollback, link_preview, import_page, import_run, import_run_page, import_errors, health_start,
    health_run, sites_page, deployment_page, deployment_preview, deployment_promote, site_rollback, site_mode,
    binding_create, intel_page, intel_start, intel_run, files_page, file_upload, file_page, file_update, file_share,
    share_revoke, docs_page, docs_policy, docs_evaluate, support_page, support_report, operator_page,
    operator_escalate, operator_escalation_status,
]
