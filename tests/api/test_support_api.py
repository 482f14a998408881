"""Support over HTTP: the reporter's channel, the operator workflow, the public form."""

from __future__ import annotations

from typing import Any

import pytest

from entrypoints.harness import ALL_SCOPES, make_harness

OPS = "op@gharart.test"


@pytest.fixture
async def h():
    async with make_harness(operators=(OPS,)) as harness:
        yield harness


async def operator_token(h: Any) -> str:
    return await h.create_user_token(OPS, (*ALL_SCOPES, "operator"), operator=True)


async def report(h: Any, token: str, **body: Any) -> Any:
    payload = {"summary": "Something broke", "details": "Steps: 1, 2, 3", **body}
    return await h.client.post("/v2/support/report", json=payload, headers=h.auth(token))


# -- the end-to-end handoff ---------------------------------------------------------
async def test_failing_request_to_report_to_resolved_escalation(any_harness: Any) -> None:
    h = any_harness
    owner = await h.create_owner("acme")
    failing = await h.client.get("/v2/handles/nosuchhandle", headers=h.auth(owner))
    assert failing.status_code == 404
    request_id = failing.headers["x-request-id"]
    await h.drain()

    r = await report(h, owner, summary="Cannot open my handle", requestId=request_id, handle="acme")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"reportId", "queue", "priority", "status", "attachedRequest", "createdAt"}
    assert body["reportId"].startswith("rpt_") and body["status"] == "open"
    attached = body["attachedRequest"]
    assert attached["requestId"] == request_id
    assert attached["status"] == 404 and attached["code"] == "handle_not_found"
    assert attached["route"] == "/v2/handles/nosuchhandle"
    assert body["queue"] == "account"

    op = await operator_token(h)
    esc = await h.client.post(
        "/v2/operator/escalations", json={"reportIds": [body["reportId"]], "note": "look"}, headers=h.auth(op)
    )
    assert esc.status_code == 201, esc.text
    e = esc.json()
    assert e["id"].startswith("esc_") and e["status"] == "open" and e["reportIds"] == [body["reportId"]]
    for status in ("acknowledged", "resolved"):
        p = await h.client.patch(
            f"/v2/operator/escalations/{e['id']}", json={"status": status}, headers=h.auth(op)
        )
        assert p.status_code == 200, p.text
        assert p.json()["status"] == status
    mine = await h.client.get(f"/v2/support/reports/{body['reportId']}", headers=h.auth(owner))
    assert mine.json()["status"] == "resolved"
    again = await h.client.patch(
        f"/v2/operator/escalations/{e['id']}", json={"status": "acknowledged"}, headers=h.auth(op)
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


async def test_high_priority_report_alerts_operators_after_commit(h: Any) -> None:
    token = await h.create_owner("acme")
    r = await report(h, token, summary="Production site is down for customers")
    assert r.status_code == 201 and r.json()["priority"] == "high"
    assert h.outbox.to(OPS) and h.outbox.to("owner@acme.example.com")


# -- audience boundaries ------------------------------------------------------------
async def test_end_users_get_operator_only_pointing_to_support_report(h: Any) -> None:
    user = await h.create_owner("acme")
    for method, path in (
        ("POST", "/v2/operator/escalations"),
        ("GET", "/v2/operator/escalations"),
        ("GET", "/v2/operator/escalations/esc_01J9Z3K4M5N6P7Q8R9S0T1V2W3"),
        ("PATCH", "/v2/operator/escalations/esc_01J9Z3K4M5N6P7Q8R9S0T1V2W3"),
    ):
        r = await h.client.request(
            method, path, json={"reportIds": ["rpt_x"], "status": "acknowledged"}, headers=h.auth(user)
        )
        assert r.status_code == 403, (method, path, r.text)
        problem = r.json()
        assert problem["code"] == "operator_only"
        assert "/v2/support/report" in problem["detail"]


async def test_operator_flag_without_the_scope_is_not_enough(h: Any) -> None:
    flagged = await h.create_user_token(OPS, ALL_SCOPES, operator=True)
    r = await h.client.get("/v2/operator/escalations", headers=h.auth(flagged))
    assert r.status_code == 403 and r.json()["code"] == "operator_only"


async def test_anonymous_callers_get_401_on_report_and_operator_routes(h: Any) -> None:
    for method, path in (
        ("POST", "/v2/support/report"),
        ("GET", "/v2/support/reports"),
        ("GET", "/v2/operator/escalations"),
    ):
        r = await h.client.request(method, path, json={"summary": "s", "details": "d"})
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


async def test_reports_are_private_to_the_reporter(h: Any) -> None:
    alice = await h.create_owner("acme")
    bob = await h.create_owner("globex")
    rid = (await report(h, alice)).json()["reportId"]
    assert (await h.client.get(f"/v2/support/reports/{rid}", headers=h.auth(alice))).status_code == 200
    for token in (bob, await operator_token(h)):
        r = await h.client.get(f"/v2/support/reports/{rid}", headers=h.auth(token))
        assert r.status_code == 404 and r.json()["code"] == "report_not_found"
    listed = await h.client.get("/v2/support/reports", headers=h.auth(bob))
    assert listed.json() == {"items": [], "nextCursor": None}
    mine = (await h.client.get("/v2/support/reports", headers=h.auth(alice))).json()
    assert [i["reportId"] for i in mine["items"]] == [rid]


async def test_only_the_callers_own_request_attaches(h: Any) -> None:
    alice = await h.create_owner("acme")
    bob = await h.create_owner("globex")
    failing = await h.client.get("/v2/handles/nosuchhandle", headers=h.auth(bob))
    await h.drain()
    r = await report(h, alice, requestId=failing.headers["x-request-id"])
    assert r.status_code == 201 and r.json()["attachedRequest"] is None


async def test_report_needs_support_write(h: Any) -> None:
    token = await h.create_user_token("reader@example.com", ("links:read",))
    r = await report(h, token)
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"


# -- bad input ----------------------------------------------------------------------
async def test_bad_report_bodies(h: Any) -> None:
    token = await h.create_owner("acme")
    r = await h.client.post(
        "/v2/support/report", content=b"{nope", headers={**h.auth(token), "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "malformed_body"
    r = await h.client.post("/v2/support/report", json={"details": "x" * 20_001}, headers=h.auth(token))
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {
        ("summary", "required"),
        ("details", "too_long"),
    }
    r = await report(h, token, summary="s" * 201)
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("summary", "too_long")]


async def test_bad_escalation_bodies(h: Any) -> None:
    op = await operator_token(h)
    r = await h.client.post(
        "/v2/operator/escalations", json={"reportIds": ["rpt_01J9Z3K4M5N6P7Q8R9S0T1V2W3"]}, headers=h.auth(op)
    )
    assert r.status_code == 422
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("reportIds.0", "report_not_found")]
    r = await h.client.post("/v2/operator/escalations", json={}, headers=h.auth(op))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "required"
    r = await h.client.get("/v2/operator/escalations/esc_01J9Z3K4M5N6P7Q8R9S0T1V2W3", headers=h.auth(op))
    assert r.status_code == 404 and r.json()["code"] == "escalation_not_found"


# -- dedupe and idempotency ----------------------------------------------------------
async def test_duplicates_return_the_existing_report(h: Any) -> None:
    token = await h.create_owner("acme")
    first = (await report(h, token, summary="Export hangs")).json()
    second = await report(h, token, summary="export   HANGS", details="again")
    assert second.status_code == 201 and second.json() == first
    h.clock.advance(hours=25)
    third = (await report(h, token, summary="Export hangs")).json()
    assert third["reportId"] != first["reportId"]


async def test_idempotency_key_replays_the_answer(h: Any) -> None:
    token = await h.create_owner("acme")
    headers = {**h.auth(token), "Idempotency-Key": "k-1"}
    body = {"summary": "Idempotent", "details": "d"}
    a = await h.client.post("/v2/support/report", json=body, headers=headers)
    b = await h.client.post("/v2/support/report", json=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert b.headers.get("idempotent-replayed") == "true"
    assert a.json() == b.json()
    c = await h.client.post("/v2/support/report", json={**body, "details": "other"}, headers=headers)
    assert c.status_code == 422 and c.json()["code"] == "idempotency_key_reused"


# -- the public form ------------------------------------------------------------------
async def test_content_reports_on_our_urls_share_a_case(h: Any) -> None:
    await h.create_owner("acme")
    body = {"category": "phishing", "description": "fake login page"}
    a = await h.client.post(
        "/v2/public/content-report", json={**body, "targetUrl": "http://testserver/profiles/acme/index.html"}
    )
    assert a.status_code == 202, a.text
    ja = a.json()
    assert ja["status"] == "received" and ja["reportId"].startswith("cr_")
    b = await h.client.post(
        "/v2/public/content-report",
        json={**body, "targetUrl": "http://testserver/profiles/acme/about.html?x=1"},
    )
    assert b.json()["caseId"] == ja["caseId"] and b.json()["reportId"] != ja["reportId"]
    for target in (
        "http://testserver/profiles/nobody/index.html",
        "https://evil.example/profiles/acme/",
        "http://testserver/v2/handles/acme",
    ):
        r = await h.client.post("/v2/public/content-report", json={**body, "targetUrl": target})
        assert r.status_code == 422 and r.json()["code"] == "unknown_target", target


@pytest.mark.parametrize(
    "extra",
    [
        {"requestId": "req_1"},
        {"sessionId": "s"},
        {"reproArtifact": "dep_1"},
        {"category": "bug"},
        {"category": "incident"},
        {"category": "outage"},
        {"category": "support"},
    ],
)
async def test_incidents_on_the_public_form_are_the_wrong_channel(h: Any, extra: dict[str, str]) -> None:
    body = {"category": "spam", "targetUrl": "http://testserver/profiles/acme/", "description": "d", **extra}
    r = await h.client.post("/v2/public/content-report", json=body)
    assert r.status_code == 422 and r.json()["code"] == "wrong_channel"
    assert "/v2/support/report" in r.json()["detail"]


async def test_content_reports_are_throttled_per_ip(h: Any) -> None:
    await h.create_owner("acme")
    body = {"category": "spam", "targetUrl": "http://testserver/profiles/acme/", "description": "d"}
    answers = [await h.client.post("/v2/public/content-report", json=body) for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [202] * 10
    assert answers[0].headers["ratelimit-policy"].startswith('"content_report"')
    assert answers[10].status_code == 429 and answers[10].json()["code"] == "rate_limited"
    assert "retry-after" in answers[10].headers


async def test_public_form_bad_bodies(h: Any) -> None:
    r = await h.client.post(
        "/v2/public/content-report", content=b"nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "malformed_body"
    r = await h.client.post("/v2/public/content-report", json={"category": "spam"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"targetUrl", "description"}


async def test_preview_artifact_missing_lands_in_sites_and_is_resolved(any_harness: Any) -> None:
    """The guides' handoff: a failing preview's requestId + deployment id -> sites queue -> resolved."""
    pytest.importorskip("gharart_core.sites.service")
    import hashlib

    h = any_harness
    owner = await h.create_owner("acme")
    page = b"<!doctype html><h1>home</h1>"
    manifest = {"index.html": {"sha256": hashlib.sha256(page).hexdigest(), "size": len(page)}}
    dep = await h.client.post("/v2/handles/acme/site-deployments", json={"manifest": manifest},
                              headers=h.auth(owner))
    assert dep.status_code == 201, dep.text
    dep_id = dep.json()["id"]
    preview = await h.client.get(f"/v2/handles/acme/site-deployments/{dep_id}/preview", headers=h.auth(owner))
    assert preview.status_code == 409 and preview.json()["code"] == "artifact_missing"
    await h.drain()

    r = await report(h, owner, summary="Preview not rendering", handle="acme",
                     requestId=preview.headers["x-request-id"], reproArtifact=dep_id)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["queue"], body["priority"]) == ("sites", "high")
    assert body["attachedRequest"]["code"] == "artifact_missing"
    assert body["attachedRequest"]["route"] == f"/v2/handles/acme/site-deployments/{dep_id}/preview"
    detail = (await h.client.get(f"/v2/support/reports/{body['reportId']}", headers=h.auth(owner))).json()
    assert detail["attachedArtifact"] == {"kind": "deployment", "id": dep_id, "handle": "acme"}

    op = await operator_token(h)
    esc = (await h.client.post("/v2/operator/escalations", json={"reportIds": [body["reportId"]]},
                               headers=h.auth(op))).json()
    assert (esc["queue"], esc["priority"]) == ("sites", "high")
    for status in ("acknowledged", "resolved"):
        p = await h.client.patch(f"/v2/operator/escalations/{esc['id']}", json={"status": status},
                                 headers=h.auth(op))
        assert p.status_code == 200
    mine = await h.client.get(f"/v2/support/reports/{body['reportId']}", headers=h.auth(owner))
    assert mine.json()["status"] == "resolved"


async def test_operator_queue_filters_assignment_and_concurrency(h: Any) -> None:
    user = await h.create_owner("acme")
    op = await operator_token(h)
    ids = [(await report(h, user, summary=f"Problem number {i}")).json()["reportId"] for i in range(3)]
    queue = await h.client.get("/v2/operator/reports", params={"queue": "general", "limit": 2}, headers=h.auth(op))
    assert queue.status_code == 200
    page1 = queue.json()
    assert [i["reportId"] for i in page1["items"]] == ids[::-1][:2] and page1["nextCursor"]
    page2 = (await h.client.get("/v2/operator/reports", params={"cursor": page1["nextCursor"]},
                                headers=h.auth(op))).json()
    assert [i["reportId"] for i in page2["items"]] == [ids[0]] and page2["nextCursor"] is None
    assert (await h.client.get("/v2/operator/reports", headers=h.auth(user))).json()["code"] == "operator_only"

    esc = await h.client.post("/v2/operator/escalations", json={"reportIds": ids[:2], "priority": "urgent"},
                              headers=h.auth(op))
    assert esc.status_code == 201 and esc.headers["etag"] == '"1"'
    eid = esc.json()["id"]
    assigned = await h.client.patch(f"/v2/operator/escalations/{eid}", headers={**h.auth(op), "If-Match": '"1"'},
                                    json={"assignee": "oncall@gharart.test", "note": "taking it"})
    assert assigned.status_code == 200 and assigned.json()["version"] == 2
    assert assigned.json()["assignee"] == "oncall@gharart.test" and len(assigned.json()["notes"]) == 1
    stale = await h.client.patch(f"/v2/operator/escalations/{eid}", headers={**h.auth(op), "If-Match": '"1"'},
                                 json={"status": "acknowledged"})
    assert stale.status_code == 412 and stale.json()["currentVersion"] == 2
    skip = await h.client.patch(f"/v2/operator/escalations/{eid}", json={"status": "resolved"}, headers=h.auth(op))
    assert skip.status_code == 409 and skip.json()["code"] == "invalid_transition"
    listed = (await h.client.get("/v2/operator/escalations", params={"assignee": "oncall@gharart.test"},
                                 headers=h.auth(op))).json()
    assert [e["id"] for e in listed["items"]] == [eid]
    bad = await h.client.get("/v2/operator/escalations", params={"status": "later"}, headers=h.auth(op))
    assert bad.status_code == 422
