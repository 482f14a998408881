"""Audit regressions: cross-cutting contract, identity and the CLI entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from entrypoints.harness import Harness

SRC = Path(__file__).resolve().parents[2] / "src"


def test_cli_module_runs_as_a_script() -> None:
    """`python -m entrypoints.cli.main ...` is the documented way to run the CLI from a checkout."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-m", "entrypoints.cli.main", "--help"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "init" in done.stdout


async def test_member_added_before_sign_in_has_a_user_id_usable_in_member_routes(any_harness: Harness) -> None:
    h = any_harness
    owner = await h.create_owner("acme")
    r = await h.client.post("/v2/handles/acme/members", json={"email": "Later@Example.com", "role": "viewer"},
                            headers=h.auth(owner))
    assert r.status_code == 201
    user_id = r.json()["userId"]
    assert isinstance(user_id, str) and user_id.startswith("usr_")
    assert set(r.json()) >= {"userId", "email", "role", "addedAt"}
    r = await h.client.patch(f"/v2/handles/acme/members/{user_id}", json={"role": "editor"}, headers=h.auth(owner))
    assert r.status_code == 200 and r.json()["role"] == "editor" and r.json()["userId"] == user_id
    later = await h.create_user_token("later@example.com")
    r = await h.client.get("/v2/handles/acme", headers=h.auth(later))
    assert r.status_code == 200 and r.json()["role"] == "editor"
    members = (await h.client.get("/v2/handles/acme/members", headers=h.auth(owner))).json()["items"]
    assert {m["userId"] for m in members if m["email"].lower() == "later@example.com"} == {user_id}
    r = await h.client.delete(f"/v2/handles/acme/members/{user_id}", headers=h.auth(owner))
    assert r.status_code == 204
    r = await h.client.get("/v2/handles/acme", headers=h.auth(later))
    assert r.status_code == 404 and r.json()["code"] == "handle_not_found"


async def test_early_answer_to_a_big_unread_body_closes_the_connection(harness: Harness) -> None:
    """A 401/413 sent before the body was read must not leave a poisoned keep-alive connection."""
    h = harness
    big = b"x" * (3 * 1024 * 1024)
    r = await h.client.post("/v2/handles/acme/files", content=big,
                            headers={"Authorization": "Bearer nope", "content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 401
    assert r.headers.get("connection") == "close"
    # a small leftover is drained instead: the connection stays usable
    r = await h.client.post("/v2/handles/acme/files", content=b"y" * 200_000,
                            headers={"Authorization": "Bearer nope", "content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 401
    assert r.headers.get("connection") is None
    # bodies that were read keep the connection as it is
    token = await h.create_owner("acme")
    r = await h.client.post("/v2/support/report", json={"summary": "s", "details": "d"}, headers=h.auth(token))
    assert r.status_code == 201 and r.headers.get("connection") is None


async def test_openapi_documents_problem_responses_and_public_routes(harness: Harness) -> None:
    h = harness
    r = await h.client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert "Problem" in doc["components"]["schemas"]
    methods = ("get", "put", "post", "delete", "patch")
    for path, item in doc["paths"].items():
        if path.startswith("/api/v1/"):
            continue  # the IGNY8 API answers errors in its own envelope
        for method in methods:
            op = item.get(method)
            if op is None:
                continue
            responses = op["responses"]
            problems = [r for status, r in responses.items() if status == "default" or status.startswith("4")]
            assert any("application/problem+json" in (r.get("content") or {}) for r in problems), (method, path)
            # the framework's own validation-error shape is never sent by this service
            for status, resp in responses.items():
                for media in (resp.get("content") or {}).values():
                    assert "status_code" not in ((media.get("schema") or {}).get("properties") or {}), (path, status)
            for param in op.get("parameters") or []:
                if param["in"] == "query" and param["name"] == "limit":
                    assert "integer" in repr(param["schema"]), (path, param)
    for path in ("/v2/public/content-report", "/v2/public/files/{file_id}/magic-link"):
        assert {} in doc["paths"][path]["post"]["security"]
    assert {} not in doc["paths"]["/v2/tokens"]["post"].get("security", [{"bearer": []}])
    # a second fetch answers the same document
    assert (await h.client.get("/schema/openapi.json")).json() == doc


async def test_problem_bodies_match_the_documented_problem_schema(harness: Harness) -> None:
    h = harness
    doc = (await h.client.get("/schema/openapi.json")).json()
    schema = doc["components"]["schemas"]["Problem"]
    r = await h.client.get("/v2/handles/acme")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert set(schema["required"]) <= set(body)
    assert isinstance(body["status"], int) and isinstance(body["code"], str)


async def test_every_reserved_word_the_spec_names_is_refused_as_reserved(harness: Harness) -> None:
    h = harness
    token = await h.create_user_token("first@example.com")
    for word in ("api", "admin", "v2", "_edge", "public", "support"):
        r = await h.client.post("/v2/handles", json={"handle": word}, headers=h.auth(token))
        assert r.status_code == 422 and r.json()["code"] == "handle_reserved", (word, r.text)
    for bad in ("-a", "a-", "Acme", "a" * 41, "a_b"):
        r = await h.client.post("/v2/handles", json={"handle": bad}, headers=h.auth(token))
        assert r.status_code == 422 and r.json()["code"] == "invalid_handle", (bad, r.text)


async def test_openapi_documents_request_bodies(harness: Harness) -> None:
    doc = (await harness.client.get("/schema/openapi.json")).json()
    bodyless = {("post", "/v2/handles/{handle}/internal-docs/session"),
                ("post", "/v2/handles/{handle}/site-intel/{hostname}/crawl-runs"),
                ("post", "/v2/handles/{handle}/site/hostnames/{hostname}/verify")}
    for path, item in doc["paths"].items():
        if not path.startswith("/v2/"):
            continue
        for method in ("post", "put", "patch"):
            if method in item and (method, path) not in bodyless:
                assert "requestBody" in item[method], (method, path)
    upload = doc["paths"]["/v2/handles/{handle}/files"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    report = doc["paths"]["/v2/support/report"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert report["required"] == ["summary", "details"]


async def test_short_lists_page_and_validate_limit_like_every_list(harness: Harness) -> None:
    h = harness
    owner = await h.create_owner("acme")
    for i in range(3):
        r = await h.client.post("/v2/handles/acme/members", json={"email": f"m{i}@example.com", "role": "viewer"},
                                headers=h.auth(owner))
        assert r.status_code == 201
        r = await h.client.post("/v2/tokens", json={"name": f"t{i}", "scopes": ["links:read"]}, headers=h.auth(owner))
        assert r.status_code == 201
    for url in ("/v2/handles/acme/members", "/v2/tokens", "/v2/handles"):
        for bad in ("0", "501", "x"):
            r = await h.client.get(f"{url}?limit={bad}", headers=h.auth(owner))
            assert r.status_code == 422 and r.json()["code"] == "validation_failed", (url, bad)
        r = await h.client.get(f"{url}?cursor=%%%", headers=h.auth(owner))
        assert r.status_code == 400 and r.json()["code"] == "invalid_cursor", url
        everything = (await h.client.get(url, headers=h.auth(owner))).json()
        assert everything["nextCursor"] is None
        seen, cursor = [], None
        while True:
            q = f"{url}?limit=1" + (f"&cursor={cursor}" if cursor else "")
            body = (await h.client.get(q, headers=h.auth(owner))).json()
            seen += body["items"]
            cursor = body["nextCursor"]
            if cursor is None:
                break
        assert seen == everything["items"]


async def test_openapi_leaves_the_dashboard_out(harness: Harness) -> None:
    """The web UI answers HTML pages; it is not part of the API document schema-driven clients use."""
    doc = (await harness.client.get("/schema/openapi.json")).json()
    assert not [p for p in doc["paths"] if p == "/dashboard" or p.startswith("/dashboard/")]
    assert (await harness.client.get("/dashboard/login")).status_code == 200
