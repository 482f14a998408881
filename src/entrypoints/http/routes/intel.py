"""HTTP routes of site intelligence: crawl runs, snapshots, replay runs (SPEC §6, A.3)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.params import Parameter

from entrypoints.http.context import RequestContext
from gharart_core.intel.model import CRAWL, REPLAY, Reason, Run, Snapshot
from gharart_core.shared.clock import format_ts

__all__ = ["ROUTES", "render_run", "render_snapshot"]

BASE = "/v2/handles/{handle:str}/site-intel/{hostname:str}"


def _reason(reason: Reason) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": reason.kind,
        "url": reason.url,
        "before": reason.before,
        "after": reason.after,
    }
    if reason.source is not None:
        out["from"] = reason.source
    return out


def render_run(run: Run) -> dict[str, Any]:
    return {
        "runId": run.id,
        "kind": run.kind,
        "status": run.status,
        "hostname": run.hostname,
        "createdAt": format_ts(run.created_at),
        "startedAt": format_ts(run.started_at),
        "finishedAt": format_ts(run.finished_at),
        "snapshotId": run.snapshot_id,
        "deploymentId": run.deployment_id,
        "verdict": run.verdict,
        "reasons": [_reason(r) for r in run.reasons],
        "pagesDone": run.pages_done,
        "error": run.error,
    }


def render_snapshot(snap: Snapshot) -> dict[str, Any]:
    return {
        "snapshotId": snap.id,
        "hostname": snap.hostname,
        "createdAt": format_ts(snap.created_at),
        "runId": snap.run_id,
        "pages": [
            {
                "url": p.url,
                "status": p.status,
                "contentType": p.content_type,
                "digest": p.digest,
                "title": p.title,
                "links": list(p.links),
                "timingMs": p.timing_ms,
                "error": p.error,
            }
            for p in snap.pages
        ],
        "brokenLinks": [{"from": b.from_url, "to": b.to_url, "status": b.status} for b in snap.broken_links],
        "counts": {"pages": len(snap.pages), "broken": len(snap.broken_links)},
    }


@post(f"{BASE}/crawl-runs", status_code=202)
async def start_crawl_run(handle: str, hostname: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    run = await ctx.container.intel_service().start_crawl(ctx.uow, access, hostname)
    return ctx.respond(render_run(run), status=202)


@get(f"{BASE}/crawl-runs/{{run_id:str}}")
async def get_crawl_run(handle: str, hostname: str, run_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    run = await ctx.container.intel_service().get_run(ctx.uow, access, hostname, run_id, CRAWL)
    return ctx.respond(render_run(run))


@get(f"{BASE}/snapshot")
async def get_snapshot(
    handle: str,
    hostname: str,
    ctx: RequestContext,
    snapshot_id: str | None = Parameter(query="snapshotId", default=None),
) -> Response[Any]:
    access = await ctx.access(handle)
    snap = await ctx.container.intel_service().get_snapshot(ctx.uow, access, hostname, snapshot_id)
    return ctx.respond(render_snapshot(snap))


@post(f"{BASE}/replay-runs", status_code=202)
async def start_replay_run(handle: str, hostname: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    run = await ctx.container.intel_service().start_replay(ctx.uow, access, hostname, body)
    return ctx.respond(render_run(run), status=202)


@get(f"{BASE}/replay-runs/{{run_id:str}}")
async def get_replay_run(handle: str, hostname: str, run_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    run = await ctx.container.intel_service().get_run(ctx.uow, access, hostname, run_id, REPLAY)
    return ctx.respond(render_run(run))


ROUTES: list[Any] = [start_crawl_run, get_crawl_run, get_snapshot, start_replay_run, get_replay_run]
