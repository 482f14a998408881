"""A PAT's lastUsedAt is recorded when it authenticates (on every storage adapter)."""

from __future__ import annotations

from entrypoints.harness import Harness


async def test_last_used_at_is_recorded(any_harness: Harness) -> None:
    h = any_harness
    token = await h.create_owner("acme")
    other = await h.client.post("/v2/tokens", json={"name": "second", "scopes": ["links:read"]},
                                headers=h.auth(token))
    assert other.status_code == 201
    listed = (await h.client.get("/v2/tokens", headers=h.auth(token))).json()["items"]
    assert {t["name"]: t["lastUsedAt"] for t in listed}["second"] is None
    start = h.clock.now()
    assert (await h.client.get("/v2/handles/acme", headers=h.auth(other.json()["token"]))).status_code == 200
    h.clock.advance(120)
    listed = (await h.client.get("/v2/tokens", headers=h.auth(token))).json()["items"]
    last_used = {t["name"]: t["lastUsedAt"] for t in listed}
    assert last_used["second"] is not None and last_used["second"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
    assert last_used["harness"] is not None
