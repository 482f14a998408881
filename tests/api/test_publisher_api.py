"""The IGNY8-compatible publisher API, exercised the way a DRF client uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from entrypoints.harness import Harness, make_harness
from gharart_core.publisher.ports import WebhookResponse

API = "/api/v1/publisher"
ENVELOPE_KEYS = {"success", "data", "message", "errors", "request_id"}


class FakeTransport:
    def __init__(self) -> None:
        self.answers: list[WebhookResponse] = []
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        self.calls.append((url, body, dict(headers)))
        return self.answers.pop(0) if self.answers else WebhookResponse(200, None, "{}")


class Api:
    """Two accounts (alice: acme + acme-shop, bob: bravo), an operator and a fake webhook receiver."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.c = h.client
        self.transport = FakeTransport()
        h.container.publisher_service().destinations["webhook"].transport = self.transport

    async def setup(self) -> Api:
        self.alice = await self.h.create_owner("acme", "alice@acme.example.com")
        r = await self.c.post("/v2/handles", json={"handle": "acme-shop"}, headers=self.h.auth(self.alice))
        assert r.status_code == 201, r.text
        self.bob = await self.h.create_owner("bravo", "bob@bravo.example.com")
        self.viewer = await self.h.add_member("acme", self.alice, "vera@acme.example.com", "viewer")
        self.op = await self.h.create_user_token("ops@gharart.example.com", ("sites:read", "operator"),
                                                 operator=True)
        return self

    async def call(self, method: str, path: str, token: str | None = None, *, json: Any = None,
                   headers: dict[str, str] | None = None, params: Any = None, status: int | None = None,
                   content: bytes | None = None) -> dict[str, Any]:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs.update(self.h.auth(token))
        r = await self.c.request(method, API + path, json=json, headers=hdrs, params=params, content=content)
        assert r.headers["content-type"].startswith("application/json"), r.text
        body = r.json()
        assert set(body) == ENVELOPE_KEYS, body
        if r.headers.get("idempotent-replayed") != "true":  # a replay is the stored answer, byte for byte
            assert body["request_id"] == r.headers["x-request-id"]
        assert body["success"] is (r.status_code < 400)
        if status is not None:
            assert r.status_code == status, r.text
        body["_status"] = r.status_code
        body["_headers"] = r.headers
        return body

    async def record(self, token: str, site: str = "acme", **fields: Any) -> dict[str, Any]:
        body = {"site_id": site, "content_id": 101, "destination": "webhook", "title": "Hello",
                "config": {"url": "https://hooks.example.com/in"}, **fields}
        return (await self.call("POST", "/publishing-records/", token, json=body, status=201))["data"]


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async with make_harness() as h:
        yield await Api(h).setup()


@pytest.fixture
async def any_api(any_harness: Harness) -> Api:
    return await Api(any_harness).setup()


async def test_drf_style_crud(any_api: Api) -> None:
    api = any_api
    created = await api.record(api.alice, sector_id="news")
    assert created["id"].startswith("pub_") and created["status"] == "pending" and created["attempts"] == 0
    assert created["site_id"] == "acme" and created["sector_id"] == "news"
    assert created["account_id"].startswith("acc_") and created["content_id"] == "101"
    assert set(created) >= {"id", "account_id", "site_id", "sector_id", "content_id", "destination", "title",
                            "status", "external_url", "error", "published_at", "created_at", "updated_at"}
    rid = created["id"]
    got = await api.call("GET", f"/publishing-records/{rid}/", api.alice, status=200)
    assert got["data"] == created
    patched = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"title": "Hello again"},
                             status=200)
    assert patched["data"]["title"] == "Hello again" and patched["data"]["sector_id"] == "news"
    put = await api.call("PUT", f"/publishing-records/{rid}/", api.alice, status=200, json={
        "site_id": "acme", "content_id": "101", "destination": "webhook", "title": "Put", "sector_id": "blog"})
    assert put["data"]["title"] == "Put" and put["data"]["sector_id"] == "blog"
    bad_put = await api.call("PUT", f"/publishing-records/{rid}/", api.alice, json={"title": "x"}, status=400)
    assert set(bad_put["errors"]) == {"site_id", "content_id", "destination"}
    gone = await api.call("DELETE", f"/publishing-records/{rid}/", api.alice, status=200)
    assert gone["data"] is None and gone["success"] is True
    await api.call("GET", f"/publishing-records/{rid}/", api.alice, status=404)
    await api.call("DELETE", f"/publishing-records/{rid}/", api.alice, status=404)


async def test_pagination_and_filters(api: Api) -> None:
    for i in range(7):
        await api.record(api.alice, content_id=f"c{i}", sector_id="news" if i % 2 else "default")
    for i in range(5):
        await api.record(api.alice, site="acme-shop", content_id=f"s{i}")
    first = (await api.call("GET", "/publishing-records/", api.alice, params={"page_size": 5}, status=200))["data"]
    assert first["count"] == 12 and len(first["results"]) == 5 and first["previous"] is None
    assert "page=2" in first["next"] and "page_size=5" in first["next"]
    assert first["next"].startswith("http://testserver/api/v1/publisher/publishing-records/?")
    third = (await api.call("GET", "/publishing-records/", api.alice, params={"page_size": 5, "page": 3}))["data"]
    assert len(third["results"]) == 2 and third["next"] is None and "page=2" in third["previous"]
    last = (await api.call("GET", "/publishing-records/", api.alice, params={"page_size": 5, "page": "last"}))
    assert last["data"]["results"] == third["results"]
    ids = [r["id"] for r in first["results"]]
    assert ids == sorted(ids, reverse=True)
    default = (await api.call("GET", "/publishing-records/", api.alice))["data"]
    assert len(default["results"]) == 10
    shop = (await api.call("GET", "/publishing-records/", api.alice, params={"site_id": "acme-shop"}))["data"]
    assert shop["count"] == 5 and {r["site_id"] for r in shop["results"]} == {"acme-shop"}
    news = (await api.call("GET", "/publishing-records/", api.alice, params={"sector_id": "news"}))["data"]
    assert news["count"] == 3
    both = await api.call("GET", "/publishing-records/", api.alice,
                          params={"site_id": "acme", "sector_id": "default", "content_id": "c0"})
    assert both["data"]["count"] == 1
    await api.call("GET", "/publishing-records/", api.alice, params={"page": 9}, status=404)
    await api.call("GET", "/publishing-records/", api.alice, params={"page": "x"}, status=404)
    bad = await api.call("GET", "/publishing-records/", api.alice, params={"status": "nope"}, status=400)
    assert "status" in bad["errors"]


async def test_tenancy_matrix(any_api: Api) -> None:
    api = any_api
    mine = await api.record(api.alice)
    theirs = await api.record(api.bob, site="bravo")
    assert mine["account_id"] != theirs["account_id"]
    for token, own, other in ((api.alice, mine, theirs), (api.bob, theirs, mine)):
        listed = (await api.call("GET", "/publishing-records/", token))["data"]
        assert [r["id"] for r in listed["results"]] == [own["id"]]
        filtered = (await api.call("GET", "/publishing-records/", token,
                                   params={"site_id": other["site_id"]}))["data"]
        assert filtered["count"] == 0
        for method, suffix, body in (("GET", "", None), ("PATCH", "", {"title": "x"}),
                                     ("PUT", "", {"site_id": other["site_id"], "content_id": "1",
                                                  "destination": "webhook"}),
                                     ("DELETE", "", None), ("POST", "retry/", None)):
            await api.call(method, f"/publishing-records/{other['id']}/{suffix}", token, json=body, status=404)
        created = await api.call("POST", "/publishing-records/", token, status=400, json={
            "site_id": other["site_id"], "content_id": "1", "destination": "webhook",
            "config": {"url": "https://hooks.example.com/x"}})
        assert "site_id" in created["errors"]
    # a viewer reads but cannot write
    assert (await api.call("GET", "/publishing-records/", api.viewer))["data"]["count"] == 1
    await api.call("PATCH", f"/publishing-records/{mine['id']}/", api.viewer, json={"title": "x"}, status=403)
    # operators bypass the scoping; records keep their tenant fields
    everything = (await api.call("GET", "/publishing-records/", api.op))["data"]
    assert {(r["site_id"], r["account_id"]) for r in everything["results"]} == {
        ("acme", mine["account_id"]), ("bravo", theirs["account_id"])}
    got = await api.call("GET", f"/publishing-records/{theirs['id']}/", api.op, status=200)
    assert got["data"]["account_id"] == theirs["account_id"]
    only = (await api.call("GET", "/publishing-records/", api.op, params={"account_id": mine["account_id"]}))
    assert [r["id"] for r in only["data"]["results"]] == [mine["id"]]


async def test_status_moves_along_the_table(api: Api) -> None:
    rid = (await api.record(api.alice))["id"]
    bad = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"status": "published"},
                         status=400)
    assert list(bad["errors"]) == ["status"] and bad["_headers"]["x-error-code"] == "invalid_transition"
    unknown = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"status": "done"}, status=400)
    assert "status" in unknown["errors"]
    same = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"status": "pending"}, status=200)
    assert same["data"]["status"] == "pending"
    for step in ("publishing", "failed", "publishing"):
        out = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"status": step}, status=200)
        assert out["data"]["status"] == step
    done = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, status=200,
                          json={"status": "published", "external_url": "https://blog.example.com/p/1"})
    assert done["data"]["published_at"] and done["data"]["attempts"] == 2
    final = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"status": "failed"}, status=400)
    assert "status" in final["errors"]


async def test_failed_webhook_publish_retried_with_idempotency_publishes_once(any_api: Api) -> None:
    api = any_api
    api.transport.answers = [WebhookResponse(500, None, "boom"),
                             WebhookResponse(201, None, '{"link": "https://blog.example.com/hello"}')]
    first = await api.call("POST", "/publish/", api.alice, status=201, json={
        "site_id": "acme", "content_id": 7, "title": "Hello", "destination": "webhook", "content": "<p>Hi</p>",
        "config": {"url": "https://hooks.example.com/in", "headers": {"X-Token": "s3cret"}}},
        headers={"Idempotency-Key": "publish-7"})
    rec = first["data"]
    assert rec["status"] == "failed" and rec["attempts"] == 1 and "500" in rec["error"]
    assert rec["config"]["headers"] == {"X-Token": "********"}
    retry_path = f"/publishing-records/{rec['id']}/retry/"
    ok = await api.call("POST", retry_path, api.alice, headers={"Idempotency-Key": "retry-1"}, status=200)
    assert ok["data"]["status"] == "published" and ok["data"]["attempts"] == 2
    assert ok["data"]["external_url"] == "https://blog.example.com/hello" and ok["data"]["error"] is None
    replay = await api.call("POST", retry_path, api.alice, headers={"Idempotency-Key": "retry-1"}, status=200)
    assert replay["_headers"].get("idempotent-replayed") == "true" and replay["data"] == ok["data"]
    again = await api.call("POST", retry_path, api.alice, headers={"Idempotency-Key": "retry-2"}, status=200)
    assert again["data"]["status"] == "published" and again["data"]["published_at"] == ok["data"]["published_at"]
    assert again["data"]["attempts"] == 2 and "Already published" in again["message"]
    via_root = await api.call("POST", "/retry/", api.alice, json={"publishing_record_id": rec["id"]}, status=200)
    assert via_root["data"]["attempts"] == 2
    # the receiver saw two attempts, one success, each with the record's idempotency key
    assert len(api.transport.calls) == 2
    assert [c[2]["Idempotency-Key"] for c in api.transport.calls] == [rec["id"], rec["id"]]
    assert [c[2]["X-Gharart-Attempt"] for c in api.transport.calls] == ["1", "2"]
    assert api.transport.calls[0][2]["X-Token"] == "s3cret"
    reused = await api.call("POST", "/publish/", api.alice, headers={"Idempotency-Key": "publish-7"},
                            json={"site_id": "acme"}, status=422)
    assert reused["errors"]
    listed = (await api.call("GET", "/publishing-records/", api.alice, params={"status": "published"}))["data"]
    assert listed["count"] == 1


async def test_publish_to_site_and_deployments_view(any_api: Api) -> None:
    api = any_api
    out = await api.call("POST", "/publish/", api.alice, status=201, json={
        "site_id": "acme", "content_id": "post-1", "destination": "site", "title": "Post",
        "content": "<h1>Post</h1>", "config": {"path": "blog/post-1.html"}})
    rec = out["data"]
    assert rec["status"] == "published", out
    assert rec["external_url"].startswith("http://testserver/v2/handles/acme/site-deployments/dep_")
    dep_id = rec["external_url"].split("/site-deployments/")[1].split("/")[0]
    deps = (await api.call("GET", "/deployments/", api.alice, status=200))["data"]
    assert [d["id"] for d in deps["results"]] == [dep_id]
    d = deps["results"][0]
    assert d["status"] == "deployed" and d["site_id"] == "acme" and d["sector_id"] == "default"
    assert d["account_id"] == rec["account_id"] and d["is_live"] is False
    # created through /api/v1, the deployment is the sites domain's deployment
    made = await api.call("POST", "/deployments/", api.alice, status=201, json={
        "site_id": "acme", "sector_id": "news", "message": "v2 of the site", "metadata": {"version": 2},
        "files": {"index.html": "<p>home</p>"}})
    new = made["data"]
    assert new["id"].startswith("dep_") and new["status"] == "deployed" and new["metadata"] == {"version": 2}
    async with api.h.uow_factory(write=False) as uow:
        dep = await api.h.container.sites_service().get_deployment_internal(uow, "acme", new["id"])
        assert dep is not None and dep.status.value == "deployed" and dep.message == "v2 of the site"
    got = await api.call("GET", f"/deployments/{new['id']}/", api.alice, status=200)
    assert got["data"]["sector_id"] == "news" and got["data"]["file_count"] == 1
    await api.call("GET", f"/deployments/{new['id']}/", api.bob, status=404)
    assert (await api.call("GET", "/deployments/", api.alice, params={"sector_id": "news"}))["data"]["count"] == 1
    assert (await api.call("GET", "/deployments/", api.bob))["data"]["count"] == 0
    bad = await api.call("PATCH", f"/deployments/{new['id']}/", api.alice, json={"status": "pending"}, status=400)
    assert "status" in bad["errors"]
    moved = await api.call("PATCH", f"/deployments/{new['id']}/", api.alice, json={"sector_id": "blog"}, status=200)
    assert moved["data"]["sector_id"] == "blog"
    await api.call("DELETE", f"/deployments/{new['id']}/", api.alice, status=200)
    await api.call("GET", f"/deployments/{new['id']}/", api.alice, status=404)
    status = (await api.call("GET", "/status/", api.alice, status=200))["data"]
    acme = next(s for s in status["results"] if s["site_id"] == "acme")
    assert acme["publishing"]["published"] == 1 and acme["deployments"]["deployed"] == 2
    assert {s["site_id"] for s in status["results"]} == {"acme", "acme-shop"}


async def test_bad_input_answers_in_the_envelope(api: Api) -> None:
    no_auth = await api.call("GET", "/publishing-records/", status=401)
    assert no_auth["_headers"]["www-authenticate"].startswith("Bearer")
    assert no_auth["data"] is None and no_auth["errors"]
    await api.call("GET", "/publishing-records/", "gha_pat_forged", status=401)
    await api.call("POST", "/publish/", status=401, json={})
    malformed = await api.call("POST", "/publishing-records/", api.alice, content=b"{not json",
                               headers={"Content-Type": "application/json"}, status=400)
    assert malformed["message"]
    wrong = await api.call("POST", "/publishing-records/", api.alice, status=400, json={
        "site_id": ["acme"], "content_id": {"a": 1}, "destination": 3, "title": 5, "sector_id": "x y",
        "config": "nope"})
    assert set(wrong["errors"]) >= {"site_id", "content_id", "destination", "title", "sector_id", "config"}
    assert all(isinstance(v, list) and v for v in wrong["errors"].values())
    hook = await api.call("POST", "/publishing-records/", api.alice, status=400, json={
        "site_id": "acme", "content_id": "1", "destination": "webhook", "config": {"url": "ftp://x"}})
    assert list(hook["errors"]) == ["config.url"]
    await api.call("GET", "/publishing-records/pub_01NOPE0000000000000000000/", api.alice, status=404)
    await api.call("GET", "/deployments/dep_01NOPE0000000000000000000/", api.alice, status=404)
    await api.call("PATCH", "/deployments/nonsense/", api.alice, json={}, status=404)
    await api.call("GET", "/no-such-thing/", api.alice, status=404)
    not_obj = await api.call("POST", "/publish/", api.alice, json=[1, 2], status=400)
    assert not_obj["errors"]
    root = await api.call("GET", "/", api.alice, status=200)
    assert set(root["data"]) >= {"publishing_records", "deployments", "publish", "status"}


async def test_deployments_are_shared_with_v2(any_api: Api) -> None:
    import hashlib

    api = any_api
    v2 = "/v2/handles/acme/site-deployments"
    html = b"<p>from v2</p>"
    sha = hashlib.sha256(html).hexdigest()
    r = await api.c.post(v2, headers=api.h.auth(api.alice), json={
        "manifest": {"index.html": {"sha256": sha, "size": len(html), "contentType": "text/html"}},
        "message": "made on /v2"})
    assert r.status_code == 201, r.text
    dep_id = r.json()["id"]
    seen = (await api.call("GET", f"/deployments/{dep_id}/", api.alice, status=200))["data"]
    assert seen["status"] == "pending" and seen["missing_blobs"] == 1 and seen["message"] == "made on /v2"
    r = await api.c.put(f"{v2}/{dep_id}/files/{sha}", content=html,
                        headers={**api.h.auth(api.alice), "Content-Type": "application/octet-stream"})
    assert r.status_code in (200, 201), r.text
    seen = (await api.call("GET", f"/deployments/{dep_id}/", api.alice, status=200))["data"]
    assert seen["status"] == "deployed" and seen["missing_blobs"] == 0
    await api.call("GET", f"/deployments/{dep_id}/", api.bob, status=404)
    r = await api.c.post(f"{v2}/{dep_id}/promote", headers=api.h.auth(api.alice), json={})
    assert r.status_code == 200, r.text
    assert (await api.call("GET", f"/deployments/{dep_id}/", api.alice))["data"]["is_live"] is True
    await api.call("DELETE", f"/deployments/{dep_id}/", api.alice, status=400)
    # and the other way round: made on /api/v1, read and moved on /v2
    made = (await api.call("POST", "/deployments/", api.alice, status=201, json={
        "site_id": "acme", "message": "made on /api/v1", "files": {"index.html": "<p>v1 api</p>"}}))["data"]
    r = await api.c.get(f"{v2}/{made['id']}", headers=api.h.auth(api.alice))
    assert r.status_code == 200 and r.json()["status"] == "deployed" and r.json()["message"] == "made on /api/v1"
    listed = await api.c.get(v2, headers=api.h.auth(api.alice))
    assert {d["id"] for d in listed.json()["items"]} == {dep_id, made["id"]}
    r = await api.c.post(f"{v2}/{made['id']}/promote", headers=api.h.auth(api.alice), json={})
    assert r.status_code == 200, r.text
    r = await api.c.post(f"{v2}/rollback", headers=api.h.auth(api.alice), json={
        "targetDeploymentId": dep_id, "expectedLiveDeploymentId": made["id"], "reason": "back"})
    assert r.status_code == 200, r.text
    back = (await api.call("GET", f"/deployments/{made['id']}/", api.alice))["data"]
    assert back["status"] == "rolled_back" and back["is_live"] is False
    # a rolled-back release goes live again through a PATCH here
    again = await api.call("PATCH", f"/deployments/{made['id']}/", api.alice, json={"status": "deployed"},
                           status=200)
    assert again["data"]["status"] == "deployed" and again["data"]["is_live"] is True
    site = await api.c.get("/v2/handles/acme/site", headers=api.h.auth(api.alice))
    assert site.json()["liveDeploymentId"] == made["id"]
    # a /v2 deployment still waiting for blobs can be cancelled here; /v2 sees it failed
    r = await api.c.post(v2, headers=api.h.auth(api.alice), json={
        "manifest": {"a.html": {"sha256": "1" * 64, "size": 3}}, "message": "never finished"})
    waiting = r.json()["id"]
    out = await api.call("PATCH", f"/deployments/{waiting}/", api.alice, json={"status": "failed"}, status=200)
    assert out["data"]["status"] == "failed"
    r = await api.c.get(f"{v2}/{waiting}", headers=api.h.auth(api.alice))
    assert r.json()["status"] == "failed"


async def test_concurrent_retries_deliver_once(any_api: Api) -> None:
    import asyncio

    api = any_api
    api.transport.answers = [WebhookResponse(None, "timeout")]
    rec = (await api.call("POST", "/publish/", api.alice, status=201, json={
        "site_id": "acme", "content_id": "c", "destination": "webhook",
        "config": {"url": "https://hooks.example.com/in"}}))["data"]
    assert rec["status"] == "failed" and rec["error"] == "webhook not delivered: timeout"
    path = f"{API}/publishing-records/{rec['id']}/retry/"
    answers = await asyncio.gather(*(api.c.post(path, headers=api.h.auth(api.alice)) for _ in range(4)))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert [r.json()["data"]["status"] for r in answers] == ["published"] * 4
    assert sum("Already published" in r.json()["message"] for r in answers) == 3
    assert len(api.transport.calls) == 2


async def test_throttles_and_quotas_answer_in_the_envelope() -> None:
    from entrypoints.settings import parse_rate_limits

    async with make_harness(rate_limits=parse_rate_limits("api=1/m:2"), daily_deployments=1) as h:
        api = Api(h)
        token = await h.create_owner("acme", "alice@acme.example.com")
        answers = [await api.call("GET", "/publishing-records/", token) for _ in range(3)]
        limited = answers[-1]
        assert limited["_status"] == 429
        assert limited["_headers"]["retry-after"] and limited["errors"] and limited["data"] is None
    async with make_harness(daily_deployments=1) as h:
        api = Api(h)
        token = await h.create_owner("acme", "alice@acme.example.com")
        await api.call("POST", "/deployments/", token, json={"site_id": "acme", "files": {"a.html": "a"}},
                       status=201)
        over = await api.call("POST", "/deployments/", token, json={"site_id": "acme", "files": {"a.html": "b"}},
                              status=429)
        assert over["_headers"]["x-error-code"] == "daily_quota_exceeded"
        assert (await api.call("GET", "/deployments/", token))["data"]["count"] == 1


async def test_every_status_pair_over_http_matches_the_table(api: Api) -> None:
    from gharart_core.publisher.model import PublishStatus, can_transition

    path_to = {"pending": [], "publishing": ["publishing"], "failed": ["publishing", "failed"],
               "published": ["publishing", "published"]}
    for current in PublishStatus:
        for target in PublishStatus:
            rid = (await api.record(api.alice))["id"]
            for step in path_to[current.value]:
                await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"status": step}, status=200)
            out = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"status": target.value})
            legal = target is current or can_transition(current, target)
            assert out["_status"] == (200 if legal else 400), (current, target, out)
            if not legal:
                assert list(out["errors"]) == ["status"]
            after = (await api.call("GET", f"/publishing-records/{rid}/", api.alice))["data"]
            assert after["status"] == (target.value if legal else current.value)


async def test_nul_characters_are_refused_on_every_backend(any_api: Api) -> None:
    api = any_api
    for field in ("title", "content", "sector_id"):
        out = await api.call("POST", "/publishing-records/", api.alice, status=400, json={
            "site_id": "acme", "content_id": "1", "destination": "webhook", field: "a\x00b"})
        assert field in out["errors"]
    rid = (await api.record(api.alice))["id"]
    out = await api.call("PATCH", f"/publishing-records/{rid}/", api.alice, json={"error": "x\x00"}, status=400)
    assert "error" in out["errors"]
    out = await api.call("GET", "/publishing-records/", api.op, params={"site_id": "a\x00", "sector_id": "b"},
                         status=400)
    assert "site_id" in out["errors"]
    await api.call("GET", "/publishing-records/pub_%00/", api.alice, status=404)
    out = await api.call("POST", "/deployments/", api.alice, status=400, json={"site_id": "acme", "message": "\x00"})
    assert "message" in out["errors"]
