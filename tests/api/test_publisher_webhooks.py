"""Webhook delivery through the shared SSRF-guarded fetcher (no network: a mock transport)."""

from __future__ import annotations

import json

import httpx

from adapters.http.fake import FakeFetcher, FakeReply
from adapters.http.fetcher import HttpxFetcher
from entrypoints.http.routes.publisher_wiring import webhook_transport
from gharart_core.publisher.destinations import FetcherTransport


async def test_httpx_fetcher_posts_the_body_through_the_guard() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"url": "https://blog.example.com/p"})

    fetcher = HttpxFetcher(allowlist="127.0.0.1:8931", transport=httpx.MockTransport(handler))
    transport = webhook_transport(fetcher, FetcherTransport)
    answer = await transport.post("http://127.0.0.1:8931/hook", b'{"a":1}', {"Idempotency-Key": "pub_1"})
    assert answer.status == 201 and json.loads(answer.body_excerpt)["url"] == "https://blog.example.com/p"
    assert seen[0].method == "POST" and seen[0].content == b'{"a":1}'
    assert seen[0].headers["idempotency-key"] == "pub_1"
    for url in ("http://10.0.0.7/hook", "http://169.254.169.254/latest", "http://127.0.0.1:8932/x",
                "http://[::1]/x"):
        blocked = await transport.post(url, b"{}", {})
        assert blocked.status is None and blocked.error == "blocked", url
    assert len(seen) == 1
    await fetcher.aclose()


async def test_redirects_are_not_followed_and_fakes_keep_the_policy() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://10.0.0.1/"})

    fetcher = HttpxFetcher(allowlist="127.0.0.1:8931", transport=httpx.MockTransport(handler))
    answer = await webhook_transport(fetcher, FetcherTransport).post("http://127.0.0.1:8931/h", b"{}", {})
    assert answer.status == 307  # a failed attempt, never a re-POST elsewhere
    await fetcher.aclose()
    fake = FakeFetcher({"hooks.example.com": FakeReply(status=500)})
    t = webhook_transport(fake, FetcherTransport)
    assert (await t.post("https://hooks.example.com/in", b"{}", {})).status == 500
    assert (await t.post("http://192.168.1.1/in", b"{}", {})).error == "blocked"
    assert (await webhook_transport(None, FetcherTransport).post("https://x.example.com", b"", {})).status is None


def test_webhook_timeout_setting() -> None:
    from entrypoints.http.routes.publisher_wiring import webhook_timeout

    assert webhook_timeout(None) == 10.0
    assert webhook_timeout({"GHARART_PUBLISHER_WEBHOOK_TIMEOUT_S": "2.5"}) == 2.5
    assert webhook_timeout({"GHARART_PUBLISHER_WEBHOOK_TIMEOUT_S": "999"}) == 60.0
    assert webhook_timeout({"GHARART_PUBLISHER_WEBHOOK_TIMEOUT_S": "soon"}) == 10.0
