"""The UC-12 acceptance flow over HTTP only: deploy v1, promote, crawl, deploy v2 that deletes a
page and breaks a link, replay -> fail naming both; with the gate on promoting v2 is refused;
v3 fixes it -> replay passes -> promote succeeds. Rollback is never gated.

Needs the sites routes (deployments, blobs, promote, site PATCH); skipped until they exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

try:
    from entrypoints.harness import make_harness
except ImportError:  # pragma: no cover
    pytest.skip("entrypoints.harness (HTTP foundation) is not on this branch yet", allow_module_level=True)

H = "/v2/handles/acme"
INTEL = f"{H}/site-intel/acme.localhost"
ORIGIN = "http://acme.localhost"
V1 = {
    "index.html": '<title>Acme</title><a href="/about.html">About</a><a href="/blog/">Blog</a>',
    "about.html": '<title>About</title><a href="/">Home</a>',
    "blog/index.html": '<title>Blog</title><a href="/blog/post.html">Post</a>',
    "blog/post.html": '<title>Post</title><a href="/about.html">About</a>',
}


@pytest.fixture
async def h() -> AsyncIterator[object]:
    async with make_harness() as harness:
        owner = await harness.create_owner("acme")
        probe = await harness.client.get(f"{H}/site-deployments", headers=harness.auth(owner))
        if probe.status_code in (404, 405) and probe.json().get("code") != "handle_not_found":
            pytest.skip("the sites routes are not on this branch yet")
        harness.owner = owner
        yield harness


async def deploy(h, files: dict[str, str]) -> str:
    auth = h.auth(h.owner)
    manifest = {
        p: {
            "sha256": hashlib.sha256(c.encode()).hexdigest(),
            "size": len(c.encode()),
            "contentType": "text/html",
        }
        for p, c in files.items()
    }
    r = await h.client.post(
        f"{H}/site-deployments", json={"manifest": manifest, "message": "m"}, headers=auth
    )
    assert r.status_code == 201, r.text
    dep = r.json()
    by_sha = {hashlib.sha256(c.encode()).hexdigest(): c.encode() for c in files.values()}
    for sha in dep["required"]:
        r = await h.client.put(
            f"{H}/site-deployments/{dep['id']}/files/{sha}",
            content=by_sha[sha],
            headers={**auth, "Content-Type": "application/octet-stream"},
        )
        assert r.status_code < 300, r.text
    r = await h.client.get(f"{H}/site-deployments/{dep['id']}", headers=auth)
    assert r.json()["status"] == "deployed", r.text
    return dep["id"]


async def promote(h, dep: str):
    site = (await h.client.get(f"{H}/site", headers=h.auth(h.owner))).json()
    return await h.client.post(
        f"{H}/site-deployments/{dep}/promote",
        json={"expectedLiveDeploymentId": site["liveDeploymentId"]},
        headers=h.auth(h.owner),
    )


async def finished(h, path: str) -> dict:
    await h.drain()
    r = await h.client.get(path, headers=h.auth(h.owner))
    assert r.status_code == 200, r.text
    return r.json()


async def test_uc12_replay_gate_over_http(h):
    auth = h.auth(h.owner)
    v1 = await deploy(h, V1)
    assert (await promote(h, v1)).status_code == 200

    r = await h.client.post(f"{INTEL}/crawl-runs", headers=auth)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    crawl = await finished(h, f"{INTEL}/crawl-runs/{r.json()['runId']}")
    assert crawl["status"] == "completed"
    snap = (await h.client.get(f"{INTEL}/snapshot", headers=auth)).json()
    assert snap["counts"] == {"pages": 4, "broken": 0}

    r = await h.client.patch(f"{H}/site", json={"requireReplayGate": True}, headers=auth)
    assert r.status_code == 200, r.text

    v2_files = {k: v for k, v in V1.items() if k != "about.html"}
    v2_files["blog/post.html"] = '<title>Post</title><a href="/contact.html">Contact</a>'
    v2 = await deploy(h, v2_files)
    r = await promote(h, v2)
    assert r.status_code == 409 and r.json()["code"] == "replay_gate_required"

    r = await h.client.post(
        f"{INTEL}/replay-runs", json={"snapshotId": snap["snapshotId"], "deploymentId": v2}, headers=auth
    )
    assert r.status_code == 202
    failed = await finished(h, f"{INTEL}/replay-runs/{r.json()['runId']}")
    assert failed["verdict"] == "fail"
    kinds = {(x["kind"], x["url"]) for x in failed["reasons"]}
    assert ("page_missing", f"{ORIGIN}/about.html") in kinds
    assert ("new_broken_link", f"{ORIGIN}/contact.html") in kinds
    r = await promote(h, v2)
    assert r.status_code == 409 and r.json()["code"] == "replay_failed"
    assert failed["runId"] in (r.json().get("runId"), r.json().get("detail"))

    v3 = await deploy(h, {**V1, "about.html": '<title>About us</title><a href="/">Home</a>'})
    r = await h.client.post(
        f"{INTEL}/replay-runs", json={"snapshotId": snap["snapshotId"], "deploymentId": v3}, headers=auth
    )
    passed = await finished(h, f"{INTEL}/replay-runs/{r.json()['runId']}")
    assert passed["verdict"] == "pass", passed["reasons"]
    r = await promote(h, v3)
    assert r.status_code == 200, r.text
    assert (await h.client.get(f"{H}/site", headers=auth)).json()["liveDeploymentId"] == v3

    r = await h.client.post(
        f"{H}/site-deployments/rollback",
        json={"targetDeploymentId": v1, "expectedLiveDeploymentId": v3, "reason": "gate-free"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
