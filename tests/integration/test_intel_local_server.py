"""The crawler against a real HTTP server on 127.0.0.1, through a network page source.

The server has a cycle, a redirect, a robots.txt disallow, a slow page, a huge page and
malformed HTML. Pages are fetched by :class:`FetcherPageSource` over the links area's guarded
fetcher when it is available (the server's port allow-listed), else over a plain loopback
fetcher with the same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from adapters.intel_sources import FetcherPageSource
from gharart_core.intel.crawler import Crawler
from gharart_core.intel.model import CrawlLimits

PAGES = {
    "/": '<title>Home</title><a href="/a">a</a><a href="/old">old</a><a href="/private/x">p</a>'
    '<a href="/slow">slow</a><a href="/huge">huge</a><a href="/bad">bad</a><a href="/gone">gone</a>'
    '<a href="http://example.invalid/ext">ext</a>',
    "/a": '<title>A</title><a href="/">home</a><a href="/a#frag">self</a>',
    "/private/x": "<title>secret</title>",
    "/bad": '<html><title>Bad<<a href="/c">c<div <p><a href=/d.html>d</a>'
    '<img src="/i.png" srcset="/i2.png 2x',
    "/c": "<title>C</title>",
    "/d.html": "<title>D</title>",
}
ROBOTS = "User-agent: *\nDisallow: /private/\n"
HUGE = 5 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", ctype="text/html; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/robots.txt":
            return self._send(200, ROBOTS.encode(), "text/plain")
        if self.path == "/old":
            return self._send(301, b"", headers=[("Location", "/a")])
        if self.path == "/slow":
            time.sleep(1.5)
            return self._send(200, b"<title>late</title>")
        if self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(HUGE))
            self.end_headers()
            chunk = b"<p>" + b"x" * 65533
            try:
                for _ in range(HUGE // len(chunk)):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if self.path in PAGES:
            return self._send(200, PAGES[self.path].encode())
        return self._send(404, b"<title>not found</title>")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class FetchFailed(Exception):
    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class LoopbackFetcher:
    """Same interface as the links ``Fetcher`` (no SSRF guard: loopback test server only)."""

    @staticmethod
    def Response(status, url, headers, body, elapsed_ms):
        return type("R", (), dict(status=status, url=url, headers=headers, body=body, elapsed_ms=elapsed_ms))

    async def fetch(self, url, *, method="GET", timeout=5.0, max_redirects=5, max_body=1 << 20, headers=None):
        started = time.perf_counter()
        async with httpx.AsyncClient(timeout=timeout) as client:
            for _ in range(max_redirects + 1):
                try:
                    async with client.stream(method, url, headers=headers) as resp:
                        body = bytearray()
                        async for chunk in resp.aiter_bytes():
                            body += chunk
                            if len(body) >= max_body:
                                break
                        if resp.is_redirect and "location" in resp.headers:
                            url = str(resp.url.join(resp.headers["location"]))
                            continue
                        return self.Response(
                            resp.status_code,
                            str(resp.url),
                            tuple(resp.headers.items()),
                            bytes(body[:max_body]),
                            (time.perf_counter() - started) * 1000,
                        )
                except httpx.TimeoutException as exc:
                    raise FetchFailed("timeout") from exc
                except httpx.ConnectError as exc:
                    raise FetchFailed("connection_error") from exc
        raise FetchFailed("too_many_redirects")


def make_fetcher(allow: str):
    try:
        from adapters.http.fetcher import make_fetcher as links_make_fetcher  # type: ignore[attr-defined]
    except ImportError:
        return LoopbackFetcher()
    return links_make_fetcher(allowlist=allow)


LIMITS = CrawlLimits(
    max_pages=50, max_depth=5, time_budget_s=20, page_timeout_s=0.5, max_body_bytes=256 * 1024, concurrency=3
)


def test_crawl_of_the_local_server(server):
    source = FetcherPageSource(make_fetcher(server))
    started = time.monotonic()
    result = asyncio.run(Crawler(source, LIMITS).crawl(f"http://{server}/"))
    elapsed = time.monotonic() - started
    pages = {p.url.replace(f"http://{server}", ""): p for p in result.pages}
    # cycle (/ <-> /a, /a#frag) visited once each; robots-disallowed page never fetched; external not followed
    assert "/a" in pages and "/private/x" not in pages and "/ext" not in pages
    assert f"http://{server}/private/x" in result.robots_skipped
    assert len(result.pages) == len(set(pages))
    # the redirect ends on /a (already known); it shows as a link of /old
    assert pages["/old"].status == 200 and f"http://{server}/a" in pages["/old"].links
    # slow page: a timeout for that page only, well within the crawl
    assert pages["/slow"].status is None and pages["/slow"].error == "timeout"
    assert elapsed < 10
    # huge page: cut at the size limit
    assert pages["/huge"].status == 200 and pages["/huge"].error == "body_truncated"
    # malformed HTML still gives its links
    assert {"/c", "/d.html", "/i.png", "/i2.png"} <= set(pages)
    assert pages["/bad"].title is not None
    broken = {
        (b.from_url.replace(f"http://{server}", ""), b.to_url.replace(f"http://{server}", ""))
        for b in result.broken_links
    }
    assert ("/", "/gone") in broken and ("/", "/slow") in broken and ("/bad", "/i.png") in broken
