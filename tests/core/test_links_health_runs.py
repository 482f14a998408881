"""Health-check runs as a state machine, and their recovery after a worker dies mid-run.

* ``transition`` allows exactly ``RUN_TRANSITIONS``; ``running -> queued`` is never one of them
  and only ``requeue_orphan`` (the recovery step) takes it, from ``running`` only.
* Stateful: job deliveries where the worker dies after any number of probes (whatever it had
  flushed stays, as with SIGKILL), each followed by the retry the queue makes (recovery, then
  ``run_health_job``), and duplicate deliveries, over the memory and SQLite adapters. A run never
  holds two results for a link, never fails, and once completed has exactly one result per link.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adapters.http.fake import FakeFetcher, FakeReply
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from gharart_core.links.health import RECOVERY_TRANSITIONS, RUN_TRANSITIONS, HealthRun, requeue_orphan, transition
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import Conflict
from gharart_core.shared.ids import SequentialIds
from tests.core.test_links_service import EDITOR
from tests.core.test_links_stateful import template_db

STATUSES = sorted(RUN_TRANSITIONS)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _run(status: str) -> HealthRun:
    return HealthRun("run_1", "acme", status, T0, "usr_1", "{}", total=3, counts=(("ok", 2),), started_at=T0,
                     finished_at=T0 if status in ("completed", "failed") else None, detail="x")


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES))
def test_transition_allows_exactly_the_table(status: str, to: str) -> None:
    try:
        moved = transition(_run(status), to)
    except Conflict as exc:
        assert to not in RUN_TRANSITIONS[status] and exc.code == "invalid_transition"
    else:
        assert to in RUN_TRANSITIONS[status] and moved.status == to
    assert "queued" not in RUN_TRANSITIONS["running"]  # backwards only through the recovery


@given(st.sampled_from(STATUSES))
def test_requeue_orphan_only_from_running_and_clears_progress(status: str) -> None:
    assert not set(RECOVERY_TRANSITIONS) - set(RUN_TRANSITIONS)
    try:
        back = requeue_orphan(_run(status))
    except Conflict as exc:
        assert status != "running" and exc.code == "invalid_transition"
        return
    assert status == "running"
    assert (back.status, back.total, back.counts, back.started_at, back.finished_at, back.detail) == (
        "queued", 0, (), None, None, None)
    assert (back.id, back.handle, back.selector, back.created_at) == ("run_1", "acme", "{}", T0)
    assert transition(back, "running").status == "running"  # and it can run again


# -- recovery, stateful --------------------------------------------------------------------------

SLUGS = ("a", "b", "c", "d", "e")
REPLIES = {"a.example": FakeReply(200), "b.example": FakeReply(404), "c.example": FakeReply(error="timeout"),
           "d.example": FakeReply(500), "e.example": FakeReply(200, head_status=405)}
EXPECTED = {"a": "ok", "b": "client_error", "c": "timeout", "d": "server_error", "e": "ok"}


class WorkerDied(BaseException):
    """Not an ``Exception``: nothing in the job catches it, like a process that is killed."""


class DyingFetcher:
    """The worker's fetcher: after ``budget`` requests the worker is dead and does nothing more."""

    def __init__(self) -> None:
        self.inner = FakeFetcher(REPLIES)
        self.budget: int | None = None

    async def fetch(self, url: str, **kw: Any) -> Any:
        if self.budget is not None:
            if self.budget <= 0:
                raise WorkerDied
            self.budget -= 1
        return await self.inner.fetch(url, **kw)


class Side:
    def __init__(self, make_uow: Any) -> None:
        self.make_uow = make_uow
        self.fetcher = DyingFetcher()
        # one probe at a time, so "dies after k requests" is a definite point of the run
        self.svc = LinksService(clock=FakeClock(), ids=SequentialIds(), uow_factory=make_uow, fetcher=self.fetcher,
                                health_concurrency=1)

    async def setup(self) -> str:
        async with self.make_uow() as uow:
            for slug in SLUGS:
                await self.svc.create(uow, EDITOR, {"slug": slug, "destination": f"https://{slug}.example/"})
            run = await self.svc.start_health_check(uow, EDITOR, {})
            await uow.commit()
        return run.id

    async def deliver(self, run_id: str, dies_after: int | None, recover: bool) -> Any:
        """One delivery of the job; ``recover`` = what the worker's handler does first."""
        self.fetcher.budget = dies_after
        if recover:
            await self.svc.requeue_orphaned_health_run(run_id)
        try:
            return await self.svc.run_health_job(run_id)
        except WorkerDied:
            # what the dead worker had in flight ends as it would: committed or not
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if others:
                await asyncio.wait(others)
            return "died"
        finally:
            self.fetcher.budget = None

    async def state(self, run_id: str) -> tuple[HealthRun, list[Any], dict[str, Any]]:
        async with self.make_uow(write=False) as uow:
            run = await uow.links.find_health_run(run_id)
            results = await uow.links.health_results(run_id)
            links = {s: await uow.links.get("acme", s) for s in SLUGS}
        assert run is not None
        return run, results, links


class HealthRunRecovery(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.patch = mock.patch("gharart_core.links.checks._FLUSH_ROWS", 1)  # every probe is written at once
        self.patch.start()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="health-sm-"))
        shutil.copy(template_db(), self.dir / "db.sqlite")
        self.db = Database(f"sqlite+aiosqlite:///{self.dir}/db.sqlite")
        state, mf, sf = MemoryState(), memory_factories(), sql_factories()
        self.sides = [Side(lambda write=True: MemoryUnitOfWork(state, mf, write=write)),
                      Side(lambda write=True: SqlUnitOfWork(self.db, sf, write=write))]
        self.run_id = ""

    def teardown(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.patch.stop()

    def on_each(self, fn: Any) -> list[Any]:
        return [self.loop.run_until_complete(fn(side)) for side in self.sides]

    @initialize()
    def start(self) -> None:
        ids = self.on_each(lambda s: s.setup())
        assert ids[0] == ids[1]
        self.run_id = ids[0]

    @rule(dies_after=st.one_of(st.none(), st.integers(0, 6)))
    def job_delivery(self, dies_after: int | None) -> None:
        """A first delivery or a retry after a crash: recovery, then the job (maybe dying)."""
        before = self.on_each(lambda s: s.state(self.run_id))
        out = self.on_each(lambda s: s.deliver(self.run_id, dies_after, recover=True))
        after = self.on_each(lambda s: s.state(self.run_id))
        for (run, _, _), got, now in zip(before, out, after, strict=True):
            if run.status == "completed":
                assert got is None  # a finished run is never run again
            if dies_after is None:
                assert now[0].status == "completed"  # a worker that lives finishes it, whatever came before

    @rule()
    def duplicate_delivery(self) -> None:
        """The job delivered again without the recovery step: only a queued run is run."""
        before = self.on_each(lambda s: s.state(self.run_id))
        out = self.on_each(lambda s: s.deliver(self.run_id, None, recover=False))
        after = self.on_each(lambda s: s.state(self.run_id))
        for (run, results, _), got, now in zip(before, out, after, strict=True):
            if run.status != "queued":
                assert got is None and now[0] == run and now[1] == results

    @invariant()
    def one_result_per_link_and_a_completed_run_has_them_all(self) -> None:
        if not self.run_id:
            return
        states = self.on_each(lambda s: s.state(self.run_id))
        assert states[0][0].status == states[1][0].status
        for run, results, links in states:
            slugs = [r.slug for r in results]
            assert len(slugs) == len(set(slugs)) and set(slugs) <= set(SLUGS)
            assert run.status != "failed"
            if run.status == "queued":
                assert results == [] and run.counts == ()
            if run.status == "completed":
                assert {r.slug: r.classification for r in results} == EXPECTED
                assert run.total == len(SLUGS) and sum(n for _, n in run.counts) == len(SLUGS)
                assert all(link.health is not None and link.health.run_id == run.id
                           and link.health.classification == EXPECTED[s] for s, link in links.items())


HealthRunRecovery.TestCase.settings = settings(max_examples=25, stateful_step_count=8, deadline=None)
TestHealthRunRecovery = HealthRunRecovery.TestCase
