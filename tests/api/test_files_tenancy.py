"""Files routes × callers: anonymous, another handle's owner, viewer, editor, admin, owner, operator."""

from __future__ import annotations

import pytest

pytest.importorskip("entrypoints.harness")

from entrypoints.harness import ALL_SCOPES


async def test_files_tenancy_matrix(harness):
    h = harness
    owner_tok = await h.create_owner("acme")
    owner = h.auth(owner_tok)
    callers = {
        "anonymous": {},
        "other_owner": h.auth(await h.create_owner("other")),
        "viewer": h.auth(await h.add_member("acme", owner_tok, "v@acme.test", "viewer")),
        "editor": h.auth(await h.add_member("acme", owner_tok, "e@acme.test", "editor")),
        "admin": h.auth(await h.add_member("acme", owner_tok, "a@acme.test", "admin")),
        "owner": owner,
        "operator": h.auth(await h.create_user_token("op@gharart.test", (*ALL_SCOPES, "operator"), operator=True)),
    }
    expected_read = {
        "anonymous": 401,
        "other_owner": 404,
        "viewer": 200,
        "editor": 200,
        "admin": 200,
        "owner": 200,
        "operator": 200,
    }
    expected_write = {
        "anonymous": 401,
        "other_owner": 404,
        "viewer": 403,
        "editor": 200,
        "admin": 200,
        "owner": 200,
        "operator": 403,
    }
    for who, auth in callers.items():
        r = await h.client.post("/v2/handles/acme/files", headers=auth, files={"file": ("a.txt", b"a", "text/plain")})
        assert r.status_code == (201 if expected_write[who] == 200 else expected_write[who]), (who, r.text)
    r = await h.client.post("/v2/handles/acme/files", headers=owner, files={"file": ("a.txt", b"a", "text/plain")})
    fid = r.json()["id"]
    base = f"/v2/handles/acme/files/{fid}"
    for who, auth in callers.items():
        for url in ("/v2/handles/acme/files", base, base + "/shares", base + "/access-log"):
            r = await h.client.get(url, headers=auth)
            assert r.status_code == expected_read[who], (who, url, r.text)
        r = await h.client.patch(base, headers=auth, json={"tags": [who.replace("_", "-")]})
        assert r.status_code == expected_write[who], (who, r.text)
        r = await h.client.post(base + "/shares", headers=auth, json={"emails": [f"{who}@p.test"]})
        assert r.status_code == (201 if expected_write[who] == 200 else expected_write[who]), (who, r.text)
        if r.status_code >= 400:
            code = {401: "unauthenticated", 404: "handle_not_found", 403: "forbidden_role"}[r.status_code]
            assert r.json()["code"] == code, (who, r.json())
