"""Identity and platform repositories behave the same on every adapter."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import attrs

from gharart_core.identity.login_links import LinkState, link_state, new_login_link
from gharart_core.identity.model import Account, Handle, Member, PersonalAccessToken, Role, User
from gharart_core.shared.audit import AuditEvent
from gharart_core.shared.idempotency import IdempotencyRecord, IdempotencyState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_handles_members_tokens_round_trip(uow_factory):
    async with uow_factory() as uow:
        await uow.identity.add_account(Account("acc_1", T0))
        await uow.identity.add_user(User("usr_1", "a@example.com", "sub-1", False, T0))
        assert await uow.identity.add_handle(Handle("acme", "acc_1", T0))
        await uow.identity.upsert_member(Member("acme", "a@example.com", Role.OWNER, T0, "usr_1"))
        await uow.identity.upsert_member(Member("acme", "p@example.com", Role.VIEWER, T0 + timedelta(1), None))
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.identity.add_handle(Handle("acme", "acc_1", T0))
        got = await uow.identity.get_handle("acme")
        assert got == Handle("acme", "acc_1", T0)
        members = await uow.identity.list_members("acme")
        assert [m.email for m in members] == ["a@example.com", "p@example.com"]
        await uow.identity.add_user(User("usr_2", "p@example.com", None, False, T0))
        await uow.identity.claim_pending("P@example.com", "usr_2")
        member = await uow.identity.get_member("acme", "usr_2")
        assert member is not None and member.role is Role.VIEWER
        assert [h.handle for h, _ in await uow.identity.handles_for_user("usr_2")] == ["acme"]
        await uow.identity.add_handle(Handle("beta", "acc_1", T0))
        await uow.identity.add_handle(Handle("a-1", "acc_1", T0))
        assert list(await uow.identity.all_handles()) == ["a-1", "acme", "beta"]
        tok = PersonalAccessToken("pat_1", "usr_1", "ci", "h" * 64, "gha_pat_abcd", frozenset({"links:read"}),
                                  None, None, T0)
        await uow.identity.add_token(tok)
        assert await uow.identity.token_by_hash("h" * 64) == tok
        await uow.identity.revoke_token("pat_1", T0)
        revoked = await uow.identity.get_token("pat_1")
        assert revoked is not None and revoked.revoked_at == T0
        await uow.commit()


async def test_rollback_leaves_nothing(uow_factory):
    async with uow_factory() as uow:
        await uow.identity.add_account(Account("acc_1", T0))
        await uow.identity.add_handle(Handle("acme", "acc_1", T0))
        await uow.rollback()
    async with uow_factory(write=False) as uow:
        assert await uow.identity.get_handle("acme") is None


async def test_audit_pagination_newest_first(uow_factory):
    async with uow_factory() as uow:
        for i in range(5):
            await uow.audit.add(AuditEvent(f"aud_{i:026d}", T0, "usr_1", None, "acme", "link.update",
                                           f"lnk_{i}", "req_1", i, i + 1))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        page = await uow.audit.list("acme", action=None, target=None, cursor=None, limit=2)
        assert [e.target for e in page.items] == ["lnk_4", "lnk_3"]
        page2 = await uow.audit.list("acme", action=None, target=None, cursor=page.next_cursor, limit=10)
        assert [e.target for e in page2.items] == ["lnk_2", "lnk_1", "lnk_0"]
        assert page2.next_cursor is None


async def test_idempotency_reserve_is_exclusive(uow_factory):
    rec = IdempotencyRecord("usr_1", "POST /x", "k1", "f" * 64, IdempotencyState.IN_FLIGHT, T0,
                            T0 + timedelta(days=1), T0 + timedelta(minutes=1))
    async with uow_factory() as uow:
        assert await uow.idempotency.reserve(rec, replace=False)
        assert not await uow.idempotency.reserve(rec, replace=False)
        await uow.idempotency.complete(attrs.evolve(
            rec, status=201, headers=(("content-type", "application/json"),), body=b"{}"))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        got = await uow.idempotency.get("usr_1", "POST /x", "k1")
        assert got is not None and got.state is IdempotencyState.COMPLETED and got.status == 201
        assert got.body == b"{}" and got.headers == (("content-type", "application/json"),)


async def test_quota_and_buckets(uow_factory):
    async with uow_factory() as uow:
        assert await uow.quotas.add_daily("acme", "link_writes", "2026-01-01", 3, 5) == (True, 3)
        assert (await uow.quotas.add_daily("acme", "link_writes", "2026-01-01", 3, 5))[0] is False
        allowed = [(await uow.quotas.take_token("b", 1.0, 2, 100.0))[0] for _ in range(3)]
        assert allowed == [True, True, False]
        await uow.commit()


async def test_login_links_are_single_use_and_expire(uow_factory):
    fresh = new_login_link("a" * 64, "usr_1", T0, 900)
    old = new_login_link("b" * 64, "usr_1", T0 - timedelta(days=2), 900)
    async with uow_factory() as uow:
        await uow.identity.add_login_link(fresh)
        await uow.identity.add_login_link(old)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.identity.get_login_link("a" * 64) == fresh
        assert await uow.identity.get_login_link("c" * 64) is None
    async with uow_factory() as uow:
        assert not await uow.identity.use_login_link("c" * 64, T0)  # unknown
        assert not await uow.identity.use_login_link("b" * 64, T0)  # expired
        assert not await uow.identity.use_login_link("a" * 64, T0 + timedelta(seconds=900))  # at expiry
        at = T0 + timedelta(seconds=899)
        assert await uow.identity.use_login_link("a" * 64, at)
        assert not await uow.identity.use_login_link("a" * 64, at)  # second use
        await uow.commit()
    async with uow_factory() as uow:
        used = await uow.identity.get_login_link("a" * 64)
        assert used == attrs.evolve(fresh, used_at=at) and link_state(used, at) is LinkState.USED
        expired = await uow.identity.get_login_link("b" * 64)
        assert expired is not None and expired.used_at is None
        assert await uow.identity.purge_login_links(T0 - timedelta(days=1)) == 1
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.identity.get_login_link("b" * 64) is None
        assert await uow.identity.get_login_link("a" * 64) is not None


async def test_a_rolled_back_use_leaves_the_link_unused(uow_factory):
    async with uow_factory() as uow:
        await uow.identity.add_login_link(new_login_link("a" * 64, "usr_1", T0, 900))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.identity.use_login_link("a" * 64, T0)
        await uow.rollback()
    async with uow_factory() as uow:
        assert await uow.identity.use_login_link("a" * 64, T0)
        await uow.commit()


async def test_concurrent_uses_of_one_link_let_exactly_one_through(uow_factory):
    async with uow_factory() as uow:
        await uow.identity.add_login_link(new_login_link("a" * 64, "usr_1", T0, 900))
        await uow.commit()
    seen = asyncio.Event()
    reads = 0

    async def use() -> bool:
        nonlocal reads
        async with uow_factory() as uow:
            link = await uow.identity.get_login_link("a" * 64)
            reads += 1
            if reads == 2:
                seen.set()
            # both transactions have read the link unused (where the store lets them overlap at all)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(seen.wait(), 1)
            ok = link is not None and await uow.identity.use_login_link("a" * 64, T0 + timedelta(seconds=1))
            await uow.commit()
            return ok

    assert sorted(await asyncio.gather(use(), use())) == [False, True]
