"""Internal docs over HTTP: pages, the policy (lint, dry run, versions), evaluate, sessions, partner
links and the edge route."""

from __future__ import annotations

import re
from typing import Any

BASE = "/v2/handles/acme/internal-docs"
CONF = {"content": "# Pricing\nsecret", "contentType": "text/markdown", "classification": "confidential"}
PERMISSIVE = {
    "rules": [
        {
            "id": "partners-all",
            "pathPrefix": "/",
            "effect": "allow",
            "principals": {"emailDomains": ["partner.com"]},
            "description": "media kit",
        }
    ]
}


async def setup(h: Any) -> dict[str, str]:
    owner = await h.create_owner("acme", "owner@acme.com")
    viewer = await h.add_member("acme", owner, "viewer@acme.com", "viewer")
    editor = await h.add_member("acme", owner, "editor@acme.com", "editor")
    r = await h.client.put(f"{BASE}/pages/confidential/pricing.md", json=CONF, headers=h.auth(owner))
    assert r.status_code == 201, r.text
    r = await h.client.put(
        f"{BASE}/pages/kit/brand.md",
        json={"content": "kit", "classification": "public"},
        headers=h.auth(owner),
    )
    assert r.status_code == 201
    return {"owner": owner, "viewer": viewer, "editor": editor, "conf": (await _page_id(h, owner))}


async def _page_id(h: Any, token: str) -> str:
    r = await h.client.get(f"{BASE}/pages/confidential/pricing.md", headers=h.auth(token))
    return r.json()["id"]


async def test_pages_upload_list_replace_delete(harness):
    h = harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    r = await h.client.put(f"{BASE}/pages/handbook/onboarding.md", json={"content": "hello"}, headers=owner)
    assert r.status_code == 201
    body = r.json()
    assert body["id"].startswith("pg_") and body["classification"] == "internal" and body["size"] == 5
    assert set(body) == {"id", "path", "classification", "contentType", "size", "updatedAt"}
    r = await h.client.put(
        f"{BASE}/pages/handbook/onboarding.md",
        json={"content": "hello again", "classification": "public"},
        headers=owner,
    )
    assert r.status_code == 200 and r.json()["id"] == body["id"] and r.json()["size"] == 11
    r = await h.client.get(f"{BASE}/pages", headers=h.auth(t["viewer"]))
    assert r.status_code == 200
    assert [p["path"] for p in r.json()["items"]] == [
        "/confidential/pricing.md",
        "/handbook/onboarding.md",
        "/kit/brand.md",
    ]
    assert r.json()["nextCursor"] is None
    r = await h.client.get(f"{BASE}/pages?limit=1&classification=confidential", headers=owner)
    assert [p["path"] for p in r.json()["items"]] == ["/confidential/pricing.md"]
    r = await h.client.get(f"{BASE}/pages?limit=2", headers=owner)
    r2 = await h.client.get(f"{BASE}/pages?limit=2&cursor={r.json()['nextCursor']}", headers=owner)
    assert [p["path"] for p in r2.json()["items"]] == ["/kit/brand.md"]
    r = await h.client.delete(f"{BASE}/pages/handbook/onboarding.md", headers=h.auth(t["editor"]))
    assert r.status_code == 204
    r = await h.client.delete(f"{BASE}/pages/handbook/onboarding.md", headers=owner)
    assert r.status_code == 404 and r.json()["code"] == "page_not_found"


async def test_page_bad_input(harness):
    h = harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    r = await h.client.put(
        f"{BASE}/pages/a.md", content=b"{nope", headers={**owner, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "malformed_body"
    r = await h.client.put(f"{BASE}/pages/a.md", json={"content": 3, "classification": "secret"}, headers=owner)
    assert r.status_code == 422
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {
        ("content", "invalid_type"),
        ("classification", "invalid_choice"),
    }
    for bad in ["a%2fb.md", "x/%2e%2e/confidential/pricing.md", "a%5cb", "a%00", "%252e%252e/x"]:
        r = await h.client.put(f"{BASE}/pages/{bad}", json={"content": "x"}, headers=owner)
        assert r.status_code == 422 and r.json()["code"] == "invalid_path", bad
    r = await h.client.put(f"{BASE}/pages/a.md", json={"content": "x"})
    assert r.status_code == 401
    r = await h.client.put(f"{BASE}/pages/a.md", json={"content": "x"}, headers=h.auth(t["viewer"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
    reader = await h.create_user_token("owner@acme.com", ("docs:read",))
    r = await h.client.put(f"{BASE}/pages/a.md", json={"content": "x"}, headers=h.auth(reader))
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    r = await h.client.get("/v2/handles/nobody/internal-docs/pages", headers=owner)
    assert r.status_code == 404 and r.json()["code"] == "handle_not_found"
    r = await h.client.get(f"{BASE}/pages/missing.md", headers=owner)
    assert r.status_code == 404 and r.json()["code"] == "page_not_found"


async def test_policy_versions_and_preconditions(harness):
    h = harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    r = await h.client.get(f"{BASE}/access", headers=owner)
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json()["version"] == 1 and r.json()["rules"] == [] and r.json()["defaultEffect"] == "deny"
    staff = {
        "rules": [
            {
                "id": "staff",
                "pathPrefix": "/",
                "effect": "allow",
                "principals": {"emailDomains": ["acme.com"]},
            }
        ]
    }
    r = await h.client.put(f"{BASE}/access", json=staff, headers=owner)
    assert r.status_code == 428 and r.json()["code"] == "precondition_required"
    r = await h.client.put(f"{BASE}/access", json=staff, headers={**owner, "If-Match": '"7"'})
    assert r.status_code == 412 and r.json()["code"] == "version_conflict" and r.json()["currentVersion"] == 1
    r = await h.client.put(f"{BASE}/access", json={**staff, "expectedVersion": 3}, headers=owner)
    assert r.status_code == 409 and r.json()["code"] == "version_conflict" and r.json()["currentVersion"] == 1
    r = await h.client.put(f"{BASE}/access", json=staff, headers={**owner, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    assert r.json()["rules"][0]["principals"] == {
        "roles": [],
        "emails": [],
        "emailDomains": ["acme.com"],
        "anyone": False,
    }
    r = await h.client.put(f"{BASE}/access", json=staff, headers={**owner, "If-Match": '"1"'})
    assert r.status_code == 412 and r.json()["currentVersion"] == 2
    r = await h.client.get(f"{BASE}/access", headers=h.auth(t["editor"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden_role"


async def test_malformed_policies_name_dotted_fields(harness):
    h = harness
    t = await setup(h)
    body = {
        "expectedVersion": 1,
        "defaultEffect": "allow",
        "rules": [
            {"id": "a", "pathPrefix": "/x", "effect": "permit", "principals": {"roles": ["boss"]}},
            {
                "id": "a",
                "pathPrefix": "/x/../y",
                "effect": "allow",
                "principals": {"emailDomains": ["not a domain"]},
            },
            {"pathPrefix": "/z", "effect": "deny", "principals": {}},
            "nope",
        ],
    }
    r = await h.client.put(f"{BASE}/access", json=body, headers=h.auth(t["owner"]))
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    got = {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert got == {
        ("defaultEffect", "invalid_choice"),
        ("rules.0.effect", "invalid_choice"),
        ("rules.0.principals.roles.0", "invalid_role"),
        ("rules.1.id", "duplicate"),
        ("rules.1.pathPrefix", "invalid_path"),
        ("rules.1.principals.emailDomains.0", "invalid_domain"),
        ("rules.2.principals", "required"),
        ("rules.3", "invalid_type"),
    }
    r = await h.client.put(f"{BASE}/access", json={"expectedVersion": 1}, headers=h.auth(t["owner"]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rules"
    r = await h.client.put(f"{BASE}/access", json=[1], headers=h.auth(t["owner"]))
    assert r.status_code == 422


async def test_break_permissive_rule_refused_then_acknowledged_and_audited(harness):
    h = harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    r = await h.client.put(f"{BASE}/access", json={**PERMISSIVE, "expectedVersion": 1}, headers=owner)
    assert r.status_code == 422 and r.json()["code"] == "policy_too_permissive"
    problem = r.json()
    assert [p["pageId"] for p in problem["exposedPages"]] == [t["conf"]]
    assert problem["exposedPages"][0]["path"] == "/confidential/pricing.md"
    assert problem["exposedPages"][0]["exposures"] == ["external_domain"]
    assert problem["errors"][0]["field"] == "rules.0"
    # the dry run never refuses, shows the diff, and saves nothing
    r = await h.client.put(f"{BASE}/access?dryRun=true", json=PERMISSIVE, headers=owner)
    assert r.status_code == 200
    dry = r.json()
    assert dry["dryRun"] is True and dry["wouldRefuse"] is True and dry["version"] == 1
    gains = {
        (g["principal"]["kind"], g["principal"]["value"]): [p["path"] for p in g["pages"]] for g in dry["diff"]["gains"]
    }
    assert gains == {("emailDomain", "partner.com"): ["/confidential/pricing.md", "/kit/brand.md"]}
    assert dry["diff"]["losses"] == []
    assert [f["exposure"] for f in dry["findings"]] == ["external_domain"]
    assert (await h.client.get(f"{BASE}/access", headers=owner)).json()["version"] == 1
    # acknowledged: saved, and the audit log says who accepted which exposure
    r = await h.client.put(
        f"{BASE}/access",
        json={**PERMISSIVE, "expectedVersion": 1, "acknowledgeExposure": [t["conf"]]},
        headers=owner,
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    assert r.json()["acknowledgedExposure"] == [t["conf"]]
    r = await h.client.get(f"{BASE}/access", headers=owner)
    assert [f["pageId"] for f in r.json()["findings"]] == [t["conf"]]
    r = await h.client.get("/v2/handles/acme/audit-log", headers=owner)
    actions = [(e["action"], e["target"]) for e in r.json()["items"]]
    assert ("docs.policy.update", "policy") in actions
    assert ("docs.policy.exposure_acknowledged", t["conf"]) in actions
    update = next(e for e in r.json()["items"] if e["action"] == "docs.policy.update")
    assert (update["beforeVersion"], update["afterVersion"]) == (1, 2)
    # the fix: a deny on /confidential removes the finding and the diff shows the loss
    fixed = {
        "rules": [
            *PERMISSIVE["rules"],
            {
                "id": "no-conf",
                "pathPrefix": "/confidential",
                "effect": "deny",
                "principals": {"emailDomains": ["partner.com"]},
            },
        ]
    }
    r = await h.client.put(f"{BASE}/access?dryRun=true", json=fixed, headers=owner)
    assert r.json()["findings"] == [] and r.json()["wouldRefuse"] is False
    assert r.json()["diff"]["losses"][0]["pages"][0]["path"] == "/confidential/pricing.md"
    r = await h.client.put(f"{BASE}/access", json=fixed, headers={**owner, "If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["findings"] == []


async def test_unknown_acknowledged_page_is_422(harness):
    h = harness
    t = await setup(h)
    r = await h.client.put(
        f"{BASE}/access",
        json={**PERMISSIVE, "expectedVersion": 1, "acknowledgeExposure": ["pg_nope"]},
        headers=h.auth(t["owner"]),
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "acknowledgeExposure.0", "code": "page_not_found", "message": "no page `pg_nope`"}
    ]


async def test_evaluate(harness):
    h = harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    policy = {
        "expectedVersion": 1,
        "rules": [
            {"id": "kit", "pathPrefix": "/kit", "effect": "allow", "principals": {"anyone": True}},
            {"id": "conf", "pathPrefix": "/conf", "effect": "allow", "principals": {"roles": ["viewer"]}},
            {
                "id": "editors",
                "pathPrefix": "/confidential",
                "effect": "allow",
                "principals": {"roles": ["editor"]},
            },
        ],
    }
    assert (await h.client.put(f"{BASE}/access", json=policy, headers=owner)).status_code == 200
    cases = [
        (
            {"path": "/confidential/pricing.md", "principal": {"role": "viewer"}},
            ("deny", None, "default_deny"),
        ),
        (
            {"path": "confidential/pricing.md", "principal": {"role": "admin"}},
            ("allow", "editors", "allow_rule"),
        ),
        ({"path": "/kit/brand.md", "principal": {"anonymous": True}}, ("allow", "kit", "allow_rule")),
        ({"path": "/kit/brand.md", "principal": {}}, ("allow", "kit", "allow_rule")),
    ]
    for body, (effect, rule, reason) in cases:
        r = await h.client.post(f"{BASE}/access/evaluate", json=body, headers=owner)
        assert r.status_code == 200, r.text
        assert (r.json()["effect"], r.json()["matchedRule"], r.json()["reason"]) == (effect, rule, reason)
    r = await h.client.post(
        f"{BASE}/access/evaluate",
        json={"path": "/confidential/pricing.md", "principal": {"role": "admin"}},
        headers=owner,
    )
    assert r.json()["page"]["pageId"] == t["conf"] and r.json()["path"] == "/confidential/pricing.md"
    r = await h.client.post(
        f"{BASE}/access/evaluate", json={"path": "/a/../confidential", "principal": {}}, headers=owner
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_path"
    r = await h.client.post(
        f"{BASE}/access/evaluate", json={"path": "/a", "principal": {"role": "boss"}}, headers=owner
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "principal.role"
    r = await h.client.post(f"{BASE}/access/evaluate", json={"path": "/a"}, headers=h.auth(t["viewer"]))
    assert r.status_code == 403


async def test_edge_anonymous_404_denied_403_allowed_200(harness):
    h = harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    policy = {
        "expectedVersion": 1,
        "rules": [
            {"id": "kit", "pathPrefix": "/kit", "effect": "allow", "principals": {"anyone": True}},
            {
                "id": "editors",
                "pathPrefix": "/confidential",
                "effect": "allow",
                "principals": {"roles": ["editor"]},
            },
        ],
    }
    assert (await h.client.put(f"{BASE}/access", json=policy, headers=owner)).status_code == 200
    r = await h.client.get("/_edge/docs/acme/confidential/pricing.md")
    assert r.status_code == 404 and r.json()["code"] == "page_not_found"
    r = await h.client.get("/_edge/docs/acme/confidential/pricing.md", headers=h.auth(t["viewer"]))
    assert r.status_code == 403 and r.json()["code"] == "docs_access_denied"
    assert r.json()["reason"] == "default_deny"
    r = await h.client.get("/_edge/docs/acme/confidential/pricing.md", headers=h.auth(t["editor"]))
    assert r.status_code == 200 and r.text == CONF["content"]
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["content-type"].startswith("text/markdown")
    assert r.headers["x-content-type-options"] == "nosniff"
    r = await h.client.get("/_edge/docs/acme/kit/brand.md")
    assert r.status_code == 200 and r.text == "kit" and "private" not in r.headers["cache-control"]
    r = await h.client.get("/_edge/docs/acme/kit/missing.md")
    assert r.status_code == 404
    r = await h.client.get("/_edge/docs/acme/kit/%2e%2e/confidential/pricing.md")
    assert r.status_code == 422 and r.json()["code"] == "invalid_path"
    r = await h.client.get("/_edge/docs/acme/kit%2f..%2fconfidential/pricing.md")
    assert r.status_code == 422
    links_only = h.auth(await h.create_user_token("editor@acme.com", ("links:read",)))
    r = await h.client.get("/_edge/docs/acme/handbook/x.md", headers=links_only)
    assert r.status_code == 403 and r.json()["code"] == "docs_access_denied"
    r = await h.client.get("/_edge/docs/acme/confidential/pricing.md", headers=links_only)
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    r = await h.client.get("/_edge/docs/nobody/kit/brand.md")
    assert r.status_code == 404
    r = await h.client.get("/_edge/docs/acme/kit/brand.md", headers={"Authorization": "Bearer gha_pat_forged"})
    assert r.status_code == 401


async def test_edge_decisions_are_audited_even_denials(any_harness):
    h = any_harness
    t = await setup(h)
    r = await h.client.get("/_edge/docs/acme/confidential/pricing.md", headers=h.auth(t["viewer"]))
    assert r.status_code == 403
    denied_request = r.headers["x-request-id"]
    r = await h.client.get("/_edge/docs/acme/kit/brand.md")
    assert r.status_code == 404
    r = await h.client.get("/v2/handles/acme/audit-log?action=docs.read", headers=h.auth(t["owner"]))
    reads = r.json()["items"]
    assert any(e["requestId"] == denied_request for e in reads)
    assert all(e["action"] == "docs.read" for e in reads) and len(reads) >= 2


async def test_session_cookie(harness):
    h = harness
    t = await setup(h)
    policy = {
        "expectedVersion": 1,
        "rules": [
            {
                "id": "editors",
                "pathPrefix": "/confidential",
                "effect": "allow",
                "principals": {"roles": ["editor"]},
            }
        ],
    }
    assert (await h.client.put(f"{BASE}/access", json=policy, headers=h.auth(t["owner"]))).status_code == 200
    r = await h.client.post(f"{BASE}/session")
    assert r.status_code == 401
    r = await h.client.post(f"{BASE}/session", headers=h.auth(t["editor"]))
    assert r.status_code == 201
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("gharart_docs=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/_edge/docs/acme/" in cookie
    assert "Max-Age=28800" in cookie
    secret = cookie.split(";")[0].split("=", 1)[1]
    h.client.cookies.clear()
    r = await h.client.get("/_edge/docs/acme/confidential/pricing.md", cookies={"gharart_docs": secret})
    assert r.status_code == 200
    h.clock.advance(hours=9)
    r = await h.client.get("/_edge/docs/acme/confidential/pricing.md", cookies={"gharart_docs": secret})
    assert r.status_code == 404
    r = await h.client.post("/v2/handles/nobody/internal-docs/session", headers=h.auth(t["editor"]))
    assert r.status_code == 404
    stranger = await h.create_user_token("someone@else.com")
    r = await h.client.post(f"{BASE}/session", headers=h.auth(stranger))
    assert r.status_code == 404 and r.json()["code"] == "handle_not_found"
    no_scope = await h.create_user_token("editor@acme.com", ("links:read",))
    r = await h.client.post(f"{BASE}/session", headers=h.auth(no_scope))
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"


async def test_partner_share_link(harness):
    h = harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    policy = {
        "expectedVersion": 1,
        "rules": [
            {
                "id": "partner-kit",
                "pathPrefix": "/kit",
                "effect": "allow",
                "principals": {"emails": ["pat@partner.com"]},
            }
        ],
    }
    assert (await h.client.put(f"{BASE}/access", json=policy, headers=owner)).status_code == 200
    r = await h.client.post(
        f"{BASE}/shares",
        json={"email": "Pat@Partner.com", "path": "/kit/brand.md", "note": "media kit"},
        headers=owner,
    )
    assert r.status_code == 201, r.text
    share = r.json()
    assert share["id"].startswith("shr_") and share["email"] == "pat@partner.com" and "token" not in share
    mail = h.outbox.to("pat@partner.com")[-1]
    link = re.search(r"http\S+", mail.text).group(0)
    assert link.startswith("http://testserver/_edge/docs/acme/kit/brand.md?token=")
    token = link.split("token=")[1]
    assert len(token) >= 22
    h.client.cookies.clear()
    r = await h.client.get(f"/_edge/docs/acme/kit/brand.md?token={token}")
    assert r.status_code == 200 and r.text == "kit"
    assert r.headers["set-cookie"].startswith("gharart_docs=")
    r = await h.client.get(f"/_edge/docs/acme/confidential/pricing.md?token={token}")
    assert r.status_code == 403 and r.json()["code"] == "docs_access_denied"
    r = await h.client.get("/_edge/docs/acme/kit/brand.md?token=forged-token-value")
    assert r.status_code == 403 and r.json()["code"] == "link_invalid"
    r = await h.client.get(f"{BASE}/shares", headers=owner)
    assert [s["id"] for s in r.json()["items"]] == [share["id"]]
    r = await h.client.delete(f"{BASE}/shares/{share['id']}", headers=owner)
    assert r.status_code == 204
    r = await h.client.get(f"/_edge/docs/acme/kit/brand.md?token={token}")
    assert r.status_code == 403 and r.json()["code"] == "link_revoked"
    r = await h.client.delete(f"{BASE}/shares/shr_nope", headers=owner)
    assert r.status_code == 404 and r.json()["code"] == "share_not_found"
    r = await h.client.post(f"{BASE}/shares", json={"email": "nope"}, headers=owner)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "email"
    r = await h.client.post(f"{BASE}/shares", json={"email": "a@b.com"}, headers=h.auth(t["editor"]))
    assert r.status_code == 403


async def test_page_size_limit_and_bad_dry_run_flag():
    from entrypoints.harness import make_harness

    async with make_harness(extra={"GHARART_DOCS_MAX_PAGE_BYTES": "8"}) as h:
        owner = h.auth(await h.create_owner("acme", "owner@acme.com"))
        r = await h.client.put(f"{BASE}/pages/a.md", json={"content": "12345678"}, headers=owner)
        assert r.status_code == 201
        r = await h.client.put(f"{BASE}/pages/a.md", json={"content": "123456789"}, headers=owner)
        assert r.status_code == 413 and r.json()["code"] == "body_too_large"
        r = await h.client.put(f"{BASE}/access?dryRun=maybe", json={"rules": []}, headers=owner)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "dryRun"


async def test_parallel_policy_writes_one_wins(any_harness):
    import asyncio

    h = any_harness
    t = await setup(h)
    owner = h.auth(t["owner"])
    staff = {"rules": [{"pathPrefix": "/", "effect": "allow", "principals": {"emailDomains": ["acme.com"]}}]}
    answers = await asyncio.gather(
        *[h.client.put(f"{BASE}/access", json={**staff, "expectedVersion": 1}, headers=owner) for _ in range(5)]
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]
    assert all(r.json()["currentVersion"] == 2 for r in answers if r.status_code == 409)


async def test_edge_etag_revalidation(harness):
    h = harness
    t = await setup(h)
    policy = {
        "expectedVersion": 1,
        "rules": [{"pathPrefix": "/kit", "effect": "allow", "principals": {"anyone": True}}],
    }
    assert (await h.client.put(f"{BASE}/access", json=policy, headers=h.auth(t["owner"]))).status_code == 200
    r = await h.client.get("/_edge/docs/acme/kit/brand.md")
    assert r.status_code == 200 and r.headers["etag"]
    r2 = await h.client.get("/_edge/docs/acme/kit/brand.md", headers={"If-None-Match": r.headers["etag"]})
    assert r2.status_code == 304 and r2.content == b""
