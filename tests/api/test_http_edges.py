"""HTTP edges found while hardening: HEAD on GET-only routes, one charset per Content-Type, the
slow-client settings."""

from __future__ import annotations

import hashlib

import pytest

from entrypoints.harness import Harness
from entrypoints.http.problems import TITLES
from entrypoints.settings import Settings


async def test_head_answers_like_get_without_a_body(harness: Harness) -> None:
    h = harness
    tok = await h.create_owner("acme")
    a = h.auth(tok)
    await h.client.post("/v2/handles/acme/links", json={"slug": "x", "destination": "https://example.com/"}, headers=a)
    for url in ("/v2/handles/acme/links", "/v2/handles/acme/links/x", "/healthz", "/v2/handles/acme/links/export"):
        head = await h.client.head(url, headers=a)
        get = await h.client.get(url, headers=a)
        assert head.status_code == get.status_code == 200, url
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers.get("etag") == get.headers.get("etag")
    anon = await h.client.head("/v2/handles/acme/links")
    assert anon.status_code == 401 and anon.headers["www-authenticate"].startswith("Bearer")
    assert (await h.client.head("/v2/nope", headers=a)).status_code == 404


async def test_text_media_types_carry_one_charset(harness: Harness) -> None:
    h = harness
    tok = await h.create_owner("acme")
    a = h.auth(tok)
    page = b"<h1>hi</h1>"
    digest = hashlib.sha256(page).hexdigest()
    r = await h.client.post("/v2/handles/acme/site-deployments",
                            json={"manifest": {"index.html": {"sha256": digest, "size": len(page)}}}, headers=a)
    dep = r.json()["id"]
    await h.client.put(f"/v2/handles/acme/site-deployments/{dep}/files/{digest}", content=page,
                       headers={**a, "content-type": "application/octet-stream"})
    for url in (f"/v2/handles/acme/site-deployments/{dep}/preview", "/v2/handles/acme/links/export"):
        r = await h.client.get(url, headers=a)
        assert r.status_code == 200
        assert r.headers["content-type"].lower().count("charset") == 1, r.headers["content-type"]


def test_slow_client_settings() -> None:
    s = Settings.from_env({"GHARART_BODY_TIMEOUT_S": "2.5", "GHARART_HEADER_TIMEOUT_S": "10"})
    assert (s.body_timeout_s, s.header_timeout_s) == (2.5, 10.0)
    assert Settings.from_env({}).body_timeout_s == 30.0 and Settings.from_env({}).header_timeout_s == 30.0
    assert Settings.from_env({"GHARART_BODY_TIMEOUT_S": "0"}).body_timeout_s == 0.0  # off
    for name, value in (("GHARART_BODY_TIMEOUT_S", "soon"), ("GHARART_BODY_TIMEOUT_S", "-1"),
                        ("GHARART_BODY_TIMEOUT_S", "nan"), ("GHARART_BODY_TIMEOUT_S", "inf"),
                        ("GHARART_HEADER_TIMEOUT_S", "0")):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})
    assert TITLES[408] == "Request Timeout"
