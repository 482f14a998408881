"""Sites: contract details found by auditing the running service against SPEC §5 / A.3."""

from __future__ import annotations

import hashlib

import pytest

H = "/v2/handles/acme"


@pytest.fixture
async def owner(any_harness):
    tok = await any_harness.create_owner("acme")
    return any_harness, any_harness.auth(tok)


async def test_patch_site_accepts_a_site_sent_back_from_get(owner):
    h, A = owner
    site = (await h.client.get(f"{H}/site", headers=A)).json()
    site["hostnames"].append({"hostname": "www.acme-example.com"})
    site["requireReplayGate"] = True
    r = await h.client.patch(f"{H}/site", json=site, headers=A)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["requireReplayGate"] is True
    assert [(x["hostname"], x["kind"]) for x in body["hostnames"]] == [
        ("acme.localhost", "default"), ("www.acme-example.com", "custom")]


async def test_patch_site_guards_with_mode_version(owner):
    h, A = owner
    r = await h.client.patch(f"{H}/site", json={"requireReplayGate": True, "expectedModeVersion": 7}, headers=A)
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    assert r.json()["currentModeVersion"] == 1
    r = await h.client.patch(f"{H}/site", json={"requireReplayGate": True}, headers={**A, "If-Match": '"7"'})
    assert r.status_code == 412 and r.json()["currentModeVersion"] == 1
    r = await h.client.patch(f"{H}/site", json={"requireReplayGate": True}, headers={**A, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["requireReplayGate"] is True
    r = await h.client.patch(f"{H}/site", json={"requireReplayGate": False, "expectedModeVersion": 1}, headers=A)
    assert r.status_code == 200 and r.json()["requireReplayGate"] is False
    r = await h.client.patch(f"{H}/site", json={"expectedModeVersion": "1"}, headers=A)
    assert r.status_code == 422


async def test_manifest_size_is_bounded(owner):
    h, A = owner
    digest = hashlib.sha256(b"x").hexdigest()
    r = await h.client.post(f"{H}/site-deployments",
                            json={"manifest": {"a.html": {"sha256": digest, "size": 10**15}}}, headers=A)
    assert r.status_code == 422
    assert r.json()["errors"][0] == {"field": "manifest.a.html.size", "code": "too_large",
                                     "message": r.json()["errors"][0]["message"]}


async def test_preview_of_a_failed_deployment_names_the_reason_not_blobs(owner):
    h, A = owner
    digest = hashlib.sha256(b"never uploaded").hexdigest()
    r = await h.client.post(f"{H}/site-deployments",
                            json={"manifest": {"index.html": {"sha256": digest, "size": 14}}}, headers=A)
    dep = r.json()["id"]
    r = await h.client.get(f"{H}/site-deployments/{dep}/preview", headers=A)
    assert r.status_code == 409 and r.json()["missing"] == [{"path": "index.html", "sha256": digest}]
    # cancel it (the IGNY8 view moves a waiting deployment to `failed`)
    r = await h.client.patch(f"/api/v1/publisher/deployments/{dep}/", json={"status": "failed"}, headers=A)
    assert r.status_code == 200, r.text
    for path in ("", "/index.html"):
        r = await h.client.get(f"{H}/site-deployments/{dep}/preview{path}", headers=A)
        assert r.status_code == 409 and r.json()["code"] == "artifact_missing"
        assert r.json()["missing"] == [] and r.json()["reason"]


async def test_patch_site_refuses_to_change_read_only_fields(owner):
    h, A = owner
    r = await h.client.patch(f"{H}/site", json={"mode": "maintenance"}, headers=A)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert r.json()["errors"][0]["field"] == "mode" and r.json()["errors"][0]["code"] == "read_only"
    r = await h.client.patch(f"{H}/site", json={"mode": "live", "liveDeploymentId": None}, headers=A)
    assert r.status_code == 200


async def test_blob_over_the_limit_is_body_too_large_even_when_chunked(harness):
    import attrs

    A = harness.auth(await harness.create_owner("acme"))
    svc = harness.container.sites_service()
    svc.limits = attrs.evolve(svc.limits, max_blob_bytes=10)
    blob = b"x" * 64
    digest = hashlib.sha256(blob).hexdigest()
    r = await harness.client.post(f"{H}/site-deployments",
                                  json={"manifest": {"a.txt": {"sha256": digest, "size": 5}}}, headers=A)
    dep = r.json()["id"]

    async def chunks():
        for i in range(0, len(blob), 8):
            yield blob[i:i + 8]

    r = await harness.client.put(f"{H}/site-deployments/{dep}/files/{digest}", content=chunks(), headers=A)
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    r = await harness.client.put(f"{H}/site-deployments/{dep}/files/{digest}", content=blob, headers=A)
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
