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
