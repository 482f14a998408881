"""Site-intelligence routes over the harness: shapes, statuses, error codes, scopes and roles.

Needs the HTTP foundation (``entrypoints.harness``) and a container that provides both
``sites_service`` and ``intel_service``; skipped with the reason otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

try:
    from entrypoints.harness import make_harness
except ImportError:  # pragma: no cover - before the HTTP foundation lands
    pytest.skip("entrypoints.harness (HTTP foundation) is not on this branch yet", allow_module_level=True)

from gharart_core.identity.model import HandleAccess, Principal, Role

BASE = "/v2/handles/acme/site-intel/acme.localhost"
SITE = {
    "index.html": '<title>Acme</title><a href="/about.html">About</a><a href="/gone.html">Gone</a>',
    "about.html": '<title>About</title><a href="/">Home</a>',
}


@pytest.fixture
async def h() -> AsyncIterator[object]:
    async with make_harness() as harness:
        if not hasattr(harness.container, "intel_service"):
            pytest.skip("the container has no `intel_service` provider")
        yield harness


def needs_sites(h) -> None:
    if not hasattr(h.container, "sites_service"):
        pytest.skip("the container has no `sites_service` provider yet (sites area not merged)")


def _owner() -> HandleAccess:
    scopes = frozenset({"sites:read", "sites:write"})
    return HandleAccess(Principal("usr_x", "o@x", scopes, None), "acme", "acc_x", Role.OWNER)


async def deploy(h, files: dict[str, str], *, promote: bool = True) -> str:
    """Deploy through the sites service (its routes are tested in the sites area)."""
    needs_sites(h)
    sites = h.container.sites_service()
    manifest = {p: {"sha256": hashlib.sha256(c.encode()).hexdigest(), "size": len(c)} for p, c in files.items()}
    by_sha = {hashlib.sha256(c.encode()).hexdigest(): c.encode() for c in files.values()}
    async with h.uow_factory(write=True) as uow:
        dep, required = await sites.create_deployment(uow, _owner(), {"manifest": manifest})
        await uow.commit()
    for sha in required:

        async def chunks(data: bytes = by_sha[sha]) -> AsyncIterator[bytes]:
            yield data

        async with h.uow_factory(write=True) as uow:
            await sites.upload_blob(uow, _owner(), dep.id, sha, chunks())
            await uow.commit()
    if promote:
        async with h.uow_factory(write=True) as uow:
            await sites.promote(uow, _owner(), dep.id, {})
            await uow.commit()
    return dep.id


async def test_crawl_snapshot_and_replay_over_http(h):
    owner = await h.create_owner("acme")
    auth = h.auth(owner)
    v1 = await deploy(h, SITE)

    r = await h.client.post(f"{BASE}/crawl-runs", headers=auth)
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["runId"].startswith("run_") and run["kind"] == "crawl" and run["status"] == "queued"
    assert run["hostname"] == "acme.localhost" and run["verdict"] is None and run["reasons"] == []
    assert set(run) >= {
        "runId",
        "kind",
        "status",
        "hostname",
        "startedAt",
        "finishedAt",
        "snapshotId",
        "verdict",
        "reasons",
    }
    await h.drain()
    r = await h.client.get(f"{BASE}/crawl-runs/{run['runId']}", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    snapshot_id = r.json()["snapshotId"]
    assert snapshot_id.startswith("snp_")

    r = await h.client.get(f"{BASE}/snapshot", headers=auth)
    assert r.status_code == 200
    snap = r.json()
    assert snap["snapshotId"] == snapshot_id and snap["hostname"] == "acme.localhost"
    assert snap["counts"] == {"pages": 3, "broken": 1}
    page = snap["pages"][0]
    assert set(page) >= {"url", "status", "contentType", "digest", "title", "links", "timingMs"}
    assert page["url"] == "http://acme.localhost/" and page["title"] == "Acme"
    assert snap["brokenLinks"] == [
        {"from": "http://acme.localhost/", "to": "http://acme.localhost/gone.html", "status": 404}
    ]
    r = await h.client.get(f"{BASE}/snapshot", params={"snapshotId": snapshot_id}, headers=auth)
    assert r.status_code == 200 and r.json()["snapshotId"] == snapshot_id

    v2 = await deploy(h, {"index.html": SITE["index.html"]}, promote=False)
    r = await h.client.post(f"{BASE}/replay-runs", json={"snapshotId": snapshot_id, "deploymentId": v2}, headers=auth)
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "replay" and r.json()["status"] == "queued"
    await h.drain()
    r = await h.client.get(f"{BASE}/replay-runs/{r.json()['runId']}", headers=auth)
    body = r.json()
    assert body["status"] == "completed" and body["verdict"] == "fail"
    assert {
        "kind": "page_missing",
        "url": "http://acme.localhost/about.html",
        "before": 200,
        "after": 404,
    } in [{k: x[k] for k in ("kind", "url", "before", "after")} for x in body["reasons"]]
    assert v1 != v2


async def test_unknown_things_and_bad_bodies(h):
    owner = await h.create_owner("acme")
    auth = h.auth(owner)
    for host in ("other.localhost", "acme.example.com", "localhost"):
        r = await h.client.post(f"/v2/handles/acme/site-intel/{host}/crawl-runs", headers=auth)
        assert r.status_code == 404, host
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await h.client.get(f"{BASE}/snapshot", headers=auth)
    assert r.status_code == 404 and r.json()["code"] == "snapshot_not_found"
    r = await h.client.get(f"{BASE}/snapshot", params={"snapshotId": "snp_nope"}, headers=auth)
    assert r.status_code == 404 and r.json()["code"] == "snapshot_not_found"
    for kind in ("crawl-runs", "replay-runs"):
        r = await h.client.get(f"{BASE}/{kind}/run_01J00000000000000000000000", headers=auth)
        assert r.status_code == 404 and r.json()["code"] == "run_not_found"
    r = await h.client.post(
        f"{BASE}/replay-runs", content=b"{nope", headers={**auth, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "malformed_body"
    r = await h.client.post(f"{BASE}/replay-runs", json={}, headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {
        ("snapshotId", "required"),
        ("deploymentId", "required"),
    }
    r = await h.client.post(f"{BASE}/replay-runs", json=["x"], headers=auth)
    assert r.status_code == 422
    r = await h.client.post(
        f"{BASE}/replay-runs",
        json={
            "snapshotId": "snp_01J00000000000000000000000",
            "deploymentId": "dep_01J00000000000000000000000",
        },
        headers=auth,
    )
    assert r.status_code == 422
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {
        ("snapshotId", "snapshot_not_found"),
        ("deploymentId", "deployment_not_found"),
    }
    # a crawl run id is not a replay run
    r = await h.client.post(f"{BASE}/crawl-runs", headers=auth)
    await h.drain()
    r2 = await h.client.get(f"{BASE}/replay-runs/{r.json()['runId']}", headers=auth)
    assert r2.status_code == 404 and r2.json()["code"] == "run_not_found"


async def test_scopes_and_roles(h):
    owner = await h.create_owner("acme")
    viewer = await h.add_member("acme", owner, "v@acme.example.com", "viewer")
    editor_ro = await h.add_member("acme", owner, "e@acme.example.com", "editor", scopes=("sites:read",))
    stranger = await h.create_owner("other")

    r = await h.client.post(f"{BASE}/crawl-runs")
    assert r.status_code == 401
    r = await h.client.post(f"{BASE}/crawl-runs", headers=h.auth(stranger))
    assert r.status_code == 404 and r.json()["code"] == "handle_not_found"
    r = await h.client.post(f"{BASE}/crawl-runs", headers=h.auth(viewer))
    assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
    r = await h.client.post(f"{BASE}/crawl-runs", headers=h.auth(editor_ro))
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    r = await h.client.post(f"{BASE}/crawl-runs", headers=h.auth(owner))
    assert r.status_code == 202
    await h.drain()
    run_id = r.json()["runId"]
    r = await h.client.get(f"{BASE}/crawl-runs/{run_id}", headers=h.auth(viewer))
    assert r.status_code == 200
    r = await h.client.get(f"{BASE}/snapshot", headers=h.auth(viewer))
    assert r.status_code == 200
    r = await h.client.get(f"{BASE}/snapshot", headers=h.auth(stranger))
    assert r.status_code == 404 and r.json()["code"] == "handle_not_found"


async def test_the_wired_gate_refuses_a_promote_until_a_replay_passes(h):
    from gharart_core.shared.errors import Conflict

    owner = await h.create_owner("acme")
    auth = h.auth(owner)
    await deploy(h, SITE)
    needs_sites(h)
    sites = h.container.sites_service()
    async with h.uow_factory(write=True) as uow:
        await sites.patch_site(uow, _owner(), {"requireReplayGate": True})
        await uow.commit()
    await h.client.post(f"{BASE}/crawl-runs", headers=auth)
    await h.drain()
    snapshot_id = (await h.client.get(f"{BASE}/snapshot", headers=auth)).json()["snapshotId"]

    async def promote(dep: str) -> str | None:
        async with h.uow_factory(write=True) as uow:
            try:
                await sites.promote(uow, _owner(), dep, {})
            except Conflict as exc:
                return exc.code
            await uow.commit()
            return None

    async def replay(dep: str) -> dict:
        r = await h.client.post(
            f"{BASE}/replay-runs", json={"snapshotId": snapshot_id, "deploymentId": dep}, headers=auth
        )
        await h.drain()
        return (await h.client.get(f"{BASE}/replay-runs/{r.json()['runId']}", headers=auth)).json()

    broken = await deploy(h, {"index.html": SITE["index.html"]}, promote=False)
    assert await promote(broken) == "replay_gate_required"
    assert (await replay(broken))["verdict"] == "fail"
    assert await promote(broken) == "replay_failed"
    fixed = await deploy(h, {**SITE, "about.html": "<title>About us</title>"}, promote=False)
    assert (await replay(fixed))["verdict"] == "pass"
    assert await promote(fixed) is None
    h.clock.advance(86_401)
    assert await promote(broken) == "replay_failed"
