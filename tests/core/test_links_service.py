"""Link use cases over the memory adapter: versions, rollback policy, import, health checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.http.fake import FakeFetcher, FakeReply
from adapters.jobs import InProcessJobRunner
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.links.bulk import ImportFailed
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import (
    Conflict,
    DomainError,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from gharart_core.shared.ids import SequentialIds

EDITOR = HandleAccess(Principal("usr_1", "e@example.com", frozenset({"links:read", "links:write"}), "pat_1"),
                      "acme", "acc_1", Role.EDITOR, "req_1")
VIEWER = HandleAccess(Principal("usr_2", "v@example.com", frozenset({"links:read", "links:write"}), "pat_2"),
                      "acme", "acc_1", Role.VIEWER, "req_2")


class World:
    def __init__(self, fetcher: FakeFetcher | None = None, timeout: float = 5.0) -> None:
        self.state = MemoryState()
        self.factories = memory_factories()
        self.clock = FakeClock()
        self.jobs = InProcessJobRunner()
        self.fetcher = fetcher or FakeFetcher()
        self.svc = LinksService(clock=self.clock, ids=SequentialIds(), uow_factory=self.uow, jobs=self.jobs,
                                fetcher=self.fetcher, health_timeout_s=timeout)

    def uow(self, write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.state, self.factories, write=write)

    async def do(self, fn, *args, **kwargs):
        async with self.uow() as uow:
            result = await fn(uow, *args, **kwargs)
            await uow.commit()
            return result


async def chunks(text: str, size: int = 7) -> AsyncIterator[bytes]:
    data = text.encode()
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def test_create_update_history_and_rollback():
    w = World()
    link = await w.do(w.svc.create, EDITOR, {"slug": "launch", "destination": "https://a.example/1"})
    assert (link.version, link.redirect_status, link.forward_query) == (1, 302, False)
    link = await w.do(w.svc.update, EDITOR, "launch", {"destination": "https://a.example/2", "expectedVersion": 1})
    link = await w.do(w.svc.update, EDITOR, "launch", {"destination": "https://broken.example/", "expectedVersion": 2})
    assert link.version == 3
    back = await w.do(w.svc.rollback, EDITOR, "launch",
                      {"targetVersion": 2, "expectedCurrentVersion": 3, "reason": "outage"})
    assert (back.version, back.destination) == (4, "https://a.example/2")
    async with w.uow(False) as uow:
        page = await w.svc.history(uow, EDITOR, "launch")
    assert [v.version for v in page.items] == [4, 3, 2, 1]
    assert page.items[0].source == "rollback" and page.items[0].reason == "outage"


async def test_stale_rollback_is_409_and_changes_nothing():
    w = World()
    await w.do(w.svc.create, EDITOR, {"slug": "s", "destination": "https://a.example/1"})
    await w.do(w.svc.update, EDITOR, "s", {"destination": "https://a.example/2", "expectedVersion": 1})
    await w.do(w.svc.update, EDITOR, "s", {"destination": "https://a.example/3", "expectedVersion": 2})
    with pytest.raises(Conflict) as exc:
        await w.do(w.svc.rollback, EDITOR, "s", {"targetVersion": 1, "expectedCurrentVersion": 2})
    assert exc.value.code == "stale_version" and exc.value.extra["currentVersion"] == 3
    async with w.uow(False) as uow:
        link = await w.svc.get(uow, EDITOR, "s")
        hist = await w.svc.history(uow, EDITOR, "s")
    assert (link.version, link.destination) == (3, "https://a.example/3")
    assert len(hist.items) == 3


@pytest.mark.parametrize(("body", "error", "code"), [
    ({"targetVersion": 1}, PreconditionRequired, "precondition_required"),
    ({"targetVersion": 9, "expectedCurrentVersion": 2}, ValidationFailed, "version_not_found"),
    ({"targetVersion": 2, "expectedCurrentVersion": 2}, Conflict, "already_current"),
    ({"expectedCurrentVersion": 2}, ValidationFailed, "validation_failed"),
    ({"targetVersion": "1", "expectedCurrentVersion": 2}, ValidationFailed, "validation_failed"),
])
async def test_rollback_policy_errors(body, error, code):
    w = World()
    await w.do(w.svc.create, EDITOR, {"slug": "s", "destination": "https://a.example/1"})
    await w.do(w.svc.update, EDITOR, "s", {"destination": "https://a.example/2", "expectedVersion": 1})
    with pytest.raises(error) as exc:
        await w.do(w.svc.rollback, EDITOR, "s", body)
    assert exc.value.code == code


async def test_update_needs_a_version_and_checks_it():
    w = World()
    await w.do(w.svc.create, EDITOR, {"slug": "s", "destination": "https://a.example/1"})
    with pytest.raises(PreconditionRequired):
        await w.do(w.svc.update, EDITOR, "s", {"destination": "https://a.example/2"})
    with pytest.raises(Conflict) as c:
        await w.do(w.svc.update, EDITOR, "s", {"destination": "https://a.example/2", "expectedVersion": 5})
    assert c.value.code == "version_conflict" and c.value.extra["currentVersion"] == 1
    with pytest.raises(PreconditionFailed):
        await w.do(w.svc.update, EDITOR, "s", {"destination": "https://a.example/2"}, 4)
    link = await w.do(w.svc.update, EDITOR, "s", {"destination": "https://a.example/2"}, 1)
    assert link.version == 2


async def test_slug_rules_and_soft_delete():
    w = World()
    for slug in ("export", "bulk-import", "health-check"):
        with pytest.raises(ValidationFailed) as exc:
            await w.do(w.svc.create, EDITOR, {"slug": slug, "destination": "https://a.example/"})
        assert exc.value.code == "slug_reserved"
    await w.do(w.svc.create, EDITOR, {"slug": "s", "destination": "https://a.example/"})
    with pytest.raises(Conflict) as exc:
        await w.do(w.svc.create, EDITOR, {"slug": "s", "destination": "https://a.example/"})
    assert exc.value.code == "slug_taken"
    await w.do(w.svc.delete, EDITOR, "s")
    with pytest.raises(NotFound):
        async with w.uow(False) as uow:
            await w.svc.get(uow, EDITOR, "s")
    again = await w.do(w.svc.create, EDITOR, {"slug": "s", "destination": "https://b.example/"})
    assert again.version == 2
    async with w.uow(False) as uow:
        hist = await w.svc.history(uow, EDITOR, "s")
    assert [v.version for v in hist.items] == [2, 1]


async def test_viewer_cannot_write():
    w = World()
    with pytest.raises(DomainError) as exc:
        await w.do(w.svc.create, VIEWER, {"slug": "s", "destination": "https://a.example/"})
    assert exc.value.code == "forbidden_role"


async def test_validation_names_dotted_fields():
    w = World()
    body = {"slug": "s", "destination": "javascript:alert(1)",
            "rules": [{"conditions": {"device": ["phone"]}, "destination": "https://x.example"},
                      {"conditions": {}, "variants": [{"destination": "https://a.example", "weight": 60},
                                                       {"destination": "https://b.example", "weight": 30}]}]}
    with pytest.raises(ValidationFailed) as exc:
        await w.do(w.svc.create, EDITOR, body)
    fields = {(e.field, e.code) for e in exc.value.errors}
    assert ("destination", "invalid_url") in fields
    assert ("rules.0.conditions.device", "invalid_value") in fields
    assert ("rules.1.variants", "invalid_weights") in fields


MALFORMED_CSV = (
    "slug,destination,tags,rules\n"
    "good-1,https://a.example/1,launch|q3,\n"
    "bad-1,htp://broken,launch,\n"
    "good-2,https://a.example/2,,\n"
    "bad-2,javascript:alert(1),,\n"
    "bad-3,https://user:pw@a.example/,,\n"
)


async def test_malformed_urls_atomic_writes_nothing_and_lists_errors():
    w = World()
    with pytest.raises(ImportFailed) as exc:
        await w.do(w.svc.import_links, EDITOR, chunks(MALFORMED_CSV), fmt="csv", mode="atomic")
    result = exc.value.result
    assert exc.value.code == "import_failed"
    assert result.run.counts == {"created": 2, "updated": 0, "unchanged": 0, "failed": 3}
    assert [(r.row, r.code) for r in result.rows if r.outcome == "failed"] == [
        (2, "invalid_url"), (4, "invalid_url"), (5, "invalid_url")]
    async with w.uow(False) as uow:
        assert await uow.links.get("acme", "good-1") is None
        run = await w.svc.get_import_run(uow, EDITOR, result.run.id)
        assert run.status == "failed"
    errors = [e async for e in w.svc.iter_import_errors(EDITOR, result.run.id)]
    assert [(e.row, e.slug, e.code) for e in errors] == [(2, "bad-1", "invalid_url"), (4, "bad-2", "invalid_url"),
                                                         (5, "bad-3", "invalid_url")]


@pytest.mark.parametrize("mode", ["partial", "dryRun"])
async def test_malformed_urls_fail_only_their_rows(mode):
    w = World()
    result = await w.do(w.svc.import_links, EDITOR, chunks(MALFORMED_CSV), fmt="csv", mode=mode)
    assert [r.outcome for r in result.rows] == ["created", "failed", "created", "failed", "failed"]
    assert {r.code for r in result.rows if r.outcome == "failed"} == {"invalid_url"}
    async with w.uow(False) as uow:
        written = await uow.links.get("acme", "good-1")
    assert (written is not None) == (mode == "partial")
    if written:
        assert written.tags == ("launch", "q3")
        async with w.uow(False) as uow:
            hist = await w.svc.history(uow, EDITOR, "good-1")
        assert hist.items[0].source == "import" and hist.items[0].run_id == result.run.id


async def test_reimport_is_unchanged_and_updates_bump_versions():
    w = World()
    csv_text = "slug,destination\na,https://a.example/\nb,https://b.example/\n"
    await w.do(w.svc.import_links, EDITOR, chunks(csv_text), fmt="csv", mode="atomic")
    again = await w.do(w.svc.import_links, EDITOR, chunks(csv_text), fmt="csv", mode="atomic")
    assert again.run.counts["unchanged"] == 2
    nd = '{"slug":"a","destination":"https://a2.example/"}\n{"slug":"a","destination":"https://a3.example/"}\n'
    res = await w.do(w.svc.import_links, EDITOR, chunks(nd), fmt="ndjson", mode="partial")
    assert [r.outcome for r in res.rows] == ["updated", "updated"]
    async with w.uow(False) as uow:
        link = await uow.links.get("acme", "a")
    assert (link.version, link.destination) == (3, "https://a3.example/")


async def _wait_run(w: World, run_id: str):
    await w.jobs.drain(30)
    async with w.uow(False) as uow:
        return await w.svc.get_health_run(uow, EDITOR, run_id)


async def test_hanging_third_party_page_ends_as_timeout_and_run_completes():
    fetcher = FakeFetcher({"slow.example": FakeReply(hang=True), "ok.example": FakeReply(200),
                           "gone.example": FakeReply(404), "moved.example": FakeReply(301, location="https://ok.example/"),
                           "nohead.example": FakeReply(200, head_status=405)})
    w = World(fetcher, timeout=0.2)
    for slug, dest in [("a", "https://slow.example/landing"), ("b", "https://ok.example/"),
                       ("c", "https://gone.example/"), ("d", "https://moved.example/"),
                       ("e", "https://nohead.example/"), ("f", "http://127.0.0.1/admin")]:
        await w.do(w.svc.create, EDITOR, {"slug": slug, "destination": dest})
    run = await w.do(w.svc.start_health_check, EDITOR, {})
    assert run.status == "queued"
    run, results = await _wait_run(w, run.id)
    assert run.status == "completed"
    got = {r.slug: r.classification for r in results}
    assert got == {"a": "timeout", "b": "ok", "c": "client_error", "d": "redirect", "e": "ok", "f": "blocked"}
    assert ("GET", "https://nohead.example/") in fetcher.calls
    assert not any(m == "GET" and "slow" in u for m, u in fetcher.calls)
    async with w.uow(False) as uow:
        a = await uow.links.get("acme", "a")
    assert a.health is not None and a.health.classification == "timeout" and a.health.run_id == run.id


async def test_health_check_unknown_slug_is_422():
    w = World()
    with pytest.raises(ValidationFailed) as exc:
        await w.do(w.svc.start_health_check, EDITOR, {"slugs": ["nope"]})
    assert exc.value.errors[0].code == "link_not_found"


async def test_route_preview_trace():
    w = World()
    await w.do(w.svc.create, EDITOR, {"slug": "s", "destination": "https://default.example/", "rules": [
        {"conditions": {"device": ["mobile"], "country": ["FR"]}, "destination": "https://fr-mobile.example/"},
        {"conditions": {"language": ["de"]}, "destination": "https://de.example/"},
    ]})
    async with w.uow(False) as uow:
        d = await w.svc.route_preview(uow, EDITOR, "s", {
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1",
            "country": "DE", "language": "de-DE,de;q=0.9"})
    assert (d.destination, d.matched_rule, d.variant) == ("https://de.example/", 1, None)
    assert [(t.rule, t.matched, t.failed) for t in d.trace] == [(0, False, ("country",)), (1, True, ())]


def test_run_in_loop_helper():
    assert asyncio.iscoroutinefunction(World().svc.create)
