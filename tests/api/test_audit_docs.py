"""Audit regressions: internal docs (SPEC §8, A.4)."""

from __future__ import annotations

from entrypoints.harness import Harness


async def test_edge_pages_carry_one_charset_parameter(harness: Harness) -> None:
    h = harness
    token = await h.create_owner("acme")
    base = "/v2/handles/acme/internal-docs"
    for path, ctype in (("pub/a.md", None), ("pub/b.txt", "text/plain; charset=iso-8859-1"),
                        ("pub/c.json", "application/json")):
        body = {"content": "hello", "classification": "public"}
        if ctype:
            body["contentType"] = ctype
        r = await h.client.put(f"{base}/pages/{path}", json=body, headers=h.auth(token))
        assert r.status_code == 201, r.text
    r = await h.client.put(f"{base}/access", headers={**h.auth(token), "If-Match": '"1"'},
                           json={"rules": [{"id": "pub", "pathPrefix": "/pub", "effect": "allow",
                                            "principals": {"anyone": True}}], "defaultEffect": "deny"})
    assert r.status_code == 200, r.text
    r = await h.client.get("/_edge/docs/acme/pub/a.md")
    assert r.status_code == 200
    assert r.headers["content-type"].lower().count("charset") == 1
    assert r.headers["content-type"].startswith("text/markdown")
    r = await h.client.get("/_edge/docs/acme/pub/b.txt")
    assert r.status_code == 200
    assert r.headers["content-type"].replace(" ", "").lower() == "text/plain;charset=iso-8859-1"
    r = await h.client.get("/_edge/docs/acme/pub/c.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
