"""Stateful model of replay runs and the gate: runs move only along the transition table, and the
memory and SQLite adapters answer the same (runs, snapshots, gate decision) step by step."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade_sync
from gharart_core.intel.gate import check_replay_gate
from gharart_core.intel.model import RUN_TRANSITIONS, Reason, Run, Snapshot, SnapshotPage, transition_run
from gharart_core.shared.errors import Conflict

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEPS = st.sampled_from(["dep_A", "dep_B"])
MAX_AGE = 3600
_TEMPLATE: Path | None = None


def template_db() -> Path:
    global _TEMPLATE
    if _TEMPLATE is None:
        d = Path(tempfile.mkdtemp(prefix="intel-stateful-"))
        upgrade_sync(f"sqlite+aiosqlite:///{d}/template.db")
        _TEMPLATE = d / "template.db"
    return _TEMPLATE


class Side:
    def __init__(self, make_uow) -> None:
        self.make_uow = make_uow

    async def write(self, fn) -> None:
        async with self.make_uow() as uow:
            await fn(uow.intel)
            await uow.commit()

    async def read(self, fn):
        async with self.make_uow(write=False) as uow:
            return await fn(uow.intel)

    async def gate(self, dep: str, now: datetime) -> str:
        runs = await self.read(lambda repo: repo.replays_for_deployment("acme", dep))
        try:
            check_replay_gate(dep, runs, now, MAX_AGE)
        except Conflict as exc:
            return f"{exc.code}:{exc.extra.get('runId')}"
        return "ok"


class ReplayRuns(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="intel-sm-"))
        shutil.copy(template_db(), self.dir / "db.sqlite")
        self.db = Database(f"sqlite+aiosqlite:///{self.dir}/db.sqlite")
        state, mf, sf = MemoryState(), memory_factories(), sql_factories()
        self.sides = [
            Side(lambda write=True: MemoryUnitOfWork(state, mf, write=write)),
            Side(lambda write=True: SqlUnitOfWork(self.db, sf, write=write)),
        ]
        self.now = T0
        self.runs: dict[str, Run] = {}
        self.n = 0

    def both(self, coro_fn):
        return [self.loop.run_until_complete(coro_fn(side)) for side in self.sides]

    def teardown(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:026d}"

    @rule(pages=st.integers(0, 3))
    def crawl(self, pages):
        snap = Snapshot(
            self._id("snp"),
            "acme",
            "acme.localhost",
            self.now,
            tuple(
                SnapshotPage(f"http://acme.localhost/{i}", 200, "text/html", "d" * 64, f"p{i}", (), 1.0)
                for i in range(pages)
            ),
            (),
        )
        self.both(lambda s: s.write(lambda repo: repo.add_snapshot(snap)))

    @rule(dep=DEPS)
    def start_replay(self, dep):
        run = Run(
            self._id("run"),
            "acme",
            "replay",
            "queued",
            "acme.localhost",
            self.now,
            deployment_id=dep,
            snapshot_id="snp_1",
        )
        self.runs[run.id] = run
        self.both(lambda s: s.write(lambda repo: repo.add_run(run)))

    @rule(
        data=st.data(),
        to=st.sampled_from(["queued", "running", "completed", "failed"]),
        verdict=st.sampled_from(["pass", "fail"]),
    )
    def move(self, data, to, verdict):
        if not self.runs:
            return
        run_id = data.draw(st.sampled_from(sorted(self.runs)))
        run = self.runs[run_id]
        try:
            changes = {}
            if to == "completed":
                changes = {
                    "finished_at": self.now,
                    "verdict": verdict,
                    "reasons": (Reason("page_missing", "http://acme.localhost/x", 200, 404),)
                    if verdict == "fail"
                    else (),
                }
            new = transition_run(run, to, **changes)
        except Conflict:
            assert to not in RUN_TRANSITIONS[run.status]
            return
        assert to in RUN_TRANSITIONS[run.status]
        self.runs[run_id] = new
        self.both(lambda s: s.write(lambda repo: repo.save_run(new)))

    @rule(seconds=st.sampled_from([60, 1800, 4000]))
    def wait(self, seconds):
        self.now += timedelta(seconds=seconds)

    @invariant()
    def adapters_agree_with_each_other_and_the_model(self):
        for dep in ("dep_A", "dep_B"):
            mem, sql = self.both(lambda s, dep=dep: s.read(lambda repo: repo.replays_for_deployment("acme", dep)))
            assert list(mem) == list(sql)
            assert {r.id for r in mem} == {r.id for r in self.runs.values() if r.deployment_id == dep}
            for r in mem:
                assert r == self.runs[r.id]
            gates = self.both(lambda s, dep=dep: s.gate(dep, self.now))
            assert gates[0] == gates[1]
            done = [r for r in self.runs.values() if r.deployment_id == dep and r.status == "completed"]
            latest = max(done, key=lambda r: (r.finished_at, r.id), default=None)
            fresh = [r for r in done if r.verdict == "pass" and r.finished_at >= self.now - timedelta(seconds=MAX_AGE)]
            expected = (
                "replay_failed:" + latest.id
                if latest is not None and latest.verdict == "fail"
                else "ok"
                if fresh
                else "replay_gate_required:None"
            )
            assert gates[0] == expected
        a, b = self.both(lambda s: s.read(lambda repo: repo.latest_snapshot("acme", "acme.localhost")))
        assert a == b


ReplayRuns.TestCase.settings = settings(max_examples=15, stateful_step_count=15, deadline=None)
TestReplayRuns = ReplayRuns.TestCase


def test_attrs_evolve_keeps_runs_frozen():
    run = Run("run_1", "acme", "replay", "queued", "h", T0)
    assert attrs.evolve(run, status="running").status == "running" and run.status == "queued"
