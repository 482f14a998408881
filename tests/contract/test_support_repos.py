"""Support repositories behave the same on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from gharart_core.support.model import (
    ArtifactRef,
    AttachedRequest,
    ContentCategory,
    ContentReport,
    Escalation,
    EscalationNote,
    Priority,
    Queue,
    Report,
    Status,
)
from gharart_core.support.policy import summary_key

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def make_report(
    rid: str,
    reporter: str = "usr_a",
    *,
    summary: str = "Preview broken",
    request_id: str | None = None,
    at: datetime = T0,
    queue: Queue = Queue.SITES,
) -> Report:
    return Report(
        id=rid,
        reporter_id=reporter,
        summary=summary,
        details="It 409s",
        handle="acme",
        session_id="s-1",
        request_id=request_id,
        repro_artifact="dep_1",
        queue=queue,
        priority=Priority.HIGH,
        status=Status.OPEN,
        attached_request=AttachedRequest(
            "req_1", "/v2/handles/{handle}/site-deployments", 409, "artifact_missing", T0
        )
        if request_id
        else None,
        attached_artifact=ArtifactRef("run", "run_1", "acme", "crawl"),
        summary_key=summary_key(summary),
        created_at=at,
        updated_at=at,
    )


async def test_reports_round_trip_update_and_list(uow_factory):
    async with uow_factory() as uow:
        await uow.support.add_report(make_report("rpt_01", request_id="req_1"))
        await uow.support.add_report(make_report("rpt_02", summary="Other", queue=Queue.LINKS))
        await uow.support.add_report(make_report("rpt_03", reporter="usr_b"))
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.support.get_report("rpt_01")
        assert got == make_report("rpt_01", request_id="req_1")
        assert await uow.support.get_report("rpt_99") is None
        await uow.support.update_report(attrs.evolve(got, status=Status.ACKNOWLEDGED, escalation_id="esc_1"))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        got = await uow.support.get_report("rpt_01")
        assert (got.status, got.escalation_id) == (Status.ACKNOWLEDGED, "esc_1")
        mine = await uow.support.list_reports(
            reporter_id="usr_a", queue=None, status=None, before_id=None, limit=10
        )
        assert [r.id for r in mine] == ["rpt_02", "rpt_01"]
        page = await uow.support.list_reports(
            reporter_id="usr_a", queue=None, status=None, before_id="rpt_02", limit=10
        )
        assert [r.id for r in page] == ["rpt_01"]
        sites = await uow.support.list_reports(
            reporter_id=None, queue="sites", status=None, before_id=None, limit=10
        )
        assert [r.id for r in sites] == ["rpt_03", "rpt_01"]
        acked = await uow.support.list_reports(
            reporter_id=None, queue=None, status=Status.ACKNOWLEDGED, before_id=None, limit=10
        )
        assert [r.id for r in acked] == ["rpt_01"]


async def test_dedupe_candidates(uow_factory):
    async with uow_factory() as uow:
        await uow.support.add_report(make_report("rpt_01", request_id="req_1", at=T0 - timedelta(days=3)))
        await uow.support.add_report(make_report("rpt_02", summary="Same words", at=T0 - timedelta(hours=2)))
        await uow.support.add_report(make_report("rpt_03", reporter="usr_b", summary="Same words"))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        since = T0 - timedelta(hours=24)
        by_req = await uow.support.dedupe_candidates(
            "usr_a", request_id="req_1", summary_key="x", since=since
        )
        assert [r.id for r in by_req] == ["rpt_01"]
        by_sum = await uow.support.dedupe_candidates(
            "usr_a", request_id=None, summary_key="same words", since=since
        )
        assert [r.id for r in by_sum] == ["rpt_02"]
        old = await uow.support.dedupe_candidates(
            "usr_a", request_id=None, summary_key="preview broken", since=since
        )
        assert old == []


async def test_escalations_round_trip_with_optimistic_locking(uow_factory):
    note = EscalationNote(T0, "usr_op", "looking")
    esc = Escalation(
        "esc_01",
        ("rpt_01", "rpt_02"),
        "ops@example.com",
        Priority.URGENT,
        Queue.SITES,
        Status.OPEN,
        (note,),
        "usr_op",
        T0,
        T0,
    )
    async with uow_factory() as uow:
        await uow.support.add_escalation(esc)
        await uow.support.add_escalation(attrs.evolve(esc, id="esc_02", assignee=None, queue=Queue.LINKS))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.support.get_escalation("esc_01") == esc
        moved = attrs.evolve(esc, status=Status.ACKNOWLEDGED, version=2, updated_at=T0 + timedelta(minutes=1))
        assert await uow.support.update_escalation(moved, 1)
        assert not await uow.support.update_escalation(attrs.evolve(moved, version=3), 1)
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.support.get_escalation("esc_01") == moved
        assert await uow.support.get_escalation("esc_99") is None
        everything = await uow.support.list_escalations(
            status=None, assignee=None, queue=None, before_id=None, limit=10
        )
        assert [e.id for e in everything] == ["esc_02", "esc_01"]
        acked = await uow.support.list_escalations(
            status=Status.ACKNOWLEDGED, assignee=None, queue=None, before_id=None, limit=10
        )
        assert [e.id for e in acked] == ["esc_01"]
        mine = await uow.support.list_escalations(
            status=None, assignee="ops@example.com", queue="sites", before_id=None, limit=10
        )
        assert [e.id for e in mine] == ["esc_01"]


async def test_content_reports_group_by_target(uow_factory):
    def cr(rid: str, key: str, case: str) -> ContentReport:
        return ContentReport(
            rid,
            ContentCategory.SPAM,
            "https://g.test/l/acme/x",
            key,
            "spam",
            None,
            case,
            "received",
            "127.0.0.1",
            T0,
        )

    async with uow_factory() as uow:
        assert await uow.support.case_for_target("link:acme:x") is None
        await uow.support.add_content_report(cr("cr_01", "link:acme:x", "cr_01"))
        await uow.support.add_content_report(cr("cr_02", "link:acme:x", "cr_01"))
        await uow.support.add_content_report(cr("cr_03", "link:acme:y", "cr_03"))
        await uow.commit()
    async with uow_factory(write=False) as uow:
        assert await uow.support.case_for_target("link:acme:x") == "cr_01"
        case = await uow.support.content_reports_in_case("cr_01")
        assert [r.id for r in case] == ["cr_01", "cr_02"]
        assert case[0] == cr("cr_01", "link:acme:x", "cr_01")


async def test_rollback_leaves_nothing(uow_factory):
    async with uow_factory() as uow:
        await uow.support.add_report(make_report("rpt_01"))
        await uow.rollback()
    async with uow_factory(write=False) as uow:
        assert await uow.support.get_report("rpt_01") is None
