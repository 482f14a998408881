"""Memory and SQLite adapters agree step by step under the support service (Hypothesis stateful)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from adapters.mail.memory import MemoryOutbox
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade
from gharart_core.identity.model import Principal, User
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import DomainError
from gharart_core.shared.ids import SequentialIds
from gharart_core.support.service import SupportService

T0 = datetime(2026, 1, 1, tzinfo=UTC)
USERS = [Principal(f"usr_{n}", f"{n}@example.com", frozenset({"support:write"}), None) for n in ("a", "b")]
OP = Principal("usr_op", "op@example.com", frozenset({"operator"}), None, is_operator_flag=True)


class NoArtifacts:
    async def owner_of(self, uow: Any, artifact: str, *, handles: Any) -> None:
        return None

    async def target_exists(self, uow: Any, target: Any) -> None:
        return None


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("support-sm") / "template.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def _outcome(result: Any) -> Any:
    report = getattr(result, "report", result)
    return (type(report).__name__, getattr(report, "id", None), getattr(report, "status", None),
            getattr(report, "queue", None), getattr(report, "priority", None), getattr(report, "version", None))


def test_memory_and_sqlite_agree(template_db: Path, tmp_path: Path) -> None:
    counter = iter(range(10_000))

    class Machine(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.loop = asyncio.new_event_loop()
            db_path = tmp_path / f"sm{next(counter)}.db"
            shutil.copy(template_db, db_path)
            self.db = Database(f"sqlite+aiosqlite:///{db_path}")
            state, mf, sf = MemoryState(), memory_factories(), sql_factories()
            self.sides = []
            for make in (lambda w=True: MemoryUnitOfWork(state, mf, write=w),
                         lambda w=True: SqlUnitOfWork(self.db, sf, write=w)):
                clock = FakeClock(T0)
                service = SupportService(clock, SequentialIds(), MemoryOutbox(), NoArtifacts())
                self.sides.append((make, clock, service))
            for make, _, _ in self.sides:
                self.run(self._seed(make))
            self.reports: list[str] = []
            self.escalations: list[str] = []

        async def _seed(self, make: Any) -> None:
            async with make() as uow:
                for p in (*USERS, OP):
                    await uow.identity.add_user(User(p.user_id, p.email, None, p.is_operator_flag, T0))
                await uow.commit()

        def run(self, coro: Any) -> Any:
            return self.loop.run_until_complete(coro)

        def both(self, op: Any) -> Any:
            results = []
            for make, clock, service in self.sides:
                async def go(make: Any = make, clock: Any = clock, service: Any = service) -> Any:
                    async with make() as uow:
                        try:
                            out = await op(uow, service, clock)
                        except DomainError as exc:
                            return ("error", exc.code, tuple((e.field, e.code) for e in exc.errors))
                        await uow.commit()
                        return out
                results.append(self.run(go()))
            mem, sql = results
            assert _norm(mem) == _norm(sql)
            return mem

        @rule(user=st.sampled_from(USERS), summary=st.sampled_from(["Broken preview", "Question", "Site down"]),
              request_id=st.none() | st.sampled_from(["req_1", "req_2"]))
        def file(self, user: Principal, summary: str, request_id: str | None) -> None:
            body = {"summary": summary, "details": "d", **({"requestId": request_id} if request_id else {})}
            out = self.both(lambda uow, s, c: s.file_report(uow, user, body))
            if not isinstance(out, tuple) and out.report.id not in self.reports:
                self.reports.append(out.report.id)

        @rule(hours=st.integers(1, 30))
        def wait(self, hours: int) -> None:
            for _, clock, _ in self.sides:
                clock.advance(hours=hours)

        @precondition(lambda self: bool(self.reports))
        @rule(data=st.data())
        def escalate(self, data: st.DataObject) -> None:
            ids = data.draw(st.lists(st.sampled_from([*self.reports, "rpt_missing"]), min_size=1, max_size=3))
            out = self.both(lambda uow, s, c: s.create_escalation(uow, OP, {"reportIds": ids}))
            if not isinstance(out, tuple):
                self.escalations.append(out.id)

        @precondition(lambda self: bool(self.escalations))
        @rule(data=st.data(), status=st.sampled_from(["open", "acknowledged", "resolved"]))
        def move(self, data: st.DataObject, status: str) -> None:
            eid = data.draw(st.sampled_from(self.escalations))
            self.both(lambda uow, s, c: s.update_escalation(uow, OP, eid, {"status": status}))

        @precondition(lambda self: bool(self.reports))
        @rule(data=st.data(), user=st.sampled_from(USERS))
        def read(self, data: st.DataObject, user: Principal) -> None:
            rid = data.draw(st.sampled_from(self.reports))
            self.both(lambda uow, s, c: s.get_report(uow, user, rid))

        @invariant()
        def lists_agree(self) -> None:
            if not hasattr(self, "sides"):
                return
            for user in USERS:
                self.both(lambda uow, s, c, user=user: _ids(s.list_reports(uow, user)))

        def teardown(self) -> None:
            if hasattr(self, "db"):
                self.run(self.db.dispose())
                self.loop.close()

    Machine.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None)
    Machine.TestCase().runTest()


async def _ids(coro: Any) -> Any:
    page = await coro
    return tuple((r.id, r.status, r.escalation_id) for r in page.items)


def _norm(value: Any) -> Any:
    if isinstance(value, tuple):
        return value
    if hasattr(value, "report"):
        return ("filed", value.created, _outcome(value.report))
    return _outcome(value)
