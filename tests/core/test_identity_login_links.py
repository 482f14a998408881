"""Email sign-in links: the pure rules (expiry, single use) and the service over the memory unit of work."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.mail.memory import MemoryOutbox
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories
from gharart_core.identity.login_link_service import LoginLinkService
from gharart_core.identity.login_links import (
    SESSION_SCOPES,
    LinkState,
    check_redeemable,
    link_state,
    mark_used,
    new_login_link,
    plausible_secret,
)
from gharart_core.identity.model import LoginLink
from gharart_core.identity.service import IdentityService
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import Forbidden, ValidationFailed
from gharart_core.shared.ids import SequentialIds
from gharart_core.shared.tokens import SecretsTokenSource, sha256_hex

FACTORIES = memory_factories()
T0 = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
ttls = st.integers(min_value=1, max_value=7 * 86400)
offsets = st.integers(min_value=-86400, max_value=8 * 86400)


def _code(link: LoginLink | None, now: datetime) -> str | None:
    try:
        check_redeemable(link, now)
    except Forbidden as exc:
        return exc.code
    return None


# -- pure rules -------------------------------------------------------------------------------------
@given(created=instants, ttl=ttls)
def test_a_new_link_is_unused_and_expires_exactly_ttl_later(created: datetime, ttl: int) -> None:
    link = new_login_link("h" * 64, "usr_1", created, ttl)
    assert link.used_at is None and link.created_at == created
    assert link.expires_at - link.created_at == timedelta(seconds=ttl)


@given(ttl=st.integers(max_value=0))
def test_a_link_needs_a_positive_lifetime(ttl: int) -> None:
    with pytest.raises(ValueError):
        new_login_link("h" * 64, "usr_1", T0, ttl)


@given(created=instants, ttl=ttls, offset=offsets)
def test_expiry_is_a_sharp_boundary(created: datetime, ttl: int, offset: int) -> None:
    link = new_login_link("h" * 64, "usr_1", created, ttl)
    now = created + timedelta(seconds=offset)
    valid = now < link.expires_at
    assert link_state(link, now) is (LinkState.VALID if valid else LinkState.EXPIRED)
    assert _code(link, now) == (None if valid else "login_link_expired")


@given(created=instants, ttl=ttls, use_at=st.integers(0, 7 * 86400), later=offsets)
def test_a_used_link_never_signs_in_again(created: datetime, ttl: int, use_at: int, later: int) -> None:
    link = new_login_link("h" * 64, "usr_1", created, ttl)
    when = created + timedelta(seconds=use_at)
    if when >= link.expires_at:
        with pytest.raises(Forbidden, match="login_link_expired"):
            mark_used(link, when)
        return
    used = mark_used(link, when)
    assert used.used_at == when
    then = when + timedelta(seconds=later)
    # used stays "invalid" (not "expired") at any time, so a second click tells the truth
    assert link_state(used, then) is LinkState.USED
    assert _code(used, then) == "login_link_invalid"


@given(now=instants)
def test_an_unknown_link_is_invalid(now: datetime) -> None:
    assert link_state(None, now) is LinkState.UNKNOWN
    assert _code(None, now) == "login_link_invalid"


@given(nbytes=st.integers(16, 64))
def test_minted_secrets_are_plausible(nbytes: int) -> None:
    assert plausible_secret(SecretsTokenSource().token(nbytes))


@given(st.one_of(st.text(), st.none(), st.integers(), st.binary()))
def test_other_values_are_plausible_only_when_url_safe_and_sized(value: object) -> None:
    ok = isinstance(value, str) and 16 <= len(value) <= 200 and re.fullmatch(r"[A-Za-z0-9_\-]*", value) is not None
    assert plausible_secret(value) is ok


# -- the service ------------------------------------------------------------------------------------
class World:
    def __init__(self, ttl_s: int = 900) -> None:
        self.state = MemoryState()
        self.clock = FakeClock(T0)
        self.outbox = MemoryOutbox()
        ids = SequentialIds()
        self.identity = IdentityService(self.clock, ids, SecretsTokenSource())
        self.svc = LoginLinkService(self.clock, ids, SecretsTokenSource(), self.outbox, self.identity,
                                    ttl_s=ttl_s)

    async def run(self, fn, *args, **kw):  # type: ignore[no-untyped-def]
        async with MemoryUnitOfWork(self.state, FACTORIES) as uow:
            try:
                result = await fn(uow, *args, **kw)
            except BaseException:
                await uow.rollback()
                raise
            await uow.commit()
            return result

    async def link_for(self, email: str) -> str:
        assert await self.run(self.svc.request, email, base_url="http://gh.test/")
        m = re.search(r"http://gh\.test/dashboard/login/link\?token=([\w\-]+)", self.outbox.messages[-1].text)
        assert m
        return m.group(1)


async def test_only_known_addresses_get_mail_and_the_secret_is_stored_hashed() -> None:
    w = World()
    await w.run(w.identity.ensure_user, "Ann@Example.com")
    assert not await w.run(w.svc.request, "bob@example.com", base_url="http://gh.test")
    assert w.outbox.messages == []
    secret = await w.link_for("ann@EXAMPLE.com")
    assert w.outbox.messages[-1].to == "Ann@example.com"
    assert len(secret) >= 22  # >= 128 bits of URL-safe base64
    stored = list(w.state.table("login_links").values())
    assert [s.token_hash for s in stored] == [sha256_hex(secret)]
    assert secret not in repr(w.state.tables)
    with pytest.raises(ValidationFailed):
        await w.run(w.svc.request, "not-an-address", base_url="http://gh.test")


async def test_mail_is_sent_only_after_commit() -> None:
    w = World()
    await w.run(w.identity.ensure_user, "ann@example.com")
    async with MemoryUnitOfWork(w.state, FACTORIES) as uow:
        assert await w.svc.request(uow, "ann@example.com", base_url="http://gh.test")
        await uow.rollback()
    assert w.outbox.messages == [] and w.state.table("login_links") == {}


async def test_redeem_mints_a_session_pat_once() -> None:
    w = World()
    user = await w.run(w.identity.ensure_user, "ann@example.com")
    secret = await w.link_for("ann@example.com")
    assert await w.run(w.svc.state, secret) is LinkState.VALID
    issued = await w.run(w.svc.redeem, secret, request_id="req_1")
    token = issued.token
    assert token.user_id == user.id and token.name == "dashboard sign-in" and token.handle is None
    assert token.scopes == SESSION_SCOPES and token.expires_at == T0 + timedelta(hours=8)
    principal = await w.run(w.identity.authenticate_pat, issued.secret)
    assert principal.user_id == user.id
    audit = [e for e in w.state.table("audit").values() if e.action == "login.link"]
    assert [(e.actor_id, e.target, e.request_id) for e in audit] == [(user.id, token.id, "req_1")]
    assert await w.run(w.svc.state, secret) is LinkState.USED
    with pytest.raises(Forbidden, match="login_link_invalid"):
        await w.run(w.svc.redeem, secret)


@given(steps=st.lists(st.integers(0, 600), min_size=1, max_size=6))
def test_a_link_signs_in_at_most_once_and_only_before_expiry(steps: list[int]) -> None:
    """Wait, try, wait, try...: the first try before expiry wins; every other try is refused with the
    code the pure rules predict."""

    async def scenario() -> None:
        w = World(ttl_s=900)
        await w.run(w.identity.ensure_user, "ann@example.com")
        secret = await w.link_for("ann@example.com")
        used = False
        elapsed = 0
        for wait in steps:
            w.clock.advance(seconds=wait)
            elapsed += wait
            if used:
                expected: str | None = "login_link_invalid"
            else:
                expected = None if elapsed < 900 else "login_link_expired"
            try:
                await w.run(w.svc.redeem, secret)
                got = None
            except Forbidden as exc:
                got = exc.code
            assert got == expected, (steps, elapsed)
            used = used or got is None
        pats = [t for t in w.state.table("tokens").values() if t.name == "dashboard sign-in"]
        assert len(pats) == (1 if used else 0)

    asyncio.run(scenario())


async def test_a_link_of_a_vanished_user_is_invalid() -> None:
    w = World()
    user = await w.run(w.identity.ensure_user, "ann@example.com")
    secret = await w.link_for("ann@example.com")
    del w.state.table("users")[user.id]
    with pytest.raises(Forbidden, match="login_link_invalid"):
        await w.run(w.svc.redeem, secret)


async def test_old_links_are_purged_a_day_after_expiry() -> None:
    w = World()
    await w.run(w.identity.ensure_user, "ann@example.com")
    first = await w.link_for("ann@example.com")
    w.clock.advance(seconds=900 + 86400 + 1)
    await w.link_for("ann@example.com")
    assert sha256_hex(first) not in w.state.table("login_links")
    assert len(w.state.table("login_links")) == 1


def test_the_lifetime_must_be_positive() -> None:
    with pytest.raises(ValueError, match="GHARART_LOGIN_LINK_TTL_S"):
        LoginLinkService(FakeClock(), SequentialIds(), SecretsTokenSource(), MemoryOutbox(),
                         IdentityService(FakeClock(), SequentialIds(), SecretsTokenSource()), ttl_s=0)
