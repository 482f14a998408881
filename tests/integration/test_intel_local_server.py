"""The crawler against a real HTTP server on 127.0.0.1, through a network page source.

The server has a cycle, a redirect, a robots.txt disallow, a slow page, a huge page and
malformed HTML. Pages are fetched by :class:`FetcherPageSource` over the links area's guarded
fetcher (``HttpxFetcher``, with only the server's port allow-listed), so the SSRF corpus is
refused on the first hop and on redirects.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapters.http.fetcher import HttpxFetcher
from adapters.intel_sources import FetcherPageSource
from gharart_core.intel.crawler import Crawler
from gharart_core.intel.model import CrawlLimits

PAGES = {
    "/": '<title>Home</title><a href="/a">a</a><a href="/old">old</a><a href="/private/x">p</a>'
    '<a href="/slow">slow</a><a href="/huge">huge</a><a href="/bad">bad</a><a href="/gone">gone</a>'
    '<a href="http://example.invalid/ext">ext</a><a href="/to-meta">m</a><a href="/to-loop">l</a>',
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
        if self.path == "/to-meta":
            return self._send(302, b"", headers=[("Location", "http://169.254.169.254/latest/meta-data/")])
        if self.path == "/to-loop":
            port = self.server.server_address[1]
            return self._send(302, b"", headers=[("Location", f"http://127.0.0.1:{port + 1}/admin")])
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


def make_fetcher(allow: str | None) -> HttpxFetcher:
    return HttpxFetcher(allowlist=allow)


LIMITS = CrawlLimits(
    max_pages=50, max_depth=5, time_budget_s=20, page_timeout_s=0.5, max_body_bytes=256 * 1024, concurrency=3
)


async def _crawl(start: str, allow: str | None):
    fetcher = make_fetcher(allow)
    try:
        return await Crawler(FetcherPageSource(fetcher), LIMITS).crawl(start)
    finally:
        await fetcher.aclose()


def test_crawl_of_the_local_server(server):
    started = time.monotonic()
    result = asyncio.run(_crawl(f"http://{server}/", server))
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
    # redirects into the metadata service or another loopback port are refused on the hop
    assert pages["/to-meta"].status is None and pages["/to-meta"].error == "blocked"
    assert pages["/to-loop"].status is None and pages["/to-loop"].error == "blocked"


SSRF_CORPUS = [
    "http://127.0.0.1:{port}/",
    "http://[::1]:{port}/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:{port}/",
    "http://2130706433:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
]


@pytest.mark.parametrize("target", SSRF_CORPUS)
def test_ssrf_corpus_is_blocked_without_the_allowlist(server, target):
    port = server.rsplit(":", 1)[1]
    result = asyncio.run(_crawl(target.format(port=port), None))
    assert len(result.pages) == 1
    page = result.pages[0]
    assert page.status is None and page.error == "blocked", page
