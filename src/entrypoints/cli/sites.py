"""``gharart sites``: deploy a directory (uploading only missing blobs), list, preview, promote,
roll back and change the site mode."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .common import JsonOpt, TokenOpt, UrlOpt, api, check, console, fail, print_json, run

__all__ = ["NAME", "app", "hash_tree"]

NAME = "sites"
app = typer.Typer(help="Site deployments: deploy, list, preview, promote, rollback, mode.", no_args_is_help=True)
HandleOpt = typer.Option(..., "--handle", "-H", envvar="GHARART_HANDLE", help="Handle (default $GHARART_HANDLE).")
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules"}


def hash_tree(root: Path, progress: Progress | None = None) -> dict[str, tuple[str, int, Path]]:
    """``{relative posix path: (sha256, size, file)}`` for the regular files under ``root``
    (symlinks and version-control folders are skipped)."""
    files = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part in SKIP_DIRS for part in rel.parts) or p.is_symlink() or not p.is_file():
            continue
        files.append((rel.as_posix(), p))
    task = progress.add_task("hashing", total=len(files)) if progress else None
    out: dict[str, tuple[str, int, Path]] = {}
    for rel_path, p in files:
        h = hashlib.sha256()
        size = 0
        with p.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        out[rel_path] = (h.hexdigest(), size, p)
        if progress is not None and task is not None:
            progress.advance(task)
    return out


def _base(handle: str) -> str:
    return f"/v2/handles/{handle}"


@app.command()
def deploy(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, dir_okay=True),
    handle: str = HandleOpt,
    message: str = typer.Option("", "--message", "-m"),
    promote: bool = typer.Option(False, "--promote", help="Promote once deployed."),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Hash DIR locally, create a deployment and upload only the blobs the server lacks."""

    async def go() -> dict[str, Any]:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=as_json,
        ) as progress:
            tree = hash_tree(directory, progress)
            if not tree:
                fail("the directory has no files")
            manifest = {p: {"sha256": s, "size": n} for p, (s, n, _) in tree.items()}
            async with api(token, url) as client:
                dep = check(
                    await client.post(
                        f"{_base(handle)}/site-deployments", json={"manifest": manifest, "message": message}
                    ),
                    as_json=as_json,
                )
                by_sha = {s: f for s, _, f in tree.values()}
                sizes = {s: n for s, n, _ in tree.values()}
                required = dep.get("required", [])
                task = progress.add_task(
                    f"uploading {len(required)} of {len(by_sha)} blobs", total=sum(sizes[d] for d in required)
                )
                for digest in required:
                    data = by_sha[digest].read_bytes()
                    done = check(
                        await client.put(f"{_base(handle)}/site-deployments/{dep['id']}/files/{digest}", content=data),
                        as_json=as_json,
                    )
                    dep["status"], dep["missingBlobs"] = done["status"], done["missingBlobs"]
                    progress.advance(task, len(data))
                dep["uploaded"] = len(required)
                if promote:
                    live = check(await client.get(f"{_base(handle)}/site"), as_json=as_json)
                    check(
                        await client.post(
                            f"{_base(handle)}/site-deployments/{dep['id']}/promote",
                            json={"expectedLiveDeploymentId": live["liveDeploymentId"]},
                        ),
                        as_json=as_json,
                    )
                    dep["live"] = True
                return dep

    dep = run(go())
    if as_json:
        print_json({k: v for k, v in dep.items() if k != "manifest"})
        return
    console.print(
        f"[bold]{dep['id']}[/bold] {dep['status']}: {dep['fileCount']} files, "
        f"{dep['uploaded']} blob(s) uploaded{', live' if dep.get('live') else ''}"
    )
    console.print(f"preview: {dep['previewUrl']}")


@app.command("list")
def list_(
    handle: str = HandleOpt,
    limit: int = typer.Option(20, "--limit"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Deployments, newest first."""

    async def go() -> Any:
        async with api(token, url) as client:
            return check(
                await client.get(f"{_base(handle)}/site-deployments", params={"limit": limit}), as_json=as_json
            )

    data = run(go())
    if as_json:
        print_json([{k: v for k, v in d.items() if k != "manifest"} for d in data["items"]])
        return
    table = Table("id", "status", "live", "files", "missing", "created", "message")
    for d in data["items"]:
        table.add_row(
            d["id"],
            d["status"],
            "●" if d["live"] else "",
            str(d["fileCount"]),
            str(d["missingBlobs"]),
            d["createdAt"],
            d["message"][:40],
        )
    console.print(table)


@app.command()
def preview(
    deployment_id: str,
    handle: str = HandleOpt,
    path: str = typer.Option("", "--path"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Fetch one path of a deployment's preview (names missing blobs when it is not deployed)."""

    async def go() -> Any:
        async with api(token, url) as client:
            r = await client.get(f"{_base(handle)}/site-deployments/{deployment_id}/preview/{path}")
            if r.status_code >= 400:
                check(r, as_json=as_json)
            return r

    r = run(go())
    if as_json:
        print_json(
            {
                "status": r.status_code,
                "deployment": r.headers.get("x-gharart-deployment"),
                "contentType": r.headers.get("content-type"),
                "etag": r.headers.get("etag"),
                "size": len(r.content),
            }
        )
        return
    console.print(
        f"{r.status_code} {r.headers.get('content-type')} {len(r.content)} bytes "
        f"from {r.headers.get('x-gharart-deployment')}"
    )


@app.command()
def promote(
    deployment_id: str,
    handle: str = HandleOpt,
    expect: str | None = typer.Option(None, "--expect", help="Expected live deployment ('none' = nothing)."),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Make a deployed deployment live."""

    async def go() -> Any:
        async with api(token, url) as client:
            body: dict[str, Any] = {}
            if expect is not None:
                body["expectedLiveDeploymentId"] = None if expect.lower() == "none" else expect
            return check(
                await client.post(f"{_base(handle)}/site-deployments/{deployment_id}/promote", json=body),
                as_json=as_json,
            )

    dep = run(go())
    print_json({k: v for k, v in dep.items() if k != "manifest"}) if as_json else console.print(
        f"{dep['id']} is live (was {dep.get('previousLiveDeploymentId')})"
    )


@app.command()
def rollback(
    to: str = typer.Option(..., "--to"),
    expect: str = typer.Option(..., "--expect"),
    reason: str = typer.Option("", "--reason"),
    handle: str = HandleOpt,
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Put an earlier release back live; the current one becomes rolled_back."""

    async def go() -> Any:
        async with api(token, url) as client:
            return check(
                await client.post(
                    f"{_base(handle)}/site-deployments/rollback",
                    json={
                        "targetDeploymentId": to,
                        "expectedLiveDeploymentId": None if expect.lower() == "none" else expect,
                        "reason": reason or None,
                    },
                ),
                as_json=as_json,
            )

    dep = run(go())
    print_json({k: v for k, v in dep.items() if k != "manifest"}) if as_json else console.print(
        f"{dep['id']} is live again; {dep.get('previousLiveDeploymentId')} rolled back"
    )


@app.command()
def mode(
    new_mode: str = typer.Argument(..., metavar="MODE", help="live | maintenance | private | redirect"),
    handle: str = HandleOpt,
    expect: int | None = typer.Option(None, "--expect", help="Expected modeVersion."),
    redirect_url: str | None = typer.Option(None, "--redirect-url"),
    message: str = typer.Option("", "-m"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Change the site mode (reads the current modeVersion unless --expect is given)."""

    async def go() -> Any:
        async with api(token, url) as client:
            version = expect
            if version is None:
                version = check(await client.get(f"{_base(handle)}/site"), as_json=as_json)["modeVersion"]
            body: dict[str, Any] = {"mode": new_mode, "expectedModeVersion": version, "message": message or None}
            if redirect_url:
                body["redirectUrl"] = redirect_url
            return check(await client.put(f"{_base(handle)}/site-mode", json=body), as_json=as_json)

    site = run(go())
    print_json(site) if as_json else console.print(f"{handle}: mode {site['mode']} (version {site['modeVersion']})")
