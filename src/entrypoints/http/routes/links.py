"""HTTP routes of the links area (SPEC §4, A.2): thin handlers over ``LinksService``.

CRUD, history, rollback, route preview and health checks live here; bulk import/export in
``links_bulk``, the public redirect in ``links_public``.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, delete, get, patch, post

from ..context import RequestContext
from ..render import page, parse_limit
from . import links_bulk, links_public
from .links_common import (
    BASE,
    diff_value,
    links_service,
    query_str,
    render_decision,
    render_health_run,
    render_link,
    render_version,
)
from .links_openapi import (
    HEALTH_CHECK_BODY,
    HEALTH_RUN_QUERY,
    HISTORY_QUERY,
    LINK_CREATE_BODY,
    LINK_UPDATE_BODY,
    LIST_QUERY,
    ROLLBACK_BODY,
    ROUTE_PREVIEW_BODY,
    documented,
    documented_body,
)

__all__ = ["FAST_PATHS", "ROUTES", "render_link", "render_version"]


# -- CRUD -------------------------------------------------------------------------------------

@post(BASE, status_code=201, tags=["links"], operation_class=documented_body(LINK_CREATE_BODY))
async def create_link(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    link = await links_service(ctx).create(ctx.uow, access, body)
    await ctx.quota(handle, "link_writes", 1)
    return ctx.respond(render_link(link), status=201, etag=link.version,
                       headers={"Location": f"/v2/handles/{handle}/links/{link.slug}"})


@get(BASE, tags=["links"], operation_class=documented(query=LIST_QUERY))
async def list_links(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    result = await links_service(ctx).list(
        ctx.uow, access, tag=query_str(ctx, "tag"), prefix=query_str(ctx, "prefix"), health=query_str(ctx, "health"),
        q=query_str(ctx, "q"), cursor=query_str(ctx, "cursor"), limit=parse_limit(query_str(ctx, "limit")))
    return ctx.respond(page(result, render_link))


@get(BASE + "/{slug:str}", tags=["links"])
async def get_link(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    link = await links_service(ctx).get(ctx.uow, access, slug)
    return ctx.respond(render_link(link), etag=link.version)


@patch(BASE + "/{slug:str}", tags=["links"], operation_class=documented_body(LINK_UPDATE_BODY))
async def update_link(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    link = await links_service(ctx).update(ctx.uow, access, slug, body, ctx.if_match())
    await ctx.quota(handle, "link_writes", 1)
    return ctx.respond(render_link(link), etag=link.version)


@delete(BASE + "/{slug:str}", status_code=204, tags=["links"])
async def delete_link(handle: str, slug: str, ctx: RequestContext) -> None:
    access = await ctx.access(handle)
    await links_service(ctx).delete(ctx.uow, access, slug, ctx.if_match())
    await ctx.quota(handle, "link_writes", 1)


# -- history, rollback, preview ------------------------------------------------------------

@get(BASE + "/{slug:str}/history", tags=["links"], operation_class=documented(query=HISTORY_QUERY))
async def link_history(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    spec = query_str(ctx, "diff")
    if spec is not None:
        a, b, changes = await links_service(ctx).diff(ctx.uow, access, slug, spec)
        return ctx.respond({"from": a, "to": b, "changes": [
            {"field": f, "before": diff_value(f, x), "after": diff_value(f, y)} for f, x, y in changes]})
    result = await links_service(ctx).history(ctx.uow, access, slug, cursor=query_str(ctx, "cursor"),
                                     limit=parse_limit(query_str(ctx, "limit")))
    return ctx.respond(page(result, render_version))


@post(BASE + "/{slug:str}/rollback", status_code=200, tags=["links"],
      operation_class=documented_body(ROLLBACK_BODY))
async def rollback_link(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    link = await links_service(ctx).rollback(ctx.uow, access, slug, body)
    await ctx.quota(handle, "link_writes", 1)
    return ctx.respond(render_link(link), etag=link.version)


@post(BASE + "/{slug:str}/route-preview", status_code=200, tags=["links"],
      operation_class=documented_body(ROUTE_PREVIEW_BODY))
async def route_preview(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json(required=False)
    decision = await links_service(ctx).route_preview(ctx.uow, access, slug, body if body is not None else {})
    return ctx.respond(render_decision(decision))


# -- health checks ----------------------------------------------------------------------------

@post(BASE + "/health-check", status_code=202, tags=["links"],
      operation_class=documented_body(HEALTH_CHECK_BODY))
async def start_health_check(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json(required=False)
    run = await links_service(ctx).start_health_check(ctx.uow, access, body)
    return ctx.respond({"runId": run.id, "status": run.status}, status=202,
                       headers={"Location": f"/v2/handles/{handle}/links/health-check/{run.id}"})


@get(BASE + "/health-check/{runId:str}", tags=["links"], operation_class=documented(query=HEALTH_RUN_QUERY))
async def get_health_check(handle: str, runId: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    run, results = await links_service(ctx).get_health_run(ctx.uow, access, runId, query_str(ctx, "classification"))
    return ctx.respond(render_health_run(run, results))


async def on_startup(runtime: Any) -> None:
    return None


async def on_shutdown(runtime: Any) -> None:
    from ..fastpath_links import close_clicks

    await close_clicks(runtime)


def _make_fast_path(runtime: Any, litestar: Any) -> Any:
    from ..fastpath_links import LinksFastPath

    return LinksFastPath(runtime).try_redirect


FAST_PATHS = [_make_fast_path]

ROUTES = [
    create_link, list_links, get_link, update_link, delete_link, link_history, rollback_link, route_preview,
    *links_bulk.ROUTES, start_health_check, get_health_check, *links_public.ROUTES,
]
