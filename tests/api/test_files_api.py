"""Files over HTTP: the guide's breaks, download headers, Range/ETag, shares and the access log."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("entrypoints.harness")

from gharart_core.shared.clock import format_ts

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def setup_owner(h, handle: str = "acme") -> dict[str, str]:
    return h.auth(await h.create_owner(handle))


async def upload(
    h,
    auth,
    data: bytes = b"media kit bytes",
    *,
    filename: str = "kit.txt",
    ctype: str = "text/plain",
    **fields,
):
    r = await h.client.post(
        "/v2/handles/acme/files", headers=auth, files={"file": (filename, data, ctype)}, data=fields
    )
    assert r.status_code == 201, r.text
    return r.json()


def token_from(h, email: str) -> str:
    msg = h.outbox.to(email)[-1]
    url = next(w for w in msg.text.split() if w.startswith("http"))
    assert urlparse(url).path.startswith("/v2/public/files/fil_")
    return parse_qs(urlparse(url).query)["token"][0]


async def share(h, auth, file_id: str, email: str = "pr@partner.test", **extra) -> dict:
    r = await h.client.post(f"/v2/handles/acme/files/{file_id}/shares", headers=auth, json={"emails": [email], **extra})
    assert r.status_code == 201, r.text
    return r.json()["items"][0]


async def dl(h, file_id: str, token: str | None = None, **kw):
    params = {} if token is None else {"token": token}
    return await h.client.get(f"/v2/public/files/{file_id}", params=params, **kw)


async def test_upload_read_list_shape(any_harness):
    h = any_harness
    auth = await setup_owner(h)
    f = await upload(h, auth, mode="link", tags="q4,kits", expiresAt="2026-03-01T00:00:00Z", name="Kit.txt")
    assert f["id"].startswith("fil_") and f["name"] == "Kit.txt" and f["mode"] == "link"
    assert f["size"] == 15 and len(f["sha256"]) == 64 and f["contentType"] == "text/plain"
    assert f["accessVersion"] == 1 and f["version"] == 1 and f["tags"] == ["q4", "kits"]
    assert f["shareCount"] == 0 and f["deletedAt"] is None and f["expiresAt"] == "2026-03-01T00:00:00.000Z"
    r = await h.client.get(f"/v2/handles/acme/files/{f['id']}", headers=auth)
    assert r.status_code == 200 and r.headers["etag"] == '"1"' and r.json()["id"] == f["id"]
    r = await h.client.get("/v2/handles/acme/files", headers=auth, params={"tag": "kits", "mode": "link"})
    assert [x["id"] for x in r.json()["items"]] == [f["id"]] and r.json()["nextCursor"] is None
    r = await h.client.get("/v2/handles/acme/files", headers=auth, params={"expired": "true"})
    assert r.json()["items"] == []


async def test_guide_break_extension_revives_old_link(any_harness):
    h = any_harness
    auth = await setup_owner(h)
    f = await upload(h, auth, mode="link", expiresAt=format_ts(h.clock.now() + timedelta(days=1)))
    await share(h, auth, f["id"])
    token = token_from(h, "pr@partner.test")
    assert (await dl(h, f["id"], token)).status_code == 200
    h.clock.advance(days=2)
    r = await dl(h, f["id"], token)
    assert r.status_code == 410 and r.json()["code"] == "file_expired" and r.json()["expiredAt"]
    r = await h.client.patch(
        f"/v2/handles/acme/files/{f['id']}",
        headers={**auth, "If-Match": '"1"'},
        json={"expiresAt": format_ts(h.clock.now() + timedelta(days=30))},
    )
    assert r.status_code == 200 and r.json()["accessVersion"] == 1 and r.json()["version"] == 2
    r = await dl(h, f["id"], token)
    assert r.status_code == 200 and r.content == b"media kit bytes"
    log = (await h.client.get(f"/v2/handles/acme/files/{f['id']}/access-log", headers=auth)).json()["items"]
    assert [e["outcome"] for e in log] == ["ok", "file_expired", "ok"]
    assert log[1]["email"] == "pr@partner.test" and log[1]["shareId"].startswith("shr_")
    assert log[1]["requestId"] == r.headers.get("x-request-id") or log[1]["requestId"].startswith("req_")


async def test_guide_break_mode_change_then_regenerated_link(any_harness):
    h = any_harness
    auth = await setup_owner(h)
    f = await upload(h, auth, mode="link")
    await share(h, auth, f["id"])
    old = token_from(h, "pr@partner.test")
    for mode in ("public", "link"):
        r = await h.client.patch(f"/v2/handles/acme/files/{f['id']}", headers=auth, json={"mode": mode})
        assert r.status_code == 200
    assert r.json()["accessVersion"] == 3
    r = await dl(h, f["id"], old)
    assert r.status_code == 403 and r.json()["code"] == "link_invalidated_mode_changed"
    r = await h.client.post(f"/v2/public/files/{f['id']}/magic-link", json={"email": "PR@partner.test"})
    assert r.status_code == 202 and r.json() == {"status": "accepted"}
    new = token_from(h, "pr@partner.test")
    assert new != old
    assert (await dl(h, f["id"], new)).status_code == 200
    assert (await dl(h, f["id"], old)).json()["code"] == "link_invalidated_mode_changed"


async def test_guide_break_revoked_share(any_harness):
    h = any_harness
    auth = await setup_owner(h)
    f = await upload(h, auth, mode="link")
    s = await share(h, auth, f["id"])
    token = token_from(h, "pr@partner.test")
    url = f"/v2/handles/acme/files/{f['id']}/shares/{s['id']}"
    assert (await h.client.delete(url, headers=auth)).status_code == 204
    assert (await h.client.delete(url, headers=auth)).status_code == 204
    r = await dl(h, f["id"], token)
    assert r.status_code == 403 and r.json()["code"] == "link_revoked"
    shares = (await h.client.get(f"/v2/handles/acme/files/{f['id']}/shares", headers=auth)).json()["items"]
    assert shares[0]["revokedAt"] is not None and set(shares[0]) == {
        "id",
        "fileId",
        "email",
        "expiresAt",
        "note",
        "createdAt",
        "revokedAt",
    }
    assert (await h.client.get(f"/v2/handles/acme/files/{f['id']}", headers=auth)).json()["shareCount"] == 0


async def test_guide_break_deleted_and_private_look_missing(any_harness):
    h = any_harness
    auth = await setup_owner(h)
    priv = await upload(h, auth)
    pub = await upload(h, auth, mode="public")
    linked = await upload(h, auth, mode="link")
    await share(h, auth, linked["id"])
    token = token_from(h, "pr@partner.test")
    assert (await h.client.delete(f"/v2/handles/acme/files/{linked['id']}", headers=auth)).status_code == 204
    assert (await h.client.delete(f"/v2/handles/acme/files/{linked['id']}", headers=auth)).status_code == 204
    assert (await h.client.delete(f"/v2/handles/acme/files/{pub['id']}", headers=auth)).status_code == 204
    bodies = []
    for fid, tok in (
        (priv["id"], None),
        (priv["id"], "x"),
        (linked["id"], token),
        (pub["id"], None),
        ("fil_01JD0000000000000000000000", None),
        ("nonsense", "x"),
    ):
        r = await dl(h, fid, tok)
        assert r.status_code == 404 and r.json()["code"] == "file_not_found"
        bodies.append({k: v for k, v in r.json().items() if k not in ("requestId", "detail")})
    assert all(b == bodies[0] for b in bodies)
    r = await h.client.get(f"/v2/handles/acme/files/{linked['id']}", headers=auth)
    assert r.status_code == 404 and r.json()["code"] == "file_not_found"
    r = await h.client.delete("/v2/handles/acme/files/fil_01JD0000000000000000000000", headers=auth)
    assert r.status_code == 404 and r.json()["code"] == "file_not_found"


@pytest.mark.parametrize(
    "payload,ctype,name",
    [
        (b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>", "text/html", "x.html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml", "x.svg"),
    ],
)
async def test_active_content_cannot_execute(harness, payload, ctype, name):
    h = harness
    auth = await setup_owner(h)
    f = await upload(h, auth, payload, filename=name, ctype=ctype, mode="public")
    r = await dl(h, f["id"])
    assert r.status_code == 200 and r.content == payload
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox"


async def test_disguised_html_is_refused(harness):
    h = harness
    auth = await setup_owner(h)
    r = await h.client.post(
        "/v2/handles/acme/files",
        headers=auth,
        files={"file": ("cat.png", b"<html><script>alert(1)</script>", "image/png")},
    )
    assert r.status_code == 422 and r.json()["code"] == "content_type_mismatch"
    assert h.container.object_store().objects == {}


async def test_unsafe_names_stored_safely(harness):
    h = harness
    auth = await setup_owner(h)
    for raw in (
        "../../etc/passwd",
        "..\\..\\win.ini",
        "a\x00b\x1b[31mc\r\nX-Evil: 1.txt",
        "é" * 400 + ".pdf",
    ):
        r = await h.client.post(
            "/v2/handles/acme/files",
            headers=auth,
            files={"file": ("x", b"abc", "text/plain")},
            data={"name": raw},
        )
        assert r.status_code == 201, r.text
        name = r.json()["name"]
        assert "/" not in name and "\\" not in name and all(ord(c) >= 32 for c in name) and len(name) <= 255
        d = await h.client.patch(f"/v2/handles/acme/files/{r.json()['id']}", headers=auth, json={"mode": "public"})
        resp = await dl(h, d.json()["id"])
        assert "\n" not in resp.headers["content-disposition"] and "X-Evil" not in resp.headers
    r = await h.client.post(
        "/v2/handles/acme/files", headers=auth, files={"file": ("../../../etc/shadow", b"abc", "text/plain")}
    )
    assert r.json()["name"] == "shadow"
    assert all(k.startswith("files/fil_") for k in h.container.object_store().objects)


async def test_range_etag_and_conditional(harness):
    h = harness
    auth = await setup_owner(h)
    f = await upload(h, auth, PNG, filename="p.png", ctype="image/png", mode="public")
    full = await dl(h, f["id"])
    assert full.headers["etag"] == f'"{f["sha256"]}"' and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"].startswith("image/png")
    r = await dl(h, f["id"], headers={"Range": "bytes=8-15"})
    assert r.status_code == 206 and r.content == PNG[8:16]
    assert r.headers["content-range"] == f"bytes 8-15/{len(PNG)}"
    r = await dl(h, f["id"], headers={"Range": "bytes=-4"})
    assert r.status_code == 206 and r.content == PNG[-4:]
    r = await dl(h, f["id"], headers={"Range": f"bytes={len(PNG)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(PNG)}"
    r = await dl(h, f["id"], headers={"If-None-Match": full.headers["etag"]})
    assert r.status_code == 304
    r = await dl(h, f["id"], headers={"Range": "bytes=0-3", "If-Range": '"other"'})
    assert r.status_code == 200 and r.content == PNG
    r = await h.client.head(f"/v2/public/files/{f['id']}")
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == str(len(PNG))
    assert r.headers["etag"] == full.headers["etag"] and r.headers["content-security-policy"] == "sandbox"


async def test_oversized_upload_413_and_nothing_stored(tmp_path):
    from entrypoints.harness import make_harness

    async with make_harness(max_file_bytes=1000) as h:
        auth = await setup_owner(h)
        r = await h.client.post(
            "/v2/handles/acme/files",
            headers=auth,
            files={"file": ("big.bin", b"x" * 5000, "application/octet-stream")},
        )
        assert r.status_code == 413 and r.json()["code"] == "file_too_large"
        assert h.container.object_store().objects == {}
        assert (await h.client.get("/v2/handles/acme/files", headers=auth)).json()["items"] == []


async def test_daily_byte_quota(tmp_path):
    from entrypoints.harness import make_harness

    async with make_harness(daily_file_bytes=100) as h:
        auth = await setup_owner(h)
        await upload(h, auth, b"a" * 60)
        r = await h.client.post("/v2/handles/acme/files", headers=auth, files={"file": ("b", b"b" * 60, "text/plain")})
        assert r.status_code == 429 and r.json()["code"] == "daily_quota_exceeded" and r.json()["quota"] == "file_bytes"
        assert len(h.container.object_store().objects) == 1


async def test_store_failure_mid_upload_leaves_no_record(harness):
    h = harness
    auth = await setup_owner(h)
    store = h.container.object_store()

    async def failing(key, chunks, **kw):
        async for _ in chunks:
            raise OSError("disk gone")

    store.put_stream = failing
    r = await h.client.post("/v2/handles/acme/files", headers=auth, files={"file": ("a", b"abc" * 100, "text/plain")})
    assert r.status_code == 503 and r.json()["code"] == "object_store_unavailable"
    del store.put_stream
    assert (await h.client.get("/v2/handles/acme/files", headers=auth)).json()["items"] == []


async def test_mailed_link_uses_public_url():
    from entrypoints.harness import make_harness

    async with make_harness(public_url="https://files.example.com") as h:
        auth = await setup_owner(h)
        f = await upload(h, auth, mode="link")
        await share(h, auth, f["id"])
        text = h.outbox.to("pr@partner.test")[-1].text
        assert f"https://files.example.com/v2/public/files/{f['id']}?token=" in text


async def test_magic_link_throttled_per_email(harness):
    h = harness
    codes = []
    for _ in range(7):
        r = await h.client.post(
            "/v2/public/files/fil_01JD0000000000000000000000/magic-link", json={"email": "a@b.test"}
        )
        codes.append(r.status_code)
    assert codes[:5] == [202] * 5 and codes[-1] == 429
    assert r.json()["code"] == "rate_limited"


async def test_magic_link_throttled_per_ip_and_per_email_separately(harness):
    import httpx

    h = harness
    url = "/v2/public/files/fil_01JD0000000000000000000000/magic-link"

    def client(ip: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app, client=(ip, 1)), base_url="http://t")

    async with client("10.0.0.1") as a, client("10.0.0.2") as b, client("10.0.0.3") as c:
        for _ in range(5):
            assert (await a.post(url, json={"email": "same@x.test"})).status_code == 202
        r = await b.post(url, json={"email": "same@x.test"})  # fresh IP, exhausted email
        assert r.status_code == 429 and r.json()["code"] == "rate_limited" and r.headers["retry-after"]
        for i in range(5):
            assert (await c.post(url, json={"email": f"u{i}@x.test"})).status_code == 202
        r = await c.post(url, json={"email": "new@x.test"})  # fresh email, exhausted IP
        assert r.status_code == 429


async def test_revoking_a_share_of_a_deleted_file_is_still_204(harness):
    h = harness
    auth = await setup_owner(h)
    f = await upload(h, auth, mode="link")
    s = await share(h, auth, f["id"])
    assert (await h.client.delete(f"/v2/handles/acme/files/{f['id']}", headers=auth)).status_code == 204
    url = f"/v2/handles/acme/files/{f['id']}/shares/{s['id']}"
    assert (await h.client.delete(url, headers=auth)).status_code == 204
    r = await h.client.get(f"/v2/handles/acme/files/{f['id']}/shares", headers=auth)
    assert r.status_code == 404 and r.json()["code"] == "file_not_found"
