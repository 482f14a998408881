"""Audit regressions: files and sharing (SPEC §7, A.4)."""

from __future__ import annotations

from entrypoints.harness import Harness


async def test_magic_link_answers_carry_the_magic_link_rate_limit_headers(harness: Harness) -> None:
    h = harness
    r = await h.client.post("/v2/public/files/fil_unknown/magic-link", json={"email": "a@example.com"})
    assert r.status_code == 202 and r.json() == {"status": "accepted"}
    assert '"magic_link"' in r.headers["ratelimit-policy"]
    assert '"magic_link"' in r.headers["ratelimit"]
    remaining = [int(part.split("r=")[1].split(";")[0]) for part in r.headers["ratelimit"].split(",")
                 if '"magic_link"' in part]
    r2 = await h.client.post("/v2/public/files/fil_unknown/magic-link", json={"email": "a@example.com"})
    assert r2.status_code == 202
    remaining2 = [int(part.split("r=")[1].split(";")[0]) for part in r2.headers["ratelimit"].split(",")
                  if '"magic_link"' in part]
    assert remaining2[0] < remaining[0]
