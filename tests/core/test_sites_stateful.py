"""Stateful property test of deployments: memory and SQL adapters driven step by step.

Invariants: at most one live deployment (exactly one once anything went live) and it is
deployed; a deployed manifest never changes; statuses only move along the transition table;
the memory and SQLite adapters agree after every step.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from adapters.sql.migrate import upgrade_sync
from gharart_core.shared.errors import DomainError
from gharart_core.sites.model import TRANSITIONS, DeploymentStatus
from tests.test_sites_common import access, chunks, make_service, sha

CONTENTS = [b"<h1>a</h1>", b"<h1>b</h1>", b"body{}", b"console.log(1)"]
PATHS = ["index.html", "blog/index.html", "app.css", "app.js"]
ALLOWED = {(a, b) for a, bs in TRANSITIONS.items() for b in bs}
# `deploying` lasts only inside the transaction that lands the last blob, so between two steps a
# deployment can be seen going pending -> deployed (through deploying) in one go.
_P, _D, _DP = DeploymentStatus.PENDING, DeploymentStatus.DEPLOYING, DeploymentStatus.DEPLOYED
OBSERVABLE = ALLOWED | {(_P, _DP), (_P, DeploymentStatus.FAILED)}
_TEMPLATE: dict[str, Path] = {}


def _template_db() -> Path:
    if "db" not in _TEMPLATE:
        d = Path(tempfile.mkdtemp(prefix="sites-template-"))
        upgrade_sync(f"sqlite+aiosqlite:///{d}/t.db")
        _TEMPLATE["db"] = d / "t.db"
    return _TEMPLATE["db"]


class Deployments(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="sites-sm-"))
        shutil.copy(_template_db(), self.tmp / "db.sqlite")
        self.db = Database(f"sqlite+aiosqlite:///{self.tmp}/db.sqlite")
        state, mf, sf = MemoryState(), memory_factories(), sql_factories()
        self.makers = [lambda: MemoryUnitOfWork(state, mf), lambda: SqlUnitOfWork(self.db, sf)]
        self.services = [make_service(), make_service()]
        self.deployments: list[str] = []
        self.statuses: dict[str, Any] = {}
        self.frozen_manifests: dict[str, Any] = {}
        self.ever_live = False

    def teardown(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def both(self, op: Any) -> Any:
        """Run ``op(service, uow)`` on both adapters; they must agree on the outcome."""
        outcomes = []
        for svc, make in zip(self.services, self.makers, strict=True):

            async def run(svc: Any = svc, make: Any = make) -> Any:
                async with make() as uow:
                    try:
                        result = await op(svc, uow)
                    except DomainError as exc:
                        return ("error", exc.code)
                    await uow.commit()
                    return ("ok", result)

            outcomes.append(self.loop.run_until_complete(run()))
        assert outcomes[0] == outcomes[1], outcomes
        return outcomes[0]

    @rule(files=st.dictionaries(st.sampled_from(PATHS), st.sampled_from(CONTENTS), min_size=1))
    def create(self, files: dict[str, bytes]) -> None:
        body = {"manifest": {p: {"sha256": sha(c), "size": len(c)} for p, c in files.items()}}

        async def op(svc: Any, uow: Any) -> Any:
            dep, required = await svc.create_deployment(uow, access(), body)
            return dep.id, dep.status, tuple(required)

        kind, result = self.both(op)
        assert kind == "ok"
        self.deployments.append(result[0])

    @precondition(lambda self: self.deployments)
    @rule(content=st.sampled_from(CONTENTS), data=st.data())
    def upload(self, content: bytes, data: st.DataObject) -> None:
        dep_id = data.draw(st.sampled_from(self.deployments))

        async def op(svc: Any, uow: Any) -> Any:
            dep = await svc.upload_blob(uow, access(), dep_id, sha(content), chunks(content))
            return dep.status, dep.missing

        self.both(op)

    @precondition(lambda self: self.deployments)
    @rule(data=st.data(), stale=st.booleans())
    def promote(self, data: st.DataObject, stale: bool) -> None:
        dep_id = data.draw(st.sampled_from(self.deployments))
        live = self.live()
        expected = dep_id if stale and dep_id != live else live

        async def op(svc: Any, uow: Any) -> Any:
            dep, site, _ = await svc.promote(uow, access(), dep_id, {"expectedLiveDeploymentId": expected})
            return dep.id, site.live_deployment_id

        kind, _ = self.both(op)
        self.ever_live |= kind == "ok"

    @precondition(lambda self: self.deployments)
    @rule(data=st.data())
    def rollback(self, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(self.deployments))
        live = self.live()

        async def op(svc: Any, uow: Any) -> Any:
            dep, site, _ = await svc.rollback(
                uow,
                access(),
                {"targetDeploymentId": target, "expectedLiveDeploymentId": live, "reason": "test"},
            )
            return dep.id, site.live_deployment_id

        self.both(op)

    @rule(mode=st.sampled_from(["live", "maintenance", "private"]))
    def mode(self, mode: str) -> None:
        async def op(svc: Any, uow: Any) -> Any:
            site = await svc._site(uow, "acme")
            new = await svc.set_mode(uow, access(), {"mode": mode, "expectedModeVersion": site.mode_version})
            return new.mode, new.mode_version

        self.both(op)

    @precondition(lambda self: self.deployments)
    @rule(route=st.sampled_from(["/api/a", "/api/b"]))
    def bind(self, route: str) -> None:
        async def op(svc: Any, uow: Any) -> Any:
            b, dep = await svc.add_binding(
                uow, access(), {"route": route, "function": "json", "config": {"body": route}}
            )
            return b.id, dep.id, dep.status

        kind, result = self.both(op)
        if kind == "ok" and result[1] not in self.deployments:
            self.deployments.append(result[1])

    def live(self) -> str | None:
        async def get() -> Any:
            async with self.makers[0]() as uow:
                return (await self.services[0]._site(uow, "acme")).live_deployment_id

        return self.loop.run_until_complete(get())

    def snapshot(self, i: int) -> Any:
        async def get() -> Any:
            async with self.makers[i]() as uow:
                deps = await uow.sites.list_deployments("acme", before_id=None, limit=1000)
                site = await self.services[i]._site(uow, "acme")
                binds = {
                    d.id: [(b.route, b.function) for b in await uow.sites.bindings_for(d.id)] for d in deps
                }
                return (
                    [(d.id, d.status, dict(d.manifest), d.missing) for d in deps],
                    (site.mode, site.mode_version, site.live_deployment_id),
                    binds,
                )

        return self.loop.run_until_complete(get())

    @invariant()
    def adapters_agree_and_rules_hold(self) -> None:
        mem, sql = self.snapshot(0), self.snapshot(1)
        assert mem == sql
        deps, (_, _, live), binds = mem
        by_id = {d[0]: d for d in deps}
        if self.ever_live:
            assert live is not None
        if live is not None:
            assert by_id[live][1].value == "deployed"
        for dep_id, status, manifest, _ in deps:
            before = self.statuses.get(dep_id)
            if before is not None and before != status:
                assert (before, status) in OBSERVABLE, (before, status)
            self.statuses[dep_id] = status
            if status.value in ("deployed", "rolled_back"):
                frozen = self.frozen_manifests.setdefault(dep_id, (manifest, binds[dep_id]))
                assert frozen == (manifest, binds[dep_id])


TestDeployments = Deployments.TestCase
TestDeployments.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
