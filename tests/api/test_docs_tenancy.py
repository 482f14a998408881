"""Every docs route x {anonymous, other handle's owner, viewer, editor, admin, owner, operator}."""

from __future__ import annotations

import pytest

from entrypoints.harness import ALL_SCOPES

B = "/v2/handles/acme/internal-docs"
WHO = ["anonymous", "stranger", "viewer", "editor", "admin", "owner", "operator"]
CASES = [
    # method, url, body, expected statuses in WHO order
    ("get", f"{B}/pages", None, [401, 404, 200, 200, 200, 200, 200]),
    ("get", f"{B}/pages/kit/brand.md", None, [401, 404, 200, 200, 200, 200, 200]),
    ("put", f"{B}/pages/m/new.md", {"content": "x"}, [401, 404, 403, 201, 201, 201, 403]),
    ("delete", f"{B}/pages/m/none.md", None, [401, 404, 403, 404, 404, 404, 403]),
    ("get", f"{B}/access", None, [401, 404, 403, 403, 200, 200, 200]),
    ("put", f"{B}/access?dryRun=true", {"rules": []}, [401, 404, 403, 403, 200, 200, 403]),
    ("post", f"{B}/access/evaluate", {"path": "/kit"}, [401, 404, 403, 403, 200, 200, 200]),
    ("post", f"{B}/session", None, [401, 404, 201, 201, 201, 201, 201]),
    ("post", f"{B}/shares", {"email": "p@partner.com"}, [401, 404, 403, 403, 201, 201, 403]),
    ("get", f"{B}/shares", None, [401, 404, 403, 403, 200, 200, 200]),
    ("delete", f"{B}/shares/shr_00000000000000000000000000", None, [401, 404, 403, 403, 404, 404, 403]),
]


@pytest.fixture
async def tokens(harness):
    h = harness
    owner = await h.create_owner("acme", "owner@acme.com")
    out = {"anonymous": None, "owner": owner}
    for role in ("viewer", "editor", "admin"):
        out[role] = await h.add_member("acme", owner, f"{role}@acme.com", role)
    out["stranger"] = await h.create_owner("other", "owner@other.com")
    out["operator"] = await h.create_user_token("ops@gharart.dev", (*ALL_SCOPES, "operator"), operator=True)
    r = await h.client.put(f"{B}/pages/kit/brand.md", json={"content": "kit"}, headers=h.auth(owner))
    assert r.status_code == 201
    return out


@pytest.mark.parametrize(("method", "url", "body", "expected"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
async def test_tenancy_matrix(harness, tokens, method, url, body, expected):
    h = harness
    got = []
    for who in WHO:
        headers = h.auth(tokens[who]) if tokens[who] else {}
        kwargs = {"json": body} if body is not None else {}
        r = await h.client.request(method.upper(), url, headers=headers, **kwargs)
        got.append(r.status_code)
        if r.status_code == 201 and url.endswith("new.md"):  # keep the next caller's PUT a create
            await h.client.delete(url, headers=h.auth(tokens["owner"]))
    assert got == expected
