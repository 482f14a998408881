"""``gharart links …``: import, export, history, rollback and health checks over the API.

Every command talks to the API (``--url`` for a server, in-process otherwise) with ``--token``,
so it gets the same checks and answers as any client.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import JsonOpt, TokenOpt, UrlOpt, api, check, console, fail, print_json, run

__all__ = ["NAME", "app"]

NAME = "links"
app = typer.Typer(help="Links: bulk import/export, history, rollback, health checks.", no_args_is_help=True)
HandleOpt = typer.Option(..., "--handle", "-H", envvar="GHARART_HANDLE", help="Handle (default $GHARART_HANDLE).")


def _base(handle: str) -> str:
    return f"/v2/handles/{handle}/links"


@app.command("import")
def import_links(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV or JSON-lines file."),
    handle: str = HandleOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row, write nothing."),
    mode: str = typer.Option("atomic", "--mode", help="atomic (all or nothing) or partial."),
    errors_out: Path | None = typer.Option(None, "--errors", help="Where to write errors.csv "
                                           "(default FILE.errors.csv when rows fail)."),
    token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt,
) -> None:
    """Import links from FILE with a progress bar; failed rows go to an error CSV."""
    if mode not in ("atomic", "partial"):
        raise typer.BadParameter("mode is atomic or partial", param_hint="--mode")
    chosen = "dryRun" if dry_run else mode
    ctype = "application/x-ndjson" if file.suffix.lower() in (".jsonl", ".ndjson") else "text/csv"
    size = file.stat().st_size

    async def go() -> Any:
        async with api(token, url) as client:
            with Progress(TextColumn("[bold]upload"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                          console=console, transient=as_json, disable=as_json) as progress:
                task = progress.add_task("upload", total=size)

                async def body() -> AsyncIterator[bytes]:
                    with file.open("rb") as fh:
                        while chunk := fh.read(256 * 1024):
                            progress.advance(task, len(chunk))
                            yield chunk

                r = await client.post(f"{_base(handle)}/bulk-import", params={"mode": chosen}, content=body(),
                                      headers={"Content-Type": ctype})
            data = r.json() if r.headers.get("content-type", "").endswith("json") else {}
            run_info = data.get("run", data) if r.status_code in (200, 202, 422) else None
            if r.status_code == 202:
                run_info = await _wait_import(client, handle, data["runId"], as_json)
            if run_info and run_info.get("counts", {}).get("failed"):
                out = errors_out or file.with_name(file.name + ".errors.csv")
                er = await client.get(f"{_base(handle)}/bulk-import/{run_info['runId']}/errors.csv")
                if er.status_code == 200:
                    out.write_bytes(er.content)
                    run_info["errorsFile"] = str(out)
            if r.status_code >= 400 and r.status_code != 422:
                check(r, as_json=as_json)
            return r.status_code, run_info

    status, info = run(go())
    if as_json:
        print_json(info)
    else:
        counts = info.get("counts", {}) if info else {}
        console.print(f"run {info.get('runId') if info else '?'} ({chosen}): {info.get('status') if info else ''} "
                      + " ".join(f"{k}={v}" for k, v in counts.items()))
        if info and info.get("errorsFile"):
            console.print(f"failed rows written to [bold]{info['errorsFile']}[/bold]")
        if status == 422:
            console.print("[red]import_failed[/red]: atomic import with failed rows; nothing was written")
    if status >= 400:
        raise typer.Exit(1)


async def _wait_import(client: Any, handle: str, run_id: str, quiet: bool) -> dict[str, Any]:
    with Progress(TextColumn("[bold]importing"), TimeElapsedColumn(), console=console, disable=quiet) as p:
        p.add_task("import", total=None)
        while True:
            data: dict[str, Any] = check(await client.get(f"{_base(handle)}/bulk-import/{run_id}"))
            if data["status"] != "running":
                return data
            await asyncio.sleep(0.5)


@app.command("export")
def export_links(
    handle: str = HandleOpt,
    fmt: str = typer.Option("csv", "--format", help="csv or jsonl"),
    history: bool = typer.Option(False, "--history", help="Include each link's version history."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
    token: str | None = TokenOpt, url: str | None = UrlOpt,
) -> None:
    """Stream every link to a file or stdout (round-trips through `links import`)."""

    async def go() -> None:
        async with api(token, url) as client:
            params = {"format": fmt, "includeHistory": "true" if history else "false"}
            async with client.stream("GET", f"{_base(handle)}/export", params=params) as r:
                if r.status_code >= 400:
                    await r.aread()
                    check(r)
                sink = output.open("wb") if output else sys.stdout.buffer
                try:
                    async for chunk in r.aiter_bytes():
                        sink.write(chunk)
                finally:
                    if output:
                        sink.close()

    run(go())
    if output:
        console.print(f"exported to {output}")


@app.command("history")
def history(slug: str = typer.Argument(...), handle: str = HandleOpt,
            limit: int = typer.Option(50, "--limit", min=1, max=500),
            token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """A link's versions, newest first."""

    async def go() -> Any:
        async with api(token, url) as client:
            return check(await client.get(f"{_base(handle)}/{slug}/history", params={"limit": limit}),
                         as_json=as_json)

    data = run(go())
    if as_json:
        print_json(data)
        return
    table = Table("version", "source", "destination", "rules", "by", "at", "reason", "run")
    for v in data["items"]:
        table.add_row(str(v["version"]), v["source"], v["destination"], str(len(v["rules"])),
                      v.get("createdBy") or "", v["createdAt"], v.get("reason") or "", v.get("runId") or "")
    console.print(table)


@app.command("rollback")
def rollback(slug: str = typer.Argument(...), handle: str = HandleOpt,
             to: int = typer.Option(..., "--to", min=1, help="The version to restore."),
             expect: int = typer.Option(..., "--expect", min=1, help="The version you believe is current."),
             reason: str | None = typer.Option(None, "--reason"),
             token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """Roll SLUG back to version --to, only if it is still at --expect (else 409 stale_version)."""

    async def go() -> Any:
        async with api(token, url) as client:
            body: dict[str, Any] = {"targetVersion": to, "expectedCurrentVersion": expect}
            if reason:
                body["reason"] = reason
            return check(await client.post(f"{_base(handle)}/{slug}/rollback", json=body), as_json=as_json)

    link = run(go())
    if as_json:
        print_json(link)
    else:
        console.print(f"{slug} is now at version {link['version']} -> {link['destination']}")


@app.command("health-check")
def health_check(handle: str = HandleOpt,
                 tag: str | None = typer.Option(None, "--tag"),
                 slugs: list[str] = typer.Option([], "--slug", help="Check only these slugs (repeatable)."),
                 show: str | None = typer.Option(None, "--show", help="List results of one classification."),
                 token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """Start a health-check run and follow it live."""

    async def go() -> Any:
        async with api(token, url) as client:
            body: dict[str, Any] = {}
            if slugs:
                body["slugs"] = slugs
            elif tag:
                body["tag"] = tag
            started = check(await client.post(f"{_base(handle)}/health-check", json=body), as_json=as_json)
            run_id = started["runId"]
            with Progress(TextColumn("[bold]checking"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TimeElapsedColumn(), console=console, disable=as_json) as progress:
                task = progress.add_task("check", total=None)
                while True:
                    data = check(await client.get(f"{_base(handle)}/health-check/{run_id}"))
                    progress.update(task, total=data.get("total") or None, completed=len(data["results"]))
                    if data["status"] in ("completed", "failed"):
                        return data
                    await asyncio.sleep(0.5)

    data = run(go())
    if as_json:
        print_json(data)
        return
    console.print(f"run {data['runId']}: {data['status']}  " + json.dumps(data["counts"]))
    rows = [r for r in data["results"] if (show and r["classification"] == show) or
            (not show and r["classification"] not in ("ok", "redirect"))]
    if rows:
        table = Table("slug", "classification", "status", "ms", "destination", "detail")
        for r in rows:
            table.add_row(r["slug"], r["classification"], str(r["httpStatus"] or ""), str(r["durationMs"]),
                          r["destination"], r.get("detail") or "")
        console.print(table)
    if data["status"] == "failed":
        fail("the health-check run failed")
