"""Serving routes of the sites area: a deployment's preview (members) and the public profile
(`/profiles/{handle}/…`, also reached through a site's Host), both refusing encoded separators
and traversal in the raw path (SPEC §5, A.3)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from litestar import Response, route

from gharart_core.shared.errors import BadRequest, NotFound
from gharart_core.sites.model import ServedPage

from ..context import RequestContext

__all__ = ["ROUTES", "serve_profile"]

BASE = "/v2/handles/{handle:str}"
_BAD_RAW = (b"%2f", b"%5c", b"%2e", b"%00", b"%c0", b"%c1", b"%e0%80", b"%25")
MAX_FORM_BYTES = 1024 * 1024


def _svc(ctx: RequestContext) -> Any:
    return ctx.container.sites_service()


# -- preview -------------------------------------------------------------------
def _check_raw_path(ctx: RequestContext) -> None:
    raw = ctx.request.scope.get("raw_path") or b""
    low = bytes(raw).lower()
    if any(m in low for m in _BAD_RAW) or b"\\" in low or b"//" in low.split(b"?")[0][1:]:
        raise BadRequest("invalid_path", "Encoded separators and traversal are not allowed in paths.")


def _page_response(page: ServedPage, method: str) -> Response[Any]:
    body = b"" if method == "HEAD" or page.status == 304 else page.body
    headers = dict(page.headers)
    if method == "HEAD" and page.status == 200:
        headers["Content-Length"] = str(len(page.body))  # what a GET would send
    media_type = page.content_type
    if media_type.startswith("text/") and media_type.lower().endswith("; charset=utf-8"):
        media_type = media_type[: -len("; charset=utf-8")]  # Litestar appends the charset of text/* itself
    return Response(content=body, status_code=page.status, media_type=media_type, headers=headers)


async def _preview(handle: str, deployment_id: str, path: str, ctx: RequestContext) -> Response[Any]:
    _check_raw_path(ctx)
    access = await ctx.access(handle)
    svc = _svc(ctx)
    req = ctx.request
    page = await svc.preview(
        ctx.uow,
        access,
        deployment_id,
        path,
        if_none_match=req.headers.get("if-none-match"),
        method=req.method,
        query=req.scope.get("query_string", b"").decode("latin-1"),
        headers=tuple(req.headers.items()),
    )
    async with ctx.rt.uow_factory(write=True) as uow:
        await svc.record_preview(uow, handle, deployment_id)
        await uow.commit()
    return _page_response(page, req.method)


@route(f"{BASE}/site-deployments/{{deployment_id:str}}/preview", http_method=["GET", "HEAD"], tags=["sites"])
async def preview_root(handle: str, deployment_id: str, ctx: RequestContext) -> Response[Any]:
    """Serve the deployment's index.html whether or not it is live (`X-Robots-Tag: noindex`)."""
    return await _preview(handle, deployment_id, "", ctx)


@route(
    f"{BASE}/site-deployments/{{deployment_id:str}}/preview/{{path:path}}",
    http_method=["GET", "HEAD"],
    tags=["sites"],
)
async def preview_path(handle: str, deployment_id: str, path: str, ctx: RequestContext) -> Response[Any]:
    """Serve one file of the deployment (directories map to index.html)."""
    return await _preview(handle, deployment_id, path, ctx)


# -- public profile routes ------------------------------------------------------------
async def serve_profile(handle: str, path: str, ctx: RequestContext) -> Response[Any]:
    """Shared by /profiles/... and host-based requests (see entrypoints/http/hosts.py)."""
    _check_raw_path(ctx)
    ctx.st.handle = handle if len(handle) <= 40 else None
    req = ctx.request
    method = req.method
    body = await ctx.body_bytes(max_bytes=MAX_FORM_BYTES) if method == "POST" else b""

    async def viewer() -> bool | None:
        principal = await ctx.optional_principal()
        if principal is None:
            return None
        async with ctx.rt.uow_factory(write=False) as uow:
            try:
                access = await ctx.rt.identity.resolve(uow, principal, handle, ctx.request_id)
            except NotFound:
                return False
        return access.role is not None or principal.is_operator

    page = await _svc(ctx).serve_profile(
        ctx.uow,
        handle,
        urllib.parse.unquote(path) if "%" in path else path,
        method=method,
        query=req.scope.get("query_string", b"").decode("latin-1"),
        headers=tuple(req.headers.items()),
        body=body,
        if_none_match=req.headers.get("if-none-match"),
        viewer=viewer,
    )
    return _page_response(page, method)


@route("/profiles/{handle:str}/index.html", http_method=["GET", "HEAD", "POST"], tags=["profiles"], security=[])
async def profile_index(handle: str, ctx: RequestContext) -> Response[Any]:
    """The public site's home page: site mode, then bound functions, then the live files."""
    return await serve_profile(handle, "index.html", ctx)


@route(
    "/profiles/{handle:str}",
    http_method=["GET", "HEAD"],
    tags=["profiles"],
    security=[],
    include_in_schema=False,
)
async def profile_bare(handle: str, ctx: RequestContext) -> Response[Any]:
    return await serve_profile(handle, "", ctx)


@route("/profiles/{handle:str}/{path:path}", http_method=["GET", "HEAD", "POST"], tags=["profiles"], security=[])
async def profile_path(handle: str, path: str, ctx: RequestContext) -> Response[Any]:
    """Any path of the public site (`ETag`, `If-None-Match`, `X-Gharart-Deployment`)."""
    return await serve_profile(handle, path, ctx)


ROUTES: list[Any] = [preview_root, preview_path, profile_index, profile_bare, profile_path]
