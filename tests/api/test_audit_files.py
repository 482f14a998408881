"""Audit regressions: files and sharing (SPEC §7, A.4)."""

from __future__ import annotations

from entrypoints.harness import Harness


async def test_magic_link_answers_carry_the_magic_link_rate_limit_headers(harness: Harness) -> None:
    h = harness
    r = await h.client.post("/v2/public/files/fil_unknown/magic-link", json={"email": "a@example.com"})
    assert r.status_code == 202 and r.json() == {"status": "accepted"}
    assert '"magic_link"' in r.headers["ratelimit-policy"]
    assert '"magic_link"' in r.headers["ratelimit"]
    remaining = [int(part.split("r=")[1].split(";")[0]) for part in r.headers["ratelimit"].split(",")
                 if '"magic_link"' in part]
    r2 = await h.client.post("/v2/public/files/fil_unknown/magic-link", json={"email": "a@example.com"})
    assert r2.status_code == 202
    remaining2 = [int(part.split("r=")[1].split(";")[0]) for part in r2.headers["ratelimit"].split(",")
                  if '"magic_link"' in part]
    assert remaining2[0] < remaining[0]


async def test_timestamps_at_the_calendar_edges_are_refused_not_crashing(harness: Harness) -> None:
    h = harness
    token = await h.create_owner("acme")
    r = await h.client.post("/v2/handles/acme/files", files={"file": ("a.txt", b"abc", "text/plain")},
                            headers=h.auth(token))
    assert r.status_code == 201
    fid = r.json()["id"]
    for stamp in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59Z"):
        r = await h.client.patch(f"/v2/handles/acme/files/{fid}", json={"expiresAt": stamp}, headers=h.auth(token))
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "expiresAt"
        r = await h.client.post("/v2/tokens", json={"name": "t", "scopes": ["files:read"], "expiresAt": stamp},
                                headers=h.auth(token))
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
    r = await h.client.patch(f"/v2/handles/acme/files/{fid}", json={"expiresAt": "2999-12-31T23:59:59Z"},
                             headers=h.auth(token))
    assert r.status_code == 200 and r.json()["expiresAt"] == "2999-12-31T23:59:59.000Z"


async def test_download_content_type_has_one_charset(harness: Harness) -> None:
    h = harness
    token = await h.create_owner("acme")
    r = await h.client.post("/v2/handles/acme/files", data={"mode": "public"},
                            files={"file": ("a.txt", b"abc", "text/plain; charset=utf-8")}, headers=h.auth(token))
    assert r.status_code == 201, r.text
    r = await h.client.get(f"/v2/public/files/{r.json()['id']}")
    assert r.status_code == 200
    assert r.headers["content-type"].lower().count("charset") <= 1, r.headers["content-type"]


async def test_a_declared_type_that_is_not_a_media_type_counts_as_undeclared(harness: Harness) -> None:
    h = harness
    token = await h.create_owner("acme")
    body = (b'--b\r\nContent-Disposition: form-data; name="mode"\r\n\r\npublic\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            b"Content-Type: \x01weird\r\n\r\nabc\r\n--b--\r\n")
    r = await h.client.post("/v2/handles/acme/files", content=body,
                            headers={**h.auth(token), "content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 201, r.text
    assert r.json()["contentType"] == "text/plain"
    r = await h.client.get(f"/v2/public/files/{r.json()['id']}")
    assert r.status_code == 200 and r.content == b"abc"
    assert r.headers["content-type"].startswith("text/plain")
