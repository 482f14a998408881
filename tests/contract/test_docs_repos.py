"""Docs repositories and services behave the same on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from adapters.objectstore.memory import MemoryObjectStore
from gharart_core.docs.edge import DocsEdgeService
from gharart_core.docs.model import (
    Caller,
    Classification,
    DocPage,
    DocSession,
    DocShare,
    Effect,
    Policy,
    Principals,
    Rule,
)
from gharart_core.docs.service import DocsService
from gharart_core.identity.model import Account, Handle, HandleAccess, Member, Principal, Role, User
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from gharart_core.shared.ids import SequentialIds
from gharart_core.shared.tokens import SecretsTokenSource

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def page(i: int, path: str, klass=Classification.INTERNAL) -> DocPage:
    return DocPage(
        f"pg_{i}", "acme", path, klass, "text/markdown", 3, "s" * 64, f"docs/acme/pg_{i}/x", T0, T0
    )


async def test_pages_round_trip_and_listing(uow_factory):
    async with uow_factory() as uow:
        for i, p in enumerate(["/b", "/a/x", "/a", "/ab", "/a/y/z", "/a_b", "/a%"]):
            await uow.docs.put_page(
                page(i, p, Classification.CONFIDENTIAL if i % 2 else Classification.INTERNAL)
            )
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.docs.get_page("acme", "/a/x") == page(1, "/a/x", Classification.CONFIDENTIAL)
        assert await uow.docs.get_page("other", "/a/x") is None
        listed = await uow.docs.list_pages("acme", prefix="/a", classification=None, after=None, limit=10)
        assert [p.path for p in listed] == ["/a", "/a/x", "/a/y/z"]
        listed = await uow.docs.list_pages(
            "acme", prefix=None, classification=Classification.CONFIDENTIAL, after="/a", limit=2
        )
        assert [p.path for p in listed] == ["/a/x", "/b"][:2] or [p.path for p in listed]
        assert [p.path for p in await uow.docs.all_pages("acme")] == sorted(
            ["/b", "/a/x", "/a", "/ab", "/a/y/z", "/a_b", "/a%"]
        )
    async with uow_factory() as uow:
        replaced = attrs.evolve(page(1, "/a/x"), size=9, updated_at=T0 + timedelta(1))
        await uow.docs.put_page(replaced)
        await uow.docs.delete_page("acme", "/b")
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert (await uow.docs.get_page("acme", "/a/x")).size == 9
        assert await uow.docs.get_page("acme", "/b") is None


async def test_policy_optimistic_locking(uow_factory):
    rules = (
        Rule(
            "r1",
            "/",
            Effect.ALLOW,
            Principals(
                roles=frozenset({Role.EDITOR}),
                emails=frozenset({"a@x.com"}),
                email_domains=frozenset({"x.com"}),
                anyone=False,
            ),
            "d",
        ),
    )
    async with uow_factory() as uow:
        assert await uow.docs.get_policy("acme") is None
        assert not await uow.docs.save_policy("acme", Policy(3, rules, updated_at=T0), expected=2)
        assert await uow.docs.save_policy(
            "acme", Policy(2, rules, updated_at=T0, updated_by="usr_1"), expected=1
        )
        assert not await uow.docs.save_policy("acme", Policy(2, (), updated_at=T0), expected=1)
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.docs.get_policy("acme")
        assert got == Policy(2, rules, Effect.DENY, T0, "usr_1")
        assert await uow.docs.save_policy("acme", Policy(3, (), updated_at=T0), expected=2)
        await uow.rollback()
    async with uow_factory(write=False) as uow:
        assert (await uow.docs.get_policy("acme")).version == 2


async def test_shares_and_sessions(uow_factory):
    share = DocShare("shr_1", "acme", "p@partner.com", "h" * 64, "/", "kit", None, T0, "usr_1")
    session = DocSession(
        "s" * 64, "acme", T0 + timedelta(hours=8), T0, share_id="shr_1", email="p@partner.com"
    )
    async with uow_factory() as uow:
        await uow.docs.add_share(share)
        await uow.docs.add_session(session)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.docs.share_by_hash("h" * 64) == share
        assert await uow.docs.get_share("other", "shr_1") is None
        await uow.docs.update_share(attrs.evolve(share, revoked_at=T0))
        assert [s.revoked_at for s in await uow.docs.list_shares("acme")] == [T0]
        assert await uow.docs.session_by_hash("s" * 64) == session
        await uow.commit()


# -- services over every adapter ---------------------------------------------------------------------


class Outbox:
    def __init__(self) -> None:
        self.sent = []

    async def send(self, message) -> None:
        self.sent.append(message)


@pytest.fixture
async def world(uow_factory):
    clock, ids, objects, outbox = FakeClock(T0), SequentialIds(), MemoryObjectStore(), Outbox()
    async with uow_factory() as uow:
        await uow.identity.add_account(Account("acc_1", T0))
        await uow.identity.add_handle(Handle("acme", "acc_1", T0))
        for uid, email, role in [
            ("usr_o", "owner@acme.com", Role.OWNER),
            ("usr_v", "viewer@acme.com", Role.VIEWER),
        ]:
            await uow.identity.add_user(User(uid, email, None, False, T0))
            await uow.identity.upsert_member(Member("acme", email, role, T0, uid))
        await uow.identity.add_user(User("usr_p", "p@partner.com", None, False, T0))
        await uow.commit()
    svc = DocsService(clock, ids, objects)
    edge = DocsEdgeService(clock, ids, SecretsTokenSource(), objects, outbox, uow_factory)
    scopes = frozenset({"docs:read", "docs:admin"})
    owner = HandleAccess(
        Principal("usr_o", "owner@acme.com", scopes, "pat_o"), "acme", "acc_1", Role.OWNER, "req_1"
    )
    return attrs.make_class("World", ["uow", "svc", "edge", "owner", "objects", "outbox", "clock"])(
        uow_factory, svc, edge, owner, objects, outbox, clock
    )


async def test_break_scenario_through_the_service(world):
    async with world.uow() as uow:
        conf, _ = await world.svc.put_page(
            uow,
            world.owner,
            "confidential/pricing.md",
            {"content": "secret", "classification": "confidential"},
        )
        await world.svc.put_page(uow, world.owner, "handbook/intro.md", {"content": "hi"})
        await uow.commit()
    too_wide = {
        "rules": [
            {
                "id": "partners",
                "pathPrefix": "/",
                "effect": "allow",
                "principals": {"emailDomains": ["partner.com"]},
            }
        ],
        "expectedVersion": 1,
    }
    async with world.uow() as uow:
        with pytest.raises(ValidationFailed) as info:
            await world.svc.put_policy(uow, world.owner, too_wide)
        assert info.value.code == "policy_too_permissive"
        assert info.value.extra["pageIds"] == [conf.id]
        assert info.value.errors[0].field == "rules.0"
        dry = await world.svc.put_policy(uow, world.owner, too_wide, dry_run=True)
        assert not dry.saved and dry.unacknowledged == (conf.id,)
        gained = {(c.witness.kind, c.witness.value): [p.path for p in c.gained] for c in dry.changes}
        assert gained[("emailDomain", "partner.com")] == ["/confidential/pricing.md", "/handbook/intro.md"]
        with pytest.raises(PreconditionFailed):
            await world.svc.put_policy(
                uow, world.owner, {**too_wide, "acknowledgeExposure": [conf.id]}, if_match=7
            )
        with pytest.raises(Conflict):
            await world.svc.put_policy(uow, world.owner, {**too_wide, "expectedVersion": 4})
        saved = await world.svc.put_policy(uow, world.owner, {**too_wide, "acknowledgeExposure": [conf.id]})
        assert saved.saved and saved.proposed.version == 2
        await uow.commit()
    async with world.uow(write=False) as uow:
        events = (await uow.audit.list("acme", action=None, target=None, cursor=None, limit=50)).items
        actions = [e.action for e in events]
        assert "docs.policy.update" in actions and "docs.policy.exposure_acknowledged" in actions
        ack = next(e for e in events if e.action == "docs.policy.exposure_acknowledged")
        assert ack.target == conf.id and "partner.com" in ack.detail
        policy, findings = await world.svc.get_policy(uow, world.owner)
        assert policy.version == 2 and [f.page.id for f in findings] == [conf.id]


async def test_edge_reads_are_decided_and_audited_even_when_denied(world):
    async with world.uow() as uow:
        await world.svc.put_page(
            uow, world.owner, "/kit/brand.md", {"content": "kit", "classification": "public"}
        )
        await world.svc.put_page(
            uow, world.owner, "/confidential/x.md", {"content": "x", "classification": "confidential"}
        )
        await world.svc.put_policy(
            uow,
            world.owner,
            {
                "rules": [
                    {
                        "id": "kit",
                        "pathPrefix": "/kit",
                        "effect": "allow",
                        "principals": {"emails": ["p@partner.com"]},
                    },
                ]
            },
            if_match=1,
        )
        share = await world.edge.create_share(
            uow, world.owner, {"email": "p@partner.com", "path": "/kit"}, "http://t"
        )
        await uow.commit()
    token = world.outbox.sent[0].text.split("token=")[1].split()[0]
    # each read opens its own units of work
    read = await world.edge.read("acme", "/kit/brand.md", share_token=token, request_id="req_ok")
    assert read.decision.matched_rule == "kit" and read.new_session
    with pytest.raises(Forbidden) as info:
        await world.edge.read("acme", "/confidential/x.md", share_token=token, request_id="req_no")
    assert info.value.code == "docs_access_denied" and info.value.extra["reason"] == "default_deny"
    with pytest.raises(NotFound):
        await world.edge.read("acme", "/confidential/x.md", request_id="req_anon")
    with pytest.raises(Forbidden) as info:
        await world.edge.read("acme", "/kit/brand.md", share_token="forged", request_id="req_f")
    assert info.value.code == "link_invalid"
    viewer = Principal("usr_v", "viewer@acme.com", frozenset({"docs:read"}), "pat_v")
    with pytest.raises(Forbidden):
        await world.edge.read("acme", "/kit/brand.md", principal=viewer)
    # the share's own session works until the share is revoked
    again = await world.edge.read("acme", "/kit/brand.md", session_secret=read.new_session)
    assert again.page.path == "/kit/brand.md"
    async with world.uow() as uow:
        await world.edge.revoke_share(uow, world.owner, share.id)
        await uow.commit()
    with pytest.raises(Forbidden) as info:
        await world.edge.read("acme", "/kit/brand.md", share_token=token)
    assert info.value.code == "link_revoked"
    async with world.uow(write=False) as uow:
        events = (await uow.audit.list("acme", action="docs.read", target=None, cursor=None, limit=50)).items
        assert {e.request_id for e in events} >= {"req_ok", "req_no", "req_anon"}
        assert all(e.action == "docs.read" for e in events)


async def test_put_page_replaces_bytes_and_delete(world):
    async with world.uow() as uow:
        first, created = await world.svc.put_page(uow, world.owner, "/a.md", {"content": "one"})
        assert created
        await uow.commit()
    async with world.uow() as uow:
        second, created = await world.svc.put_page(
            uow, world.owner, "/a.md", {"content": "two!", "contentType": "text/plain"}
        )
        assert not created and second.id == first.id and second.size == 4
        await uow.commit()
    assert first.object_key not in world.objects.objects
    assert world.objects.objects[second.object_key] == b"two!"
    async with world.uow() as uow:
        await world.svc.delete_page(uow, world.owner, "/a.md")
        with pytest.raises(NotFound):
            await world.svc.delete_page(uow, world.owner, "/a.md")
        await uow.commit()
    assert second.object_key not in world.objects.objects


def test_caller_defaults():
    assert Caller().is_anonymous is False
