"""HTTP routes of the sites area: deployments, blobs, promote/rollback, site mode, function
bindings and the site resource (SPEC §5, A.3); preview and the public profile are in ``sites_serving``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Response, get, patch, post, put
from litestar.params import Parameter

from gharart_core.sites.archive import ARCHIVE_TYPES
from gharart_core.sites.model import Deployment, FunctionBinding, Site, Submission

from ..context import RequestContext
from ..hosts import make_host_fast_path, make_profile_fast_path
from ..render import parse_limit, ts
from . import sites_serving

__all__ = ["FAST_PATHS", "ROUTES", "render_binding", "render_deployment", "render_site"]

BASE = "/v2/handles/{handle:str}"


def render_site(site: Site, svc: Any) -> dict[str, Any]:
    hosts = []
    for h in svc.site_hostnames(site):
        item: dict[str, Any] = {"hostname": h.hostname, "kind": h.kind, "verified": h.verified}
        if h.kind == "custom" and not h.verified:
            item["verificationToken"] = h.verification_token
        hosts.append(item)
    return {
        "handle": site.handle,
        "mode": site.mode,
        "modeVersion": site.mode_version,
        "liveDeploymentId": site.live_deployment_id,
        "hostnames": hosts,
        "requireReplayGate": site.require_replay_gate,
        "redirectUrl": site.redirect_url,
    }


def render_binding(b: FunctionBinding) -> dict[str, Any]:
    return {
        "id": b.id,
        "deploymentId": b.deployment_id,
        "route": b.route,
        "function": b.function,
        "config": dict(b.config),
        "createdAt": ts(b.created_at),
    }


def render_submission(s: Submission) -> dict[str, Any]:
    return {
        "id": s.id,
        "bindingId": s.binding_id,
        "deploymentId": s.deployment_id,
        "receivedAt": ts(s.received_at),
        "contentType": s.content_type,
        "fields": dict(s.fields),
    }


def render_deployment(
    dep: Deployment, bindings: Sequence[FunctionBinding], live_id: str | None, base_url: str
) -> dict[str, Any]:
    return {
        "id": dep.id,
        "handle": dep.handle,
        "status": dep.status.value,
        "manifest": {
            p: {"sha256": e.sha256, "size": e.size, "contentType": e.content_type}
            for p, e in sorted(dep.manifest.items())
        },
        "functionBindings": [render_binding(b) for b in bindings],
        "message": dep.message,
        "createdBy": dep.created_by,
        "createdAt": ts(dep.created_at),
        "deployedAt": ts(dep.deployed_at),
        "previewUrl": f"{base_url}/v2/handles/{dep.handle}/site-deployments/{dep.id}/preview",
        "live": dep.id == live_id and live_id is not None,
        "missingBlobs": len(dep.missing),
        "fileCount": len(dep.manifest),
        "reason": dep.failed_reason,
        "previewedAt": ts(dep.previewed_at),
        "source": dep.source,
    }


def _svc(ctx: RequestContext) -> Any:
    return ctx.container.sites_service()


async def _dep_json(ctx: RequestContext, access: Any, dep_id: str, **extra: Any) -> dict[str, Any]:
    dep, bindings, site = await _svc(ctx).get_deployment(ctx.uow, access, dep_id)
    out = render_deployment(dep, bindings, site.live_deployment_id, ctx.base_url)
    out.update(extra)
    return out


# -- deployments ---------------------------------------------------------------
@post(f"{BASE}/site-deployments", status_code=201, tags=["sites"])
async def create_deployment(
    handle: str, ctx: RequestContext, message: str | None = Parameter(query="message", default=None)
) -> Response[Any]:
    """Create a deployment from a JSON manifest (answers `required` digests) or a zip/tar archive."""
    access = await ctx.access(handle)
    svc = _svc(ctx)
    ctype = (ctx.request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype in ARCHIVE_TYPES:
        data = await ctx.body_bytes(max_bytes=svc.limits.max_archive_bytes)
        dep, required = await svc.create_from_archive(ctx.uow, access, data, ctype, message)
    else:
        dep, required = await svc.create_deployment(ctx.uow, access, await ctx.json())
    await ctx.quota(handle, "deployments", 1)
    body = await _dep_json(ctx, access, dep.id, required=required)
    return ctx.respond(body, 201, headers={"Location": f"{ctx.base_url}/v2/handles/{handle}/site-deployments/{dep.id}"})


@get(f"{BASE}/site-deployments", tags=["sites"])
async def list_deployments(
    handle: str,
    ctx: RequestContext,
    limit: str | None = Parameter(query="limit", default=None),
    cursor: str | None = Parameter(query="cursor", default=None),
) -> Response[Any]:
    """Deployments, newest first, with `live` and `missingBlobs`."""
    access = await ctx.access(handle)
    svc = _svc(ctx)
    pg, site = await svc.list_deployments(ctx.uow, access, cursor=cursor, limit=parse_limit(limit))
    items = []
    for dep in pg.items:
        bindings = await svc.bindings_of(ctx.uow, dep.id)
        items.append(render_deployment(dep, bindings, site.live_deployment_id, ctx.base_url))
    return ctx.respond({"items": items, "nextCursor": pg.next_cursor})


@get(f"{BASE}/site-deployments/{{deployment_id:str}}", tags=["sites"])
async def get_deployment(handle: str, deployment_id: str, ctx: RequestContext) -> Response[Any]:
    """One deployment with its manifest and function bindings."""
    access = await ctx.access(handle)
    return ctx.respond(await _dep_json(ctx, access, deployment_id))


@put(f"{BASE}/site-deployments/{{deployment_id:str}}/files/{{sha256:str}}", tags=["sites"])
async def upload_blob(handle: str, deployment_id: str, sha256: str, ctx: RequestContext) -> Response[Any]:
    """Upload one blob; the digest is verified while streaming. Completes waiting deployments."""
    access = await ctx.access(handle)
    svc = _svc(ctx)
    from gharart_core.shared.errors import TooLarge

    too_large = TooLarge("body_too_large", f"A blob is at most {svc.limits.max_blob_bytes} bytes.")
    declared = ctx.request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > svc.limits.max_blob_bytes:
        raise too_large
    # The checks run on a read-only unit: the write unit (on SQLite, the one writer's lock) is only
    # taken once the body has streamed into the object store, so a slow upload blocks no other write.
    async with ctx.rt.uow_factory(write=False) as check:
        sha = await svc.check_blob(check, access, deployment_id, sha256)
    try:
        res = await svc.receive_blob(ctx.uow, access, deployment_id, sha, ctx.request.stream(), checked=True)
    except TooLarge as exc:  # a chunked body found too large while streaming: same answer (A.1)
        raise too_large from exc
    # a small answer on purpose: a 2,000-file deploy makes 2,000 of these
    return ctx.respond(
        {
            "id": res.deployment_id,
            "handle": handle,
            "status": res.status.value,
            "missingBlobs": res.missing_blobs,
            "sha256": res.sha256,
            "size": res.size,
            "previewUrl": f"{ctx.base_url}/v2/handles/{handle}/site-deployments/{res.deployment_id}/preview",
        }
    )


@post(f"{BASE}/site-deployments/{{deployment_id:str}}/promote", status_code=200, tags=["sites"])
async def promote(handle: str, deployment_id: str, ctx: RequestContext) -> Response[Any]:
    """Move the live pointer to this deployment (`expectedLiveDeploymentId` guards stale context)."""
    access = await ctx.access(handle)
    body = await ctx.json(required=False)
    dep, site, previous = await _svc(ctx).promote(ctx.uow, access, deployment_id, body)
    return ctx.respond(
        await _dep_json(
            ctx,
            access,
            dep.id,
            previousLiveDeploymentId=previous.id if previous else None,
            site=render_site(site, _svc(ctx)),
        )
    )


@post(f"{BASE}/site-deployments/rollback", status_code=200, tags=["sites"])
async def rollback(handle: str, ctx: RequestContext) -> Response[Any]:
    """`{targetDeploymentId, expectedLiveDeploymentId, reason}`: the old live becomes rolled_back."""
    access = await ctx.access(handle)
    body = await ctx.json()
    dep, site, previous = await _svc(ctx).rollback(ctx.uow, access, body)
    return ctx.respond(
        await _dep_json(
            ctx,
            access,
            dep.id,
            previousLiveDeploymentId=previous.id if previous else None,
            site=render_site(site, _svc(ctx)),
        )
    )


# -- site and site mode ----------------------------------------------------------
@get(f"{BASE}/site", tags=["sites"])
async def get_site(handle: str, ctx: RequestContext) -> Response[Any]:
    """The handle's site: mode, live deployment, hostnames, replay gate."""
    access = await ctx.access(handle)
    site = await _svc(ctx).get_site(ctx.uow, access)
    return ctx.respond(render_site(site, _svc(ctx)), etag=site.mode_version)


@patch(f"{BASE}/site", tags=["sites"])
async def patch_site(handle: str, ctx: RequestContext) -> Response[Any]:
    """Admin: `requireReplayGate`, custom `hostnames`."""
    access = await ctx.access(handle)
    site = await _svc(ctx).patch_site(ctx.uow, access, await ctx.json(), ctx.if_match())
    return ctx.respond(render_site(site, _svc(ctx)), etag=site.mode_version)


@post(f"{BASE}/site/hostnames/{{hostname:str}}/verify", status_code=200, tags=["sites"])
async def verify_hostname(handle: str, hostname: str, ctx: RequestContext) -> Response[Any]:
    """Admin: verify a custom hostname (TXT record `_gharart.<hostname>` = its verificationToken)."""
    access = await ctx.access(handle)
    site = await _svc(ctx).verify_hostname(ctx.uow, access, hostname)
    return ctx.respond(render_site(site, _svc(ctx)), etag=site.mode_version)


@put(f"{BASE}/site-mode", tags=["sites"])
async def put_site_mode(handle: str, ctx: RequestContext) -> Response[Any]:
    """`{mode, expectedModeVersion, message, redirectUrl?}`; effective on the very next request."""
    access = await ctx.access(handle)
    body = await ctx.json()
    site = await _svc(ctx).set_mode(ctx.uow, access, body, ctx.if_match())
    return ctx.respond(render_site(site, _svc(ctx)), etag=site.mode_version)


# -- function bindings -------------------------------------------------------------
@post(f"{BASE}/function-bindings", status_code=201, tags=["sites"])
async def create_binding(handle: str, ctx: RequestContext) -> Response[Any]:
    """`{route, function, config, deploymentId?}`: a binding belongs to one release."""
    access = await ctx.access(handle)
    binding, dep = await _svc(ctx).add_binding(ctx.uow, access, await ctx.json())
    out = render_binding(binding)
    out["deploymentStatus"] = dep.status.value
    return ctx.respond(out, 201)


@get(f"{BASE}/function-bindings", tags=["sites"])
async def list_bindings(
    handle: str,
    ctx: RequestContext,
    deployment_id: str | None = Parameter(query="deploymentId", default=None),
    limit: str | None = Parameter(query="limit", default=None),
    cursor: str | None = Parameter(query="cursor", default=None),
) -> Response[Any]:
    """Bindings, newest first; `?deploymentId=` narrows to one release."""
    access = await ctx.access(handle)
    pg = await _svc(ctx).list_bindings(
        ctx.uow, access, deployment_id=deployment_id, cursor=cursor, limit=parse_limit(limit)
    )
    return ctx.respond({"items": [render_binding(b) for b in pg.items], "nextCursor": pg.next_cursor})


@get(f"{BASE}/function-bindings/{{binding_id:str}}/submissions", tags=["sites"])
async def list_submissions(
    handle: str,
    binding_id: str,
    ctx: RequestContext,
    limit: str | None = Parameter(query="limit", default=None),
    cursor: str | None = Parameter(query="cursor", default=None),
) -> Response[Any]:
    """Form-capture submissions of one binding, newest first."""
    access = await ctx.access(handle)
    pg = await _svc(ctx).list_submissions(ctx.uow, access, binding_id, cursor=cursor, limit=parse_limit(limit))
    return ctx.respond({"items": [render_submission(s) for s in pg.items], "nextCursor": pg.next_cursor})


ROUTES: list[Any] = [
    create_deployment,
    list_deployments,
    get_deployment,
    upload_blob,
    promote,
    rollback,
    get_site,
    patch_site,
    verify_hostname,
    put_site_mode,
    create_binding,
    list_bindings,
    list_submissions,
    *sites_serving.ROUTES,
]
# order matters: the Host rewrite first, then the profile fast path sees the rewritten path
FAST_PATHS: list[Any] = [make_host_fast_path, make_profile_fast_path]
