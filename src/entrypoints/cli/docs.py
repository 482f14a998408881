"""`gharart docs ...`: offline policy checks.

`gharart docs policy check FILE` lints a policy file and diffs it against the current policy,
using a pages listing file or the local store (read-only). Exit codes: 0 the policy would be
accepted as is, 1 it would be refused (unacknowledged findings) or is invalid, 2 usage error.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from gharart_core.docs.check import PolicyWrite, check_policy
from gharart_core.docs.model import Classification, DocPage, Policy
from gharart_core.docs.parse import normalize_domain, parse_policy_body
from gharart_core.docs.paths import normalize_path
from gharart_core.docs.report import changes_summary, exposed_pages, finding_summary
from gharart_core.shared.errors import DomainError

from .common import JsonOpt, TokenOpt, UrlOpt, api, print_json, run
from .common import check as check_response

__all__ = ["app", "parse_principal", "run_check"]

app = typer.Typer(help="Internal docs: pages and the access policy.", no_args_is_help=True)
policy_app = typer.Typer(help="Access policy tools.", no_args_is_help=True)
pages_app = typer.Typer(help="Doc pages.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(pages_app, name="pages")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise typer.BadParameter(f"{path} does not exist") from None
    except ValueError as exc:
        raise typer.BadParameter(f"{path} is not JSON: {exc}") from None


def pages_from_listing(data: Any) -> list[DocPage]:
    """Pages from a `GET .../internal-docs/pages` answer (or its `items`)."""
    items = data.get("items", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise typer.BadParameter("the pages file holds a list of pages or {items: [...]}")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(
                DocPage(
                    str(item.get("id") or f"pg_{i}"),
                    "-",
                    normalize_path(item["path"]),
                    Classification(item.get("classification", "internal")),
                    str(item.get("contentType", "")),
                    int(item.get("size", 0)),
                    "",
                    "",
                    _EPOCH,
                    _EPOCH,
                )
            )
        except (KeyError, ValueError, TypeError, AttributeError, DomainError) as exc:
            raise typer.BadParameter(f"page #{i} is not a page: {exc}") from None
    return out


def policy_from_file(data: Any) -> Policy:
    """The current policy from a `GET .../access` answer or a PUT body."""
    draft = parse_policy_body(data)
    version = data.get("version", 1) if isinstance(data, dict) else 1
    return Policy(version=int(version) if isinstance(version, int) else 1, rules=draft.rules)


async def _from_store(handle: str) -> tuple[list[DocPage], Policy, tuple[str, ...]]:
    from gharart_core.docs.service import internal_domains_for

    from ..containers import build_container
    from ..settings import Settings

    settings = Settings.from_env()
    container = build_container(settings)
    try:
        async with container.uow_factory()(write=False) as uow:
            pages = list(await uow.docs.all_pages(handle))
            current = await uow.docs.get_policy(handle) or Policy()
            domains = await internal_domains_for(uow, handle, settings.internal_domains)
    finally:
        db = getattr(container, "database", None)
        if db is not None:
            await db().dispose()
    return pages, current, domains


def run_check(
    policy_file: Path,
    *,
    handle: str | None,
    pages_file: Path | None,
    current_file: Path | None,
    internal_domains: list[str],
) -> PolicyWrite:
    body = _load_json(policy_file)
    draft = parse_policy_body(body)
    pages: list[DocPage] = []
    current = Policy()
    domains: tuple[str, ...] = ()
    if handle is not None:
        pages, current, domains = asyncio.run(_from_store(handle))
    if pages_file is not None:
        pages = pages_from_listing(_load_json(pages_file))
    if current_file is not None:
        current = policy_from_file(_load_json(current_file))
    if internal_domains:
        parsed = [normalize_domain(d) for d in internal_domains]
        if any(d is None for d in parsed):
            raise typer.BadParameter("--internal-domain takes domain names")
        domains = tuple(d for d in parsed if d)
    proposed = Policy(version=current.version + 1, rules=draft.rules)
    return check_policy(current, proposed, draft.acknowledge, pages, domains)


@policy_app.command("check")
def check(
    file: Path = typer.Argument(..., help="The policy: the body you would PUT to .../internal-docs/access."),
    handle: str | None = typer.Option(
        None, "--handle", help="Read pages and the current policy from the local store."
    ),
    pages: Path | None = typer.Option(None, "--pages", help="A pages listing (GET .../internal-docs/pages)."),
    current: Path | None = typer.Option(
        None, "--current", help="The current policy (GET .../internal-docs/access)."
    ),
    internal_domain: list[str] = typer.Option(
        [], "--internal-domain", help="Internal email domain (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Lint FILE and diff it against the current policy, offline. Nothing is written."""
    if handle is None and pages is None:
        raise typer.BadParameter("give --handle (local store) or --pages FILE")
    try:
        result = run_check(
            file, handle=handle, pages_file=pages, current_file=current, internal_domains=internal_domain
        )
    except DomainError as exc:
        errors = [{"field": e.field, "code": e.code, "message": e.message} for e in exc.errors]
        if as_json:
            typer.echo(json.dumps({"valid": False, "code": exc.code, "detail": exc.detail, "errors": errors}))
        else:
            console = Console(stderr=True)
            console.print(f"[red]invalid policy[/red] ({exc.code}): {exc.detail}")
            for e in errors:
                console.print(f"  {e['field']}: {e['code']} {e['message']}")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "valid": True,
                    "wouldRefuse": result.would_refuse,
                    "findings": [finding_summary(f) for f in result.findings],
                    "exposedPages": exposed_pages(result.findings),
                    "unacknowledgedPageIds": list(result.unacknowledged),
                    "acknowledgedPageIds": list(result.acknowledged),
                    "diff": changes_summary(result.changes),
                },
                indent=2,
            )
        )
    else:
        _print(result)
    raise typer.Exit(1 if result.would_refuse else 0)


def _print(result: PolicyWrite) -> None:
    console = Console()
    if result.findings:
        table = Table(title="Confidential pages this policy exposes")
        for col in ("page", "exposure", "who", "rule", "acknowledged"):
            table.add_column(col)
        for f in result.findings:
            who = f.witness.value or {"anonymous": "anyone", "otherEmail": "any external address"}.get(
                f.witness.kind, f.witness.kind
            )
            table.add_row(
                f.page.path,
                f.exposure,
                who,
                f.rule_id or "-",
                "yes" if f.page.id in result.acknowledged else "[red]no[/red]",
            )
        console.print(table)
    else:
        console.print(
            "[green]No confidential page is exposed to anyone, external domains or viewers.[/green]"
        )
    diff = changes_summary(result.changes)
    for label, key in (("gains", "gains"), ("loses", "losses")):
        for entry in diff[key]:
            p = entry["principal"]
            who = f"{p['kind']}:{p['value']}" if p["value"] else p["kind"]
            console.print(f"{who} {label}: " + ", ".join(x["path"] for x in entry["pages"]))
    if not diff["gains"] and not diff["losses"]:
        console.print("No change in who can read which page.")
    if result.would_refuse:
        console.print(
            f"[red]Would be refused[/red] (policy_too_permissive): acknowledge "
            f"{', '.join(result.unacknowledged)} in acknowledgeExposure or narrow the rules."
        )
    else:
        console.print("[green]Would be accepted.[/green]")


# -- online commands (through the API: a server with --url, or in-process on the local store) --------
HandleOpt = typer.Option(..., "--handle", help="The handle.")


def parse_principal(text: str) -> dict[str, Any]:
    """`anonymous`, `role:viewer` (or just `viewer`), `email:pat@partner.com` (or just the address)."""
    value = text.strip()
    kind, _, rest = value.partition(":")
    if value.lower() in ("anonymous", "anyone"):
        return {"anonymous": True}
    if kind == "role":
        return {"role": rest}
    if kind == "email":
        return {"email": rest}
    if "@" in value:
        return {"email": value}
    if value.lower() in ("viewer", "editor", "admin", "owner"):
        return {"role": value.lower()}
    raise typer.BadParameter("--as takes anonymous, role:NAME or email:ADDRESS")


@policy_app.command("apply")
def apply(
    file: Path = typer.Argument(..., help="The policy body (rules, acknowledgeExposure)."),
    handle: str = HandleOpt,
    expect: int | None = typer.Option(
        None, "--expect", help="The version you reviewed (default: the current one)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff and findings; save nothing."),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Replace the access policy (refused with policy_too_permissive unless exposures are acknowledged)."""
    body = _load_json(file)

    async def go() -> Any:
        async with api(token, url) as client:
            base = f"/v2/handles/{handle}/internal-docs/access"
            version = expect
            if version is None and not dry_run:
                version = check_response(await client.get(base), as_json=as_json)["version"]
            headers = {"If-Match": f'"{version}"'} if version is not None else {}
            params = {"dryRun": "true"} if dry_run else {}
            return check_response(
                await client.put(base, json=body, headers=headers, params=params), as_json=as_json
            )

    result = run(go())
    if as_json:
        print_json(result)
        return
    console = Console()
    verb = "Would save" if dry_run else "Saved"
    console.print(
        f"{verb} version {result.get('proposedVersion', result['version'])}: "
        f"{len(result['rules'])} rules, {len(result['findings'])} findings."
    )
    for f in result["findings"]:
        console.print(f"  [yellow]{f['message']}[/yellow]")
    if dry_run and result.get("wouldRefuse"):
        console.print(
            "[red]Would be refused[/red]: acknowledge " + ", ".join(result["unacknowledgedPageIds"])
        )


@app.command("evaluate")
def evaluate(
    path: str = typer.Argument(..., help="The doc path, e.g. /confidential/pricing.md."),
    handle: str = HandleOpt,
    who: str = typer.Option(..., "--as", help="anonymous | role:viewer | email:pat@partner.com"),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Who can read PATH? The live policy's decision for one principal."""
    principal = parse_principal(who)

    async def go() -> Any:
        async with api(token, url) as client:
            return check_response(
                await client.post(
                    f"/v2/handles/{handle}/internal-docs/access/evaluate",
                    json={"path": path, "principal": principal},
                ),
                as_json=as_json,
            )

    d = run(go())
    if as_json:
        print_json(d)
        return
    colour = "green" if d["effect"] == "allow" else "red"
    Console().print(
        f"[{colour}]{d['effect']}[/{colour}] {d['path']} ({d['reason']}, rule {d['matchedRule']})"
    )


@pages_app.command("upload")
def upload(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, help="A directory tree of pages."),
    handle: str = HandleOpt,
    prefix: str = typer.Option("/", "--prefix", help="Where the tree goes, e.g. /handbook."),
    classification: str = typer.Option(
        "internal", "--classification", help="public | internal | confidential"
    ),
    token: str | None = TokenOpt,
    url: str | None = UrlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Upload every file under DIRECTORY as a page (text as UTF-8, anything else base64)."""
    import base64
    import mimetypes

    from rich.progress import Progress

    files = sorted(p for p in directory.rglob("*") if p.is_file())
    root = "/" + prefix.strip("/")

    async def go() -> list[dict[str, Any]]:
        done = []
        async with api(token, url) as client:
            with Progress(disable=as_json) as progress:
                task = progress.add_task("uploading", total=len(files))
                for f in files:
                    rel = f.relative_to(directory).as_posix()
                    data = f.read_bytes()
                    ctype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
                    try:
                        body: dict[str, Any] = {"content": data.decode("utf-8"), "encoding": "utf-8"}
                        if f.suffix in (".md", ".markdown"):
                            ctype = "text/markdown; charset=utf-8"
                    except UnicodeDecodeError:
                        body = {"content": base64.b64encode(data).decode(), "encoding": "base64"}
                    body.update(contentType=ctype, classification=classification)
                    target = f"{root.rstrip('/')}/{rel}"
                    done.append(
                        check_response(
                            await client.put(f"/v2/handles/{handle}/internal-docs/pages{target}", json=body),
                            as_json=as_json,
                        )
                    )
                    progress.advance(task)
        return done

    pages = run(go())
    if as_json:
        print_json({"items": pages})
    else:
        Console().print(f"Uploaded {len(pages)} pages under {root} ({classification}).")
