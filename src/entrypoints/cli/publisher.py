"""``gharart publisher``: the IGNY8-compatible publisher API from the command line.

Talks to ``/api/v1/publisher/`` like any other client (``--url`` for a running server, else
in-process). Answers are the IGNY8 envelope; ``--json`` prints it whole.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer
from rich.table import Table

from .common import EXIT_DOMAIN, EXIT_USAGE, JsonOpt, TokenOpt, UrlOpt, api, console, fail, print_json, run

__all__ = ["NAME", "app"]

NAME = "publisher"
API = "/api/v1/publisher"
app = typer.Typer(help="IGNY8-compatible publishing: records, publish, retry, status.", no_args_is_help=True)


def _envelope(response: httpx.Response, as_json: bool) -> Any:
    """The envelope's ``data``; a failed answer exits 1 with its message and field errors."""
    try:
        body = response.json()
    except ValueError:
        fail(f"HTTP {response.status_code}: {response.text[:300]}")
    if as_json:
        print_json(body)
    if not body.get("success"):
        from .support import remember_request_id

        remember_request_id(response)
        if not as_json:
            console.print(f"[red]{response.status_code}[/red] {body.get('message')}"
                          f"  (request_id {body.get('request_id')})")
            for field, messages in (body.get("errors") or {}).items():
                console.print(f"  - {field}: {'; '.join(messages)}")
        raise typer.Exit(EXIT_DOMAIN)
    return body.get("data")


def _record_table(rows: list[dict[str, Any]]) -> None:
    table = Table("id", "site", "sector", "content", "destination", "status", "attempts", "external_url / error")
    for r in rows:
        table.add_row(r["id"], r["site_id"], r["sector_id"], r["content_id"], r["destination"], r["status"],
                      str(r["attempts"]), r.get("external_url") or r.get("error") or "")
    console.print(table)


@app.command("records")
def records(site: str | None = typer.Option(None, "--site"), sector: str | None = typer.Option(None, "--sector"),
            status: str | None = typer.Option(None, "--status"), page: int = typer.Option(1, "--page"),
            page_size: int = typer.Option(10, "--page-size"), token: str | None = TokenOpt,
            url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """List publishing records (GET publishing-records/)."""
    params = {k: v for k, v in {"site_id": site, "sector_id": sector, "status": status, "page": page,
                                "page_size": page_size}.items() if v is not None}

    async def go() -> Any:
        async with api(token, url) as client:
            return _envelope(await client.get(f"{API}/publishing-records/", params=params), as_json)

    data = run(go())
    if not as_json:
        _record_table(data["results"])
        console.print(f"{data['count']} record(s)" + (f"; next page: {page + 1}" if data["next"] else ""))


@app.command("publish")
def publish(site: str = typer.Option(..., "--site"), content_id: str = typer.Option(..., "--content-id"),
            destination: str = typer.Option(..., "--destination", help="site or webhook"),
            title: str = typer.Option("", "--title"), sector: str | None = typer.Option(None, "--sector"),
            content_file: typer.FileText | None = typer.Option(None, "--content-file", help="HTML to publish"),
            config: str = typer.Option("{}", "--config", help='JSON, e.g. {"url": "https://…"}'),
            idempotency_key: str | None = typer.Option(None, "--idempotency-key"),
            token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """Publish a content item now (POST publish/)."""
    try:
        cfg = json.loads(config)
    except ValueError:
        fail("--config is not JSON", EXIT_USAGE)
    body: dict[str, Any] = {"site_id": site, "content_id": content_id, "destination": destination,
                            "title": title, "config": cfg}
    if sector:
        body["sector_id"] = sector
    if content_file is not None:
        body["content"] = content_file.read()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    async def go() -> Any:
        async with api(token, url) as client:
            return _envelope(await client.post(f"{API}/publish/", json=body, headers=headers), as_json)

    data = run(go())
    if not as_json:
        _record_table([data])
        if data["status"] == "failed":
            raise typer.Exit(EXIT_DOMAIN)


@app.command("retry")
def retry(record_id: str, idempotency_key: str | None = typer.Option(None, "--idempotency-key"),
          token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """Retry a failed publish (POST publishing-records/{id}/retry/); a published record is left alone."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    async def go() -> Any:
        async with api(token, url) as client:
            return _envelope(await client.post(f"{API}/publishing-records/{record_id}/retry/", headers=headers),
                             as_json)

    data = run(go())
    if not as_json:
        _record_table([data])
        if data["status"] == "failed":
            raise typer.Exit(EXIT_DOMAIN)


@app.command("status")
def status(site: str | None = typer.Option(None, "--site"), token: str | None = TokenOpt,
           url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """Per-site summary: records by status, last publish, live deployment (GET status/)."""

    async def go() -> Any:
        async with api(token, url) as client:
            return _envelope(await client.get(f"{API}/status/", params={"site_id": site} if site else {}),
                             as_json)

    data = run(go())
    if not as_json:
        table = Table("site", "account", "pending", "publishing", "published", "failed", "last published",
                      "live deployment")
        for s in data["results"]:
            p = s["publishing"]
            table.add_row(s["site_id"], s["account_id"], str(p["pending"]), str(p["publishing"]),
                          str(p["published"]), str(p["failed"]), s["last_published_at"] or "-",
                          s["deployments"]["live_deployment_id"] or "-")
        console.print(table)
