"""Identity use cases over the memory unit of work."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories
from gharart_core.identity.model import RESERVED_HANDLES, SCOPES, Principal, Role
from gharart_core.identity.service import PAT_PREFIX, IdentityService, validate_handle
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from gharart_core.shared.ids import SequentialIds
from gharart_core.shared.tokens import SecretsTokenSource, sha256_hex

HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?\Z")
FACTORIES = memory_factories()


class World:
    def __init__(self, operators: tuple[str, ...] = ()) -> None:
        self.state = MemoryState()
        self.clock = FakeClock()
        self.svc = IdentityService(self.clock, SequentialIds(), SecretsTokenSource(), operators)

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.state, FACTORIES)

    async def run(self, fn: Any, *args: Any, **kw: Any) -> Any:
        async with self.uow() as uow:
            result = await fn(uow, *args, **kw)
            await uow.commit()
            return result

    async def user(self, email: str, scopes: tuple[str, ...] = SCOPES) -> Principal:
        user = await self.run(self.svc.provision, subject=f"sub|{email}", email=email)
        return Principal(user.id, user.email, frozenset(scopes), None, kind="jwt",
                         is_operator_flag=self.svc.is_operator(user))

    async def access(self, principal: Principal, handle: str) -> Any:
        return await self.run(self.svc.resolve, principal, handle)


@pytest.fixture
def world() -> World:
    return World()


# -- handles -------------------------------------------------------------------
@given(st.one_of(st.from_regex(HANDLE_RE, fullmatch=True), st.text(max_size=45), st.sampled_from(sorted(RESERVED_HANDLES))))
def test_handle_validation(value: str) -> None:
    if HANDLE_RE.match(value) and value not in RESERVED_HANDLES:
        assert validate_handle(value) == value
        return
    with pytest.raises(ValidationFailed) as err:
        validate_handle(value)
    expected = "handle_reserved" if value in RESERVED_HANDLES else "invalid_handle"
    assert err.value.code == expected
    assert [(e.field, e.code) for e in err.value.errors] == [("handle", expected)]


@pytest.mark.parametrize("value", ["api", "admin", "v2", "_edge", "public", "support"])
def test_spec_reserved_words(value: str) -> None:
    assert value in RESERVED_HANDLES


@pytest.mark.parametrize("value", ["-a", "a-", "A", "a_b", "a" * 41, "", "ä", "a b", None, 3, "acme\n", "a--\n"])
def test_bad_handles(value: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_handle(value)
    assert err.value.code == "invalid_handle"


async def test_create_handle_makes_owner_and_taken_is_409(world: World) -> None:
    alice = await world.user("alice@example.com")
    handle = await world.run(world.svc.create_handle, alice, "acme")
    access = await world.access(alice, "acme")
    assert access.role is Role.OWNER and access.account_id == handle.account_id
    bob = await world.user("bob@example.com")
    with pytest.raises(Conflict) as err:
        await world.run(world.svc.create_handle, bob, "acme")
    assert err.value.code == "handle_taken"
    with pytest.raises(NotFound) as nf:
        await world.access(bob, "acme")  # exists, but bob cannot tell
    assert nf.value.code == "handle_not_found"
    with pytest.raises(NotFound):
        await world.access(bob, "nosuch")
    # a second handle of the same owner joins the same account
    second = await world.run(world.svc.create_handle, alice, "acme-2")
    assert second.account_id == handle.account_id


async def test_failed_creation_leaves_nothing(world: World) -> None:
    alice = await world.user("alice@example.com")
    with pytest.raises(ValidationFailed):
        await world.run(world.svc.create_handle, alice, "admin")
    async with world.uow() as uow:
        assert await uow.identity.get_handle("admin") is None


# -- members -------------------------------------------------------------------
async def test_last_owner_cannot_leave_or_be_demoted(world: World) -> None:
    alice = await world.user("alice@example.com")
    await world.run(world.svc.create_handle, alice, "acme")
    access = await world.access(alice, "acme")
    with pytest.raises(Conflict) as err:
        await world.run(world.svc.change_member, access, alice.user_id, "admin")
    assert err.value.code == "last_owner"
    with pytest.raises(Conflict):
        await world.run(world.svc.remove_member, access, alice.user_id)
    bob = await world.user("bob@example.com")
    await world.run(world.svc.add_member, access, "bob@example.com", "owner")
    await world.run(world.svc.change_member, access, alice.user_id, "viewer")
    members = {m.email: m.role for m in await world.run(world.svc.list_members, await world.access(bob, "acme"))}
    assert members == {"alice@example.com": Role.VIEWER, "bob@example.com": Role.OWNER}
    bob_access = await world.access(bob, "acme")
    with pytest.raises(Conflict):
        await world.run(world.svc.remove_member, bob_access, bob.user_id)


async def test_pending_member_is_claimed_on_first_sign_in(world: World) -> None:
    alice = await world.user("alice@example.com")
    await world.run(world.svc.create_handle, alice, "acme")
    access = await world.access(alice, "acme")
    pending = await world.run(world.svc.add_member, access, "Carol@Example.COM", "editor")
    assert pending.user_id is not None and pending.user_id.startswith("usr_")
    carol = await world.user("carol@example.com")
    assert carol.user_id == pending.user_id
    assert (await world.access(carol, "acme")).role is Role.EDITOR
    with pytest.raises(Conflict) as err:
        await world.run(world.svc.add_member, access, "carol@example.com", "viewer")
    assert err.value.code == "member_exists"


async def test_only_owners_manage_members(world: World) -> None:
    alice = await world.user("alice@example.com")
    await world.run(world.svc.create_handle, alice, "acme")
    await world.run(world.svc.add_member, await world.access(alice, "acme"), "dan@example.com", "admin")
    dan = await world.user("dan@example.com")
    with pytest.raises(Forbidden) as err:
        await world.run(world.svc.add_member, await world.access(dan, "acme"), "eve@example.com", "viewer")
    assert err.value.code == "forbidden_role"


@pytest.mark.parametrize(("email", "role", "field"), [
    ("not-an-email", "viewer", "email"), ("a@b", "viewer", "email"), ("x@example.com", "god", "role"),
    ("x@example.com", 3, "role"),
])
async def test_member_validation(world: World, email: str, role: Any, field: str) -> None:
    alice = await world.user("alice@example.com")
    await world.run(world.svc.create_handle, alice, "acme")
    with pytest.raises(ValidationFailed) as err:
        await world.run(world.svc.add_member, await world.access(alice, "acme"), email, role)
    assert err.value.code == "validation_failed" and err.value.errors[0].field == field


# -- tokens --------------------------------------------------------------------
async def test_pat_issue_and_authenticate(world: World) -> None:
    alice = await world.user("alice@example.com")
    issued = await world.run(world.svc.create_token, alice, name="ci", scopes=["links:read"], handle=None,
                             expires_at=None)
    assert issued.secret.startswith(PAT_PREFIX) and len(issued.secret) >= len(PAT_PREFIX) + 22  # >= 128 bits
    assert issued.token.token_hash == sha256_hex(issued.secret) and issued.secret not in repr(issued.token)
    assert issued.token.prefix == issued.secret[:12] and issued.token.id.startswith("pat_")
    principal = await world.run(world.svc.authenticate_pat, issued.secret)
    assert principal.user_id == alice.user_id and principal.scopes == {"links:read"}
    assert principal.credential_id == issued.token.id
    async with world.uow() as uow:
        stored = await uow.identity.get_token(issued.token.id)
        assert stored is not None and stored.last_used_at == world.clock.now()
    for bad in ("", "gha_pat_nope", issued.secret + "x", "Bearer " + issued.secret, PAT_PREFIX + "a" * 300):
        with pytest.raises(Unauthenticated):
            await world.run(world.svc.authenticate_pat, bad)


@given(held=st.frozensets(st.sampled_from(SCOPES)), asked=st.frozensets(st.sampled_from(SCOPES)))
def test_pat_never_carries_more_scopes_than_its_creator(held: frozenset[str], asked: frozenset[str]) -> None:
    async def run() -> None:
        world = World()
        creator = await world.user("alice@example.com", tuple(held))
        if asked <= held:
            issued = await world.run(world.svc.create_token, creator, name="t", scopes=sorted(asked), handle=None,
                                     expires_at=None)
            assert issued.token.scopes == asked
        else:
            with pytest.raises(Forbidden) as err:
                await world.run(world.svc.create_token, creator, name="t", scopes=sorted(asked), handle=None,
                                expires_at=None)
            assert err.value.code == "insufficient_scope"

    asyncio.run(run())


async def test_token_validation(world: World) -> None:
    alice = await world.user("alice@example.com")
    with pytest.raises(ValidationFailed) as err:
        await world.run(world.svc.create_token, alice, name="t", scopes=["links:read"], handle=None,
                        expires_at=world.clock.now() - timedelta(seconds=1))
    assert err.value.code == "validation_failed" and err.value.errors[0].field == "expiresAt"
    with pytest.raises(ValidationFailed) as err:
        await world.run(world.svc.create_token, alice, name=" ", scopes=["nope"], handle=None, expires_at=None)
    assert {e.field for e in err.value.errors} == {"name", "scopes.0"}


async def test_expiry_and_revoke(world: World) -> None:
    alice = await world.user("alice@example.com")
    issued = await world.run(world.svc.create_token, alice, name="short", scopes=[], handle=None,
                             expires_at=world.clock.now() + timedelta(hours=1))
    await world.run(world.svc.authenticate_pat, issued.secret)
    world.clock.advance(hours=1)
    with pytest.raises(Unauthenticated):
        await world.run(world.svc.authenticate_pat, issued.secret)

    other = await world.run(world.svc.create_token, alice, name="long", scopes=[], handle=None, expires_at=None)
    bob = await world.user("bob@example.com")
    with pytest.raises(NotFound) as err:
        await world.run(world.svc.revoke_token, bob, other.token.id)
    assert err.value.code == "token_not_found"
    await world.run(world.svc.revoke_token, alice, other.token.id)
    await world.run(world.svc.revoke_token, alice, other.token.id)  # idempotent
    with pytest.raises(Unauthenticated):
        await world.run(world.svc.authenticate_pat, other.secret)
    assert [t.name for t in await world.run(world.svc.list_tokens, alice)] == ["short"]


async def test_handle_restricted_token_sees_only_its_handle(world: World) -> None:
    alice = await world.user("alice@example.com")
    await world.run(world.svc.create_handle, alice, "acme")
    await world.run(world.svc.create_handle, alice, "beta")
    issued = await world.run(world.svc.create_token, alice, name="acme only", scopes=["links:read"],
                             handle="acme", expires_at=None)
    restricted = await world.run(world.svc.authenticate_pat, issued.secret)
    assert (await world.access(restricted, "acme")).role is Role.OWNER
    with pytest.raises(NotFound):
        await world.access(restricted, "beta")
    assert [h.handle for h, _ in await world.run(world.svc.list_handles, restricted)] == ["acme"]
    with pytest.raises(Forbidden):
        await world.run(world.svc.create_handle, restricted, "gamma")
    bob = await world.user("bob@example.com")
    with pytest.raises(NotFound):  # a token for a handle you cannot see
        await world.run(world.svc.create_token, bob, name="x", scopes=[], handle="acme", expires_at=None)


async def test_operators(world: World) -> None:
    world = World(operators=("ops@example.com",))
    alice = await world.user("alice@example.com")
    await world.run(world.svc.create_handle, alice, "acme")
    ops = await world.user("ops@example.com")
    assert ops.is_operator
    assert (await world.access(ops, "acme")).role is None
    without_scope = Principal(ops.user_id, ops.email, frozenset({"links:read"}), None, is_operator_flag=True)
    with pytest.raises(NotFound):
        await world.access(without_scope, "acme")
    marked = await world.run(world.svc.set_operator, "staff@example.com")
    assert marked.is_operator and world.svc.is_operator(marked)


async def test_verify_pat_does_not_write_and_reports_staleness(world: World) -> None:
    alice = await world.user("alice@example.com")
    issued = await world.run(world.svc.create_token, alice, name="ci", scopes=[], handle=None, expires_at=None)
    async with world.uow() as uow:
        principal, stale = await world.svc.verify_pat(uow, issued.secret)
        assert stale and principal.credential_id == issued.token.id
        assert (await uow.identity.get_token(issued.token.id)).last_used_at is None  # type: ignore[union-attr]
    await world.run(world.svc.record_pat_use, principal)
    async with world.uow() as uow:
        assert (await world.svc.verify_pat(uow, issued.secret))[1] is False
        world.clock.advance(61)
        assert (await world.svc.verify_pat(uow, issued.secret))[1] is True
