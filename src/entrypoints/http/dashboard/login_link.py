"""Dashboard sign-in by email: ask for a link, confirm it, trade it for a session PAT.

Unlike the other pages this is not a client of the ``/v2`` API: there is no token yet. The pages
call the identity area's ``LoginLinkService`` in the request's own unit of work (the middleware
commits it when the answer is below 400), as the API routes do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from litestar import Request, Response, get, post

from gharart_core.identity.login_links import LinkState, expired_link, invalid_link
from gharart_core.identity.service import normalize_email
from gharart_core.shared.errors import DomainError, FieldError, RateLimited, ValidationFailed

from ..context import RequestContext, provide_ctx
from ..problems import STATUS_BY_KIND
from .common import PREFIX, Dash, _csrf_form, _s

__all__ = ["login_email", "login_link_page", "login_link_redeem"]

log = logging.getLogger("gharart.http")


def _service(ctx: RequestContext) -> Any:
    return ctx.container.login_link_service()


def _deliver(ctx: RequestContext) -> Any:
    """Send mail off the request path: the answer takes as long for unknown addresses as for known ones."""

    def spawn(sending: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await sending
            except Exception:
                log.exception("sign-in link mail failed")

        ctx.rt.background(guarded())

    return spawn


async def _refused(d: Dash, ctx: RequestContext, exc: DomainError, **context: Any) -> Response[Any]:
    """The sign-in page again, with the problem (and the status the API would answer)."""
    status = STATUS_BY_KIND.get(exc.kind, 400)
    ctx.st.problem_code = exc.code
    problem = {"status": status, "code": exc.code, "detail": exc.detail, "requestId": "",
               "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in exc.errors],
               "extra": dict(exc.extra)}
    response = await d.page("login.html", status=status, problem=problem, **context)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(max(1, exc.retry_after))
        for name, value in (getattr(exc, "headers", None) or {}).items():
            response.headers[name] = value
    return response


@post(f"{PREFIX}/login/email", include_in_schema=False, status_code=200)
async def login_email(request: Request[Any, Any, Any]) -> Response[Any]:
    """Always the same answer for a well-formed address, whether or not it has an account."""
    d, form, refused = await _csrf_form(request)
    if refused:
        return refused
    ctx = provide_ctx(request)
    email = _s(form, "email")
    try:
        await ctx.rt.throttle("login_link", "ip:" + ctx.client_ip)
        if not email:
            raise ValidationFailed(errors=[FieldError("email", "required", "enter your email address")])
        address = normalize_email(email)
        await ctx.rt.throttle("login_link", "email:" + address.lower())
        await _service(ctx).request(ctx.uow, address, base_url=ctx.base_url, deliver=_deliver(ctx))
    except DomainError as exc:
        return await _refused(d, ctx, exc, email=email)
    minutes = max(1, int(ctx.settings.login_link_ttl_s) // 60)
    return await d.page("login.html", sent=True, ttl_minutes=minutes)


@get(f"{PREFIX}/login/link", include_in_schema=False)
async def login_link_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The link from the mail lands here: a confirmation button, because a GET must not use the link
    (mail scanners open links to check them)."""
    d = Dash(request)
    ctx = provide_ctx(request)
    token = request.query_params.get("token") or ""
    state = await _service(ctx).state(ctx.uow, token)
    if state is not LinkState.VALID:
        return await _refused(d, ctx, expired_link() if state is LinkState.EXPIRED else invalid_link())
    return await d.page("login_link.html", token=token)


@post(f"{PREFIX}/login/link", include_in_schema=False, status_code=200)
async def login_link_redeem(request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _csrf_form(request)
    if refused:
        return refused
    ctx = provide_ctx(request)
    try:
        issued = await _service(ctx).redeem(ctx.uow, _s(form, "token"), request_id=ctx.request_id)
    except DomainError as exc:
        return await _refused(d, ctx, exc)
    d.start_session(issued.secret, minted_id=issued.token.id)
    d.set_flash("ok", "Signed in with your email link.")
    return d.redirect(f"{PREFIX}/")
