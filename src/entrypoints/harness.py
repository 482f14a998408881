"""A ready in-memory system for integrators' tests.

```python
from entrypoints.harness import make_harness

async with make_harness() as h:
    token = await h.create_owner("acme")
    r = await h.client.get("/v2/handles/acme", headers=h.auth(token))
    h.clock.advance(hours=1); h.outbox.messages; await h.drain()
```

Memory adapters, a fake clock, deterministic ids, a captured outbox and a fake HTTP fetcher;
``make_harness(database_url=...)`` runs the same app over SQL instead.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from dependency_injector import providers

from gharart_core.identity.model import SCOPES, Principal
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.ids import UlidIds

from .containers import build_container, build_memory_container
from .http.app import GharartApp, create_app
from .settings import Settings

__all__ = ["ALL_SCOPES", "ApiSeeding", "Harness", "make_harness"]

ALL_SCOPES = tuple(s for s in SCOPES if s != "operator")


class _Lifespan:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.startup = asyncio.Event()
        self.shutdown = asyncio.Event()
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.failed: str | None = None
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        return await self.to_app.get()

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind.endswith(".failed"):
            self.failed = message.get("message", "lifespan failed")
        if kind.startswith("lifespan.startup"):
            self.startup.set()
        elif kind.startswith("lifespan.shutdown"):
            self.shutdown.set()

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self.task = asyncio.get_running_loop().create_task(self.app(scope, self._receive, self._send))
        await self.to_app.put({"type": "lifespan.startup"})
        await self.startup.wait()
        if self.failed:
            raise RuntimeError(self.failed)

    async def stop(self) -> None:
        await self.to_app.put({"type": "lifespan.shutdown"})
        await self.shutdown.wait()
        if self.task is not None:
            await self.task


class ApiSeeding:
    """Seeding through the API, shared by :class:`Harness` and a harness over a real server: a
    subclass gives ``client`` (an ``httpx.AsyncClient``) and ``create_user_token``."""

    client: httpx.AsyncClient

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def create_user_token(self, email: str, scopes: tuple[str, ...] = ALL_SCOPES, *,
                                handle: str | None = None, operator: bool = False) -> str:
        raise NotImplementedError

    async def create_owner(self, handle: str, email: str | None = None,
                           scopes: tuple[str, ...] = ALL_SCOPES) -> str:
        """A handle with an owner; returns the owner's PAT."""
        email = email or f"owner@{handle}.example.com"
        token = await self.create_user_token(email, scopes)
        r = await self.client.post("/v2/handles", json={"handle": handle}, headers=self.auth(token))
        if r.status_code != 201:
            raise RuntimeError(f"could not create handle {handle}: {r.status_code} {r.text}")
        return token

    async def add_member(self, handle: str, owner_token: str, email: str, role: str,
                         scopes: tuple[str, ...] = ALL_SCOPES) -> str:
        """Add ``email`` to ``handle`` with ``role``; returns that member's PAT."""
        r = await self.client.post(f"/v2/handles/{handle}/members", json={"email": email, "role": role},
                                   headers=self.auth(owner_token))
        if r.status_code != 201:
            raise RuntimeError(f"could not add member: {r.status_code} {r.text}")
        return await self.create_user_token(email, scopes)


class Harness(ApiSeeding):
    def __init__(self, app: GharartApp, clock: FakeClock) -> None:
        self.app = app
        self.container = app.container
        self.clock = clock
        self._lifespan = _Lifespan(app)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
                                        base_url="http://testserver")

    @property
    def outbox(self) -> Any:
        return self.container.mailer()

    @property
    def jobs(self) -> Any:
        return self.container.jobs()

    @property
    def uow_factory(self) -> Any:
        return self.container.uow_factory()

    async def start(self) -> Harness:
        await self._lifespan.start()
        return self

    async def stop(self) -> None:
        await self.client.aclose()
        await self._lifespan.stop()

    async def __aenter__(self) -> Harness:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def drain(self) -> None:
        """Wait for background jobs and flush the request log."""
        jobs = self.jobs
        if hasattr(jobs, "drain"):
            await jobs.drain()
        pending = list(getattr(self.app.runtime, "_background", ()))
        if pending:
            await asyncio.wait(pending, timeout=30)
        await self.app.runtime.request_log.flush()

    async def create_user_token(self, email: str, scopes: tuple[str, ...] = ALL_SCOPES, *,
                                handle: str | None = None, operator: bool = False) -> str:
        """A user with a PAT carrying ``scopes`` (no identity provider needed)."""
        identity = self.container.identity_service()
        async with self.uow_factory(write=True) as uow:
            user = await identity.ensure_user(uow, email)
            if operator:
                user = await identity.set_operator(uow, email, True)
            principal = Principal(user.id, user.email, frozenset(SCOPES), None, operator)
            issued = await identity.create_token(uow, principal, name="harness", scopes=list(scopes),
                                                 handle=handle, expires_at=None)
            await uow.commit()
        return str(issued.secret)


def make_harness(*, database_url: str | None = None, data_dir: Path | None = None,
                 settings: Settings | None = None, **settings_overrides: Any) -> Harness:
    """Build a harness; use it as ``async with make_harness() as h``."""
    clock = FakeClock()
    if database_url is None:
        base = settings or Settings(data_dir=data_dir or Path("/nonexistent"), object_store="memory://",
                                    auto_migrate=False, **settings_overrides)
        container: Any = build_memory_container(base)
    else:
        from adapters.mail.memory import MemoryOutbox
        from adapters.objectstore.memory import MemoryObjectStore

        base = settings or Settings(data_dir=data_dir or Path("./.gharart-test"), database_url=database_url,
                                    object_store="memory://", **settings_overrides)
        container = build_container(base)
        container.object_store.override(providers.Singleton(MemoryObjectStore))
        container.mailer.override(providers.Singleton(MemoryOutbox))
    container.clock.override(providers.Object(clock))
    container.ids.override(providers.Singleton(UlidIds))
    _install_fakes(container)
    return Harness(create_app(container), clock)


def _install_fakes(container: Any) -> None:
    """Swap outbound HTTP for the fake fetcher when the container has one."""
    if hasattr(container, "fetcher"):
        try:
            from adapters.http.fake import FakeFetcher
        except ModuleNotFoundError:
            return
        container.fetcher.override(providers.Singleton(FakeFetcher))
