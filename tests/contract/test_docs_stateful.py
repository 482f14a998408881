"""Stateful model test: the docs service over the memory and SQLite adapters, step by step.

Both adapter sets receive the same page writes, policy replacements (with stale versions and
permissive rules among them) and evaluations; every answer, error code and listing must agree.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.objectstore.memory import MemoryObjectStore
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade
from gharart_core.docs.service import DocsService
from gharart_core.identity.model import Account, Handle, HandleAccess, Member, Principal, Role, User
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import DomainError
from gharart_core.shared.ids import SequentialIds

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PATHS = ["/a", "/a/b", "/conf/x", "/confidential/y", "/handbook/z"]
RULE = st.fixed_dictionaries(
    {
        "pathPrefix": st.sampled_from(["/", "/a", "/conf", "/confidential", "/handbook"]),
        "effect": st.sampled_from(["allow", "deny"]),
        "principals": st.sampled_from(
            [
                {"anyone": True},
                {"roles": ["viewer"]},
                {"roles": ["editor"]},
                {"emailDomains": ["partner.com"]},
                {"emails": ["p@partner.com"]},
                {"emailDomains": ["acme.com"]},
            ]
        ),
    }
)
ACCESS = HandleAccess(
    Principal("usr_o", "o@acme.com", frozenset({"docs:read", "docs:admin"}), "pat_1"),
    "acme",
    "acc_1",
    Role.OWNER,
    "req_1",
)


class DocsAdapters(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        url = f"sqlite+aiosqlite:///{self.tmp.name}/docs.db"
        self.run(upgrade(url))
        self.db = Database(url)
        state, mem, sql = MemoryState(), memory_factories(), sql_factories()
        self.sides = []
        for make in (
            lambda w=True: MemoryUnitOfWork(state, mem, write=w),
            lambda w=True: SqlUnitOfWork(self.db, sql, write=w),
        ):
            svc = DocsService(FakeClock(T0), SequentialIds(), MemoryObjectStore())
            self.sides.append((make, svc))
            self.run(self._seed(make))
        self.version_seen = 1

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    async def _seed(self, make):
        async with make() as uow:
            await uow.identity.add_account(Account("acc_1", T0))
            await uow.identity.add_handle(Handle("acme", "acc_1", T0))
            await uow.identity.add_user(User("usr_o", "o@acme.com", None, False, T0))
            await uow.identity.upsert_member(Member("acme", "o@acme.com", Role.OWNER, T0, "usr_o"))
            await uow.commit()

    def both(self, op):
        outcomes = []
        for make, svc in self.sides:

            async def go(make=make, svc=svc):
                async with make() as uow:
                    try:
                        result = await op(uow, svc)
                    except DomainError as exc:
                        await uow.rollback()
                        return ("error", exc.code, tuple(e.field for e in exc.errors))
                    await uow.commit()
                    return ("ok", result)

            outcomes.append(self.run(go()))
        assert outcomes[0] == outcomes[1], outcomes
        return outcomes[0]

    @rule(path=st.sampled_from(PATHS), klass=st.sampled_from(["public", "internal", "confidential"]))
    def put_page(self, path, klass):
        self.both(
            lambda uow, svc: _page_out(
                svc.put_page(uow, ACCESS, path, {"content": path, "classification": klass})
            )
        )

    @rule(path=st.sampled_from(PATHS))
    def delete_page(self, path):
        self.both(lambda uow, svc: _path_out(svc.delete_page(uow, ACCESS, path)))

    @rule(rules=st.lists(RULE, max_size=4), stale=st.booleans(), ack=st.booleans(), dry=st.booleans())
    def put_policy(self, rules, stale, ack, dry):
        async def op(uow, svc):
            pages = {p.path: p.id for p in await uow.docs.all_pages("acme")}
            body = {"rules": rules, "expectedVersion": self.version_seen - (1 if stale else 0)}
            if ack:
                body["acknowledgeExposure"] = sorted(pages.values())
            res = await svc.put_policy(uow, ACCESS, body, dry_run=dry)
            return (
                res.saved,
                res.proposed.version,
                sorted(f.page.path for f in res.findings),
                [
                    (c.witness.describe()["kind"], [p.path for p in c.gained], [p.path for p in c.lost])
                    for c in res.changes
                ],
            )

        out = self.both(op)
        if out[0] == "ok" and out[1][0]:
            self.version_seen = out[1][1]

    @rule(
        path=st.sampled_from(PATHS),
        who=st.sampled_from(
            [{"anonymous": True}, {"role": "viewer"}, {"email": "p@partner.com"}, {"role": "admin"}]
        ),
    )
    def evaluate(self, path, who):
        async def op(uow, svc):
            p, d, _, page = await svc.evaluate(uow, ACCESS, {"path": path, "principal": who})
            return (p, d.effect.value, d.matched_rule, d.reason.value, page is not None)

        self.both(op)

    @invariant()
    def same_state(self):
        async def op(uow, svc):
            policy, findings = await svc.get_policy(uow, ACCESS)
            listed = await svc.list_pages(uow, ACCESS, limit=500)
            return (
                policy.version,
                policy.rules,
                [(f.page.path, f.exposure) for f in findings],
                [(p.path, p.classification, p.size) for p in listed.items],
            )

        self.both(op)

    def teardown(self):
        self.run(self.db.dispose())
        self.loop.close()
        self.tmp.cleanup()


async def _page_out(coro):
    page, created = await coro
    return (page.path, page.classification.value, page.size, created)


async def _path_out(coro):
    return (await coro).path


TestDocsAdapters = DocsAdapters.TestCase
TestDocsAdapters.settings = settings(max_examples=8, stateful_step_count=12, deadline=None)
