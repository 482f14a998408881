"""Stateful model of link versions: history is append-only, versions strictly increase, and the
memory and SQLite adapters give the same answers step by step."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade_sync
from gharart_core.links.bulk import ImportFailed
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import DomainError
from gharart_core.shared.ids import SequentialIds
from tests.core.test_links_service import EDITOR

_TEMPLATE: Path | None = None


def template_db() -> Path:
    global _TEMPLATE
    if _TEMPLATE is None:
        d = Path(tempfile.mkdtemp(prefix="links-stateful-"))
        upgrade_sync(f"sqlite+aiosqlite:///{d}/template.db")
        _TEMPLATE = d / "template.db"
    return _TEMPLATE


SLUGS = st.sampled_from(["a", "b", "c"])
DESTS = st.sampled_from(["https://one.example/", "https://two.example/", "https://three.example/", "bad-url"])


class Side:
    def __init__(self, make_uow) -> None:
        self.make_uow = make_uow
        self.svc = LinksService(clock=FakeClock(), ids=SequentialIds(), uow_factory=make_uow)

    async def call(self, name: str, *args, **kwargs):
        async with self.make_uow() as uow:
            try:
                result = await getattr(self.svc, name)(uow, EDITOR, *args, **kwargs)
            except ImportFailed as exc:
                return ("error", exc.code, exc.result.run.counts)
            except DomainError as exc:
                return ("error", exc.code, exc.extra.get("currentVersion"))
            await uow.commit()
            return result

    async def history(self, slug: str) -> list[tuple]:
        async with self.make_uow(write=False) as uow:
            link = await uow.links.get("acme", slug)
            if link is None:
                return []
            return [(v.version, v.destination, v.source, v.rules, v.tags)
                    for v in await uow.links.versions(link.id, limit=10_000)]


async def _rows(text: str):
    yield text.encode()


class LinkVersions(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="links-sm-"))
        shutil.copy(template_db(), self.dir / "db.sqlite")
        self.db = Database(f"sqlite+aiosqlite:///{self.dir}/db.sqlite")
        state, mf, sf = MemoryState(), memory_factories(), sql_factories()
        self.memory = Side(lambda write=True: MemoryUnitOfWork(state, mf, write=write))
        self.sql = Side(lambda write=True: SqlUnitOfWork(self.db, sf, write=write))
        self.histories: dict[str, list[tuple]] = {}

    def teardown(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def both(self, name: str, *args, **kwargs):
        fresh = [a() if callable(a) else a for a in args]
        a = self.loop.run_until_complete(self.memory.call(name, *fresh, **kwargs))
        fresh = [a() if callable(a) else a for a in args]
        b = self.loop.run_until_complete(self.sql.call(name, *fresh, **kwargs))
        if isinstance(a, tuple):
            assert a == b
        else:
            norm = (lambda r: r.run.counts) if hasattr(a, "run") else (lambda r: r)
            assert norm(a) == norm(b)
        return a

    def current_version(self, slug: str) -> int:
        hist = self.histories.get(slug) or []
        return hist[0][0] if hist else 0

    @rule(slug=SLUGS, dest=DESTS)
    def create(self, slug, dest):
        self.both("create", {"slug": slug, "destination": dest})

    @rule(slug=SLUGS, dest=DESTS, stale=st.booleans())
    def update(self, slug, dest, stale):
        cur = self.current_version(slug)
        self.both("update", slug, {"destination": dest, "expectedVersion": cur - 1 if stale else cur})

    @rule(slug=SLUGS, version=st.integers(0, 6), stale=st.booleans())
    def rollback(self, slug, version, stale):
        cur = self.current_version(slug)
        self.both("rollback", slug, {"targetVersion": version, "expectedCurrentVersion": cur + 1 if stale else cur})

    @rule(slug=SLUGS)
    def delete(self, slug):
        self.both("delete", slug)

    @rule(rows=st.lists(st.tuples(SLUGS, DESTS), min_size=1, max_size=4),
          mode=st.sampled_from(["atomic", "partial", "dryRun"]))
    def bulk_import(self, rows, mode):
        text = "slug,destination\n" + "".join(f"{s},{d}\n" for s, d in rows)
        self.both("import_links", lambda: _rows(text), fmt="csv", mode=mode)

    @invariant()
    def history_append_only_and_adapters_agree(self):
        for slug in ("a", "b", "c"):
            mem = self.loop.run_until_complete(self.memory.history(slug))
            sql = self.loop.run_until_complete(self.sql.history(slug))
            assert mem == sql
            versions = [v[0] for v in mem]
            assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)
            old = self.histories.get(slug, [])
            assert mem[len(mem) - len(old):] == old  # earlier entries never change
            self.histories[slug] = mem


LinkVersions.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None)
TestLinkVersions = LinkVersions.TestCase
