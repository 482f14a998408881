"""``gharart files ...``: upload with progress, list, share, extend, change mode, purge.

Every command except ``purge`` goes through the API with a bearer token (``--token`` /
``GHARART_TOKEN``) on a handle (``--handle`` / ``GHARART_HANDLE``): to a running server with
``--url`` / ``GHARART_URL``, else in-process against the configured store. ``purge`` runs locally.
Exit codes: 0 ok, 1 the service refused (problem printed), 2 usage error.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from .common import api as api_client
from .common import run

__all__ = ["app", "parse_when"]

app = typer.Typer(help="Upload, share and manage files.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

URL = typer.Option(None, "--url", envvar="GHARART_URL", help="Service URL (default http://127.0.0.1:8000).")
TOKEN = typer.Option(None, "--token", envvar="GHARART_TOKEN", help="Bearer token (a PAT).")
HANDLE = typer.Option(None, "--handle", envvar="GHARART_HANDLE", help="The handle owning the files.")
JSON = typer.Option(False, "--json", help="Machine-readable output.")
CHUNK = 256 * 1024


def parse_when(value: str) -> str:
    """RFC 3339, or a date (``2026-12-31`` = the end of that day, UTC), or ``+7d`` / ``+12h``."""
    v = value.strip()
    if v.startswith("+") and v[-1:] in ("d", "h") and v[1:-1].isascii() and v[1:-1].isdigit():
        delta = timedelta(days=int(v[1:-1])) if v[-1] == "d" else timedelta(hours=int(v[1:-1]))
        return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        if "T" not in v.upper():
            day = datetime.strptime(v, "%Y-%m-%d").date()
            return datetime.combine(day, time(23, 59, 59), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not a date or RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("add a timezone offset, e.g. 2026-12-31T23:59:59Z")
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Api:
    def __init__(self, url: str | None, token: str | None, handle: str | None) -> None:
        if not token:
            err.print("[red]No token:[/] pass --token or set GHARART_TOKEN.")
            raise typer.Exit(2)
        if not handle:
            err.print("[red]No handle:[/] pass --handle or set GHARART_HANDLE.")
            raise typer.Exit(2)
        self.url, self.token, self.handle = url, token, handle

    def request(self, method: str, path: str, **kw: Any) -> Any:
        async def go() -> httpx.Response:
            async with api_client(self.token, self.url) as client:
                return await client.request(method, path, **kw)

        return self.check(run(go()))

    def files(self, suffix: str = "") -> str:
        return f"/v2/handles/{self.handle}/files{suffix}"

    def check(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            try:
                body = r.json()
                err.print(
                    f"[red]{r.status_code} {body.get('code')}[/]: {body.get('detail')} "
                    f"(requestId {body.get('requestId')})"
                )
                for e in body.get("errors") or []:
                    err.print(f"  {e.get('field')}: {e.get('code')} {e.get('message', '')}")
            except ValueError:
                err.print(f"[red]{r.status_code}[/] {r.text[:300]}")
            raise typer.Exit(1)
        return r.json() if r.content else None


def _show(data: Any, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(data))
        return
    items = data["items"] if isinstance(data, dict) and "items" in data else [data]
    table = Table("id", "name", "mode", "size", "expiresAt", "shares", "accessVersion")
    for f in items:
        table.add_row(
            f["id"],
            f["name"],
            f["mode"],
            str(f["size"]),
            f.get("expiresAt") or "-",
            str(f.get("shareCount", 0)),
            str(f.get("accessVersion")),
        )
    console.print(table)


def _multipart(
    path: Path, fields: dict[str, str], progress: Progress, task: Any, boundary: str
) -> tuple[AsyncIterator[bytes], int]:
    """A streamed multipart body (never the whole file in memory) and its exact length."""
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    safe = path.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe}"\r\n'
        f"Content-Type: {ctype}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size

    async def body() -> AsyncIterator[bytes]:
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                progress.update(task, advance=len(chunk))
                yield chunk
        yield tail

    return body(), len(head) + size + len(tail)


@app.command()
def upload(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    mode: str = typer.Option("private", "--mode", help="private | link | public"),
    expires: str | None = typer.Option(None, "--expires", help="Expiry (RFC 3339, date or +7d)."),
    name: str | None = typer.Option(None, "--name"),
    tags: str | None = typer.Option(None, "--tags"),
    url: str | None = URL,
    token: str | None = TOKEN,
    handle: str | None = HANDLE,
    as_json: bool = JSON,
) -> None:
    """Upload PATH (streamed, with a progress bar)."""
    if mode not in ("private", "link", "public"):
        raise typer.BadParameter("mode is private, link or public", param_hint="--mode")
    api = _Api(url, token, handle)
    fields = {"mode": mode}
    if expires:
        fields["expiresAt"] = parse_when(expires)
    if name:
        fields["name"] = name
    if tags:
        fields["tags"] = tags
    boundary = "gharart-" + secrets.token_hex(12)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=as_json,
    ) as progress:
        task = progress.add_task(path.name, total=path.stat().st_size)
        body, length = _multipart(path, fields, progress, task, boundary)
        data = api.request(
            "POST",
            api.files(),
            content=body,
            timeout=httpx.Timeout(None, connect=10.0),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
    _show(data, as_json)


@app.command("list")
def list_files(
    mode: str | None = typer.Option(None, "--mode"),
    expired: bool | None = typer.Option(None, "--expired/--live"),
    tag: str | None = typer.Option(None, "--tag"),
    url: str | None = URL,
    token: str | None = TOKEN,
    handle: str | None = HANDLE,
    as_json: bool = JSON,
) -> None:
    """List files with mode, expiry, size and share count."""
    api = _Api(url, token, handle)
    params: dict[str, str] = {"limit": "500"}
    if mode:
        params["mode"] = mode
    if expired is not None:
        params["expired"] = "true" if expired else "false"
    if tag:
        params["tag"] = tag
    _show(api.request("GET", api.files(), params=params), as_json)


@app.command()
def share(
    file_id: str,
    to: list[str] = typer.Option(..., "--to", help="Recipient email (repeatable)."),
    expires: str | None = typer.Option(None, "--expires"),
    note: str | None = typer.Option(None, "--note"),
    url: str | None = URL,
    token: str | None = TOKEN,
    handle: str | None = HANDLE,
    as_json: bool = JSON,
) -> None:
    """Grant recipients access; each one is mailed a magic link."""
    api = _Api(url, token, handle)
    body: dict[str, Any] = {"emails": to}
    if expires:
        body["expiresAt"] = parse_when(expires)
    if note:
        body["note"] = note
    data = api.request("POST", api.files(f"/{file_id}/shares"), json=body)
    if as_json:
        console.print_json(json.dumps(data))
    else:
        for s in data["items"]:
            console.print(f"shared with {s['email']} ({s['id']}); link mailed")


def _patch(api: _Api, file_id: str, body: dict[str, Any], as_json: bool) -> None:
    _show(api.request("PATCH", api.files(f"/{file_id}"), json=body), as_json)


@app.command()
def extend(
    file_id: str,
    until: str = typer.Option(..., "--until", help="New expiry (RFC 3339, date or +7d)."),
    url: str | None = URL,
    token: str | None = TOKEN,
    handle: str | None = HANDLE,
    as_json: bool = JSON,
) -> None:
    """Move the file's expiry; existing links keep working."""
    _patch(_Api(url, token, handle), file_id, {"expiresAt": parse_when(until)}, as_json)


@app.command("mode")
def set_mode(
    file_id: str,
    mode: str = typer.Argument(..., help="private | link | public"),
    url: str | None = URL,
    token: str | None = TOKEN,
    handle: str | None = HANDLE,
    as_json: bool = JSON,
) -> None:
    """Change the access mode (retires links issued before; recipients request new ones)."""
    if mode not in ("private", "link", "public"):
        raise typer.BadParameter("mode is private, link or public", param_hint="MODE")
    _patch(_Api(url, token, handle), file_id, {"mode": mode}, as_json)


@app.command()
def purge(as_json: bool = JSON) -> None:
    """Delete the bytes of files deleted longer ago than GHARART_FILE_RETENTION_S (runs locally)."""
    from entrypoints.containers import build_container

    async def run() -> int:
        container = build_container()
        try:
            return int(await container.files_service().purge())
        finally:
            db = getattr(container, "database", None)
            if db is not None:
                await db().dispose()

    count = asyncio.run(run())
    if as_json:
        console.print_json(json.dumps({"purged": count}))
    else:
        console.print(f"purged {count} file(s)")
