"""Dashboard plumbing shared by every section: the API client, cookies, CSRF, templates, form helpers."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jinja2
import markupsafe
from litestar import Request, Response
from litestar.datastructures import Cookie

from gharart_core.shared.tokens import constant_time_equals

__all__ = ["ApiResult", "Dash", "can"]

ROOT = Path(__file__).resolve().parent
TOKEN_COOKIE = "gharart_dash"
CSRF_COOKIE = "gharart_csrf"
RID_COOKIE = "gharart_rid"
FLASH_COOKIE = "gharart_flash"
MINTED_COOKIE = "gharart_dash_pat"  # id of a PAT the dashboard minted itself (email sign-in), revoked on sign-out
SESSION_S = 8 * 3600
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

    def start_session(self, token: str, minted_id: str | None = None) -> None:
        """Put ``token`` in the session cookie (8 h); ``minted_id`` marks a PAT the dashboard minted."""
        self.cookies.append(self._cookie(TOKEN_COOKIE, token, max_age=SESSION_S))
        self.cookies.append(self._cookie(MINTED_COOKIE, minted_id or "", max_age=SESSION_S if minted_id else 0))

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


async def _csrf_form(request: Request[Any, Any, Any]) -> tuple[Dash, dict[str, Any], Response[Any] | None]:
    """A POST's form with its CSRF token checked (the sign-in forms need no session)."""
    d = Dash(request)
    form = await _form(request)
    return d, form, None if d.check_csrf(form) else _csrf_refused(d)


async def _guard(request: Request[Any, Any, Any]) -> tuple[Dash, dict[str, Any], Response[Any] | None]:
    """A POST's common checks: a session and a valid CSRF token."""
    d, form, refused = await _csrf_form(request)
    if refused:
        return d, form, refused
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
