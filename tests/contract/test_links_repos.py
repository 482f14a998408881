"""The links repository behaves the same on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from gharart_core.links.health import HealthResult, HealthRun
from gharart_core.links.importing import ImportRowError, ImportRun
from gharart_core.links.model import Conditions, Health, Link, QueryParam, Rule, Variant, version_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RULES = (Rule(Conditions(device=("mobile",), query_param=QueryParam("utm", "x")), "https://m.example/"),
         Rule(Conditions(), None, (Variant("https://a.example/", 30), Variant("https://b.example/", 70))))


def make(slug: str, n: int = 1, **kw) -> Link:
    base = Link(id=f"lnk_{slug:0>26}"[:30], handle="acme", slug=slug, version=n, destination=f"https://{slug}.example/",
                redirect_status=302, forward_query=False, rules=(), tags=(), created_at=T0, updated_at=T0)
    return attrs.evolve(base, **kw)


async def test_insert_get_update_versions(uow_factory):
    link = make("launch", rules=RULES, tags=("q3", "launch"), health=Health("ok", T0, "run_1"))
    async with uow_factory() as uow:
        assert await uow.links.insert(link)
        assert not await uow.links.insert(attrs.evolve(link, id="lnk_other"))
        await uow.links.add_version(version_of(link, created_by="usr_1", source="api", reason=None,
                                               request_id="req_1"))
        v2 = attrs.evolve(link, version=2, destination="https://two.example/")
        assert await uow.links.update(v2, 1)
        assert not await uow.links.update(attrs.evolve(v2, version=3), 1)
        await uow.links.add_version(version_of(v2, created_by="usr_1", source="rollback", reason="x",
                                               request_id="req_2", run_id="run_9"))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        got = await uow.links.get("acme", "launch")
        assert got == v2
        versions = await uow.links.versions(link.id)
        assert [v.version for v in versions] == [2, 1]
        assert versions[0].rules == RULES and versions[0].run_id == "run_9"
        assert (await uow.links.get_version(link.id, 1)).destination == "https://launch.example/"
        assert [v.version for v in await uow.links.versions(link.id, before=2)] == [1]


async def test_list_filters_and_batch(uow_factory):
    async with uow_factory() as uow:
        await uow.links.save_batch([make("a1", tags=("x",)), make("a2"), make("b1", tags=("x", "y"))], [], [])
        await uow.links.save_batch([], [(make("a2", 2, tags=("y",)), 1)], [])
        await uow.links.update(make("b1", 1, deleted_at=T0, tags=("x", "y")), 1)
        await uow.links.set_health([(make("a1").id, Health("timeout", T0, "run_1"))])
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert [x.slug for x in await uow.links.list("acme")] == ["a1", "a2"]
        assert [x.slug for x in await uow.links.list("acme", tag="x")] == ["a1"]
        assert [x.slug for x in await uow.links.list("acme", prefix="A")] == []
        assert [x.slug for x in await uow.links.list("acme", prefix="a", after="a1")] == ["a2"]
        assert [x.slug for x in await uow.links.list("acme", health="timeout")] == ["a1"]
        assert [x.slug for x in await uow.links.list("acme", health="unchecked")] == ["a2"]
        assert [x.slug for x in await uow.links.list("acme", q="A2.EX")] == ["a2"]
        many = await uow.links.get_many("acme", ["a1", "b1", "zz"])
        assert sorted(many) == ["a1", "b1"] and many["b1"].is_deleted


async def test_generation_clicks_and_runs(uow_factory):
    async with uow_factory() as uow:
        assert await uow.links.generation("acme") == 0
        assert await uow.links.bump_generation("acme") == 1
        assert await uow.links.bump_generation("acme") == 2
        await uow.links.add_clicks([("lnk_1", "2026-01-01", 3)])
        await uow.links.add_clicks([("lnk_1", "2026-01-01", 2), ("lnk_1", "2026-01-02", 1)])
        run = ImportRun("run_1", "acme", "atomic", "failed", T0, "usr_1", failed=2, total=2)
        await uow.links.save_import_run(run)
        await uow.links.save_import_run(attrs.evolve(run, detail="done"))
        await uow.links.add_import_errors([ImportRowError("run_1", i, f"s{i}", "invalid_url", "bad")
                                           for i in (3, 1)])
        hrun = HealthRun("run_2", "acme", "queued", T0, "usr_1", "{}")
        await uow.links.save_health_run(hrun)
        await uow.links.save_health_run(attrs.evolve(hrun, status="running", counts=(("ok", 1),)))
        await uow.links.add_health_results([HealthResult("run_2", "b", "https://b/", "ok", 200, 5),
                                            HealthResult("run_2", "a", "https://a/", "timeout", None, 5000, "x")])
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.links.generation("acme") == 2
        assert await uow.links.clicks("lnk_1") == 6
        assert (await uow.links.get_import_run("acme", "run_1")).detail == "done"
        assert await uow.links.get_import_run("other", "run_1") is None
        assert [e.row for e in await uow.links.import_errors("run_1")] == [1, 3]
        assert [e.row for e in await uow.links.import_errors("run_1", after_row=1)] == [3]
        h = await uow.links.get_health_run("acme", "run_2")
        assert h.status == "running" and h.counts == (("ok", 1),)
        assert [r.slug for r in await uow.links.health_results("run_2")] == ["a", "b"]
        assert [r.slug for r in await uow.links.health_results("run_2", classification="timeout")] == ["a"]


async def test_find_and_clear_health_runs(uow_factory):
    async with uow_factory() as uow:
        await uow.links.save_health_run(HealthRun("run_3", "acme", "running", T0, "usr_1", "{}", total=2))
        await uow.links.save_health_run(HealthRun("run_4", "other", "queued", T0, None, '{"tag": "x"}'))
        await uow.links.add_health_results([HealthResult("run_3", "a", "https://a/", "ok", 200, 5),
                                            HealthResult("run_3", "b", "https://b/", "timeout", None, 5000),
                                            HealthResult("run_4", "a", "https://a/", "ok", 200, 7)])
        await uow.commit()
    async with uow_factory(write=False) as uow:
        found = await uow.links.find_health_run("run_3")
        assert found == HealthRun("run_3", "acme", "running", T0, "usr_1", "{}", total=2)
        assert (await uow.links.find_health_run("run_4")).handle == "other"  # any handle
        assert await uow.links.find_health_run("run_nope") is None
    async with uow_factory() as uow:
        await uow.links.clear_health_results("run_4")
        await uow.rollback()
    async with uow_factory() as uow:
        assert [r.slug for r in await uow.links.health_results("run_4")] == ["a"]  # the rollback kept them
        assert await uow.links.clear_health_results("run_3") == 2
        assert await uow.links.clear_health_results("run_nope") == 0
        # the same (run, link) can be written again once cleared
        await uow.links.add_health_results([HealthResult("run_3", "a", "https://a/", "server_error", 503, 9)])
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert [(r.slug, r.classification) for r in await uow.links.health_results("run_3")] == [("a", "server_error")]
        assert [r.duration_ms for r in await uow.links.health_results("run_4")] == [7]  # other runs untouched


async def test_health_job_recovers_a_run_left_running_by_a_dead_worker(uow_factory):
    from adapters.http.fake import FakeFetcher, FakeReply
    from gharart_core.links.service import LinksService
    from gharart_core.shared.clock import FakeClock
    from gharart_core.shared.ids import SequentialIds

    svc = LinksService(clock=FakeClock(), ids=SequentialIds(), uow_factory=uow_factory,
                       fetcher=FakeFetcher({"b.example": FakeReply(404)}))
    async with uow_factory() as uow:
        await uow.links.save_batch([make("a"), make("b"), make("c")], [], [])
        # what a worker killed mid-run leaves: the run `running`, two results already written
        await uow.links.save_health_run(HealthRun("run_5", "acme", "running", T0, "usr_1", "{}", total=3,
                                                  counts=(("ok", 1), ("timeout", 1)), started_at=T0))
        await uow.links.add_health_results([HealthResult("run_5", "a", "https://a.example/", "ok", 200, 5),
                                            HealthResult("run_5", "c", "https://c.example/", "timeout", None, 50)])
        await uow.commit()
    assert await svc.run_health_job("run_5") is None  # a running run is not run twice
    assert await svc.run_health_job("run_nope") is None
    assert await svc.requeue_orphaned_health_run("run_5")
    async with uow_factory(write=False) as uow:
        run = await uow.links.find_health_run("run_5")
        assert (run.status, run.total, run.counts, run.started_at) == ("queued", 0, (), None)
        assert await uow.links.health_results("run_5") == []
    assert not await svc.requeue_orphaned_health_run("run_5")  # only a running run is requeued
    done = await svc.run_health_job("run_5")
    assert done is not None and done.status == "completed" and done.total == 3
    assert done.counts == (("client_error", 1), ("ok", 2))
    async with uow_factory(write=False) as uow:
        results = await uow.links.health_results("run_5")
        assert [(r.slug, r.classification) for r in results] == [("a", "ok"), ("b", "client_error"), ("c", "ok")]
        assert (await uow.links.get("acme", "b")).health.run_id == "run_5"
    assert await svc.run_health_job("run_5") is None  # redelivered after it completed: nothing happens
    assert not await svc.requeue_orphaned_health_run("run_5")


async def test_rollback_discards_link_writes(uow_factory):
    async with uow_factory() as uow:
        await uow.links.insert(make("gone"))
        await uow.rollback()
    async with uow_factory(write=False) as uow:
        assert await uow.links.get("acme", "gone") is None


async def test_insert_imported_writes_links_and_first_versions(uow_factory):
    from gharart_core.links.importing import ImportedLink, ImportMeta, imported_link, imported_version

    meta = ImportMeta(handle="acme", at=T0, created_by="usr_1", request_id="req_1", run_id="run_1")
    # 1,234 rows: more than one multi-row INSERT statement, and a remainder
    rows = [ImportedLink(f"lnk_{i:026d}", f"s{i:05d}", f"https://h{i % 7}.example/{i}", 301 if i % 2 else 302,
                         i % 3 == 0, RULES if i == 5 else (), ("q3", "x") if i % 4 else ())
            for i in range(1234)]
    async with uow_factory() as uow:
        await uow.links.insert_imported(meta, rows)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        many = await uow.links.get_many("acme", [r.slug for r in rows[::-1]] + ["nope"])
        assert len(many) == 1234
        for r in (rows[0], rows[5], rows[1233]):
            assert many[r.slug] == imported_link(meta, r)
            assert await uow.links.versions(r.id) == [imported_version(meta, r)]
        assert [x.slug for x in await uow.links.list("acme", tag="x", limit=3)] == ["s00001", "s00002", "s00003"]
