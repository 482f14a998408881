"""Repro artifacts and content-report targets resolved through the other areas' real repositories.

Each case runs once its area is installed (skipped before).
"""

from __future__ import annotations

from typing import Any

import pytest

from entrypoints.harness import make_harness


@pytest.fixture
async def h():
    async with make_harness() as harness:
        yield harness


async def report(h: Any, token: str, artifact: str, summary: str) -> dict[str, Any]:
    r = await h.client.post("/v2/support/report", headers=h.auth(token),
                            json={"summary": summary, "details": "see artifact", "reproArtifact": artifact})
    assert r.status_code == 201, r.text
    rid = r.json()["reportId"]
    return (await h.client.get(f"/v2/support/reports/{rid}", headers=h.auth(token))).json()


async def content_report(h: Any, target: str) -> Any:
    return await h.client.post("/v2/public/content-report",
                               json={"category": "spam", "targetUrl": target, "description": "spam"})


async def test_links_slug_and_health_run(h: Any) -> None:
    pytest.importorskip("gharart_core.links.service")
    owner = await h.create_owner("acme")
    other = await h.create_owner("globex")
    r = await h.client.post("/v2/handles/acme/links", json={"slug": "summer", "destination": "https://example.com/"},
                            headers=h.auth(owner))
    assert r.status_code == 201, r.text
    link_id = r.json()["id"]
    mine = await report(h, owner, "summer", "slug report")
    assert mine["queue"] == "links"
    assert mine["attachedArtifact"] == {"kind": "link", "id": link_id, "handle": "acme"}
    theirs = await report(h, other, "acme/summer", "foreign slug")
    assert theirs["attachedArtifact"] is None and theirs["reproArtifact"] == "acme/summer"
    run = await h.client.post("/v2/handles/acme/links/health-check", json={}, headers=h.auth(owner))
    assert run.status_code == 202, run.text
    by_run = await report(h, owner, run.json()["runId"], "health run")
    assert by_run["queue"] == "links" and by_run["attachedArtifact"]["runKind"] == "health_check"
    assert (await content_report(h, "http://testserver/l/acme/summer")).status_code == 202
    assert (await content_report(h, "http://testserver/l/acme/winter")).json()["code"] == "unknown_target"


async def test_files_file_id_and_public_url(h: Any) -> None:
    pytest.importorskip("gharart_core.files.service")
    owner = await h.create_owner("acme")
    other = await h.create_owner("globex")
    up = await h.client.post("/v2/handles/acme/files", headers=h.auth(owner),
                             files={"file": ("kit.txt", b"hello", "text/plain")}, data={"mode": "public"})
    assert up.status_code == 201, up.text
    fid = up.json()["id"]
    mine = await report(h, owner, fid, "file report")
    assert mine["queue"] == "files" and mine["attachedArtifact"]["id"] == fid
    theirs = await report(h, other, fid, "foreign file")
    assert theirs["queue"] == "files" and theirs["attachedArtifact"] is None
    a = await content_report(h, f"http://testserver/v2/public/files/{fid}")
    b = await content_report(h, f"http://testserver/v2/public/files/{fid}?token=abc")
    assert a.status_code == 202 and a.json()["caseId"] == b.json()["caseId"]


async def test_docs_page_url(h: Any) -> None:
    pytest.importorskip("gharart_core.docs.service")
    owner = await h.create_owner("acme")
    r = await h.client.put("/v2/handles/acme/internal-docs/pages/handbook/intro.md",
                           json={"content": "hi", "contentType": "text/markdown"}, headers=h.auth(owner))
    assert r.status_code in (200, 201), r.text
    page_id = r.json()["id"]
    mine = await report(h, owner, page_id, "docs page")
    assert mine["queue"] == "docs" and mine["attachedArtifact"]["id"] == page_id
    assert (await content_report(h, "http://testserver/_edge/docs/acme/handbook/intro.md")).status_code == 202
    assert (await content_report(h, "http://testserver/_edge/docs/acme/nope.md")).status_code == 422


async def test_intel_crawl_run_routes_to_sites(h: Any) -> None:
    pytest.importorskip("gharart_core.intel.service")
    owner = await h.create_owner("acme")
    run = await h.client.post("/v2/handles/acme/site-intel/acme.localhost/crawl-runs", headers=h.auth(owner))
    if run.status_code != 202:
        pytest.skip(f"crawl runs need a live site here: {run.status_code}")
    mine = await report(h, owner, run.json()["runId"], "crawl run")
    assert mine["queue"] == "sites" and mine["attachedArtifact"]["runKind"] == "crawl"
