"""N parallel writes carrying the same expected version: exactly one wins, the rest get 409 (SPEC §13)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from entrypoints.harness import Harness

N = 8


async def _race(calls: list[Any]) -> list[int]:
    results = await asyncio.gather(*calls)
    return sorted(r.status_code for r in results)


async def test_parallel_link_rollbacks_and_updates(any_harness: Harness) -> None:
    h = any_harness
    tok = await h.create_owner("acme")
    a = h.auth(tok)
    base = "/v2/handles/acme/links"
    assert (await h.client.post(base, json={"slug": "r", "destination": "https://example.com/1"}, headers=a)).status_code == 201
    for v in (1, 2):
        r = await h.client.patch(f"{base}/r", json={"destination": f"https://example.com/{v + 1}", "expectedVersion": v},
                                 headers=a)
        assert r.status_code == 200, r.text
    statuses = await _race([h.client.post(f"{base}/r/rollback", json={"targetVersion": 1, "expectedCurrentVersion": 3,
                                                                       "reason": f"race {i}"}, headers=a)
                            for i in range(N)])
    assert statuses == [200] + [409] * (N - 1), statuses
    hist = (await h.client.get(f"{base}/r/history", headers=a)).json()["items"]
    assert [v["version"] for v in hist] == [4, 3, 2, 1]
    statuses = await _race([h.client.patch(f"{base}/r", json={"destination": f"https://example.com/p{i}",
                                                               "expectedVersion": 4}, headers=a) for i in range(N)])
    assert statuses == [200] + [409] * (N - 1), statuses


async def test_parallel_promotes_and_mode_changes(any_harness: Harness) -> None:
    h = any_harness
    tok = await h.create_owner("acme")
    a = h.auth(tok)
    base = "/v2/handles/acme"
    deps = []
    for i in range(N):
        page = f"<h1>{i}</h1>".encode()
        digest = hashlib.sha256(page).hexdigest()
        r = await h.client.post(f"{base}/site-deployments",
                                json={"manifest": {"index.html": {"sha256": digest, "size": len(page)}}}, headers=a)
        assert r.status_code == 201, r.text
        await h.client.put(f"{base}/site-deployments/{r.json()['id']}/files/{digest}", content=page,
                           headers={**a, "content-type": "application/octet-stream"})
        deps.append(r.json()["id"])
    statuses = await _race([h.client.post(f"{base}/site-deployments/{d}/promote",
                                          json={"expectedLiveDeploymentId": None}, headers=a) for d in deps])
    assert statuses == [200] + [409] * (N - 1), statuses
    site = (await h.client.get(f"{base}/site", headers=a)).json()
    assert site["liveDeploymentId"] in deps
    v = site["modeVersion"]
    statuses = await _race([h.client.put(f"{base}/site-mode", json={"mode": "maintenance", "expectedModeVersion": v,
                                                                     "message": f"m{i}"}, headers=a)
                            for i in range(N)])
    assert statuses == [200] + [409] * (N - 1), statuses
    assert (await h.client.get(f"{base}/site", headers=a)).json()["modeVersion"] == v + 1
