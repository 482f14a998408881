"""Internal docs routes: pages, the access policy, evaluation, partner links, sessions, the edge.

Controllers stay thin: parse, call one service method, render. Paths are taken from the raw
request target so an encoded separator (``%2f``, ``%5c``) reaches the core's normaliser
instead of being decoded by the server first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Response, delete, get, post, put
from litestar.params import Parameter
from litestar.response import Stream

from gharart_core.docs.edge import SESSION_COOKIE, SESSION_TTL, DocsEdgeService
from gharart_core.docs.lint import Finding
from gharart_core.docs.model import Caller, Decision, DocPage, DocShare, Policy, Rule
from gharart_core.docs.report import changes_summary, exposed_pages, finding_summary, page_ref
from gharart_core.docs.service import DocsService, PolicyWrite
from gharart_core.shared.errors import FieldError, ValidationFailed

from ..context import RequestContext
from ..render import page, parse_limit, ts

__all__ = ["ROUTES", "render_page", "render_policy", "render_rule"]

_BASE = "/v2/handles/{handle:str}/internal-docs"


# -- rendering -------------------------------------------------------------------------------------
def render_page(p: DocPage) -> dict[str, Any]:
    return {"id": p.id, "path": p.path, "classification": p.classification.value,
            "contentType": p.content_type, "size": p.size, "updatedAt": ts(p.updated_at)}


def render_rule(r: Rule) -> dict[str, Any]:
    p = r.principals
    return {"id": r.id, "pathPrefix": r.path_prefix, "effect": r.effect.value,
            "principals": {"roles": sorted((x.label for x in p.roles), key=["viewer", "editor", "admin",
                                                                             "owner"].index),
                           "emails": sorted(p.emails), "emailDomains": sorted(p.email_domains),
                           "anyone": p.anyone},
            "description": r.description}


def render_policy(policy: Policy, findings: list[Finding] | tuple[Finding, ...]) -> dict[str, Any]:
    return {"version": policy.version, "defaultEffect": policy.default_effect.value,
            "rules": [render_rule(r) for r in policy.rules],
            "findings": [finding_summary(f) for f in findings],
            "updatedAt": ts(policy.updated_at), "updatedBy": policy.updated_by}


def render_write(w: PolicyWrite) -> dict[str, Any]:
    out = render_policy(w.proposed, w.findings)
    out.update({"diff": changes_summary(w.changes), "exposedPages": exposed_pages(w.findings),
                "acknowledgedExposure": list(w.acknowledged)})
    if not w.saved:
        out.update({"dryRun": True, "version": w.current.version, "proposedVersion": w.proposed.version,
                    "currentVersion": w.current.version, "wouldRefuse": bool(w.unacknowledged),
                    "unacknowledgedPageIds": list(w.unacknowledged), "updatedAt": ts(w.current.updated_at),
                    "updatedBy": w.current.updated_by})
    else:
        out["dryRun"] = False
    return out


def render_decision(path: str, d: Decision, caller: Caller, p: DocPage | None) -> dict[str, Any]:
    principal: dict[str, Any] = ({"anonymous": True} if caller.is_anonymous else
                                 {"email": caller.email, "role": caller.role.label if caller.role else None})
    return {"path": path, "effect": d.effect.value, "matchedRule": d.matched_rule, "reason": d.reason.value,
            "allowed": d.allowed, "principal": principal, "page": page_ref(p) if p else None}


def render_share(s: DocShare) -> dict[str, Any]:
    return {"id": s.id, "email": s.email, "path": s.path, "expiresAt": ts(s.expires_at), "note": s.note,
            "createdAt": ts(s.created_at), "createdBy": s.created_by, "revokedAt": ts(s.revoked_at)}


# -- helpers -----------------------------------------------------------------------------------------
def _raw_tail(ctx: RequestContext, marker: str, decoded: str) -> str:
    """The still-encoded part of the request target after ``marker`` (falls back to ``decoded``)."""
    raw = ctx.request.scope.get("raw_path")
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("latin-1").split("?", 1)[0]
        idx = text.find(marker)
        if idx != -1:
            return text[idx + len(marker):]
    return decoded


def _docs(ctx: RequestContext) -> DocsService:
    return ctx.container.docs_service()  # type: ignore[no-any-return]


def _edge(ctx: RequestContext) -> DocsEdgeService:
    return ctx.container.docs_edge_service()  # type: ignore[no-any-return]


def _flag(value: str | None, name: str) -> bool:
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise ValidationFailed(errors=[FieldError(name, "invalid_type", "true or false")])


# -- pages -------------------------------------------------------------------------------------------
@put(f"{_BASE}/pages/{{path:path}}", status_code=200)
async def put_page(handle: str, path: str, ctx: RequestContext) -> Response[Any]:
    """Create or replace a doc page: JSON `{content, contentType?, classification?, encoding?}`."""
    limit = max(ctx.settings.max_json_bytes, _docs(ctx).max_page_bytes * 4 // 3 + 65536)  # base64 + JSON
    body = await ctx.json(max_bytes=limit)
    access = await ctx.access(handle)
    raw = _raw_tail(ctx, "/internal-docs/pages/", path)
    doc, created = await _docs(ctx).put_page(ctx.uow, access, raw, body)
    return ctx.respond(render_page(doc), status=201 if created else 200)


@delete(f"{_BASE}/pages/{{path:path}}", status_code=204)
async def delete_page(handle: str, path: str, ctx: RequestContext) -> None:
    access = await ctx.access(handle)
    await _docs(ctx).delete_page(ctx.uow, access, _raw_tail(ctx, "/internal-docs/pages/", path))


@get(f"{_BASE}/pages/{{path:path}}")
async def get_page(handle: str, path: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    doc = await _docs(ctx).get_page(ctx.uow, access, _raw_tail(ctx, "/internal-docs/pages/", path))
    return ctx.respond(render_page(doc))


@get(f"{_BASE}/pages")
async def list_pages(handle: str, ctx: RequestContext, limit: str | None = None, cursor: str | None = None,
                     prefix: str | None = None, classification: str | None = None) -> Response[Any]:
    access = await ctx.access(handle)
    result = await _docs(ctx).list_pages(ctx.uow, access, prefix=prefix, classification=classification,
                                         cursor=cursor, limit=parse_limit(limit))
    return ctx.respond(page(result, render_page))


# -- policy ------------------------------------------------------------------------------------------
@get(f"{_BASE}/access")
async def get_access(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    policy, findings = await _docs(ctx).get_policy(ctx.uow, access)
    return ctx.respond(render_policy(policy, findings), etag=policy.version)


@put(f"{_BASE}/access", status_code=200)
async def put_access(handle: str, ctx: RequestContext,
                     dry_run: str | None = Parameter(query="dryRun", default=None)) -> Response[Any]:
    """Replace the policy (If-Match or expectedVersion). `?dryRun=true` answers the diff and saves nothing."""
    body = await ctx.json()
    access = await ctx.access(handle)
    dry = _flag(dry_run, "dryRun")
    result = await _docs(ctx).put_policy(ctx.uow, access, body, if_match=ctx.if_match(), dry_run=dry)
    version = result.proposed.version if result.saved else result.current.version
    return ctx.respond(render_write(result), etag=version)


@post(f"{_BASE}/access/evaluate", status_code=200)
async def evaluate(handle: str, ctx: RequestContext) -> Response[Any]:
    """`{path, principal: {email?, role?, anonymous?}}` -> the decision, matched rule and reason."""
    body = await ctx.json()
    access = await ctx.access(handle)
    path, decision, caller, doc = await _docs(ctx).evaluate(ctx.uow, access, body)
    return ctx.respond(render_decision(path, decision, caller, doc))


# -- sessions and partner links -----------------------------------------------------------------------
def _cookie(ctx: RequestContext, handle: str, secret: str) -> str:
    secure = "; Secure" if ctx.base_url.startswith("https://") else ""
    max_age = int(SESSION_TTL.total_seconds())
    return (f"{SESSION_COOKIE}={secret}; Path=/_edge/docs/{handle}/; Max-Age={max_age}; "
            f"HttpOnly; SameSite=Lax{secure}")


@post(f"{_BASE}/session", status_code=201)
async def create_session(handle: str, ctx: RequestContext) -> Response[Any]:
    """Exchange the bearer token for the `gharart_docs` cookie used by browsers on `/_edge/docs`."""
    access = await ctx.access(handle)
    secret, session = await _edge(ctx).create_session(ctx.uow, access)
    return ctx.respond({"handle": handle, "expiresAt": ts(session.expires_at), "cookie": SESSION_COOKIE,
                        "path": f"/_edge/docs/{handle}/"}, status=201,
                       headers={"Set-Cookie": _cookie(ctx, handle, secret), "Cache-Control": "no-store"})


@post(f"{_BASE}/shares", status_code=201)
async def create_share(handle: str, ctx: RequestContext) -> Response[Any]:
    """Grant a partner without an account the email principal `email`; the link is mailed to them."""
    body = await ctx.json()
    access = await ctx.access(handle)
    share = await _edge(ctx).create_share(ctx.uow, access, body, ctx.base_url)
    return ctx.respond(render_share(share), status=201)


@get(f"{_BASE}/shares")
async def list_shares(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    shares = await _edge(ctx).list_shares(ctx.uow, access)
    return ctx.respond({"items": [render_share(s) for s in shares], "nextCursor": None})


@delete(f"{_BASE}/shares/{{share_id:str}}", status_code=204)
async def revoke_share(handle: str, share_id: str, ctx: RequestContext) -> None:
    access = await ctx.access(handle)
    await _edge(ctx).revoke_share(ctx.uow, access, share_id)


# -- the edge ----------------------------------------------------------------------------------------
async def _serve(ctx: RequestContext, handle: str, raw_path: str, token: str | None) -> Response[Any]:
    edge = _edge(ctx)
    principal = None if token else await ctx.optional_principal()
    read = await edge.read(handle, raw_path, principal=principal,
                           session_secret=ctx.request.cookies.get(SESSION_COOKIE),
                           share_token=token or None, request_id=ctx.request_id)
    doc = read.page
    headers = {
        "Cache-Control": "public, max-age=0, must-revalidate" if read.cacheable else "private, no-store",
        "ETag": f'"{doc.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Referrer-Policy": "no-referrer",
        "Vary": "Authorization, Cookie",
        "Content-Length": str(doc.size),
    }
    if read.new_session is not None:
        headers["Set-Cookie"] = _cookie(ctx, handle, read.new_session)
    if ctx.request.headers.get("if-none-match") == headers["ETag"]:
        del headers["Content-Length"]
        return Response(content=b"", status_code=304, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in edge.open_content(doc):
            yield chunk

    media_type, charset = _split_charset(doc.content_type)
    return Stream(body(), media_type=media_type, encoding=charset, headers=headers, status_code=200)


def _split_charset(content_type: str) -> tuple[str, str]:
    """``text/markdown; charset=utf-8`` -> (``text/markdown``, ``utf-8``): the framework adds the charset
    parameter itself for ``text/*`` types, so passing it through would repeat it."""
    base, *params = [p.strip() for p in content_type.split(";")]
    charset = "utf-8"
    kept = []
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
        elif param:
            kept.append(param)
    if not base.lower().startswith("text/"):
        return content_type, charset
    return "; ".join([base, *kept]), charset


@get("/_edge/docs/{handle:str}/{path:path}", include_in_schema=True)
async def edge_page(handle: str, path: str, ctx: RequestContext, token: str | None = None) -> Response[Any]:
    """Serve a doc page the policy lets the caller read (bearer, `gharart_docs` cookie or `?token=`)."""
    return await _serve(ctx, handle, _raw_tail(ctx, f"/_edge/docs/{handle}", path), token)


@get("/_edge/docs/{handle:str}")
async def edge_root(handle: str, ctx: RequestContext, token: str | None = None) -> Response[Any]:
    return await _serve(ctx, handle, "/", token)


ROUTES: list[Any] = [put_page, delete_page, get_page, list_pages, get_access, put_access, evaluate,
                     create_session, create_share, list_shares, revoke_share, edge_page, edge_root]
