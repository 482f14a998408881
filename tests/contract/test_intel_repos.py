"""The intel repository behaves the same on every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from gharart_core.intel.model import BrokenLink, Reason, Run, Snapshot, SnapshotPage

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = "http://acme.localhost"


def _snap(sid, at, host="acme.localhost", handle="acme"):
    pages = (
        SnapshotPage(f"{H}/", 200, "text/html; charset=utf-8", "a" * 64, "Home", (f"{H}/a", f"{H}/b"), 1.5),
        SnapshotPage(f"{H}/a", None, None, None, None, (), 10.0, "timeout"),
        SnapshotPage(f"{H}/b", 404, "text/html", "b" * 64, None, (), 0.3),
    )
    return Snapshot(sid, handle, host, at, pages, (BrokenLink(f"{H}/", f"{H}/b", 404),), run_id="run_0")


async def test_runs_round_trip_and_update(uow_factory):
    run = Run(
        "run_1",
        "acme",
        "replay",
        "queued",
        "acme.localhost",
        T0,
        created_by="usr_1",
        snapshot_id="snp_1",
        deployment_id="dep_1",
    )
    async with uow_factory() as uow:
        await uow.intel.add_run(run)
        await uow.commit()
    done = attrs.evolve(
        run,
        status="completed",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        verdict="fail",
        pages_done=7,
        reasons=(
            Reason("page_missing", f"{H}/a", 200, 404),
            Reason("new_broken_link", f"{H}/x", None, 404, source=f"{H}/"),
            Reason("content_changed", f"{H}/", "a" * 64, "b" * 64),
        ),
    )
    async with uow_factory() as uow:
        assert await uow.intel.get_run("acme", "run_1") == run
        assert await uow.intel.get_run("other", "run_1") is None
        assert await uow.intel.find_run("run_1") == run
        assert await uow.intel.find_run("run_9") is None
        await uow.intel.save_run(done)
        await uow.intel.add_run(attrs.evolve(run, id="run_2", created_at=T0 + timedelta(1)))
        await uow.intel.add_run(attrs.evolve(run, id="run_3", deployment_id="dep_2"))
        await uow.intel.add_run(attrs.evolve(run, id="run_4", kind="crawl", deployment_id=None))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.intel.get_run("acme", "run_1") == done
        assert [r.id for r in await uow.intel.replays_for_deployment("acme", "dep_1")] == ["run_1", "run_2"]
        assert await uow.intel.replays_for_deployment("other", "dep_1") == []


async def test_snapshots_round_trip_and_latest(uow_factory):
    async with uow_factory() as uow:
        assert await uow.intel.latest_snapshot("acme", "acme.localhost") is None
        await uow.intel.add_snapshot(_snap("snp_1", T0))
        await uow.intel.add_snapshot(_snap("snp_2", T0 + timedelta(hours=1)))
        await uow.intel.add_snapshot(_snap("snp_3", T0 + timedelta(hours=2), host="www.acme.example"))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.intel.get_snapshot("acme", "snp_1") == _snap("snp_1", T0)
        assert await uow.intel.get_snapshot("other", "snp_1") is None
        latest = await uow.intel.latest_snapshot("acme", "acme.localhost")
        assert latest is not None and latest.id == "snp_2"


async def test_rollback_leaves_nothing(uow_factory):
    async with uow_factory() as uow:
        await uow.intel.add_snapshot(_snap("snp_9", T0))
        await uow.rollback()
    async with uow_factory(write=False) as uow:
        assert await uow.intel.get_snapshot("acme", "snp_9") is None
