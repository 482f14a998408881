"""Shared helpers for the sites tests (not a test module)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from adapters.objectstore.memory import MemoryObjectStore
from gharart_core.identity.model import Account, Handle, HandleAccess, Member, Principal, Role, User
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.ids import SequentialIds, UlidIds
from gharart_core.shared.tokens import SecretsTokenSource
from gharart_core.sites.service import SitesService

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCOPES = frozenset({"sites:read", "sites:write"})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def access(
    handle: str = "acme", role: Role | None = Role.OWNER, user: str = "usr_1", scopes: frozenset[str] = SCOPES
) -> HandleAccess:
    return HandleAccess(
        Principal(user, f"{user}@example.com", scopes, "pat_1"), handle, "acc_1", role, "req_1"
    )


def make_service(store: Any = None, *, sequential: bool = True, **kw: Any) -> SitesService:
    return SitesService(
        clock=FakeClock(T0),
        ids=SequentialIds() if sequential else UlidIds(),
        tokens=SecretsTokenSource(),
        object_store=store or MemoryObjectStore(),
        **kw,
    )


async def seed_handle(uow_factory: Any, handle: str = "acme", user: str = "usr_1") -> None:
    async with uow_factory() as uow:
        if await uow.identity.get_handle(handle) is None:
            await uow.identity.add_account(Account(f"acc_{handle}", T0))
            await uow.identity.add_user(User(user, f"{user}@example.com", user, False, T0))
            await uow.identity.add_handle(Handle(handle, f"acc_{handle}", T0))
            await uow.identity.upsert_member(Member(handle, f"{user}@example.com", Role.OWNER, T0, user))
        await uow.commit()


def manifest(files: dict[str, bytes]) -> dict[str, Any]:
    return {p: {"sha256": sha(b), "size": len(b)} for p, b in files.items()}


async def chunks(data: bytes):  # type: ignore[no-untyped-def]
    for i in range(0, max(len(data), 1), 7):
        yield data[i : i + 7]


async def deploy(
    svc: SitesService,
    uow_factory: Any,
    files: dict[str, bytes],
    *,
    upload: bool = True,
    bindings: list[dict[str, Any]] | None = None,
    message: str = "",
) -> str:
    """Create a deployment and upload its missing blobs; returns its id."""
    body: dict[str, Any] = {"manifest": manifest(files), "message": message}
    if bindings:
        body["functionBindings"] = bindings
    async with uow_factory() as uow:
        dep, required = await svc.create_deployment(uow, access(), body)
        await uow.commit()
    if upload:
        by_sha = {sha(b): b for b in files.values()}
        for digest in required:
            async with uow_factory() as uow:
                await svc.upload_blob(uow, access(), dep.id, digest, chunks(by_sha[digest]))
                await uow.commit()
    return dep.id
