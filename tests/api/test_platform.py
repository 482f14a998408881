"""The cross-cutting HTTP contract and the handles/members/tokens routes (SPEC §2, §3, A.1)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from entrypoints.harness import make_harness
from entrypoints.settings import Settings, parse_rate_limits

SECRET = "test-secret-for-jwt-signing-32-bytes!"


def problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code and body["status"] == status
    assert body["requestId"] == r.headers["x-request-id"]
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def test_handle_lifecycle_and_tenancy(any_harness):
    h = any_harness
    owner = await h.create_owner("acme")
    other = await h.create_owner("globex")
    r = await h.client.get("/v2/handles/acme", headers=h.auth(owner))
    assert r.status_code == 200
    body = r.json()
    assert body["handle"] == "acme" and body["role"] == "owner" and body["accountId"].startswith("acc_")
    # another tenant's owner cannot see it, nor can anybody see an unknown handle: same answer
    problem(await h.client.get("/v2/handles/acme", headers=h.auth(other)), 404, "handle_not_found")
    problem(await h.client.get("/v2/handles/nothing", headers=h.auth(other)), 404, "handle_not_found")
    # creation is the one place a handle's existence shows
    problem(await h.client.post("/v2/handles", json={"handle": "acme"}, headers=h.auth(other)), 409, "handle_taken")
    problem(await h.client.post("/v2/handles", json={"handle": "Bad_Handle"}, headers=h.auth(other)), 422,
            "invalid_handle")
    problem(await h.client.post("/v2/handles", json={"handle": "api"}, headers=h.auth(other)), 422,
            "handle_reserved")
    body = problem(await h.client.post("/v2/handles", json={}, headers=h.auth(other)), 422, "validation_failed")
    assert body["errors"][0]["field"] == "handle" and body["errors"][0]["code"] == "required"


async def test_missing_and_bad_credentials_are_401(harness):
    h = harness
    await h.create_owner("acme")
    r = await h.client.get("/v2/handles/acme")
    problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == 'Bearer realm="gharart"'
    r = await h.client.get("/v2/handles/acme", headers=h.auth("gha_pat_forged"))
    problem(r, 401, "unauthenticated")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    problem(await h.client.get("/v2/handles/acme", headers={"Authorization": "Basic abc"}), 401, "unauthenticated")


async def test_roles_scopes_and_members(harness):
    h = harness
    owner = await h.create_owner("acme")
    viewer = await h.add_member("acme", owner, "viewer@acme.example.com", "viewer")
    r = await h.client.get("/v2/handles/acme", headers=h.auth(viewer))
    assert r.json()["role"] == "viewer"
    # viewers read members but cannot change them
    r = await h.client.get("/v2/handles/acme/members", headers=h.auth(viewer))
    assert r.status_code == 200
    assert {m["role"] for m in r.json()["items"]} == {"owner", "viewer"}
    problem(await h.client.post("/v2/handles/acme/members", json={"email": "x@y.com", "role": "editor"},
                                headers=h.auth(viewer)), 403, "forbidden_role")
    # admins cannot read the audit log unless admin: viewer gets forbidden_role
    problem(await h.client.get("/v2/handles/acme/audit-log", headers=h.auth(viewer)), 403, "forbidden_role")
    # pending membership: added before the user exists, claimed on first sign-in
    r = await h.client.post("/v2/handles/acme/members", json={"email": "later@acme.example.com", "role": "admin"},
                            headers=h.auth(owner))
    assert r.status_code == 201 and r.json()["userId"].startswith("usr_")
    later = await h.create_user_token("later@acme.example.com")
    r = await h.client.get("/v2/handles/acme", headers=h.auth(later))
    assert r.status_code == 200 and r.json()["role"] == "admin"
    # the last owner can neither leave nor be demoted
    members = (await h.client.get("/v2/handles/acme/members", headers=h.auth(owner))).json()["items"]
    owner_id = next(m["userId"] for m in members if m["role"] == "owner")
    problem(await h.client.delete(f"/v2/handles/acme/members/{owner_id}", headers=h.auth(owner)), 409, "last_owner")
    problem(await h.client.patch(f"/v2/handles/acme/members/{owner_id}", json={"role": "viewer"},
                                 headers=h.auth(owner)), 409, "last_owner")
    problem(await h.client.patch("/v2/handles/acme/members/usr_unknown", json={"role": "viewer"},
                                 headers=h.auth(owner)), 404, "member_not_found")
    body = problem(await h.client.post("/v2/handles/acme/members", json={"email": "nope", "role": "boss"},
                                       headers=h.auth(owner)), 422, "validation_failed")
    assert body["errors"][0]["field"] == "email"


async def test_tokens_are_shown_once_and_bounded_by_creator_scopes(harness):
    h = harness
    owner = await h.create_owner("acme", scopes=("links:read", "links:write"))
    r = await h.client.post("/v2/tokens", json={"name": "ci", "scopes": ["links:read"], "handle": "acme"},
                            headers=h.auth(owner))
    assert r.status_code == 201
    created = r.json()
    assert created["token"].startswith("gha_pat_") and created["id"].startswith("pat_")
    assert created["scopes"] == ["links:read"] and created["handle"] == "acme"
    listed = (await h.client.get("/v2/tokens", headers=h.auth(owner))).json()["items"]
    item = next(t for t in listed if t["id"] == created["id"])
    assert "token" not in item and item["prefix"] == created["token"][:12]
    problem(await h.client.post("/v2/tokens", json={"name": "x", "scopes": ["files:write"]}, headers=h.auth(owner)),
            403, "insufficient_scope")
    past = (h.clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    problem(await h.client.post("/v2/tokens", json={"name": "x", "scopes": [], "expiresAt": past},
                                headers=h.auth(owner)), 422, "validation_failed")
    # a handle-restricted token sees only its handle
    await h.client.post("/v2/handles", json={"handle": "second"}, headers=h.auth(owner))
    restricted = created["token"]
    assert (await h.client.get("/v2/handles/acme", headers=h.auth(restricted))).status_code == 200
    problem(await h.client.get("/v2/handles/second", headers=h.auth(restricted)), 404, "handle_not_found")
    # revoke: the token stops working at once
    assert (await h.client.delete(f"/v2/tokens/{created['id']}", headers=h.auth(owner))).status_code == 204
    problem(await h.client.get("/v2/handles/acme", headers=h.auth(restricted)), 401, "unauthenticated")
    problem(await h.client.delete("/v2/tokens/pat_nope", headers=h.auth(owner)), 404, "token_not_found")


async def test_expired_pat_is_401(harness):
    h = harness
    owner = await h.create_owner("acme")
    soon = (h.clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = await h.client.post("/v2/tokens", json={"name": "short", "scopes": ["links:read"], "expiresAt": soon},
                            headers=h.auth(owner))
    tok = r.json()["token"]
    assert (await h.client.get("/v2/handles/acme", headers=h.auth(tok))).status_code == 200
    h.clock.advance(hours=2)
    problem(await h.client.get("/v2/handles/acme", headers=h.auth(tok)), 401, "unauthenticated")


def _jwt(sub, email=None, scope="links:read links:write", exp_delta=3600, key=SECRET, alg="HS256", headers=None,
         **extra):
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + exp_delta, "scope": scope, **extra}
    if email:
        claims["email"] = email
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


async def test_jwt_first_call_provisions_the_user():
    async with make_harness(jwt_secret=SECRET, operators=("ops@gharart.example.com",)) as h:
        token = _jwt("idp|alice", "alice@example.com")
        r = await h.client.post("/v2/handles", json={"handle": "alice"}, headers=h.auth(token))
        assert r.status_code == 201, r.text
        assert (await h.client.get("/v2/handles/alice", headers=h.auth(token))).json()["role"] == "owner"
        problem(await h.client.get("/v2/handles/alice", headers=h.auth(_jwt("idp|alice", exp_delta=-120))), 401,
                "unauthenticated")
        problem(await h.client.get("/v2/handles/alice", headers=h.auth(_jwt("idp|alice", key="x" * 40))), 401,
                "unauthenticated")
        # clock skew of 30 s is tolerated
        assert (await h.client.get("/v2/handles/alice", headers=h.auth(_jwt("idp|alice", "alice@example.com",
                                                                             exp_delta=-10)))).status_code == 200
        # handles claim narrows what the token sees
        narrow = _jwt("idp|alice", "alice@example.com", handles=["other"])
        problem(await h.client.get("/v2/handles/alice", headers=h.auth(narrow)), 404, "handle_not_found")
        # operators: flag (from settings) + the operator scope read any handle
        ops = _jwt("idp|ops", "ops@gharart.example.com", scope="operator")
        r = await h.client.get("/v2/handles/alice/audit-log", headers=h.auth(ops))
        assert r.status_code == 200
        problem(await h.client.post("/v2/handles/alice/members", json={"email": "a@b.co", "role": "viewer"},
                                    headers=h.auth(ops)), 403, "forbidden_role")
        not_ops = _jwt("idp|ops", "ops@gharart.example.com", scope="links:read")
        problem(await h.client.get("/v2/handles/alice", headers=h.auth(not_ops)), 404, "handle_not_found")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_jwt_public_key_algorithms(alg):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = rsa.generate_private_key(65537, 2048) if alg == "RS256" else ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    async with make_harness(jwt_public_key=pem, jwt_algorithms=("RS256", "ES256"), jwt_issuer="https://idp") as h:
        good = _jwt("s1", "s1@example.com", key=key, alg=alg, iss="https://idp")
        assert (await h.client.post("/v2/handles", json={"handle": "s1"}, headers=h.auth(good))).status_code == 201
        wrong_iss = _jwt("s1", "s1@example.com", key=key, alg=alg, iss="https://evil")
        problem(await h.client.get("/v2/handles/s1", headers=h.auth(wrong_iss)), 401, "unauthenticated")
        hs = _jwt("s1", key=SECRET)
        problem(await h.client.get("/v2/handles/s1", headers=h.auth(hs)), 401, "unauthenticated")


async def test_idempotency_replay_reuse_and_exactly_once(any_harness):
    h = any_harness
    owner = await h.create_owner("acme")
    hdr = {**h.auth(owner), "Idempotency-Key": "create-beta"}
    first = await h.client.post("/v2/handles", json={"handle": "beta"}, headers=hdr)
    again = await h.client.post("/v2/handles", json={"handle": "beta"}, headers=hdr)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    problem(await h.client.post("/v2/handles", json={"handle": "gamma"}, headers=hdr), 422, "idempotency_key_reused")
    # one business action: exactly one audit entry for beta
    log = (await h.client.get("/v2/handles/beta/audit-log", headers=h.auth(owner))).json()["items"]
    assert [e["action"] for e in log] == ["handle.create"]
    # keys are scoped per actor: another user may use the same key for their own request
    other = await h.create_user_token("other@example.com")
    r = await h.client.post("/v2/handles", json={"handle": "beta"}, headers={**h.auth(other),
                                                                             "Idempotency-Key": "create-beta"})
    problem(r, 409, "handle_taken")
    # an error answer is replayed too (4xx other than 409/429 are stored)
    bad = {**h.auth(owner), "Idempotency-Key": "bad-one"}
    r1 = await h.client.post("/v2/handles", json={"handle": "API"}, headers=bad)
    r2 = await h.client.post("/v2/handles", json={"handle": "API"}, headers=bad)
    assert r1.status_code == r2.status_code == 422 and r2.headers["idempotent-replayed"] == "true"
    # keys expire after 24 h
    h.clock.advance(hours=25)
    r3 = await h.client.post("/v2/handles", json={"handle": "beta"}, headers=hdr)
    problem(r3, 409, "handle_taken")


async def test_idempotency_in_flight_is_409(harness):
    h = harness
    owner = await h.create_owner("acme")
    release = asyncio.Event()
    identity = h.container.identity_service()
    original = identity.create_handle

    async def slow(*args, **kwargs):
        await release.wait()
        return await original(*args, **kwargs)

    identity.create_handle = slow
    hdr = {**h.auth(owner), "Idempotency-Key": "slow"}
    first = asyncio.create_task(h.client.post("/v2/handles", json={"handle": "slowpoke"}, headers=hdr))
    await asyncio.sleep(0.05)
    problem(await h.client.post("/v2/handles", json={"handle": "slowpoke"}, headers=hdr), 409,
            "idempotency_in_progress")
    release.set()
    assert (await first).status_code == 201


async def test_failed_write_leaves_nothing(harness):
    h = harness
    owner = await h.create_owner("acme")
    identity = h.container.identity_service()
    original = identity._audit

    async def boom(*args, **kwargs):
        raise RuntimeError("audit store down")

    identity._audit = boom
    r = await h.client.post("/v2/handles", json={"handle": "partial"}, headers=h.auth(owner))
    problem(r, 500, "internal_error")
    assert "Traceback" not in r.text
    identity._audit = original
    # nothing half-made: the handle can be created cleanly now
    r = await h.client.post("/v2/handles", json={"handle": "partial"}, headers=h.auth(owner))
    assert r.status_code == 201


async def test_throttle_429_with_ratelimit_headers():
    settings = Settings(data_dir=Path("/nonexistent"), object_store="memory://", auto_migrate=False,
                        rate_limits=parse_rate_limits("api=1/m:3"))
    async with make_harness(settings=settings) as h:
        owner = await h.create_owner("acme")  # uses one token from the bucket
        seen = []
        for _ in range(3):
            r = await h.client.get("/v2/handles/acme", headers=h.auth(owner))
            seen.append(r.status_code)
        assert seen[:2] == [200, 200] and seen[2] == 429
        body = problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["ratelimit-policy"].startswith('"api";q=3')
        assert body["routeClass"] == "api" and body["resetAt"].endswith("Z")
        ok = await h.client.get("/healthz")
        assert ok.status_code == 200  # service routes are not throttled


async def test_request_ids_bad_bodies_and_limits(harness):
    h = harness
    owner = await h.create_owner("acme")
    r = await h.client.get("/v2/handles/acme", headers={**h.auth(owner), "X-Request-ID": "client-abc-123"})
    assert r.headers["x-request-id"] == "client-abc-123"
    r = await h.client.get("/v2/handles/acme", headers={**h.auth(owner), "X-Request-ID": "x" * 129})
    assert r.headers["x-request-id"].startswith("req_")
    hdr = {**h.auth(owner), "content-type": "application/json"}
    problem(await h.client.post("/v2/handles", content=b'{"handle": ', headers=hdr), 400, "malformed_body")
    problem(await h.client.post("/v2/handles", content=b"", headers=hdr), 400, "malformed_body")
    body = problem(await h.client.post("/v2/handles", content=b"[1,2]", headers=hdr), 422, "validation_failed")
    assert body["errors"]
    problem(await h.client.post("/v2/handles", content=b"handle=x",
                                headers={**h.auth(owner), "content-type": "application/x-www-form-urlencoded"}),
            415, "unsupported_media_type")
    huge = b'{"handle": "' + b"a" * (3 * 1024 * 1024) + b'"}'
    problem(await h.client.post("/v2/handles", content=huge, headers=hdr), 413, "body_too_large")
    problem(await h.client.post("/v2/handles", json={"handle": 12}, headers=h.auth(owner)), 422, "invalid_handle")
    problem(await h.client.get("/v2/handles/acme/audit-log?limit=0", headers=h.auth(owner)), 422, "validation_failed")
    problem(await h.client.get("/v2/handles/acme/audit-log?limit=abc", headers=h.auth(owner)), 422,
            "validation_failed")
    problem(await h.client.get("/v2/handles/acme/audit-log?cursor=%%%", headers=h.auth(owner)), 400, "invalid_cursor")
    problem(await h.client.get("/v2/nowhere", headers=h.auth(owner)), 404, "not_found")


async def test_audit_log_pagination_and_filters(harness):
    h = harness
    owner = await h.create_owner("acme")
    for i in range(3):
        await h.client.post("/v2/handles/acme/members", json={"email": f"m{i}@acme.example.com", "role": "viewer"},
                            headers=h.auth(owner))
    r = await h.client.get("/v2/handles/acme/audit-log?limit=2&action=member.add", headers=h.auth(owner))
    page1 = r.json()
    assert [e["target"] for e in page1["items"]] == ["m2@acme.example.com", "m1@acme.example.com"]
    r = await h.client.get(f"/v2/handles/acme/audit-log?limit=2&action=member.add&cursor={page1['nextCursor']}",
                           headers=h.auth(owner))
    page2 = r.json()
    assert [e["target"] for e in page2["items"]] == ["m0@acme.example.com"] and page2["nextCursor"] is None
    e = page1["items"][0]
    assert set(e) >= {"id", "at", "actorId", "credentialId", "handle", "action", "target", "requestId",
                      "beforeVersion", "afterVersion"}
    assert e["id"].startswith("aud_") and e["credentialId"].startswith("pat_")


async def test_request_log_records_failures(harness):
    h = harness
    owner = await h.create_owner("acme")
    r = await h.client.get("/v2/handles/zzz", headers={**h.auth(owner), "X-Request-ID": "trace-1"})
    assert r.status_code == 404
    await h.drain()
    async with h.uow_factory(write=False) as uow:
        entry = await uow.request_log.get("trace-1")
    assert entry is not None and entry.status == 404 and entry.code == "handle_not_found"
    assert entry.route == "GET /v2/handles/{handle}" and entry.actor_id is not None


async def test_service_routes_and_openapi(harness):
    h = harness
    assert (await h.client.get("/healthz")).json() == {"status": "ok"}
    ready = await h.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    await h.client.get("/healthz")
    metrics = (await h.client.get("/metrics")).text
    assert "gharart_http_requests_total" in metrics and "gharart_http_request_duration_seconds" in metrics
    assert "gharart_jobs_total" in metrics or "gharart_jobs" in metrics
    spec = (await h.client.get("/schema/openapi.json")).json()
    assert "/v2/handles/{handle}" in spec["paths"] and "/v2/tokens" in spec["paths"]


async def test_entrypoints_package_is_ours():
    import entrypoints

    assert entrypoints.__file__ is not None
    assert Path(entrypoints.__file__).resolve().parent.parent.name == "src"


def test_timestamps_are_rfc3339_utc():
    from gharart_core.shared.clock import format_ts, parse_ts

    value = datetime(2026, 5, 1, 12, 30, 5, 123456, tzinfo=UTC)
    assert format_ts(value) == "2026-05-01T12:30:05.123Z"
    assert parse_ts("2026-05-01T14:30:05+02:00") == datetime(2026, 5, 1, 12, 30, 5, tzinfo=UTC)


async def test_json_bombs_are_clear_400s(harness):
    h = harness
    owner = await h.create_owner("acme")
    hdr = {**h.auth(owner), "content-type": "application/json"}
    deep = b"[" * 100_000 + b"]" * 100_000
    problem(await h.client.post("/v2/handles", content=deep, headers=hdr), 400, "malformed_body")
    huge_number = b'{"handle": ' + b"9" * 50_000 + b"}"
    problem(await h.client.post("/v2/handles", content=huge_number, headers=hdr), 400, "malformed_body")


async def test_idempotent_multipart_retry_with_a_new_boundary_replays(harness):
    """HTTP clients choose a new multipart boundary per attempt; the retry is still the same request."""
    from entrypoints.http.asgi_parts import multipart_boundary as _multipart_boundary

    assert _multipart_boundary('multipart/form-data; boundary="abc123"') == b"abc123"
    assert _multipart_boundary("application/json") is None
    h = harness
    owner = await h.create_owner("acme")
    hdr = {**h.auth(owner), "Idempotency-Key": "upload-1"}
    files = {"file": ("a.txt", b"hello world", "text/plain")}
    first = await h.client.post("/v2/handles/acme/files", files=files, headers=hdr)
    again = await h.client.post("/v2/handles/acme/files", files=files, headers=hdr)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]


async def test_public_redirect_carries_a_request_id(harness):
    h = harness
    owner = await h.create_owner("acme")
    r = await h.client.post("/v2/handles/acme/links", json={"slug": "go", "destination": "https://example.com/"},
                            headers=h.auth(owner))
    assert r.status_code == 201
    r = await h.client.get("/l/acme/go")
    assert r.status_code == 302 and r.headers["x-request-id"].startswith("req_")
    r = await h.client.get("/l/acme/go", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"


def _jwk(key, kid):
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    algo = RSAAlgorithm if hasattr(key, "private_numbers") and hasattr(key.private_numbers(), "p") else ECAlgorithm
    jwk = json.loads(algo.to_jwk(key.public_key()))
    jwk["kid"] = kid
    return jwk


def _signing_keys():
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    return rsa.generate_private_key(65537, 2048), ec.generate_private_key(ec.SECP256R1())


async def test_jwt_keys_from_a_jwks_document(tmp_path):
    rsa_key, ec_key = _signing_keys()
    jwks = json.dumps({"keys": [_jwk(rsa_key, "r1"), _jwk(ec_key, "e1")]})
    path = tmp_path / "jwks.json"
    path.write_text(jwks)
    settings = Settings.from_env({"GHARART_JWT_JWKS": str(path), "GHARART_DATA_DIR": str(tmp_path)})
    assert settings.jwt_jwks == jwks and set(settings.jwt_algorithms) == {"RS256", "ES256"}
    async with make_harness(jwt_jwks=jwks, jwt_algorithms=("RS256", "ES256")) as h:
        for sub, key, alg, kid in (("k1", rsa_key, "RS256", "r1"), ("k2", ec_key, "ES256", "e1")):
            token = _jwt(sub, f"{sub}@example.com", key=key, alg=alg, headers={"kid": kid})
            r = await h.client.post("/v2/handles", json={"handle": sub}, headers=h.auth(token))
            assert r.status_code == 201, r.text
        # a kid the set does not have, a key that signs under another kid, and no kid with two keys: 401
        for token in (_jwt("k1", key=rsa_key, alg="RS256", headers={"kid": "gone"}),
                      _jwt("k1", key=rsa_key, alg="RS256", headers={"kid": "e1"}),
                      _jwt("k1", key=rsa_key, alg="RS256")):
            r = await h.client.get("/v2/handles/k1", headers=h.auth(token))
            problem(r, 401, "unauthenticated")
            assert 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_jwt_keys_from_a_jwks_url():
    import http.server
    import threading

    rsa_key, _ = _signing_keys()
    body = json.dumps({"keys": [_jwk(rsa_key, "r1")]}).encode()
    fetched = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        async with make_harness(jwt_jwks=url, jwt_algorithms=("RS256",)) as h:
            for _ in range(3):
                token = _jwt("u1", "u1@example.com", key=rsa_key, alg="RS256", headers={"kid": "r1"})
                assert (await h.client.get("/v2/tokens", headers=h.auth(token))).status_code == 200
            assert fetched == ["/.well-known/jwks.json"]  # fetched once, then cached
            problem(await h.client.get("/v2/tokens", headers=h.auth(
                _jwt("u1", key=rsa_key, alg="RS256", headers={"kid": "other"}))), 401, "unauthenticated")
    finally:
        server.shutdown()
        server.server_close()


async def test_cli_looks_a_request_up_in_the_request_log(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from entrypoints.cli.main import app

    url = f"sqlite+aiosqlite:///{tmp_path}/gharart.db"
    async with make_harness(database_url=url, data_dir=tmp_path) as h:
        owner = await h.create_owner("acme")
        r = await h.client.get("/v2/handles/acme/links/nope", headers={**h.auth(owner), "X-Request-ID": "support-42"})
        problem(r, 404, "link_not_found")
        await h.drain()
    monkeypatch.setenv("GHARART_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GHARART_DATABASE_URL", url)

    def invoke(*args):
        return CliRunner().invoke(app, ["requests", "show", *args])

    r = await asyncio.to_thread(invoke, "support-42", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["status"], out["code"], out["route"]) == (404, "link_not_found",
                                                           "GET /v2/handles/{handle}/links/{slug}")
    assert out["handle"] == "acme" and out["actorId"].startswith("usr_")
    r = await asyncio.to_thread(invoke, "req_unknown")
    assert r.exit_code == 1 and "request_not_found" in r.output
