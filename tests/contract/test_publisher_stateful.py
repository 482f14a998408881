"""Memory and SQLite publisher repositories agree on every step of random histories."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade
from gharart_core.publisher.model import PublishingRecord, PublishStatus
from gharart_core.publisher.tenancy import TenantScope
from gharart_core.shared.ids import SequentialIds

T0 = datetime(2026, 2, 1, tzinfo=UTC)
SITES = ["acme", "bravo", "carol"]
scopes = st.builds(
    TenantScope,
    handles=st.one_of(st.none(), st.frozensets(st.sampled_from(SITES))),
    sector_id=st.one_of(st.none(), st.sampled_from(["default", "news"])),
    account_id=st.one_of(st.none(), st.sampled_from(["acc_a", "acc_b"])),
)


class RepoAgreement(RuleBasedStateMachine):
    records = Bundle("records")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        url = f"sqlite+aiosqlite:///{Path(self.tmp.name) / 'p.db'}"
        self.loop.run_until_complete(upgrade(url))
        self.db = Database(url)
        self.sql = sql_factories()
        self.mem_state = MemoryState()
        self.mem = memory_factories()
        self.ids = SequentialIds()
        self.tick = 0

    def teardown(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()
        self.tmp.cleanup()

    def both(self, fn: Any) -> tuple[Any, Any]:
        async def run(uow: Any) -> Any:
            async with uow:
                out = await fn(uow.publishing)
                await uow.commit()
                return out

        a = self.loop.run_until_complete(run(MemoryUnitOfWork(self.mem_state, self.mem)))
        b = self.loop.run_until_complete(run(SqlUnitOfWork(self.db, self.sql)))
        return a, b

    @rule(target=records, site=st.sampled_from(SITES), sector=st.sampled_from(["default", "news"]),
          status=st.sampled_from(list(PublishStatus)))
    def add(self, site: str, sector: str, status: PublishStatus) -> PublishingRecord:
        self.tick += 1
        at = T0 + timedelta(minutes=self.tick)
        rec = PublishingRecord(
            id=self.ids.new("pub"), account_id="acc_a" if site != "bravo" else "acc_b", site_id=site,
            sector_id=sector, content_id=f"c{self.tick}", destination="webhook", title="t", status=status,
            created_at=at, updated_at=at, published_at=at if status is PublishStatus.PUBLISHED else None,
            config={"url": "https://x.test"})
        self.both(lambda repo: repo.add(rec))
        return rec

    @rule(rec=records, stale=st.booleans(), status=st.sampled_from(list(PublishStatus)))
    def update(self, rec: PublishingRecord, stale: bool, status: PublishStatus) -> None:
        def go(repo: Any) -> Any:
            async def inner() -> Any:
                current = await repo.get(rec.id)
                if current is None:
                    return None
                expected = current.version - 1 if stale else current.version
                new = attrs.evolve(current, status=status, version=current.version + 1,
                                   attempts=current.attempts + 1)
                return await repo.update(new, expected_version=expected)
            return inner()

        a, b = self.both(go)
        assert a == b

    @rule(rec=consumes(records))
    def delete(self, rec: PublishingRecord) -> None:
        self.both(lambda repo: repo.delete(rec.id))

    @rule(scope=scopes, status=st.one_of(st.none(), st.sampled_from(list(PublishStatus))),
          offset=st.integers(0, 4), limit=st.integers(1, 5))
    def lists_agree(self, scope: TenantScope, status: PublishStatus | None, offset: int, limit: int) -> None:
        a, b = self.both(lambda repo: repo.list(scope, status=status, destination=None, content_id=None,
                                                offset=offset, limit=limit))
        assert list(a[0]) == list(b[0]) and a[1] == b[1]

    @invariant()
    def summaries_agree(self) -> None:
        scope = TenantScope(handles=None)
        a, b = self.both(lambda repo: repo.status_counts(scope))
        assert sorted(a) == sorted(b)
        a, b = self.both(lambda repo: repo.last_published(scope))
        assert dict(a) == dict(b)


TestRepoAgreement = RepoAgreement.TestCase
TestRepoAgreement.settings = settings(max_examples=10, stateful_step_count=12, deadline=None)
