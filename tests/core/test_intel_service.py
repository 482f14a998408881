"""IntelService over memory adapters, an in-process job runner and a fake sites area."""

from __future__ import annotations

import attrs
import pytest

from adapters.intel_sources import IntelPageSources
from adapters.jobs import InProcessJobRunner
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories
from gharart_core.identity.model import HandleAccess, Principal, Role
from gharart_core.intel.service import IntelConfig, IntelReplayGate, IntelService
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gharart_core.shared.ids import SequentialIds


@attrs.frozen
class Served:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Host:
    hostname: str
    kind: str
    verified: bool


def html(title, *links):
    return f"<title>{title}</title>" + "".join(f'<a href="{x}">{x}</a>' for x in links)


class FakeSites:
    def __init__(self):
        self.live = {
            "": html("Home", "/about", "/blog/"),
            "about": html("About", "/"),
            "blog/": html("Blog", "/blog/one.html"),
            "blog/one.html": html("One", "/about"),
        }
        self.deployments: dict[str, dict[str, str]] = {}
        self.custom = [
            Host("www.acme.example", "custom", True),
            Host("pending.acme.example", "custom", False),
        ]

    async def hostnames(self, uow, handle):
        return [Host(f"{handle}.localhost", "default", True), *self.custom]

    async def get_deployment_internal(self, uow, handle, deployment_id):
        return deployment_id if deployment_id in self.deployments else None

    @staticmethod
    def _serve(files, path):
        if path in files:
            return Served(200, "text/html; charset=utf-8", files[path].encode())
        if path == "robots.txt":
            return Served(404, "text/plain", b"")
        raise NotFound("page_not_found")

    async def serve_profile(self, uow, handle, path, *, query=""):
        return self._serve(self.live, path)

    async def serve_preview(self, uow, handle, deployment_id, path, *, query=""):
        return self._serve(self.deployments[deployment_id], path)


def access(role=Role.EDITOR, scopes=("sites:read", "sites:write")):
    return HandleAccess(Principal("usr_1", "e@x", frozenset(scopes), "pat_1"), "acme", "acc_1", role)


@pytest.fixture
def system():
    state = MemoryState()
    factories = memory_factories()

    def uow_factory(write=True):
        return MemoryUnitOfWork(state, factories, write=write)

    sites = FakeSites()
    jobs = InProcessJobRunner()
    clock = FakeClock()
    svc = IntelService(
        clock=clock,
        ids=SequentialIds(),
        jobs=jobs,
        uow_factory=uow_factory,
        sites=sites,
        sources=IntelPageSources(sites, uow_factory, fetcher=None),
        config=IntelConfig(),
    )
    return svc, uow_factory, jobs, sites, clock


async def _crawl(svc, uow_factory, jobs, host="acme.localhost"):
    async with uow_factory() as uow:
        run = await svc.start_crawl(uow, access(), host)
        assert run.status == "queued" and run.kind == "crawl" and run.id.startswith("run_")
        await uow.commit()
    await jobs.drain()
    async with uow_factory(write=False) as uow:
        return await svc.get_run(uow, access(Role.VIEWER, ("sites:read",)), host, run.id, "crawl")


async def _replay(svc, uow_factory, jobs, snapshot_id, dep):
    async with uow_factory() as uow:
        run = await svc.start_replay(
            uow, access(), "acme.localhost", {"snapshotId": snapshot_id, "deploymentId": dep}
        )
        await uow.commit()
    await jobs.drain()
    async with uow_factory(write=False) as uow:
        return await svc.get_run(uow, access(), "acme.localhost", run.id, "replay")


async def test_crawl_then_replay_fail_then_pass_and_gate(system):
    svc, uow_factory, jobs, sites, clock = system
    run = await _crawl(svc, uow_factory, jobs)
    assert run.status == "completed" and run.snapshot_id and run.pages_done == 4
    async with uow_factory(write=False) as uow:
        snap = await svc.get_snapshot(uow, access(), "ACME.localhost:8000")
    assert snap.id == run.snapshot_id
    assert [p.url for p in snap.pages] == [
        "http://acme.localhost/",
        "http://acme.localhost/about",
        "http://acme.localhost/blog/",
        "http://acme.localhost/blog/one.html",
    ]
    assert snap.broken_links == ()

    broken = dict(sites.live)
    del broken["about"]
    broken["blog/"] = html("Blog", "/blog/one.html", "/blog/two.html")
    sites.deployments["dep_00000000000000000000000002"] = broken
    failed = await _replay(svc, uow_factory, jobs, snap.id, "dep_00000000000000000000000002")
    assert failed.status == "completed" and failed.verdict == "fail"
    kinds = {(r.kind, r.url) for r in failed.reasons}
    assert ("page_missing", "http://acme.localhost/about") in kinds
    assert ("new_broken_link", "http://acme.localhost/blog/two.html") in kinds

    gate = IntelReplayGate(clock)
    async with uow_factory(write=False) as uow:
        with pytest.raises(Conflict) as e:
            await gate.check(uow, "acme", "dep_00000000000000000000000002")
        assert e.value.code == "replay_failed" and e.value.extra["runId"] == failed.id
        with pytest.raises(Conflict) as e:
            await gate.check(uow, "acme", "dep_00000000000000000000000003")
        assert e.value.code == "replay_gate_required"

    fixed = dict(sites.live)
    fixed["about"] = html("About us", "/")
    sites.deployments["dep_00000000000000000000000003"] = fixed
    passed = await _replay(svc, uow_factory, jobs, snap.id, "dep_00000000000000000000000003")
    assert passed.verdict == "pass"
    assert [r.kind for r in passed.reasons] == ["content_changed"]
    async with uow_factory(write=False) as uow:
        await gate.check(uow, "acme", "dep_00000000000000000000000003")
        clock.advance(86401)
        with pytest.raises(Conflict) as e:
            await gate.check(uow, "acme", "dep_00000000000000000000000003")
        assert e.value.code == "replay_gate_required"


async def test_hostname_rules_and_errors(system):
    svc, uow_factory, _, _, _ = system
    async with uow_factory() as uow:
        for host in ("other.localhost", "pending.acme.example", "evil.example"):
            with pytest.raises(NotFound) as e:
                await svc.start_crawl(uow, access(), host)
            assert e.value.code == "hostname_not_found"
        with pytest.raises(Forbidden) as e:
            await svc.start_crawl(uow, access(Role.VIEWER), "acme.localhost")
        assert e.value.code == "forbidden_role"
        with pytest.raises(Forbidden) as e:
            await svc.start_crawl(uow, access(scopes=("sites:read",)), "acme.localhost")
        assert e.value.code == "insufficient_scope"
        with pytest.raises(NotFound) as e:
            await svc.get_snapshot(uow, access(), "acme.localhost")
        assert e.value.code == "snapshot_not_found"
        with pytest.raises(NotFound) as e:
            await svc.get_run(uow, access(), "acme.localhost", "run_nope", "crawl")
        assert e.value.code == "run_not_found"
        for body, fields in [
            ([], {("body", "invalid_type")}),
            ({}, {("snapshotId", "required"), ("deploymentId", "required")}),
            ({"snapshotId": 1, "deploymentId": "dep_x"}, {("snapshotId", "invalid_type")}),
            (
                {"snapshotId": "snp_01J0000000000000000000000A", "deploymentId": "dep_x"},
                {("snapshotId", "snapshot_not_found"), ("deploymentId", "deployment_not_found")},
            ),
        ]:
            with pytest.raises(ValidationFailed) as e:
                await svc.start_replay(uow, access(), "acme.localhost", body)
            assert {(f.field, f.code) for f in e.value.errors} == fields


async def test_custom_hostname_without_fetcher_fails_the_run(system):
    svc, uow_factory, jobs, _, _ = system
    run = await _crawl(svc, uow_factory, jobs, host="www.acme.example")
    assert run.status == "failed" and run.error
    async with uow_factory(write=False) as uow:
        with pytest.raises(NotFound):
            await svc.get_run(uow, access(), "acme.localhost", run.id, "crawl")  # other hostname
        with pytest.raises(NotFound):
            await svc.get_run(uow, access(), "www.acme.example", run.id, "replay")  # other kind


async def test_run_job_is_what_a_queue_worker_calls_and_redelivery_is_a_no_op(system):
    svc, uow_factory, _, _, _ = system

    class Queue:
        def __init__(self):
            self.messages = []

        def submit(self, kind, run_id, job):
            self.messages.append((kind, run_id))  # a real queue keeps only the names

    svc.jobs = queue = Queue()
    async with uow_factory() as uow:
        run = await svc.start_crawl(uow, access(), "acme.localhost")
        await uow.commit()
    assert queue.messages == [("site_intel.crawl", run.id)]
    await svc.run_job(run.id)
    await svc.run_job(run.id)  # delivered twice
    await svc.run_job("run_00000000000000000000000000")  # unknown
    async with uow_factory(write=False) as uow:
        done = await svc.get_run(uow, access(), "acme.localhost", run.id, "crawl")
        snaps = [s for s in uow.state.table("intel_snapshots").values()]
    assert done.status == "completed" and len(snaps) == 1
