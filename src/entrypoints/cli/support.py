"""``gharart support`` (end users) and ``gharart operator`` (staff) commands.

``support report`` fills in ``--request-id`` from the last failed request the CLI saw
(``remember_request_id`` stores it under ``$GHARART_DATA_DIR/cli/last-request-id``) unless given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import typer

from .common import JsonOpt, TokenOpt, UrlOpt, api, check, console, print_json, run, settings

__all__ = ["NAME", "app", "last_request_id", "operator_app", "remember_request_id"]

NAME = "support"
app = typer.Typer(help="Report a problem to Gharart support and follow your reports.", no_args_is_help=True)
operator_app = typer.Typer(help="Operator workflow (operator flag + `operator` scope).", no_args_is_help=True)
escalations_app = typer.Typer(help="Escalations: list, create, ack, resolve.", no_args_is_help=True)
operator_app.add_typer(escalations_app, name="escalations")


def _last_path() -> Path:
    return settings().data_dir / "cli" / "last-request-id"


def remember_request_id(response: httpx.Response) -> None:
    """Keep the request id of a failed answer, for ``support report`` to attach later."""
    rid = response.headers.get("x-request-id")
    if response.status_code < 400 or not rid:
        return
    try:
        path = _last_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rid + "\n")
    except OSError:
        pass


def last_request_id() -> str | None:
    env = os.environ.get("GHARART_LAST_REQUEST_ID")
    if env:
        return env.strip()
    try:
        text = _last_path().read_text().strip()
    except OSError:
        return None
    return text or None


def _checked(response: httpx.Response, as_json: bool) -> Any:
    remember_request_id(response)
    return check(response, as_json=as_json)


# -- end users -----------------------------------------------------------------
@app.command("report")
def report(
    summary: str = typer.Option(..., "--summary", help="One line: what you tried and what happened."),
    details: str = typer.Option(..., "--details", help="Steps, expected vs actual, timestamps."),
    handle: str | None = typer.Option(None, "--handle"),
    request_id: str | None = typer.Option(
        None, "--request-id", help="X-Request-ID of the failing answer (default: the last one seen)."
    ),
    artifact: str | None = typer.Option(None, "--artifact", help="dep_…, run_…, lnk_… or slug, fil_…, pg_…"),
    session_id: str | None = typer.Option(None, "--session-id"),
    no_last: bool = typer.Option(False, "--no-last-request", help="Do not attach the last failed request."),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """File a support report (POST /v2/support/report)."""
    rid = request_id or (None if no_last else last_request_id())
    body = {
        "summary": summary,
        "details": details,
        "handle": handle,
        "requestId": rid,
        "reproArtifact": artifact,
        "sessionId": session_id,
    }
    body = {k: v for k, v in body.items() if v is not None}

    async def go() -> Any:
        async with api(token, url) as client:
            return _checked(await client.post("/v2/support/report", json=body), as_json)

    data = run(go())
    if as_json:
        print_json(data)
        return
    console.print(
        f"[green]{data['reportId']}[/green] queue={data['queue']} priority={data['priority']} "
        f"status={data['status']}"
    )
    req = data.get("attachedRequest")
    if req:
        console.print(
            f"  attached request {req['requestId']}: {req['route']} -> {req['status']} {req['code'] or ''}"
        )


@app.command("reports")
def reports(token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """Your reports and their status."""

    async def go() -> Any:
        async with api(token, url) as client:
            return _checked(await client.get("/v2/support/reports", params={"limit": 100}), as_json)

    data = run(go())
    if as_json:
        print_json(data)
        return
    for r in data["items"]:
        console.print(f"{r['reportId']}  {r['status']:<12} {r['queue']:<8} {r['priority']:<7} {r['summary']}")


@app.command("show")
def show(
    report_id: str, token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt
) -> None:
    """One of your reports."""

    async def go() -> Any:
        async with api(token, url) as client:
            return _checked(await client.get(f"/v2/support/reports/{report_id}"), as_json)

    data = run(go())
    print_json(data) if as_json else console.print(data)


# -- operators -----------------------------------------------------------------
def _print_escalation(e: dict[str, Any]) -> None:
    console.print(
        f"{e['id']}  {e['status']:<12} {e['priority']:<7} {e['queue']:<8} "
        f"assignee={e['assignee'] or '-'} reports={','.join(e['reportIds'])}"
    )


@escalations_app.command("list")
def escalations_list(
    status: str | None = typer.Option(None, "--status"),
    assignee: str | None = typer.Option(None, "--assignee"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List escalations, newest first."""
    params = {k: v for k, v in {"status": status, "assignee": assignee, "limit": "100"}.items() if v}

    async def go() -> Any:
        async with api(token, url) as client:
            return _checked(await client.get("/v2/operator/escalations", params=params), as_json)

    data = run(go())
    if as_json:
        print_json(data)
        return
    for e in data["items"]:
        _print_escalation(e)


@escalations_app.command("create")
def escalations_create(
    report_ids: list[str] = typer.Argument(..., help="rpt_… ids"),
    assignee: str | None = typer.Option(None, "--assignee"),
    note: str | None = typer.Option(None, "--note"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Escalate one or more reports."""
    body = {k: v for k, v in {"reportIds": report_ids, "assignee": assignee, "note": note}.items() if v}

    async def go() -> Any:
        async with api(token, url) as client:
            return _checked(await client.post("/v2/operator/escalations", json=body), as_json)

    data = run(go())
    print_json(data) if as_json else _print_escalation(data)


def _move(
    escalation_id: str, status: str, note: str | None, token: str | None, url: str | None, as_json: bool
) -> None:
    body = {"status": status, **({"note": note} if note else {})}

    async def go() -> Any:
        async with api(token, url) as client:
            return _checked(
                await client.patch(f"/v2/operator/escalations/{escalation_id}", json=body), as_json
            )

    data = run(go())
    print_json(data) if as_json else _print_escalation(data)


@escalations_app.command("ack")
def escalations_ack(
    escalation_id: str,
    note: str | None = typer.Option(None, "--note"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """open -> acknowledged."""
    _move(escalation_id, "acknowledged", note, token, url, as_json)


@escalations_app.command("resolve")
def escalations_resolve(
    escalation_id: str,
    note: str | None = typer.Option(None, "--note"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """acknowledged -> resolved."""
    _move(escalation_id, "resolved", note, token, url, as_json)
