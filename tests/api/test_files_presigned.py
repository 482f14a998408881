"""Public downloads redirected to presigned S3 URLs (``GHARART_S3_PRESIGNED_DOWNLOADS``).

The S3 cases run the HTTP app over a real SeaweedFS bucket (``s3_target``, tests/conftest.py) and
fetch the ``302`` ``Location`` with httpx; they are marked ``s3`` (CI runs them in its S3 step).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from dependency_injector import providers

from entrypoints.harness import Harness, make_harness
from entrypoints.settings import presigned_download_ttl
from gharart_core.files.model import content_disposition
from gharart_core.shared.clock import format_ts

ON = {"GHARART_S3_PRESIGNED_DOWNLOADS": "true"}
NAME = "Kit \u00fc v2.txt"
DATA = b"media kit bytes, " * 100


def test_setting_is_off_by_default_and_the_ttl_is_checked() -> None:
    assert presigned_download_ttl({}) is None
    assert presigned_download_ttl({"GHARART_S3_PRESIGNED_DOWNLOADS": "off", "GHARART_S3_PRESIGN_TTL_S": "60"}) is None
    assert presigned_download_ttl(ON) == 300
    assert presigned_download_ttl({**ON, "GHARART_S3_PRESIGN_TTL_S": "60"}) == 60
    for bad in ("0", "604801", "5m", "-1"):
        with pytest.raises(ValueError, match="GHARART_S3_PRESIGN_TTL_S"):
            presigned_download_ttl({**ON, "GHARART_S3_PRESIGN_TTL_S": bad})


async def test_a_bad_ttl_stops_startup() -> None:
    with pytest.raises(RuntimeError, match="GHARART_S3_PRESIGN_TTL_S"):
        async with make_harness(extra={**ON, "GHARART_S3_PRESIGN_TTL_S": "0"}):
            pass


async def test_setting_on_with_a_store_without_urls_streams_as_before() -> None:
    async with make_harness(extra=ON) as h:
        auth = h.auth(await h.create_owner("acme"))
        f = await _upload(h, auth, mode="public")
        r = await h.client.get(f"/v2/public/files/{f['id']}")
        assert r.status_code == 200 and r.content == DATA and "location" not in r.headers


# -- over S3 ---------------------------------------------------------------------------------------


async def _upload(h: Harness, auth: dict[str, str], **fields: str) -> dict[str, Any]:
    r = await h.client.post("/v2/handles/acme/files", headers=auth,
                            files={"file": (NAME, DATA, "text/plain")}, data=fields)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _share(h: Harness, auth: dict[str, str], file_id: str, email: str, **extra: str) -> tuple[str, str]:
    r = await h.client.post(f"/v2/handles/acme/files/{file_id}/shares", headers=auth,
                            json={"emails": [email], **extra})
    assert r.status_code == 201, r.text
    msg = h.outbox.to(email)[-1]
    url = next(w for w in msg.text.split() if w.startswith("http"))
    return r.json()["items"][0]["id"], parse_qs(urlparse(url).query)["token"][0]


@pytest.fixture
async def s3_store(s3_target: tuple[str, dict[str, str]]) -> AsyncIterator[Any]:
    from adapters.objectstore.s3 import S3ObjectStore

    url, env = s3_target
    store = S3ObjectStore.from_url(f"{url.rstrip('/')}/dl-{uuid.uuid4().hex[:12]}", env=env)
    try:
        yield store
    finally:
        await store.aclose()


async def _harness(store: Any, extra: dict[str, str]) -> Harness:
    h = make_harness(extra=extra)
    h.container.object_store.override(providers.Object(store))
    return await h.start()


@pytest.mark.s3
async def test_allowed_downloads_redirect_to_a_presigned_url(s3_store: Any) -> None:
    h = await _harness(s3_store, {**ON, "GHARART_S3_PRESIGN_TTL_S": "90"})
    try:
        auth = h.auth(await h.create_owner("acme"))
        pub = await _upload(h, auth, mode="public")
        linked = await _upload(h, auth, mode="link")
        _, token = await _share(h, auth, linked["id"], "pr@partner.test")
        async with httpx.AsyncClient(timeout=10) as bucket:
            for file_id, params in ((pub["id"], {}), (linked["id"], {"token": token})):
                r = await h.client.get(f"/v2/public/files/{file_id}", params=params)
                assert r.status_code == 302 and r.content == b""
                assert r.headers["cache-control"] == "private, no-store"
                assert r.headers["referrer-policy"] == "no-referrer"
                location = r.headers["location"]
                assert location.startswith(s3_store.settings.endpoint_url) and "X-Amz-Expires=90" in location
                got = await bucket.get(location)
                assert got.status_code == 200 and got.content == DATA
                assert got.headers["content-disposition"] == content_disposition(NAME)
                assert 'filename="Kit _ v2.txt"' in got.headers["content-disposition"]
                assert got.headers["content-type"] == "text/plain"
        for f in (pub, linked):  # the access log has its entry, as for a streamed download
            log = (await h.client.get(f"/v2/handles/acme/files/{f['id']}/access-log", headers=auth)).json()
            assert [e["outcome"] for e in log["items"]] == ["ok"]
        # Range, HEAD and a matching If-None-Match are still answered by the service
        r = await h.client.get(f"/v2/public/files/{pub['id']}", headers={"Range": "bytes=4-8"})
        assert r.status_code == 206 and r.content == DATA[4:9] and "location" not in r.headers
        r = await h.client.get(f"/v2/public/files/{pub['id']}", headers={"Range": f"bytes={len(DATA)}-"})
        assert r.status_code == 416 and r.json()["code"] == "range_not_satisfiable"
        r = await h.client.head(f"/v2/public/files/{pub['id']}")
        assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == str(len(DATA))
        assert "location" not in r.headers
        r = await h.client.get(f"/v2/public/files/{pub['id']}", headers={"If-None-Match": f'"{pub["sha256"]}"'})
        assert r.status_code == 304
    finally:
        await h.stop()


async def _refusals(h: Harness) -> list[tuple[int, str, Any]]:
    """Every refusal of the public download route, as (status, code, extra fields)."""
    auth = h.auth(await h.create_owner("acme"))
    out: list[tuple[int, str, Any]] = []

    async def get(file_id: str, token: str | None = None) -> None:
        r = await h.client.get(f"/v2/public/files/{file_id}", params={"token": token} if token else {})
        assert "location" not in r.headers
        body = r.json()
        out.append((r.status_code, body["code"], {k: v for k, v in body.items()
                                                   if k not in ("requestId", "detail", "instance")}))

    linked = await _upload(h, auth, mode="link")
    share_id, token = await _share(h, auth, linked["id"], "pr@partner.test")
    await get(linked["id"])                       # 401 token_required
    await get(linked["id"], token + "x")          # 403 link_invalid
    r = await h.client.delete(f"/v2/handles/acme/files/{linked['id']}/shares/{share_id}", headers=auth)
    assert r.status_code == 204
    await get(linked["id"], token)                # 403 link_revoked
    moved = await _upload(h, auth, mode="link")
    _, old = await _share(h, auth, moved["id"], "a@partner.test")
    for mode in ("public", "link"):
        r = await h.client.patch(f"/v2/handles/acme/files/{moved['id']}", headers=auth, json={"mode": mode})
        assert r.status_code == 200
    await get(moved["id"], old)                   # 403 link_invalidated_mode_changed
    short = await _upload(h, auth, mode="link")
    _, brief = await _share(h, auth, short["id"], "b@partner.test",
                            expiresAt=format_ts(h.clock.now() + timedelta(hours=1)))
    h.clock.advance(hours=2)
    await get(short["id"], brief)                 # 403 link_expired
    gone = await _upload(h, auth, mode="public", expiresAt=format_ts(h.clock.now() + timedelta(hours=1)))
    h.clock.advance(hours=2)
    await get(gone["id"])                         # 410 file_expired
    private = await _upload(h, auth)
    await get(private["id"])                      # 404 file_not_found
    await get("fil_01JD0000000000000000000000")  # 404 file_not_found
    return out


@pytest.mark.s3
@pytest.mark.parametrize("extra", [ON, {}], ids=["presigned", "streamed"])
async def test_refusals_are_unchanged(s3_store: Any, extra: dict[str, str]) -> None:
    h = await _harness(s3_store, extra)
    try:
        got = await _refusals(h)
    finally:
        await h.stop()
    assert [(status, code) for status, code, _ in got] == [
        (401, "token_required"),
        (403, "link_invalid"),
        (403, "link_revoked"),
        (403, "link_invalidated_mode_changed"),
        (403, "link_expired"),
        (410, "file_expired"),
        (404, "file_not_found"),
        (404, "file_not_found"),
    ]
    assert got[5][2]["expiredAt"]  # the 410 still says when


@pytest.mark.s3
async def test_setting_off_streams_the_bytes_from_s3(s3_store: Any) -> None:
    h = await _harness(s3_store, {"GHARART_S3_PRESIGN_TTL_S": "60"})
    try:
        auth = h.auth(await h.create_owner("acme"))
        f = await _upload(h, auth, mode="public")
        r = await h.client.get(f"/v2/public/files/{f['id']}")
        assert r.status_code == 200 and r.content == DATA and "location" not in r.headers
        assert r.headers["content-disposition"] == content_disposition(NAME)
        assert r.headers["cache-control"] == "public, no-cache"
    finally:
        await h.stop()
