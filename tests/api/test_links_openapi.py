"""The OpenAPI document describes the links request bodies; the handlers still answer bad bodies
with the product's own problem codes."""

from __future__ import annotations

BASE = "/v2/handles/acme/links"
P = "/v2/handles/{handle}/links"


async def test_links_request_bodies_are_documented(harness):
    doc = (await harness.client.get("/schema/openapi.json")).json()
    paths = doc["paths"]

    def body(path: str, method: str) -> dict:
        return paths[path][method]["requestBody"]

    create = body(P, "post")["content"]["application/json"]["schema"]
    assert create["required"] == ["slug", "destination"]
    assert set(create["properties"]) >= {"slug", "destination", "redirectStatus", "forwardQuery", "rules", "tags"}
    assert create["properties"]["redirectStatus"]["enum"] == [301, 302, 307, 308]
    rule = create["properties"]["rules"]["items"]["oneOf"]
    assert [r["required"] for r in rule] == [["destination"], ["variants"]]
    conditions = rule[0]["properties"]["conditions"]
    assert set(conditions["properties"]) == {"device", "os", "browser", "country", "language", "queryParam",
                                             "referrerHost", "timeWindow"}
    update = body(P + "/{slug}", "patch")["content"]["application/json"]["schema"]
    assert "expectedVersion" in update["properties"] and "required" not in update
    rollback = body(P + "/{slug}/rollback", "post")["content"]["application/json"]["schema"]
    assert rollback["required"] == ["targetVersion", "expectedCurrentVersion"]
    preview = body(P + "/{slug}/route-preview", "post")
    assert preview["required"] is False
    assert set(preview["content"]["application/json"]["schema"]["properties"]) == {
        "userAgent", "country", "language", "query", "referrer", "at", "visitorKey"}
    assert set(body(P + "/bulk-import", "post")["content"]) == {"text/csv", "application/x-ndjson"}
    assert set(body(P + "/health-check", "post")["content"]["application/json"]["schema"]["properties"]) == {
        "slugs", "tag"}


async def test_bad_bodies_keep_their_problem_codes(harness):
    token = await harness.create_owner("acme")
    auth = {**harness.auth(token), "Content-Type": "application/json"}
    c = harness.client
    for method, url in (("POST", BASE), ("PATCH", BASE + "/x"), ("POST", BASE + "/x/rollback"),
                        ("POST", BASE + "/x/route-preview"), ("POST", BASE + "/health-check")):
        r = await c.request(method, url, content=b'{"slug": ', headers=auth)
        assert (r.status_code, r.json()["code"]) == (400, "malformed_body"), (method, url)
    r = await c.post(BASE, json={"slug": "ok", "destination": "javascript:alert(1)",
                                 "rules": [{"conditions": {"device": ["fridge"]}, "destination": "https://a/"}]},
                     headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {
        ("destination", "invalid_url"), ("rules.0.conditions.device", "invalid_value")}


async def test_links_query_parameters_are_documented(harness):
    paths = (await harness.client.get("/schema/openapi.json")).json()["paths"]

    def params(path: str, method: str) -> dict[str, dict]:
        return {p["name"]: p for p in paths[path][method].get("parameters", [])}

    listing = params(P, "get")
    assert {"handle", "tag", "prefix", "health", "q", "limit", "cursor"} <= set(listing)
    assert listing["handle"]["in"] == "path" and listing["limit"]["in"] == "query"
    assert listing["limit"]["schema"]["maximum"] == 500 and "unchecked" in listing["health"]["schema"]["enum"]
    assert {"slug", "diff", "limit", "cursor"} <= set(params(P + "/{slug}/history", "get"))
    assert params(P + "/bulk-import", "post")["mode"]["schema"]["enum"] == ["dryRun", "atomic", "partial"]
    assert {"format", "includeHistory"} <= set(params(P + "/export", "get"))
    assert "timeout" in params(P + "/health-check/{runId}", "get")["classification"]["schema"]["enum"]
