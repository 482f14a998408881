"""``gharart`` — the command line. Exit codes: 0 ok, 1 domain error, 2 usage error."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from adapters.registry import AREAS
from gharart_core.identity.model import SCOPES, Principal
from gharart_core.shared.clock import parse_ts
from gharart_core.shared.errors import DomainError

from .common import EXIT_DOMAIN, JsonOpt, TokenOpt, UrlOpt, api, check, console, fail, print_json, run, settings

__all__ = ["app", "main"]

app = typer.Typer(help="Gharart core: links, sites, files, internal docs and support.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
handles_app = typer.Typer(help="Handles.", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal access tokens.", no_args_is_help=True)
users_app = typer.Typer(help="Users (operator flag).", no_args_is_help=True)
requests_app = typer.Typer(help="The request log (what support looks up by X-Request-ID).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(handles_app, name="handles")
app.add_typer(tokens_app, name="tokens")
app.add_typer(users_app, name="users")
app.add_typer(requests_app, name="requests")

DEFAULT_SCOPES = tuple(s for s in SCOPES if s != "operator")


def _container() -> Any:
    from ..containers import build_container

    return build_container(settings())


async def _migrate(container: Any) -> None:
    from adapters.sql.migrate import upgrade

    await upgrade(container.settings().resolved_database_url)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port"),
          workers: int = typer.Option(1, "--workers", min=1)) -> None:
    """Run the HTTP service (granian) on the configured store, migrating it first."""
    import os

    if workers > 1:
        # throttle buckets must be shared by every worker process
        os.environ.setdefault("GHARART_SHARED_THROTTLES", "true")
    container = _container()
    run(_migrate(container))
    run(_first_run_hint(container, host, port))
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    # Slow headers are the server's to bound: granian closes a connection whose request headers are not
    # complete within this time, and an idle keep-alive connection after it (slow bodies are bounded by
    # the app, GHARART_BODY_TIMEOUT_S).
    header_ms = max(1, int(container.settings().header_timeout_s * 1000))
    Granian("entrypoints.http.asgi:create", factory=True, interface=Interfaces.ASGI, address=host, port=port,
            workers=workers, log_access=False,
            http1_settings=HTTP1Settings(header_read_timeout=header_ms, keep_alive=True)).serve()


async def _first_run_hint(container: Any, host: str, port: int) -> None:
    s = container.settings()
    console.print(f"Gharart core on http://{host}:{port}  (data: {s.data_dir.resolve()}, "
                  f"database: {s.resolved_database_url.split('://')[0]})")
    async with container.uow_factory()(write=False) as uow:
        from sqlalchemy import text

        conn = await uow.connection()
        count = (await conn.execute(text("SELECT COUNT(*) FROM handles"))).scalar_one()
    if not count:
        console.print("No handle yet. Create one with its owner and a token:\n"
                      "  gharart init --handle acme --email you@example.com\n"
                      "then call the API:  curl -H \"Authorization: Bearer $GHARART_TOKEN\" "
                      f"http://{host}:{port}/v2/handles/acme")
    await container.database().dispose()


@app.command()
def init(handle: str = typer.Option("me", "--handle", help="The handle to create."),
         email: str = typer.Option("owner@localhost.localdomain", "--email", help="The owner's email."),
         as_json: bool = JsonOpt) -> None:
    """First-run set-up: migrate the embedded store, create a handle, its owner and a PAT (printed once)."""

    async def go() -> dict[str, Any]:
        container = _container()
        await _migrate(container)
        identity = container.identity_service()
        try:
            async with container.uow_factory()(write=True) as uow:
                user = await identity.ensure_user(uow, email)
                principal = Principal(user.id, user.email, frozenset(SCOPES), None)
                existing = await uow.identity.get_handle(handle)
                if existing is None:
                    await identity.create_handle(uow, principal, handle)
                else:
                    member = await uow.identity.get_member(handle, user.id)
                    if member is None:
                        fail(f"handle `{handle}` exists and `{email}` is not its member")
                issued = await identity.create_token(uow, principal, name="init", scopes=list(DEFAULT_SCOPES),
                                                     handle=None, expires_at=None)
                await uow.commit()
        finally:
            await container.database().dispose()
        return {"handle": handle, "email": email, "token": issued.secret, "tokenId": issued.token.id}

    try:
        out = run(go())
    except DomainError as exc:
        fail(f"{exc.code}: {exc.detail}")
        return
    if as_json:
        print_json(out)
        return
    console.print(f"Handle [bold]{out['handle']}[/bold] owned by {out['email']}.")
    console.print("Your token (shown once, keep it secret):")
    print(out["token"])
    console.print(f"\n  export GHARART_TOKEN={out['token']}\n"
                  f"  curl -H \"Authorization: Bearer $GHARART_TOKEN\" http://127.0.0.1:8000/v2/handles/{handle}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    container = _container()
    run(_migrate(container))
    console.print("schema up to date")


@handles_app.command("create")
def handles_create(handle: str, token: str | None = TokenOpt, url: str | None = UrlOpt,
                   as_json: bool = JsonOpt) -> None:
    """Create a handle (you become its owner)."""

    async def go() -> Any:
        async with api(token, url) as client:
            return check(await client.post("/v2/handles", json={"handle": handle}), as_json=as_json)

    out = run(go())
    print_json(out) if as_json else console.print(f"created {out['handle']} ({out['accountId']})")


@handles_app.command("list")
def handles_list(token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """The handles you are a member of."""

    async def go() -> Any:
        async with api(token, url) as client:
            return check(await client.get("/v2/handles"), as_json=as_json)

    out = run(go())
    if as_json:
        print_json(out)
    else:
        for h in out["items"]:
            console.print(f"{h['handle']}\t{h['role']}")


@tokens_app.command("create")
def tokens_create(name: str = typer.Option(..., "--name"),
                  scope: list[str] = typer.Option(list(DEFAULT_SCOPES), "--scope"),
                  handle: str | None = typer.Option(None, "--handle"),
                  expires: str | None = typer.Option(None, "--expires", help="RFC 3339 expiry."),
                  token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    """Create a PAT (printed once)."""
    if expires is not None:
        try:
            parse_ts(expires)
        except ValueError:
            fail("--expires takes an RFC 3339 timestamp, e.g. 2027-01-01T00:00:00Z", 2)

    async def go() -> Any:
        body: dict[str, Any] = {"name": name, "scopes": scope}
        if handle:
            body["handle"] = handle
        if expires:
            body["expiresAt"] = expires
        async with api(token, url) as client:
            return check(await client.post("/v2/tokens", json=body), as_json=as_json)

    out = run(go())
    if as_json:
        print_json(out)
    else:
        console.print(f"{out['id']} (shown once):")
        print(out["token"])


@tokens_app.command("list")
def tokens_list(token: str | None = TokenOpt, url: str | None = UrlOpt, as_json: bool = JsonOpt) -> None:
    async def go() -> Any:
        async with api(token, url) as client:
            return check(await client.get("/v2/tokens"), as_json=as_json)

    out = run(go())
    if as_json:
        print_json(out)
    else:
        for t in out["items"]:
            console.print(f"{t['id']}\t{t['prefix']}…\t{t['name']}\t{' '.join(t['scopes'])}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: str, token: str | None = TokenOpt, url: str | None = UrlOpt) -> None:
    """Revoke a PAT of yours."""

    async def go() -> None:
        async with api(token, url) as client:
            check(await client.delete(f"/v2/tokens/{token_id}"))

    run(go())
    console.print(f"revoked {token_id}")


@users_app.command("operator")
def users_operator(email: str, revoke: bool = typer.Option(False, "--revoke")) -> None:
    """Mark a user as platform operator (they also need a token with the `operator` scope)."""

    async def go() -> None:
        container = _container()
        await _migrate(container)
        try:
            async with container.uow_factory()(write=True) as uow:
                await container.identity_service().set_operator(uow, email, not revoke)
                await uow.commit()
        finally:
            await container.database().dispose()

    try:
        run(go())
    except DomainError as exc:
        fail(f"{exc.code}: {exc.detail}")
    console.print(f"{email}: operator={'no' if revoke else 'yes'}")


@requests_app.command("show")
def requests_show(request_id: str, as_json: bool = JsonOpt) -> None:
    """Look a request up by its ID in the configured store's request log (route, status, problem code,
    actor, handle, duration). Run it on a host that has the service's settings."""
    from gharart_core.shared.clock import format_ts

    async def go() -> Any:
        container = _container()
        await _migrate(container)
        try:
            async with container.uow_factory()(write=False) as uow:
                return await uow.request_log.get(request_id.strip())
        finally:
            await container.database().dispose()

    entry = run(go())
    if entry is None:
        fail(f"request_not_found: no request `{request_id}` in the request log (it keeps the newest "
             "GHARART_REQUEST_LOG_MAX entries; successful reads are written within a second)")
        return
    out = {"requestId": entry.request_id, "at": format_ts(entry.at), "method": entry.method, "route": entry.route,
           "path": entry.path, "status": entry.status, "code": entry.code, "actorId": entry.actor_id,
           "handle": entry.handle, "durationMs": entry.duration_ms}
    if as_json:
        print_json(out)
        return
    for key, value in out.items():
        console.print(f"{key:>10}  {value if value is not None else '-'}")


def _register_areas() -> None:
    for area in AREAS:
        try:
            module = importlib.import_module(f"entrypoints.cli.{area}")
        except ModuleNotFoundError as exc:
            if exc.name != f"entrypoints.cli.{area}":
                raise
            continue
        sub = getattr(module, "app", None)
        if sub is not None:
            app.add_typer(sub, name=getattr(module, "NAME", area))


_register_areas()
app.command("worker")(importlib.import_module("entrypoints.cli.scale").worker)
app.add_typer(importlib.import_module("entrypoints.cli.support").operator_app, name="operator")


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except DomainError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        sys.exit(EXIT_DOMAIN)




if __name__ == "__main__":
    main()
