"""Links over HTTP: every route, the exact codes, and the three documented breaks."""

from __future__ import annotations

import pytest

from adapters.http.fake import FakeReply

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
BASE = "/v2/handles/acme/links"


@pytest.fixture
async def api(any_harness):
    token = await any_harness.create_owner("acme")
    any_harness.A = any_harness.auth(token)
    return any_harness


async def create(h, slug="launch", dest="https://a.example/1", **extra):
    r = await h.client.post(BASE, json={"slug": slug, "destination": dest, **extra}, headers=h.A)
    assert r.status_code == 201, r.text
    return r.json()


async def test_crud_history_and_etag(api):
    c, A = api.client, api.A
    link = await create(api, tags=["launch"], redirectStatus=301, forwardQuery=True)
    assert set(link) >= {"id", "handle", "slug", "version", "destination", "redirectStatus", "forwardQuery",
                         "rules", "tags", "health", "createdAt", "updatedAt"}
    assert link["id"].startswith("lnk_") and link["health"] is None and link["redirectStatus"] == 301
    r = await c.get(f"{BASE}/launch", headers=A)
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    r = await c.patch(f"{BASE}/launch", json={"destination": "https://a.example/2"}, headers={**A, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await c.patch(f"{BASE}/launch", json={"destination": "https://a.example/3"}, headers={**A, "If-Match": '"1"'})
    assert r.status_code == 412 and r.json()["code"] == "version_conflict" and r.json()["currentVersion"] == 2
    r = await c.patch(f"{BASE}/launch", json={"destination": "https://a.example/3", "expectedVersion": 1}, headers=A)
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    r = await c.patch(f"{BASE}/launch", json={"destination": "https://a.example/3"}, headers=A)
    assert r.status_code == 428 and r.json()["code"] == "precondition_required"
    r = await c.get(f"{BASE}/launch/history", headers=A)
    body = r.json()
    assert [v["version"] for v in body["items"]] == [2, 1] and body["nextCursor"] is None
    assert set(body["items"][0]) >= {"version", "destination", "rules", "redirectStatus", "createdBy", "createdAt",
                                     "source", "reason", "requestId", "runId"}
    r = await c.get(f"{BASE}/launch/history?limit=1", headers=A)
    assert len(r.json()["items"]) == 1 and r.json()["nextCursor"]
    r = await c.get(f"{BASE}/launch/history?diff=1..2", headers=A)
    assert r.json() == {"from": 1, "to": 2, "changes": [
        {"field": "destination", "before": "https://a.example/1", "after": "https://a.example/2"}]}
    r = await c.get(f"{BASE}?tag=launch", headers=A)
    assert [i["slug"] for i in r.json()["items"]] == ["launch"]
    r = await c.delete(f"{BASE}/launch", headers=A)
    assert r.status_code == 204
    r = await c.get(f"{BASE}/launch", headers=A)
    assert r.status_code == 404 and r.json()["code"] == "link_not_found"
    again = await create(api, dest="https://b.example/")
    assert again["version"] == 3


async def test_slug_codes(api):
    c, A = api.client, api.A
    for slug in ("export", "bulk-import", "health-check"):
        r = await c.post(BASE, json={"slug": slug, "destination": "https://a.example/"}, headers=A)
        assert r.status_code == 422 and r.json()["code"] == "slug_reserved"
    await create(api, slug="dup")
    r = await c.post(BASE, json={"slug": "dup", "destination": "https://a.example/"}, headers=A)
    assert r.status_code == 409 and r.json()["code"] == "slug_taken"


async def test_bad_input(api):
    c, A = api.client, api.A
    r = await c.post(BASE, content=b'{"slug": ', headers={**A, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed_body"
    r = await c.post(BASE, json={"slug": 5, "destination": ["x"], "rules": [{"conditions": {"device": "tv"},
                                                                           "destination": "javascript:x"}]},
                     headers=A)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    fields = {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert {("slug", "invalid_type"), ("destination", "invalid_type"), ("rules.0.conditions.device", "invalid_value"),
            ("rules.0.destination", "invalid_url")} <= fields
    r = await c.post(BASE, json={"slug": "x", "destination": "https://u:p@a.example/"}, headers=A)
    assert r.json()["errors"] == [{"field": "destination", "code": "invalid_url",
                                   "message": r.json()["errors"][0]["message"]}]
    r = await c.get(f"{BASE}/nope", headers=A)
    assert r.status_code == 404 and r.json()["code"] == "link_not_found"
    r = await c.get(BASE)
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = await c.get(f"{BASE}?limit=0", headers=A)
    assert r.status_code == 422
    r = await c.get(f"{BASE}?cursor=%%%", headers=A)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"


async def test_viewer_reads_but_cannot_write(api):
    viewer = await api.add_member("acme", api.A["Authorization"].split()[1], "v@example.com", "viewer")
    await create(api)
    V = api.auth(viewer)
    assert (await api.client.get(f"{BASE}/launch", headers=V)).status_code == 200
    r = await api.client.post(BASE, json={"slug": "x", "destination": "https://a.example/"}, headers=V)
    assert r.status_code == 403 and r.json()["code"] == "forbidden_role"


async def test_stale_rollback_is_409_and_nothing_changes(api):
    c, A = api.client, api.A
    await create(api)
    for n, dest in ((1, "https://a.example/2"), (2, "https://broken.example/")):
        await c.patch(f"{BASE}/launch", json={"destination": dest, "expectedVersion": n}, headers=A)
    # an operator who loaded the link at version 2 tries to roll back to 1: someone already moved it to 3
    r = await c.post(f"{BASE}/launch/rollback", json={"targetVersion": 1, "expectedCurrentVersion": 2}, headers=A)
    assert r.status_code == 409 and r.json()["code"] == "stale_version" and r.json()["currentVersion"] == 3
    r = await c.get(f"{BASE}/launch/history", headers=A)
    assert [v["version"] for v in r.json()["items"]] == [3, 2, 1]
    r = await c.post(f"{BASE}/launch/rollback", json={"targetVersion": 2}, headers=A)
    assert r.status_code == 428 and r.json()["code"] == "precondition_required"
    r = await c.post(f"{BASE}/launch/rollback", json={"targetVersion": 7, "expectedCurrentVersion": 3}, headers=A)
    assert r.status_code == 422 and r.json()["code"] == "version_not_found"
    r = await c.post(f"{BASE}/launch/rollback", json={"targetVersion": 3, "expectedCurrentVersion": 3}, headers=A)
    assert r.status_code == 409 and r.json()["code"] == "already_current"
    r = await c.post(f"{BASE}/launch/rollback", json={"targetVersion": 2, "expectedCurrentVersion": 3,
                                                      "reason": "destination outage"}, headers=A)
    assert r.status_code == 200 and r.json()["version"] == 4 and r.json()["destination"] == "https://a.example/2"
    assert r.headers["etag"] == '"4"'
    hist = (await c.get(f"{BASE}/launch/history", headers=A)).json()["items"]
    assert hist[0]["source"] == "rollback" and hist[0]["reason"] == "destination outage"


async def test_route_preview_and_redirect(api):
    c, A = api.client, api.A
    await create(api, rules=[
        {"conditions": {"device": ["mobile"]}, "destination": "https://m.example/"},
        {"conditions": {"queryParam": {"name": "ab"}}, "variants": [
            {"destination": "https://a.example/", "weight": 50}, {"destination": "https://b.example/", "weight": 50}]},
    ])
    r = await c.post(f"{BASE}/launch/route-preview", json={"userAgent": IPHONE}, headers=A)
    assert r.json() == {"destination": "https://m.example/", "matchedRule": 0, "variant": None,
                        "trace": [{"rule": 0, "matched": True, "failed": []},
                                  {"rule": 1, "matched": False, "failed": ["queryParam"]}]}
    r = await c.post(f"{BASE}/launch/route-preview", json={"query": {"ab": "1"}, "visitorKey": "v1"}, headers=A)
    assert r.json()["matchedRule"] == 1 and r.json()["variant"] in (0, 1)
    r = await c.post(f"{BASE}/launch/route-preview", json={"at": "yesterday"}, headers=A)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "at"
    r = await c.get("/l/acme/launch")
    assert r.status_code == 302 and r.headers["location"] == "https://a.example/1"
    assert r.headers["cache-control"] == "private, max-age=0"
    r = await c.get("/l/acme/launch", headers={"User-Agent": IPHONE})
    assert r.headers["location"] == "https://m.example/"
    # edits take effect on the very next request, deletions too
    await c.patch(f"{BASE}/launch", json={"destination": "https://new.example/", "rules": [], "redirectStatus": 307,
                                          "forwardQuery": True, "expectedVersion": 1}, headers=A)
    r = await c.get("/l/acme/launch?utm=x", headers={"User-Agent": IPHONE})
    assert r.status_code == 307 and r.headers["location"] == "https://new.example/?utm=x"
    await c.delete(f"{BASE}/launch", headers=A)
    r = await c.get("/l/acme/launch")
    assert r.status_code == 404
    r = await c.get("/l/acme/never", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


MALFORMED = ("slug,destination,tags\n"
             "ok-1,https://a.example/1,launch\n"
             "bad-1,htps//broken,launch\n"
             "ok-2,https://a.example/2,\n"
             "bad-2,https://exa mple.com/,\n")


async def test_csv_with_malformed_urls(api):
    c, A = api.client, api.A
    csv_h = {**A, "Content-Type": "text/csv"}
    r = await c.post(f"{BASE}/bulk-import", content=MALFORMED.encode(), headers=csv_h)
    assert r.status_code == 422 and r.json()["code"] == "import_failed"
    run = r.json()["run"]
    assert run["counts"]["failed"] == 2 and run["runId"].startswith("run_")
    assert [(row["row"], row["code"]) for row in run["rows"] if row["outcome"] == "failed"] == [
        (2, "invalid_url"), (4, "invalid_url")]
    assert (await c.get(f"{BASE}/ok-1", headers=A)).status_code == 404  # atomic: nothing written
    errors = await c.get(f"{BASE}/bulk-import/{run['runId']}/errors.csv", headers=A)
    assert errors.status_code == 200 and errors.headers["content-type"].startswith("text/csv")
    lines = errors.text.strip().splitlines()
    assert lines[0].startswith("row,slug,destination") and len(lines) == 3
    assert lines[1].startswith("2,bad-1,htps//broken") and "invalid_url" in lines[1]
    r = await c.post(f"{BASE}/bulk-import?mode=dryRun", content=MALFORMED.encode(), headers=csv_h)
    assert r.status_code == 200 and r.json()["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 2}
    assert (await c.get(f"{BASE}/ok-1", headers=A)).status_code == 404
    r = await c.post(f"{BASE}/bulk-import?mode=partial", content=MALFORMED.encode(), headers=csv_h)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "completed" and body["mode"] == "partial"
    assert [row["outcome"] for row in body["rows"]] == ["created", "failed", "created", "failed"]
    assert (await c.get(f"{BASE}/ok-1", headers=A)).json()["tags"] == ["launch"]
    r = await c.get(f"{BASE}/bulk-import/{body['runId']}", headers=A)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    r = await c.post(f"{BASE}/bulk-import?mode=sideways", content=MALFORMED.encode(), headers=csv_h)
    assert r.status_code == 422
    r = await c.post(f"{BASE}/bulk-import", content=b"x", headers={**A, "Content-Type": "application/pdf"})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"


async def test_export_round_trips_with_formula_cells(api):
    c, A = api.client, api.A
    await create(api, slug="f1", tags=["=SUM(A1)", "+x", "plain"], rules=[
        {"conditions": {"country": ["FR"]}, "destination": "https://fr.example/"}])
    await create(api, slug="f2", dest="https://b.example/?q=-1")
    r = await c.get(f"{BASE}/export", headers=A)
    assert r.status_code == 200
    assert "'=SUM(A1)" in r.text and "\n=" not in r.text and ",=" not in r.text
    back = await c.post(f"{BASE}/bulk-import", content=r.content, headers={**A, "Content-Type": "text/csv"})
    assert back.json()["counts"] == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0}, back.text
    r = await c.get(f"{BASE}/export?format=jsonl&includeHistory=true", headers=A)
    lines = r.text.strip().splitlines()
    assert len(lines) == 2 and '"history"' in lines[0]
    back = await c.post(f"{BASE}/bulk-import", content=r.content, headers={**A, "Content-Type": "application/x-ndjson"})
    assert back.json()["counts"]["unchanged"] == 2, back.text


async def test_hanging_page_times_out_and_run_completes(api):
    c, A = api.client, api.A
    fetcher = api.container.fetcher()
    fetcher.set("slow.example", FakeReply(hang=True))
    fetcher.set("ok.example", FakeReply(200))
    api.container.links_service().health_timeout_s = 0.2
    await create(api, slug="slow", dest="https://slow.example/landing")
    await create(api, slug="fine", dest="https://ok.example/")
    await create(api, slug="internal", dest="http://169.254.169.254/latest/")
    r = await c.post(f"{BASE}/health-check", headers=A)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    run_id = r.json()["runId"]
    await api.drain()
    r = await c.get(f"{BASE}/health-check/{run_id}", headers=A)
    run = r.json()
    assert run["status"] == "completed" and run["counts"] == {"timeout": 1, "ok": 1, "blocked": 1}
    assert {x["slug"]: x["classification"] for x in run["results"]} == {
        "slow": "timeout", "fine": "ok", "internal": "blocked"}
    r = await c.get(f"{BASE}/health-check/{run_id}?classification=timeout", headers=A)
    assert [x["slug"] for x in r.json()["results"]] == ["slow"]
    r = await c.get(f"{BASE}/slow", headers=A)
    assert r.json()["health"]["classification"] == "timeout" and r.json()["health"]["runId"] == run_id
    r = await c.get(f"{BASE}?health=timeout", headers=A)
    assert [x["slug"] for x in r.json()["items"]] == ["slow"]
    r = await c.post(f"{BASE}/health-check", json={"slugs": ["ghost"]}, headers=A)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "link_not_found"
    r = await c.get(f"{BASE}/health-check/run_01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=A)
    assert r.status_code == 404 and r.json()["code"] == "run_not_found"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", f"{BASE}/launch/history?diff=1..99999999999999999999", None),
    ("GET", f"{BASE}/%00", None),
    ("GET", f"{BASE}?q=%00", None),
    ("GET", f"{BASE}/bulk-import/run_%00", None),
    ("GET", f"{BASE}/health-check/nonsense", None),
    ("GET", "/l/acme/%00", None),
    ("GET", "/l/%00/x", None),
    ("POST", f"{BASE}/launch/rollback", {"targetVersion": 10**30, "expectedCurrentVersion": 1}),
    ("POST", f"{BASE}/launch/rollback", {"targetVersion": 1, "expectedCurrentVersion": 1, "reason": "a\x00b"}),
    ("POST", f"{BASE}/health-check", {"slugs": ["a\x00"]}),
    ("POST", f"{BASE}/launch/route-preview", ["not", "an", "object"]),
])
async def test_hostile_input_is_a_clear_4xx(api, method, path, body):
    await create(api)
    r = await api.client.request(method, path, json=body, headers=api.A)
    assert 400 <= r.status_code < 500, r.text


async def test_csv_with_nul_and_formula_cells_fails_rows_cleanly(api):
    body = "slug,destination\nok,https://a.example/\nbad\x00,https://b.example/\n=cmd,=HYPERLINK(\"x\")\n"
    r = await api.client.post(f"{BASE}/bulk-import?mode=partial", content=body.encode(),
                              headers={**api.A, "Content-Type": "text/csv"})
    assert r.status_code == 200
    assert [row["outcome"] for row in r.json()["rows"]] == ["created", "failed", "failed"]
    errors = await api.client.get(f"{BASE}/bulk-import/{r.json()['runId']}/errors.csv", headers=api.A)
    assert "\n=" not in errors.text and ",=" not in errors.text


async def test_parallel_rollbacks_with_the_same_expectation_exactly_one_wins(api):
    import asyncio

    await create(api)
    for n in (1, 2):
        await api.client.patch(f"{BASE}/launch", json={"destination": f"https://a.example/{n + 1}",
                                                        "expectedVersion": n}, headers=api.A)
    body = {"targetVersion": 1, "expectedCurrentVersion": 3}
    answers = await asyncio.gather(*(api.client.post(f"{BASE}/launch/rollback", json=body, headers=api.A)
                                     for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"stale_version"}
    hist = (await api.client.get(f"{BASE}/launch/history", headers=api.A)).json()["items"]
    assert [v["version"] for v in hist] == [4, 3, 2, 1]
