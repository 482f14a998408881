"""``gharart sites crawl|snapshot|replay``: site intelligence from the command line.

The commands join the ``sites`` command group (the sites area's Typer app when it exists, else
a ``sites`` group of their own). They call the API like every area command (``--url`` for a
server, in-process otherwise), poll the run with a live progress line, and print a readable diff.
``sites replay`` exits 1 when the verdict is ``fail``, so a script can gate a promote on it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import typer

from .common import EXIT_DOMAIN, JsonOpt, TokenOpt, UrlOpt, api, check, console, print_json, run, settings

__all__ = ["NAME", "app", "register", "render_replay"]

NAME = "sites"
HandleOpt = typer.Option(
    ..., "--handle", envvar="GHARART_HANDLE", help="The handle (default $GHARART_HANDLE)."
)
HostOpt = typer.Option(
    None, "--host", help="Hostname to crawl (default: the handle's {handle}.{site domain})."
)
WaitOpt = typer.Option(
    True, "--wait/--no-wait", help="Wait for the run to finish (default) or return at once."
)
TimeoutOpt = typer.Option(600.0, "--timeout", help="Seconds to wait for the run.")
_MARK = {"page_missing": "✗", "new_broken_link": "✗", "status_changed": "!", "content_changed": "~"}


def _base(handle: str, host: str | None) -> str:
    hostname = host or f"{handle}.{settings().site_domain}"
    return f"/v2/handles/{handle}/site-intel/{hostname}"


async def _wait(client: httpx.AsyncClient, url: str, timeout: float, as_json: bool) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    run_: dict[str, Any] = check(await client.get(url), as_json=as_json)
    if as_json:
        while run_["status"] in ("queued", "running") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            run_ = check(await client.get(url), as_json=True)
        return run_
    with console.status(f"{run_['kind']} {run_['runId']}: {run_['status']}") as status:
        while run_["status"] in ("queued", "running") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            run_ = check(await client.get(url))
            status.update(
                f"{run_['kind']} {run_['runId']}: {run_['status']}, {run_.get('pagesDone', 0)} pages"
            )
    return run_


def _short(url: str) -> str:
    return "/" + url.split("/", 3)[3] if url.count("/") >= 3 else url


def render_replay(run_: dict[str, Any]) -> list[str]:
    """The replay's verdict and reasons as lines (failing reasons first)."""
    verdict = run_.get("verdict")
    lines = [
        f"replay {run_['runId']} of {run_.get('deploymentId')} against {run_.get('snapshotId')}: "
        f"{str(verdict or run_['status']).upper()}"
    ]
    failing = [
        r
        for r in run_.get("reasons", [])
        if r["kind"] in ("page_missing", "new_broken_link")
        or (
            r["kind"] == "status_changed"
            and (r["after"] is None or r["after"] >= 400)
            and r["before"] is not None
            and r["before"] < 400
        )
    ]
    others = [r for r in run_.get("reasons", []) if r not in failing]
    for r in failing + others:
        url = _short(r["url"])
        if r["kind"] == "new_broken_link":
            detail = f"{_short(r.get('from') or '?')} -> {url} ({r['after']})"
        elif r["kind"] == "content_changed":
            detail = f"{url} (content {str(r['before'])[:8]} -> {str(r['after'])[:8]})"
        else:
            detail = f"{url} ({r['before']} -> {r['after']})"
        lines.append(f"  {_MARK.get(r['kind'], '?')} {r['kind']:<16} {detail}")
    if not run_.get("reasons"):
        lines.append("  no differences")
    if run_.get("error"):
        lines.append(f"  error: {run_['error']}")
    return lines


def crawl(
    handle: str = HandleOpt,
    host: str | None = HostOpt,
    wait: bool = WaitOpt,
    timeout: float = TimeoutOpt,
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Crawl the site (from /, following same-host links) into a new snapshot."""
    base = _base(handle, host)

    async def go() -> tuple[dict[str, Any], dict[str, Any] | None]:
        async with api(token, url) as client:
            started = check(await client.post(f"{base}/crawl-runs"), as_json=as_json)
            if not wait:
                return started, None
            done = await _wait(client, f"{base}/crawl-runs/{started['runId']}", timeout, as_json)
            snap = None
            if done.get("snapshotId"):
                snap = check(
                    await client.get(f"{base}/snapshot", params={"snapshotId": done["snapshotId"]}),
                    as_json=as_json,
                )
            return done, snap

    done, snap = run(go())
    if as_json:
        print_json(done)
    elif snap is None:
        console.print(
            f"crawl {done['runId']}: {done['status']}" + (f" ({done['error']})" if done.get("error") else "")
        )
    else:
        counts = snap["counts"]
        console.print(
            f"crawl {done['runId']}: {done['status']}; snapshot {snap['snapshotId']}: "
            f"{counts['pages']} pages, {counts['broken']} broken links"
        )
        for b in snap["brokenLinks"][:20]:
            console.print(f"  broken: {_short(b['from'])} -> {_short(b['to'])} ({b['status']})")
    if done["status"] == "failed":
        raise typer.Exit(EXIT_DOMAIN)


def snapshot(
    handle: str = HandleOpt,
    host: str | None = HostOpt,
    snapshot_id: str | None = typer.Option(None, "--id", help="A snapshot id (default: the latest)."),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show a snapshot: every page with its status and title, and the broken links."""
    base = _base(handle, host)

    async def go() -> dict[str, Any]:
        async with api(token, url) as client:
            params = {"snapshotId": snapshot_id} if snapshot_id else None
            out: dict[str, Any] = check(await client.get(f"{base}/snapshot", params=params), as_json=as_json)
            return out

    snap = run(go())
    if as_json:
        print_json(snap)
        return
    console.print(
        f"snapshot {snap['snapshotId']} of {snap['hostname']} at {snap['createdAt']}: "
        f"{snap['counts']['pages']} pages, {snap['counts']['broken']} broken links"
    )
    for p in snap["pages"]:
        status = p["status"] if p["status"] is not None else p.get("error")
        console.print(f"  {status!s:>7}  {_short(p['url'])}  {p.get('title') or ''}", markup=False)
    for b in snap["brokenLinks"]:
        console.print(f"  broken: {_short(b['from'])} -> {_short(b['to'])} ({b['status']})", markup=False)


def replay(
    deployment: str = typer.Option(..., "--deployment", help="The deployment to replay against."),
    handle: str = HandleOpt,
    host: str | None = HostOpt,
    snapshot_id: str | None = typer.Option(None, "--snapshot", help="Snapshot id (default: the latest)."),
    wait: bool = WaitOpt,
    timeout: float = TimeoutOpt,
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Replay a snapshot against a deployment's preview and show what would break (exit 1 on fail)."""
    base = _base(handle, host)

    async def go() -> dict[str, Any]:
        async with api(token, url) as client:
            snp = snapshot_id
            if snp is None:
                snp = check(await client.get(f"{base}/snapshot"), as_json=as_json)["snapshotId"]
            started: dict[str, Any] = check(
                await client.post(
                    f"{base}/replay-runs", json={"snapshotId": snp, "deploymentId": deployment}
                ),
                as_json=as_json,
            )
            if not wait:
                return started
            return await _wait(client, f"{base}/replay-runs/{started['runId']}", timeout, as_json)

    done = run(go())
    if as_json:
        print_json(done)
    else:
        for line in render_replay(done):
            console.print(line, markup=False)
    if done["status"] == "failed" or done.get("verdict") == "fail":
        raise typer.Exit(EXIT_DOMAIN)


def register(group: typer.Typer) -> None:
    """Add ``crawl``, ``snapshot`` and ``replay`` to a ``sites`` command group."""
    group.command("crawl")(crawl)
    group.command("snapshot")(snapshot)
    group.command("replay")(replay)


def _sites_group() -> typer.Typer | None:
    try:
        from . import sites as sites_cli  # type: ignore[attr-defined]
    except ImportError:
        return None
    group = getattr(sites_cli, "app", None)
    return group if isinstance(group, typer.Typer) else None


_group = _sites_group()
if _group is not None:
    register(_group)
    app = None  # joined the sites area's group; nothing more to add
else:
    app = typer.Typer(help="Sites: crawl, snapshot and replay.", no_args_is_help=True)
    register(app)
