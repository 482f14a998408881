"""Support use cases over every adapter: attach, resolve, route, dedupe, escalate, notify."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.mail.memory import MemoryOutbox
from gharart_core.identity.model import Account, Handle, Member, Principal, Role, User
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gharart_core.shared.ids import SequentialIds
from gharart_core.shared.ports import RequestLogEntry
from gharart_core.support.model import ArtifactRef, ContentTarget, Priority, Queue, Status
from gharart_core.support.service import SupportService

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
ALICE = Principal("usr_alice", "alice@example.com", frozenset({"support:write"}), "pat_a")
BOB = Principal("usr_bob", "bob@example.com", frozenset({"support:write"}), "pat_b")
OPERATOR = Principal(
    "usr_op", "op@gharart.test", frozenset({"operator", "support:write"}), "pat_o", is_operator_flag=True
)


class FakeDirectory:
    """Artifacts by id: acme belongs to alice, globex to bob."""

    def __init__(self) -> None:
        self.refs = {
            "dep_A": ArtifactRef("deployment", "dep_A", "acme"),
            "run_H": ArtifactRef("run", "run_H", "acme", "health_check"),
            "run_C": ArtifactRef("run", "run_C", "acme", "crawl"),
            "run_G": ArtifactRef("run", "run_G", "globex", "replay"),
            "fil_A": ArtifactRef("file", "fil_A", "acme"),
            "pg_A": ArtifactRef("page", "pg_A", "acme"),
            "dep_G": ArtifactRef("deployment", "dep_G", "globex"),
        }
        self.slugs = {("acme", "summer"): "lnk_S"}
        self.targets = {("link", "acme", "summer"), ("profile", "acme", ""), ("file", None, "fil_P")}

    async def owner_of(self, uow: Any, artifact: str, *, handles: Sequence[str]) -> ArtifactRef | None:
        if artifact in self.refs:
            return self.refs[artifact]
        for handle in handles:
            if (handle, artifact) in self.slugs:
                return ArtifactRef("link", self.slugs[(handle, artifact)], handle)
        return None

    async def target_exists(self, uow: Any, target: ContentTarget) -> ContentTarget | None:
        if (target.kind, target.handle, target.key) in self.targets:
            return ContentTarget(target.kind, "acme" if target.kind == "file" else target.handle, target.key)
        return None


@pytest.fixture
async def env(uow_factory):
    clock = FakeClock(T0)
    outbox = MemoryOutbox()
    service = SupportService(
        clock,
        SequentialIds(),
        outbox,
        FakeDirectory(),
        operator_emails=["op@gharart.test"],
        public_url="https://gharart.test",
    )
    async with uow_factory() as uow:
        for acc, user, email, handle in (
            ("acc_1", "usr_alice", "alice@example.com", "acme"),
            ("acc_2", "usr_bob", "bob@example.com", "globex"),
        ):
            await uow.identity.add_account(Account(acc, T0))
            await uow.identity.add_user(User(user, email, None, False, T0))
            await uow.identity.add_handle(Handle(handle, acc, T0))
            await uow.identity.upsert_member(Member(handle, email, Role.EDITOR, T0, user))
        await uow.identity.add_user(User("usr_op", "op@gharart.test", None, True, T0))
        for rid, actor, route, status, code in (
            (
                "req_fail",
                "usr_alice",
                "/v2/handles/{handle}/site-deployments/{deploymentId}/preview",
                409,
                "artifact_missing",
            ),
            ("req_bob", "usr_bob", "/v2/handles/{handle}/links/{slug}", 404, "link_not_found"),
            ("req_5xx", "usr_alice", "/v2/handles/{handle}/files", 503, "unavailable"),
        ):
            await uow.request_log.add(
                RequestLogEntry(rid, T0, "GET", route, route, status, code, actor, "acme", 3.0)
            )
        await uow.commit()

    class Env:
        pass

    e = Env()
    e.clock, e.outbox, e.service, e.make = clock, outbox, service, uow_factory
    return e


async def file(env, principal: Principal, body: dict[str, Any]):
    async with env.make() as uow:
        filed = await env.service.file_report(uow, principal, body, request_id="req_new")
        await uow.commit()
    return filed


async def test_failing_request_attaches_route_and_code_and_routes_to_sites(env):
    filed = await file(
        env,
        ALICE,
        {
            "summary": "Preview 409",
            "details": "preview says artifact missing",
            "requestId": "req_fail",
            "handle": "acme",
        },
    )
    r = filed.report
    assert filed.created
    assert r.attached_request is not None
    assert (r.attached_request.route, r.attached_request.status, r.attached_request.code) == (
        "/v2/handles/{handle}/site-deployments/{deploymentId}/preview",
        409,
        "artifact_missing",
    )
    assert (r.queue, r.priority, r.status) == (Queue.SITES, Priority.HIGH, Status.OPEN)
    # receipt to the reporter and an alert to the operators, after commit
    assert [m.to for m in env.outbox.messages] == ["alice@example.com", "op@gharart.test"]


async def test_someone_elses_request_does_not_attach(env):
    r = (await file(env, ALICE, {"summary": "s", "details": "d", "requestId": "req_bob"})).report
    assert r.attached_request is None
    assert r.request_id == "req_bob"  # kept as text
    assert r.queue is Queue.GENERAL  # bob's route does not leak into the routing


@pytest.mark.parametrize(
    ("artifact", "queue", "attached"),
    [
        ("dep_A", Queue.SITES, True),
        ("run_H", Queue.LINKS, True),
        ("run_C", Queue.SITES, True),
        ("fil_A", Queue.FILES, True),
        ("pg_A", Queue.DOCS, True),
        ("summer", Queue.LINKS, True),
        ("dep_G", Queue.SITES, False),  # another tenant's: kept as text, routed by prefix only
        ("run_G", Queue.GENERAL, False),  # another tenant's run: its kind is not looked at
    ],
)
async def test_artifacts_resolve_only_on_visible_handles(env, artifact, queue, attached):
    r = (
        await file(env, ALICE, {"summary": f"about {artifact}", "details": "d", "reproArtifact": artifact})
    ).report
    assert r.queue is queue
    assert (r.attached_artifact is not None) is attached
    assert r.repro_artifact == artifact


async def test_pasted_token_secret_is_redacted(env):
    r = (
        await file(env, ALICE, {"summary": "token", "details": "d", "reproArtifact": "gha_pat_" + "x" * 40})
    ).report
    assert r.queue is Queue.ACCOUNT
    assert "x" * 10 not in r.repro_artifact


async def test_dedupe_by_request_id_and_by_summary(env):
    first = await file(env, ALICE, {"summary": "Preview 409", "details": "d", "requestId": "req_fail"})
    again = await file(env, ALICE, {"summary": "Different words", "details": "d2", "requestId": "req_fail"})
    assert not again.created and again.report.id == first.report.id
    same_summary = await file(env, ALICE, {"summary": "  preview   409 ", "details": "other"})
    assert same_summary.report.id == first.report.id
    env.clock.advance(hours=25)
    later = await file(env, ALICE, {"summary": "Preview 409", "details": "d"})
    assert later.created and later.report.id != first.report.id
    other_actor = await file(env, BOB, {"summary": "Preview 409", "details": "d", "requestId": "req_fail"})
    assert other_actor.created
    assert len(env.outbox.to("alice@example.com")) == 2  # no receipt for duplicates


async def test_reports_are_private_to_their_reporter(env):
    r = (await file(env, ALICE, {"summary": "s", "details": "d"})).report
    async with env.make(write=False) as uow:
        assert (await env.service.get_report(uow, ALICE, r.id)).id == r.id
        for other in (BOB, OPERATOR):
            with pytest.raises(NotFound) as exc:
                await env.service.get_report(uow, other, r.id)
            assert exc.value.code == "report_not_found"
        assert [x.id for x in (await env.service.list_reports(uow, ALICE)).items] == [r.id]
        assert (await env.service.list_reports(uow, BOB)).items == []


async def test_escalation_flow_and_boundaries(env):
    r = (await file(env, ALICE, {"summary": "Preview 409", "details": "d", "requestId": "req_fail"})).report
    async with env.make() as uow:
        with pytest.raises(Forbidden) as exc:
            await env.service.create_escalation(uow, ALICE, {"reportIds": [r.id]})
        assert exc.value.code == "operator_only" and "/v2/support/report" in exc.value.detail
        with pytest.raises(ValidationFailed) as bad:
            await env.service.create_escalation(uow, OPERATOR, {"reportIds": [r.id, "rpt_nope"]})
        assert [(e.field, e.code) for e in bad.value.errors] == [("reportIds.1", "report_not_found")]
        esc = await env.service.create_escalation(uow, OPERATOR, {"reportIds": [r.id], "note": "on it"})
        await uow.commit()
    assert (esc.status, esc.priority, esc.queue) == (Status.OPEN, Priority.HIGH, Queue.SITES)
    for step in ("acknowledged", "resolved"):
        async with env.make() as uow:
            esc = await env.service.update_escalation(uow, OPERATOR, esc.id, {"status": step})
            await uow.commit()
        async with env.make(write=False) as uow:
            assert (await env.service.get_report(uow, ALICE, r.id)).status.value == step
    async with env.make() as uow:
        with pytest.raises(Conflict) as exc:
            await env.service.update_escalation(uow, OPERATOR, esc.id, {"status": "open"})
        assert exc.value.code == "invalid_transition"
        with pytest.raises(NotFound) as nf:
            await env.service.get_escalation(uow, OPERATOR, "esc_nope")
        assert nf.value.code == "escalation_not_found"
    assert any("resolved" in m.subject for m in env.outbox.to("alice@example.com"))


async def test_content_reports_group_by_target_and_refuse_incidents(env):
    async def send(body):
        async with env.make() as uow:
            cr = await env.service.file_content_report(
                uow, body, base_url="http://testserver", client_ip="1.2.3.4"
            )
            await uow.commit()
        return cr

    base = {"category": "phishing", "description": "fake login"}
    a = await send({**base, "targetUrl": "https://gharart.test/l/acme/summer"})
    b = await send(
        {**base, "targetUrl": "http://testserver/l/acme/summer?x=1", "reporterEmail": "x@example.org"}
    )
    c = await send({**base, "targetUrl": "/profiles/acme/index.html"})
    assert a.case_id == b.case_id == a.id
    assert c.case_id == c.id != a.case_id
    assert a.status == "received"
    for bad_target in ("https://gharart.test/l/acme/nope", "https://evil.example/l/acme/summer", "nonsense"):
        with pytest.raises(ValidationFailed) as exc:
            await send({**base, "targetUrl": bad_target})
        assert exc.value.code == "unknown_target"
    for incident in ({"requestId": "req_1"}, {"category": "outage"}):
        with pytest.raises(ValidationFailed) as exc:
            await send({**base, "targetUrl": "/l/acme/summer", **incident})
        assert exc.value.code == "wrong_channel" and "/v2/support/report" in exc.value.detail
