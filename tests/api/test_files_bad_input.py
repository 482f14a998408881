"""Bad input on every files route: malformed multipart/JSON, wrong types, unknown ids, 401, 403."""

from __future__ import annotations

import pytest

pytest.importorskip("entrypoints.harness")

UNKNOWN_FILE = "fil_01JD0000000000000000000000"


@pytest.fixture
async def env(harness):
    h = harness
    owner = h.auth(await h.create_owner("acme"))
    viewer = h.auth(await h.add_member("acme", owner["Authorization"][7:], "viewer@acme.test", "viewer"))
    readonly = h.auth(await h.create_user_token("ro@acme.test", ("files:read",)))
    r = await h.client.post(
        "/v2/handles/acme/members", json={"email": "ro@acme.test", "role": "editor"}, headers=owner
    )
    assert r.status_code == 201
    r = await h.client.post(
        "/v2/handles/acme/files",
        headers=owner,
        files={"file": ("a.txt", b"abc", "text/plain")},
        data={"mode": "link"},
    )
    assert r.status_code == 201
    return h, owner, viewer, readonly, r.json()["id"]


def problem(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code and r.json()["requestId"]


async def test_upload_bad_bodies(env):
    h, owner, *_ = env
    url = "/v2/handles/acme/files"
    problem(await h.client.post(url, headers=owner, json={"file": "x"}), 415, "unsupported_media_type")
    problem(
        await h.client.post(url, headers={**owner, "Content-Type": "multipart/form-data"}, content=b"x"),
        400,
        "malformed_body",
    )
    bad = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc'  # never closed
    problem(
        await h.client.post(
            url, headers={**owner, "Content-Type": "multipart/form-data; boundary=B"}, content=bad
        ),
        400,
        "malformed_body",
    )
    problem(
        await h.client.post(
            url,
            headers={**owner, "Content-Type": "multipart/form-data; boundary=B"},
            content=b"garbage without boundary",
        ),
        400,
        "malformed_body",
    )
    r = await h.client.post(
        url, headers=owner, data={"name": "x"}, files={"other": ("a", b"a", "text/plain")}
    )
    problem(r, 422, "validation_failed")
    assert r.json()["errors"][0]["field"] == "file"
    for field, value in (("mode", "secret"), ("expiresAt", "tomorrow"), ("tags", "a|b"), ("name", "  ")):
        r = await h.client.post(
            url, headers=owner, files={"file": ("a", b"a", "text/plain")}, data={field: value}
        )
        problem(r, 422, "validation_failed")
        assert r.json()["errors"][0]["field"].split(".")[0] == field
    assert h.container.object_store().objects.keys().__len__() == 1


async def test_auth_and_roles(env):
    h, _owner, viewer, readonly, fid = env
    base = f"/v2/handles/acme/files/{fid}"
    calls = [
        ("GET", "/v2/handles/acme/files", None),
        ("GET", base, None),
        ("PATCH", base, {"name": "b"}),
        ("DELETE", base, None),
        ("POST", base + "/shares", {"emails": ["a@b.test"]}),
        ("GET", base + "/shares", None),
        ("DELETE", base + "/shares/shr_x", None),
        ("GET", base + "/access-log", None),
    ]
    for method, url, body in calls:
        r = await h.client.request(method, url, json=body)
        problem(r, 401, "unauthenticated")
        assert "www-authenticate" in r.headers
    for method, url, body in calls:
        r = await h.client.request(method, url, json=body, headers=viewer)
        if method == "GET":
            assert r.status_code == 200, (url, r.text)
        else:
            problem(r, 403, "forbidden_role")
    r = await h.client.post(
        "/v2/handles/acme/files", headers=viewer, files={"file": ("a", b"a", "text/plain")}
    )
    problem(r, 403, "forbidden_role")
    r = await h.client.post(
        "/v2/handles/acme/files", headers=readonly, files={"file": ("a", b"a", "text/plain")}
    )
    problem(r, 403, "insufficient_scope")
    other = h.auth(await h.create_owner("other"))
    problem(await h.client.get(base, headers=other), 404, "handle_not_found")
    r = await h.client.get(f"/v2/handles/other/files/{fid}", headers=other)
    problem(r, 404, "file_not_found")


async def test_unknown_ids(env):
    h, owner, _, _, fid = env
    for method in ("GET", "PATCH", "DELETE"):
        problem(
            await h.client.request(
                method,
                f"/v2/handles/acme/files/{UNKNOWN_FILE}",
                headers=owner,
                json={"name": "x"} if method == "PATCH" else None,
            ),
            404,
            "file_not_found",
        )
    for suffix in ("/shares", "/access-log"):
        problem(
            await h.client.get(f"/v2/handles/acme/files/{UNKNOWN_FILE}{suffix}", headers=owner),
            404,
            "file_not_found",
        )
    problem(
        await h.client.post(
            f"/v2/handles/acme/files/{UNKNOWN_FILE}/shares", headers=owner, json={"emails": ["a@b.test"]}
        ),
        404,
        "file_not_found",
    )
    problem(
        await h.client.delete(
            f"/v2/handles/acme/files/{fid}/shares/shr_01JD0000000000000000000000", headers=owner
        ),
        404,
        "share_not_found",
    )
    problem(
        await h.client.get("/v2/handles/acme/files/../../etc", headers=owner),
        404,
        (await h.client.get("/v2/handles/acme/files/../../etc", headers=owner)).json()["code"],
    )


async def test_patch_and_share_bodies(env):
    h, owner, _, _, fid = env
    url = f"/v2/handles/acme/files/{fid}"
    problem(
        await h.client.patch(url, headers={**owner, "Content-Type": "application/json"}, content=b"{nope"),
        400,
        "malformed_body",
    )
    for body, field in (
        ([1], "body"),
        ({"mode": 5}, "mode"),
        ({"expiresAt": "soon"}, "expiresAt"),
        ({"tags": "x"}, None),
        ({"name": None}, "name"),
        ({"expectedVersion": "1"}, "expectedVersion"),
    ):
        r = await h.client.patch(url, headers=owner, json=body)
        if field is None:
            assert r.status_code == 200
            continue
        problem(r, 422, "validation_failed")
        assert r.json()["errors"][0]["field"] == field
    r = await h.client.patch(url, headers=owner, json={"name": "c", "expectedVersion": 1})
    problem(r, 409, "version_conflict")
    assert r.json()["currentVersion"] == 2
    r = await h.client.patch(url, headers={**owner, "If-Match": '"1"'}, json={"name": "c"})
    problem(r, 412, "version_conflict")
    assert r.json()["currentVersion"] == 2
    shares = url + "/shares"
    for body, field in (
        ({}, "emails"),
        ({"emails": "a@b.test"}, "emails"),
        ({"emails": []}, "emails"),
        ({"emails": ["nope"]}, "emails.0"),
        ({"emails": ["a@b.test"], "expiresAt": 3}, "expiresAt"),
        ({"emails": ["a@b.test"], "note": 5}, "note"),
    ):
        r = await h.client.post(shares, headers=owner, json=body)
        problem(r, 422, "validation_failed")
        assert r.json()["errors"][0]["field"] == field, r.json()
    problem(
        await h.client.post(
            shares,
            headers=owner,
            content=b"[",
        ),
        400,
        "malformed_body",
    )
    problem(
        await h.client.get("/v2/handles/acme/files", headers=owner, params={"limit": "0"}),
        422,
        "validation_failed",
    )
    problem(
        await h.client.get("/v2/handles/acme/files", headers=owner, params={"cursor": "%%%"}),
        400,
        "invalid_cursor",
    )
    problem(
        await h.client.get("/v2/handles/acme/files", headers=owner, params={"mode": "x"}),
        422,
        "validation_failed",
    )
    problem(
        await h.client.get("/v2/handles/acme/files", headers=owner, params={"expired": "maybe"}),
        422,
        "validation_failed",
    )


async def test_public_routes(env):
    h, _owner, _, _, fid = env
    ml = f"/v2/public/files/{fid}/magic-link"
    problem(await h.client.post(ml, content=b"not json"), 400, "malformed_body")
    problem(await h.client.post(ml, content=b""), 400, "malformed_body")
    problem(await h.client.post(ml, json=["a@b.test"]), 422, "validation_failed")
    problem(await h.client.post(ml, json={}), 422, "validation_failed")
    problem(await h.client.post(ml, json={"email": "nope"}), 422, "validation_failed")


async def test_magic_link_never_enumerates(env):
    h, _owner, _, _, fid = env
    for target in (fid, UNKNOWN_FILE, "garbage"):
        r = await h.client.post(f"/v2/public/files/{target}/magic-link", json={"email": "stranger@x.test"})
        assert r.status_code == 202 and r.json() == {"status": "accepted"}
    assert h.outbox.to("stranger@x.test") == []
    problem(await h.client.get(f"/v2/public/files/{fid}"), 401, "token_required")
    problem(await h.client.get(f"/v2/public/files/{fid}?token="), 401, "token_required")
    problem(await h.client.get(f"/v2/public/files/{fid}?token=forged"), 403, "link_invalid")
    problem(await h.client.get(f"/v2/public/files/{fid}?token=" + "A" * 5000), 403, "link_invalid")
