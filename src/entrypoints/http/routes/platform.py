"""Handles, members, tokens, audit log and service routes."""

from __future__ import annotations

from typing import Any

from litestar import Response, delete, get, patch, post
from litestar.params import Parameter

from gharart_core.identity.model import Handle, Member, PersonalAccessToken, Role
from gharart_core.identity.policy import Action, authorize
from gharart_core.shared.audit import AuditEvent
from gharart_core.shared.clock import parse_ts
from gharart_core.shared.errors import BadRequest, FieldError, ValidationFailed
from gharart_core.shared.pagination import Page, decode_cursor, encode_cursor

from ..context import RequestContext
from ..render import page, parse_limit, ts

__all__ = ["ROUTES"]


def render_handle(h: Handle, role: Role | None) -> dict[str, Any]:
    return {"handle": h.handle, "accountId": h.account_id, "role": role.label if role else None,
            "createdAt": ts(h.created_at)}


def render_member(m: Member) -> dict[str, Any]:
    return {"userId": m.user_id, "email": m.email, "role": m.role.label, "addedAt": ts(m.added_at),
            "pending": m.user_id is None}


def render_token(t: PersonalAccessToken, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t.id}
    if secret is not None:
        out["token"] = secret
    out.update({"name": t.name, "scopes": sorted(t.scopes), "handle": t.handle, "expiresAt": ts(t.expires_at),
                "createdAt": ts(t.created_at)})
    if secret is None:
        out.update({"prefix": t.prefix, "lastUsedAt": ts(t.last_used_at)})
    return out


def render_audit(e: AuditEvent) -> dict[str, Any]:
    return {"id": e.id, "at": ts(e.at), "actorId": e.actor_id, "credentialId": e.credential_id,
            "handle": e.handle, "action": e.action, "target": e.target, "requestId": e.request_id,
            "beforeVersion": e.before_version, "afterVersion": e.after_version}


def _window(ctx: RequestContext, values: list[Any]) -> Page[Any]:
    """``?limit=``/``?cursor=`` over a short list the service answers whole (handles, members, tokens)."""
    q = ctx.request.query_params
    limit = parse_limit(q.get("limit"))
    key = decode_cursor(q.get("cursor"))
    start = 0
    if key is not None:
        if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool) or key[0] < 0:
            raise BadRequest("invalid_cursor", "The cursor could not be decoded.")
        start = key[0]
    chunk = values[start:start + limit]
    more = start + limit < len(values)
    return Page(chunk, encode_cursor([start + limit]) if more else None)


def _str_field(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 1000) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationFailed(errors=[FieldError(name, "required", f"{name} is required")])
        return None
    if not isinstance(value, str):
        raise ValidationFailed(errors=[FieldError(name, "invalid_type", f"{name} must be a string")])
    if len(value) > max_len:
        raise ValidationFailed(errors=[FieldError(name, "too_long", f"at most {max_len} characters")])
    return value


# -- handles -----------------------------------------------------------------
@post("/v2/handles", status_code=201, tags=["handles"])
async def create_handle(ctx: RequestContext) -> Response[Any]:
    """Create a handle; the caller becomes its owner."""
    principal = await ctx.principal()
    body = await ctx.json_object()
    handle = body.get("handle")
    if handle is None:
        raise ValidationFailed(errors=[FieldError("handle", "required", "handle is required")])
    h = await ctx.container.identity_service().create_handle(ctx.uow, principal, handle, ctx.request_id)
    ctx.identity_changed()
    return ctx.respond(render_handle(h, Role.OWNER), 201)


@get("/v2/handles", tags=["handles"])
async def list_handles(ctx: RequestContext) -> Response[Any]:
    """The handles the caller is a member of."""
    principal = await ctx.principal()
    async with ctx.rt.uow_factory(write=False) as uow:
        pairs = await ctx.container.identity_service().list_handles(uow, principal)
    return ctx.respond(page(_window(ctx, list(pairs)), lambda pair: render_handle(*pair)))


@get("/v2/handles/{handle:str}", tags=["handles"])
async def get_handle(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    h = await ctx.container.identity_service().get_handle(ctx.uow, access)
    return ctx.respond(render_handle(h, access.role))


# -- members -----------------------------------------------------------------
@get("/v2/handles/{handle:str}/members", tags=["members"])
async def list_members(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    members = await ctx.container.identity_service().list_members(ctx.uow, access)
    return ctx.respond(page(_window(ctx, list(members)), render_member))


@post("/v2/handles/{handle:str}/members", status_code=201, tags=["members"])
async def add_member(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    authorize(access, Action.MEMBERS_WRITE)
    body = await ctx.json_object()
    email = _str_field(body, "email", max_len=254)
    role = _str_field(body, "role", max_len=10)
    member = await ctx.container.identity_service().add_member(ctx.uow, access, email or "", role or "")
    ctx.identity_changed()
    return ctx.respond(render_member(member), 201)


@patch("/v2/handles/{handle:str}/members/{member_id:str}", tags=["members"])
async def change_member(handle: str, member_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    authorize(access, Action.MEMBERS_WRITE)
    body = await ctx.json_object()
    role = _str_field(body, "role", max_len=10)
    member = await ctx.container.identity_service().change_member(ctx.uow, access, member_id, role or "")
    ctx.identity_changed()
    return ctx.respond(render_member(member))


@delete("/v2/handles/{handle:str}/members/{member_id:str}", status_code=204, tags=["members"])
async def remove_member(handle: str, member_id: str, ctx: RequestContext) -> None:
    access = await ctx.access(handle)
    await ctx.container.identity_service().remove_member(ctx.uow, access, member_id)
    ctx.identity_changed()


# -- tokens ------------------------------------------------------------------
@post("/v2/tokens", status_code=201, tags=["tokens"])
async def create_token(ctx: RequestContext) -> Response[Any]:
    """Create a personal access token; the secret appears in this answer only."""
    principal = await ctx.principal()
    body = await ctx.json_object()
    name = _str_field(body, "name", max_len=100)
    scopes = body.get("scopes")
    if scopes is None:
        raise ValidationFailed(errors=[FieldError("scopes", "required", "scopes is required")])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValidationFailed(errors=[FieldError("scopes", "invalid_type", "scopes must be a list of strings")])
    handle = _str_field(body, "handle", required=False, max_len=100)
    expires_raw = body.get("expiresAt")
    expires_at = None
    if expires_raw is not None:
        try:
            if not isinstance(expires_raw, str):
                raise ValueError
            expires_at = parse_ts(expires_raw)
        except ValueError:
            raise ValidationFailed(errors=[FieldError("expiresAt", "invalid_timestamp",
                                                      "an RFC 3339 timestamp")]) from None
    issued = await ctx.container.identity_service().create_token(
        ctx.uow, principal, name=name or "", scopes=scopes, handle=handle, expires_at=expires_at,
        request_id=ctx.request_id)
    return ctx.respond(render_token(issued.token, issued.secret), 201)


@get("/v2/tokens", tags=["tokens"])
async def list_tokens(ctx: RequestContext) -> Response[Any]:
    principal = await ctx.principal()
    tokens = await ctx.container.identity_service().list_tokens(ctx.uow, principal)
    return ctx.respond(page(_window(ctx, list(tokens)), render_token))


@delete("/v2/tokens/{token_id:str}", status_code=204, tags=["tokens"])
async def revoke_token(token_id: str, ctx: RequestContext) -> None:
    principal = await ctx.principal()
    await ctx.container.identity_service().revoke_token(ctx.uow, principal, token_id, ctx.request_id)
    ctx.identity_changed()


# -- audit log ---------------------------------------------------------------
@get("/v2/handles/{handle:str}/audit-log", tags=["audit"])
async def audit_log(
    handle: str, ctx: RequestContext,
    action: str | None = None, target: str | None = None, cursor: str | None = None,
    limit_raw: str | None = Parameter(query="limit", default=None, required=False),
) -> Response[Any]:
    access = await ctx.access(handle)
    authorize(access, Action.AUDIT_READ)
    p = await ctx.uow.audit.list(handle, action=action, target=target, cursor=cursor, limit=parse_limit(limit_raw))
    if access.principal.is_operator and access.role is None:
        from gharart_core.shared.audit_helpers import record

        await record(ctx.uow, ctx.clock, ctx.rt.ids, access, "audit.read", handle)
    return ctx.respond(page(p, render_audit))


# -- service routes ----------------------------------------------------------
@get("/healthz", tags=["service"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["service"])
async def readyz(ctx: RequestContext) -> Response[Any]:
    checks: dict[str, str] = {}
    ok = True
    try:
        async with ctx.rt.uow_factory(write=False) as uow:
            await uow.identity.get_handle("readyz-probe")
        checks["database"] = "ok"
    except Exception as exc:  # a probe reports, it does not raise
        ok = False
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await ctx.container.object_store().ping()
        checks["objectStore"] = "ok"
    except Exception as exc:
        ok = False
        checks["objectStore"] = f"error: {type(exc).__name__}"
    return ctx.respond({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)


@get("/metrics", tags=["service"], media_type="text/plain; version=0.0.4")
async def metrics(ctx: RequestContext) -> Response[Any]:
    token = ctx.settings.metrics_token
    if token:
        from gharart_core.shared.tokens import constant_time_equals

        auth = ctx.request.headers.get("authorization", "")
        if not constant_time_equals(auth, f"Bearer {token}"):
            from gharart_core.shared.errors import Unauthenticated

            raise Unauthenticated(detail="/metrics needs the metrics bearer token.")
    ctx.rt.metrics.jobs.source = getattr(ctx.container.jobs(), "counts", None)
    return Response(content=ctx.rt.metrics.render(), media_type="text/plain; version=0.0.4")


ROUTES: list[Any] = [
    create_handle, list_handles, get_handle, list_members, add_member, change_member, remove_member,
    create_token, list_tokens, revoke_token, audit_log, healthz, readyz, metrics,
]
