"""What every CLI command shares: exit codes, output, the container, an API client.

Area commands talk to the API with a bearer token (``--token`` / ``GHARART_TOKEN``): to a
running server with ``--url`` / ``GHARART_URL``, or in-process against the configured store
(same checks, same answers, no server needed).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import typer
from rich.console import Console

from ..settings import Settings

__all__ = ["EXIT_DOMAIN", "EXIT_OK", "EXIT_USAGE", "api", "console", "fail", "print_json", "run"]

EXIT_OK, EXIT_DOMAIN, EXIT_USAGE = 0, 1, 2
console = Console(stderr=False, soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def fail(message: str, code: int = EXIT_DOMAIN) -> None:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def check(response: httpx.Response, *, as_json: bool = False) -> Any:
    """Raise a domain-error exit (1) for 4xx/5xx answers, printing the problem."""
    if response.status_code >= 400:
        from .support import remember_request_id  # `gharart support report` attaches it later

        remember_request_id(response)
        try:
            problem = response.json()
        except ValueError:
            problem = {"status": response.status_code, "detail": response.text[:500]}
        if as_json:
            print_json(problem)
        else:
            err_console.print(f"[red]{problem.get('code', response.status_code)}[/red]: {problem.get('detail', '')}"
                              f"  (requestId {problem.get('requestId') or response.headers.get('x-request-id')})")
            for e in problem.get("errors", []) or []:
                err_console.print(f"  - {e}")
        raise typer.Exit(EXIT_DOMAIN)
    if not response.content:
        return None
    ctype = response.headers.get("content-type", "")
    return response.json() if "json" in ctype else response.content


@asynccontextmanager
async def api(token: str | None = None, url: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client: remote when a URL is given, else the app in-process."""
    token = token or os.environ.get("GHARART_TOKEN")
    url = url or os.environ.get("GHARART_URL")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url:
        async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
            yield client
        return
    from ..harness import _Lifespan
    from ..http.app import create_app

    app = create_app()
    lifespan = _Lifespan(app)
    await lifespan.start()
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers,
                                     timeout=None) as client:
            yield client
    finally:
        await lifespan.stop()


def settings() -> Settings:
    return Settings.from_env()


TokenOpt = typer.Option(None, "--token", envvar="GHARART_TOKEN", help="PAT or JWT (default $GHARART_TOKEN).")
UrlOpt = typer.Option(None, "--url", envvar="GHARART_URL", help="Server base URL; omit to run in-process.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")
