"""Sites over HTTP: the flow, the guide's three breaks, bad inputs and roles."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from typing import Any

import pytest

from entrypoints.harness import make_harness

H = "/v2/handles/acme"
HOME = b"<!doctype html><h1>home</h1>"


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def man(files: dict[str, bytes]) -> dict[str, Any]:
    return {p: {"sha256": sha(b), "size": len(b)} for p, b in files.items()}


async def deploy(h: Any, tok: str, files: dict[str, bytes], *, upload: bool = True, **extra: Any) -> dict[str, Any]:
    r = await h.client.post(f"{H}/site-deployments", json={"manifest": man(files), **extra}, headers=h.auth(tok))
    assert r.status_code == 201, r.text
    dep = r.json()
    by = {sha(b): b for b in files.values()}
    if upload:
        for d in dep["required"]:
            u = await h.client.put(f"{H}/site-deployments/{dep['id']}/files/{d}", content=by[d], headers=h.auth(tok))
            assert u.status_code == 200, u.text
            dep = u.json()
    return dep


async def promote(h: Any, tok: str, dep_id: str, expected: Any = "skip") -> Any:
    body = {} if expected == "skip" else {"expectedLiveDeploymentId": expected}
    return await h.client.post(f"{H}/site-deployments/{dep_id}/promote", json=body, headers=h.auth(tok))


@pytest.fixture
async def owner(any_harness):
    tok = await any_harness.create_owner("acme")
    return any_harness, tok


async def test_flow_deploy_preview_promote_serve(owner):
    h, tok = owner
    r = await h.client.post(
        f"{H}/site-deployments",
        json={"manifest": man({"index.html": HOME}), "message": "v1"},
        headers=h.auth(tok),
    )
    assert r.status_code == 201
    dep = r.json()
    assert dep["status"] == "pending" and dep["required"] == [sha(HOME)] and dep["id"].startswith("dep_")
    assert dep["manifest"]["index.html"]["contentType"].startswith("text/html")
    bad = await h.client.put(
        f"{H}/site-deployments/{dep['id']}/files/{sha(HOME)}", content=b"nope", headers=h.auth(tok)
    )
    assert bad.status_code == 422 and bad.json()["code"] == "digest_mismatch"
    ok = await h.client.put(f"{H}/site-deployments/{dep['id']}/files/{sha(HOME)}", content=HOME, headers=h.auth(tok))
    assert ok.json()["status"] == "deployed"
    pv = await h.client.get(f"{H}/site-deployments/{dep['id']}/preview", headers=h.auth(tok))
    assert pv.status_code == 200 and pv.content == HOME
    assert pv.headers["x-robots-tag"] == "noindex" and pv.headers["x-gharart-deployment"] == dep["id"]
    r = await promote(h, tok, dep["id"], None)
    assert r.status_code == 200 and r.json()["live"] is True
    stale = await promote(h, tok, dep["id"], "dep_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert stale.status_code == 409 and stale.json()["currentLiveDeploymentId"] == dep["id"]
    p = await h.client.get("/profiles/acme/index.html")
    assert p.status_code == 200 and p.content == HOME
    assert p.headers["etag"] == f'"{sha(HOME)}"'
    assert p.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert p.headers["x-gharart-deployment"] == dep["id"]
    assert p.headers.get_list("content-type") == ["text/html; charset=utf-8"]
    p304 = await h.client.get("/profiles/acme/", headers={"If-None-Match": f'"{sha(HOME)}"'})
    assert p304.status_code == 304
    lst = (await h.client.get(f"{H}/site-deployments", headers=h.auth(tok))).json()
    assert lst["items"][0]["live"] is True and lst["items"][0]["missingBlobs"] == 0 and lst["nextCursor"] is None
    page1 = (await h.client.get(f"{H}/site-deployments?limit=1", headers=h.auth(tok))).json()
    assert len(page1["items"]) == 1 and page1["nextCursor"] is None
    audit = (await h.client.get(f"{H}/audit-log", headers=h.auth(tok))).json()["items"]
    assert {"site.deployment.create", "site.deployment.deployed", "site.promote"} <= {a["action"] for a in audit}
    nf = await h.client.get("/profiles/acme/nope.html")
    assert nf.status_code == 404
    host = await h.client.get("/", headers={"Host": "acme.localhost:8000"})
    assert host.status_code == 200 and host.content == HOME


async def test_break_missing_blob(owner):
    h, tok = owner
    dep = await deploy(h, tok, {"index.html": HOME, "hero.png": b"\x89PNG-hero"}, upload=False)
    await h.client.put(f"{H}/site-deployments/{dep['id']}/files/{sha(HOME)}", content=HOME, headers=h.auth(tok))
    r = await h.client.get(f"{H}/site-deployments/{dep['id']}/preview/hero.png", headers=h.auth(tok))
    assert r.status_code == 409 and r.json()["code"] == "artifact_missing"
    assert r.json()["missing"] == [{"path": "hero.png", "sha256": sha(b"\x89PNG-hero")}]
    pr = await promote(h, tok, dep["id"], None)
    assert pr.status_code == 409 and pr.json()["code"] == "invalid_transition"
    lst = (await h.client.get(f"{H}/site-deployments", headers=h.auth(tok))).json()
    assert lst["items"][0]["missingBlobs"] == 1


async def test_break_bindings_travel_with_release(owner):
    h, tok = owner
    a = await deploy(h, tok, {"index.html": HOME}, message="A")
    assert (await promote(h, tok, a["id"], None)).status_code == 200
    b = await deploy(h, tok, {"index.html": b"<h1>B</h1>"}, upload=False, message="B")
    r = await h.client.post(
        f"{H}/function-bindings",
        headers=h.auth(tok),
        json={"route": "/api/contact", "function": "form-capture", "config": {}},
    )
    assert r.status_code == 201 and r.json()["deploymentId"] == b["id"]
    binding = r.json()
    await h.client.put(
        f"{H}/site-deployments/{b['id']}/files/{sha(b'<h1>B</h1>')}",
        content=b"<h1>B</h1>",
        headers=h.auth(tok),
    )
    assert (await promote(h, tok, b["id"], a["id"])).status_code == 200
    post = await h.client.post("/profiles/acme/api/contact", data={"email": "x@example.com"})
    assert post.status_code == 200 and post.headers["x-gharart-deployment"] == b["id"]
    rb = await h.client.post(
        f"{H}/site-deployments/rollback",
        headers=h.auth(tok),
        json={"targetDeploymentId": a["id"], "expectedLiveDeploymentId": b["id"], "reason": "broken"},
    )
    assert rb.status_code == 200 and rb.json()["id"] == a["id"]
    got_b = (await h.client.get(f"{H}/site-deployments/{b['id']}", headers=h.auth(tok))).json()
    assert got_b["status"] == "rolled_back" and len(got_b["functionBindings"]) == 1
    gone = await h.client.post("/profiles/acme/api/contact", data={"email": "y@example.com"})
    assert gone.status_code == 405 and gone.headers["x-gharart-deployment"] == a["id"]
    assert (await promote(h, tok, b["id"], a["id"])).status_code == 200
    back = await h.client.post("/profiles/acme/api/contact", data={"email": "z@example.com"})
    assert back.status_code == 200
    subs = (await h.client.get(f"{H}/function-bindings/{binding['id']}/submissions", headers=h.auth(tok))).json()
    assert [s["fields"]["email"] for s in subs["items"]] == ["z@example.com", "x@example.com"]


async def test_break_site_mode_two_instances_one_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    async with (
        make_harness(database_url=url, data_dir=tmp_path) as h1,
        make_harness(database_url=url, data_dir=tmp_path) as h2,
    ):
        # both instances share the database; give the second the first's object store
        h2.container.object_store.override(h1.container.object_store())
        h2.app.container.sites_service.reset()
        tok = await h1.create_owner("acme")
        dep = await deploy(h1, tok, {"index.html": HOME})
        assert (await promote(h1, tok, dep["id"], None)).status_code == 200
        assert (await h2.client.get("/profiles/acme/index.html")).status_code == 200  # warm h2
        site = (await h1.client.get(f"{H}/site", headers=h1.auth(tok))).json()
        r = await h1.client.put(
            f"{H}/site-mode",
            headers=h1.auth(tok),
            json={
                "mode": "maintenance",
                "expectedModeVersion": site["modeVersion"],
                "message": "deploy window",
            },
        )
        assert r.status_code == 200 and r.json()["modeVersion"] == site["modeVersion"] + 1
        p = await h2.client.get("/profiles/acme/index.html")
        assert p.status_code == 503 and p.headers["retry-after"] == "300"
        r = await h2.client.put(
            f"{H}/site-mode",
            headers=h2.auth(tok),
            json={"mode": "live", "expectedModeVersion": site["modeVersion"] + 1},
        )
        assert r.status_code == 200
        assert (await h1.client.get("/profiles/acme/index.html")).status_code == 200
        for _ in range(2):  # the second one is answered by the ASGI fast path from warm caches
            warm = await h2.client.get("/profiles/acme/index.html")
            assert warm.status_code == 200 and warm.headers["x-gharart-deployment"] == dep["id"]
        dep2 = await deploy(h1, tok, {"index.html": b"<h1>v2</h1>"})
        assert (await promote(h1, tok, dep2["id"], dep["id"])).status_code == 200
        seen = await h2.client.get("/profiles/acme/index.html")
        assert seen.headers["x-gharart-deployment"] == dep2["id"] and seen.content == b"<h1>v2</h1>"
        stale = await h1.client.put(
            f"{H}/site-mode",
            headers=h1.auth(tok),
            json={"mode": "private", "expectedModeVersion": site["modeVersion"]},
        )
        assert stale.status_code == 409 and stale.json()["currentModeVersion"] == site["modeVersion"] + 2


async def test_modes_private_redirect(owner):
    h, tok = owner
    dep = await deploy(h, tok, {"index.html": HOME})
    await promote(h, tok, dep["id"])
    site = (await h.client.get(f"{H}/site", headers=h.auth(tok))).json()
    assert site["hostnames"] == [{"hostname": "acme.localhost", "kind": "default", "verified": True}]
    r = await h.client.put(
        f"{H}/site-mode",
        headers=h.auth(tok),
        json={"mode": "private", "expectedModeVersion": site["modeVersion"]},
    )
    assert r.status_code == 200
    assert (await h.client.get("/profiles/acme/index.html")).status_code == 401
    stranger = await h.create_user_token("stranger@example.com")
    nf = await h.client.get("/profiles/acme/index.html", headers=h.auth(stranger))
    assert nf.status_code == 404 and nf.json()["code"] == "handle_not_found"
    assert (await h.client.get("/profiles/acme/index.html", headers=h.auth(tok))).status_code == 200
    v = r.json()["modeVersion"]
    bad = await h.client.put(f"{H}/site-mode", headers=h.auth(tok), json={"mode": "redirect", "expectedModeVersion": v})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "redirectUrl"
    r = await h.client.put(
        f"{H}/site-mode",
        headers=h.auth(tok),
        json={"mode": "redirect", "expectedModeVersion": v, "redirectUrl": "https://example.com/moved"},
    )
    red = await h.client.get("/profiles/acme/blog/x.html")
    assert red.status_code == 302 and red.headers["location"] == "https://example.com/moved"


async def test_archive_deploy_and_unsafe_archive(owner):
    h, tok = owner
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", HOME)
        zf.writestr("css/site.css", b"body{}")
    r = await h.client.post(
        f"{H}/site-deployments?message=zip",
        content=buf.getvalue(),
        headers={**h.auth(tok), "Content-Type": "application/zip"},
    )
    assert r.status_code == 201 and r.json()["status"] == "deployed" and r.json()["required"] == []
    assert r.json()["manifest"]["css/site.css"]["contentType"].startswith("text/css")
    assert r.json()["message"] == "zip"
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../etc/cron.d/x", b"boom")
    r = await h.client.post(
        f"{H}/site-deployments",
        content=evil.getvalue(),
        headers={**h.auth(tok), "Content-Type": "application/zip"},
    )
    assert r.status_code == 422 and r.json()["code"] == "unsafe_archive" and "../../etc/cron.d/x" in r.json()["detail"]
    lst = (await h.client.get(f"{H}/site-deployments", headers=h.auth(tok))).json()
    assert len(lst["items"]) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/profiles/acme/..%2f..%2fetc/passwd",
        "/profiles/acme/a%2fb.html",
        "/profiles/acme/%2e%2e/x",
        "/profiles/acme/a%5cb",
        "/profiles/acme/a//b",
        "/profiles/acme/%c0%ae%c0%ae/x",
        "/profiles/acme/a%00.html",
    ],
)
async def test_traversal_refused(owner, path):
    h, tok = owner
    dep = await deploy(h, tok, {"index.html": HOME})
    await promote(h, tok, dep["id"])
    r = await h.client.get(path)
    assert 400 <= r.status_code < 500 and r.status_code != 200


async def test_bad_inputs_and_roles(owner):
    h, tok = owner
    A = h.auth(tok)
    c = h.client
    r = await c.post(f"{H}/site-deployments", content=b"{nope", headers={**A, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed_body"
    r = await c.post(f"{H}/site-deployments", json={"manifest": {"/abs.html": {"sha256": "a" * 64}}}, headers=A)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "manifest./abs.html"
    r = await c.post(f"{H}/site-deployments", json={"manifest": {"a/../b": "x"}}, headers=A)
    assert r.status_code == 422
    r = await c.post(f"{H}/site-deployments", json={"manifest": {}}, headers={})
    assert r.status_code == 401
    r = await c.post(f"{H}/site-deployments", content=b"x", headers={**A, "Content-Type": "text/plain"})
    assert r.status_code == 415
    missing = "dep_01HZZZZZZZZZZZZZZZZZZZZZZZ"
    for method, url in [
        ("GET", f"{H}/site-deployments/{missing}"),
        ("GET", f"{H}/site-deployments/{missing}/preview"),
        ("POST", f"{H}/site-deployments/{missing}/promote"),
        ("PUT", f"{H}/site-deployments/{missing}/files/{'a' * 64}"),
    ]:
        r = await c.request(method, url, headers=A, **({"json": {}} if method == "POST" else {}))
        assert r.status_code == 404 and r.json()["code"] == "deployment_not_found", (method, url, r.text)
    r = await c.post(
        f"{H}/site-deployments/rollback",
        json={"targetDeploymentId": missing, "expectedLiveDeploymentId": None},
        headers=A,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "deployment_not_found"
    r = await c.post(f"{H}/site-deployments/rollback", json={"reason": 1}, headers=A)
    assert r.status_code == 422
    r = await c.post(f"{H}/function-bindings", json={"route": "/x", "function": "nope", "config": {}}, headers=A)
    assert r.status_code == 422 and r.json()["code"] == "unknown_function"
    r = await c.post(f"{H}/function-bindings", json={"route": "/x", "function": "redirect", "config": {}}, headers=A)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "config.location"
    r = await c.get(f"{H}/function-bindings/fb_01HZZZZZZZZZZZZZZZZZZZZZZZ/submissions", headers=A)
    assert r.status_code == 404 and r.json()["code"] == "binding_not_found"
    r = await c.put(f"{H}/site-mode", json={"mode": "weird", "expectedModeVersion": 1}, headers=A)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "mode"
    r = await c.get(f"{H}/site-deployments?limit=0", headers=A)
    assert r.status_code == 422
    r = await c.get(f"{H}/site-deployments?cursor=!!!", headers=A)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await c.patch(f"{H}/site", json={"hostnames": ["not a host"]}, headers=A)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "hostnames.0"
    r = await c.patch(f"{H}/site", json={"hostnames": ["www.acme-shop.com"], "requireReplayGate": True}, headers=A)
    assert r.status_code == 200 and r.json()["hostnames"][1]["verified"] is False
    editor = await h.add_member("acme", tok, "ed@example.com", "editor")
    dep = await deploy(h, editor, {"index.html": HOME})
    r = await promote(h, editor, dep["id"], None)
    assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
    r = await promote(h, tok, dep["id"], None)
    assert r.status_code == 409 and r.json()["code"] == "replay_gate_required"
    other = await h.create_owner("other")
    r = await c.get(f"{H}/site-deployments", headers=h.auth(other))
    assert r.status_code == 404 and r.json()["code"] == "handle_not_found"


async def test_parallel_promotes_exactly_one_wins(owner):
    h, tok = owner
    deps = [await deploy(h, tok, {"index.html": HOME, "n.txt": str(i).encode()}) for i in range(5)]
    results = await asyncio.gather(*(promote(h, tok, d["id"], None) for d in deps))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409, 409], [r.text for r in results]


class _FakeDns:
    def __init__(self) -> None:
        self.records: dict[str, str] = {}

    async def verify(self, hostname: str, token: str) -> bool:
        return self.records.get(hostname) == token


async def test_custom_hostname_verification_and_host_serving(owner):
    h, tok = owner
    dns = _FakeDns()
    h.container.sites_service().hostname_verifier = dns
    dep = await deploy(h, tok, {"index.html": HOME})
    await promote(h, tok, dep["id"])
    r = await h.client.patch(f"{H}/site", json={"hostnames": ["www.acme-shop.com"]}, headers=h.auth(tok))
    host = r.json()["hostnames"][1]
    assert host["kind"] == "custom" and host["verified"] is False and host["verificationToken"]
    assert (await h.client.get("/", headers={"Host": "www.acme-shop.com"})).status_code == 404  # not yet
    v = await h.client.post(f"{H}/site/hostnames/www.acme-shop.com/verify", headers=h.auth(tok))
    assert v.status_code == 409 and v.json()["code"] == "hostname_unverified"
    dns.records["www.acme-shop.com"] = host["verificationToken"]
    v = await h.client.post(f"{H}/site/hostnames/www.acme-shop.com/verify", headers=h.auth(tok))
    assert v.status_code == 200 and v.json()["hostnames"][1]["verified"] is True
    got = await h.client.get("/", headers={"Host": "www.acme-shop.com:8443"})
    assert got.status_code == 200 and got.content == HOME
    other = await h.create_owner("other")
    taken = await h.client.patch(
        "/v2/handles/other/site", json={"hostnames": ["www.acme-shop.com"]}, headers=h.auth(other)
    )
    assert taken.status_code == 409 and taken.json()["code"] == "hostname_taken"


async def test_daily_deployment_quota_and_viewer_role():
    async with make_harness(daily_deployments=1) as h:
        tok = await h.create_owner("acme")
        assert (
            await h.client.post(f"{H}/site-deployments", json={"manifest": {}}, headers=h.auth(tok))
        ).status_code == 201
        r = await h.client.post(f"{H}/site-deployments", json={"manifest": {}}, headers=h.auth(tok))
        assert (
            r.status_code == 429 and r.json()["code"] == "daily_quota_exceeded" and r.json()["quota"] == "deployments"
        )
        assert len((await h.client.get(f"{H}/site-deployments", headers=h.auth(tok))).json()["items"]) == 1
        viewer = await h.add_member("acme", tok, "v@example.com", "viewer")
        r = await h.client.post(f"{H}/site-deployments", json={"manifest": {}}, headers=h.auth(viewer))
        assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
        assert (await h.client.get(f"{H}/site", headers=h.auth(viewer))).status_code == 200


async def test_unsafe_archive_writes_nothing(harness):
    h = harness
    tok = await h.create_owner("acme")
    store = h.container.object_store()
    before = dict(store.objects)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", b"fine")
        zf.writestr("assets/../../../escape.js", b"evil")
    r = await h.client.post(
        f"{H}/site-deployments", content=buf.getvalue(), headers={**h.auth(tok), "Content-Type": "application/zip"}
    )
    assert r.status_code == 422 and r.json()["entry"] == "assets/../../../escape.js"
    assert store.objects == before
    assert (await h.client.get(f"{H}/site-deployments", headers=h.auth(tok))).json()["items"] == []


DEP = "dep_01HZZZZZZZZZZZZZZZZZZZZZZZ"
ROUTES = [
    ("POST", f"{H}/site-deployments", True),
    ("GET", f"{H}/site-deployments", False),
    ("GET", f"{H}/site-deployments/{DEP}", False),
    ("PUT", f"{H}/site-deployments/{DEP}/files/{'a' * 64}", False),
    ("GET", f"{H}/site-deployments/{DEP}/preview", False),
    ("GET", f"{H}/site-deployments/{DEP}/preview/a.html", False),
    ("POST", f"{H}/site-deployments/{DEP}/promote", True),
    ("POST", f"{H}/site-deployments/rollback", True),
    ("GET", f"{H}/site", False),
    ("PATCH", f"{H}/site", True),
    ("PUT", f"{H}/site-mode", True),
    ("POST", f"{H}/function-bindings", True),
    ("GET", f"{H}/function-bindings", False),
    ("GET", f"{H}/function-bindings/fb_01HZZZZZZZZZZZZZZZZZZZZZZZ/submissions", False),
]
ADMIN = {f"{H}/site-deployments/{DEP}/promote", f"{H}/site-deployments/rollback", f"{H}/site-mode"}


@pytest.mark.parametrize("method,url,json_body", ROUTES)
async def test_every_route_auth_and_bad_bodies(harness, method, url, json_body):
    h = harness
    tok = await h.create_owner("acme")
    anon = await h.client.request(method, url, content=b"{}", headers={"Content-Type": "application/json"})
    assert anon.status_code == 401 and anon.json()["code"] == "unauthenticated"
    assert anon.headers["www-authenticate"].startswith("Bearer")
    stranger = await h.create_owner("other")
    r = await h.client.request(
        method, url, content=b"{}", headers={**h.auth(stranger), "Content-Type": "application/json"}
    )
    assert r.status_code == 404 and r.json()["code"] == "handle_not_found"
    if json_body:
        r = await h.client.request(
            method, url, content=b'{"mode": ', headers={**h.auth(tok), "Content-Type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["code"] == "malformed_body", r.text
    if method != "GET":
        viewer = await h.add_member("acme", tok, "viewer@example.com", "viewer")
        r = await h.client.request(
            method, url, content=b"{}", headers={**h.auth(viewer), "Content-Type": "application/json"}
        )
        assert r.status_code == 403 and r.json()["code"] == "forbidden_role", r.text
    if url in ADMIN:
        editor = await h.add_member("acme", tok, "editor@example.com", "editor")
        r = await h.client.request(
            method, url, content=b"{}", headers={**h.auth(editor), "Content-Type": "application/json"}
        )
        assert r.status_code == 403 and r.json()["code"] == "forbidden_role", r.text


async def test_slow_blob_upload_blocks_no_other_write(owner):
    """The checks run before the body streams on a read-only unit; the write unit (SQLite's one
    writer) is taken only once the blob is stored, so other writes and an in-flight key answer at once."""
    h, tok = owner
    big = b"x" * (1536 * 1024) + b"tail"  # the first chunk covers the 1 MiB the idempotency fingerprint reads
    dep = await deploy(h, tok, {"index.html": big}, upload=False)
    url = f"{H}/site-deployments/{dep['id']}/files/{sha(big)}"
    gate = asyncio.Event()

    async def body(wait: bool = True):
        yield big[: 1024 * 1024 + 1024]
        if wait:
            await gate.wait()
        yield big[1024 * 1024 + 1024 :]

    key = {"Idempotency-Key": "slow-blob"}
    upload = asyncio.create_task(h.client.put(url, content=body(), headers={**h.auth(tok), **key}))
    try:
        await _while_upload_stalls(h, tok, url, key, upload, body)
    finally:
        gate.set()  # a failure above must not leave the upload (and the fixture's teardown) waiting
    done = await asyncio.wait_for(upload, timeout=10)
    assert done.status_code == 200 and done.json()["status"] == "deployed", done.text


async def _while_upload_stalls(h: Any, tok: str, url: str, key: dict[str, str], upload: Any, body: Any) -> None:
    await asyncio.sleep(0.1)
    r = await asyncio.wait_for(h.client.post(f"{H}/links", json={"slug": "meanwhile",
                                                                  "destination": "https://a.example/"},
                                             headers=h.auth(tok)), timeout=5)
    assert r.status_code == 201, r.text
    again = await asyncio.wait_for(h.client.put(url, content=body(wait=False), headers={**h.auth(tok), **key}),
                                   timeout=5)
    assert again.status_code == 409 and again.json()["code"] == "idempotency_in_progress", again.text
    assert not upload.done()


async def test_manifest_size_contradicting_the_blob_fails_the_deployment(owner):
    h, tok = owner
    r = await h.client.post(f"{H}/site-deployments", headers=h.auth(tok), json={"manifest": {
        "index.html": {"sha256": sha(HOME), "size": len(HOME) + 1}}})
    dep = r.json()
    u = await h.client.put(f"{H}/site-deployments/{dep['id']}/files/{sha(HOME)}", content=HOME, headers=h.auth(tok))
    assert u.status_code == 200 and u.json()["status"] == "failed", u.text
    got = (await h.client.get(f"{H}/site-deployments/{dep['id']}", headers=h.auth(tok))).json()
    assert got["status"] == "failed"
    assert got["reason"] == f"size_mismatch: index.html declares {len(HOME) + 1} bytes, its blob has {len(HOME)}"
    p = await h.client.get(f"{H}/site-deployments/{dep['id']}/preview", headers=h.auth(tok))
    assert p.status_code == 409 and p.json()["code"] == "artifact_missing" and p.json()["missing"] == []
    assert (await promote(h, tok, dep["id"], None)).json()["code"] == "invalid_transition"
    # the blob is stored: a corrected manifest (or one leaving the size out) needs no upload
    for size in (len(HOME), 0):
        ok = await h.client.post(f"{H}/site-deployments", headers=h.auth(tok), json={"manifest": {
            "index.html": {"sha256": sha(HOME), "size": size}}})
        assert ok.json()["status"] == "deployed" and ok.json()["required"] == [], ok.text
