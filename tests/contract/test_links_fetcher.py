"""The httpx fetcher's SSRF guard (corpus) and behaviour against a local server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.http.fetcher import HttpxFetcher
from adapters.http.ssrf import is_blocked_ip, literal_ip, parse_allowlist
from gharart_core.links.ports import FetchError

CORPUS = [
    "http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/", "http://10.255.255.255:8080/",
    "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/", "http://[::]/", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.0.0.1/",
    "http://0x7f000001/", "http://017700000001/", "http://127.1/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/", "http://[fe80::1]/", "http://[fd00:ec2::254]/", "http://224.0.0.1/",
    "http://100.64.0.1/", "http://[64:ff9b::a00:1]/", "https://127.0.0.1:8443/", "http://127.0.0.1.:80/",
]


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the guard let a request through to {request.url}")


@pytest.mark.parametrize("url", CORPUS)
async def test_ssrf_corpus_is_blocked_without_any_connection(url):
    fetcher = HttpxFetcher(transport=httpx.MockTransport(_refuse))
    with pytest.raises(FetchError) as exc:
        await fetcher.fetch(url, timeout=2)
    assert exc.value.kind == "blocked"
    await fetcher.aclose()


def test_literal_forms_and_allowlist():
    assert str(literal_ip("2130706433")) == "127.0.0.1"
    assert str(literal_ip("0177.0.0.1")) == "127.0.0.1"
    assert literal_ip("example.com") is None
    assert not is_blocked_ip(literal_ip("93.184.216.34"))
    allow = parse_allowlist("127.0.0.1:8931, 10.1.0.0/16, internal.test, [::1]:9000")
    lo = literal_ip("127.0.0.1")
    assert allow.allows("127.0.0.1", 8931, lo) and not allow.allows("127.0.0.1", 8932, lo)
    assert allow.allows("x", 1, literal_ip("10.1.2.3")) and not allow.allows("x", 1, literal_ip("10.2.0.1"))
    assert allow.allows("internal.test", 443, literal_ip("10.9.9.9"))
    assert allow.allows("::1", 9000, literal_ip("::1"))


class LocalServer:
    """A tiny HTTP/1.1 server on 127.0.0.1 with scripted paths."""

    def __init__(self) -> None:
        self.port = 0
        self.other_port = 0
        self.server: asyncio.AbstractServer | None = None
        self.requests: list[tuple[str, str]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        self.requests.append((method, path))
        if path == "/hang":
            await asyncio.sleep(30)
        status, headers = 200, {}
        if path == "/ok":
            pass
        elif path == "/missing":
            status = 404
        elif path == "/boom":
            status = 503
        elif path == "/nohead":
            status = 405 if method == "HEAD" else 200
        elif path == "/to-private":
            status, headers = 302, {"Location": "http://10.0.0.1/admin"}
        elif path == "/to-metadata":
            status, headers = 301, {"Location": "http://169.254.169.254/latest/meta-data/"}
        elif path == "/to-other-port":
            status, headers = 307, {"Location": f"http://127.0.0.1:{self.other_port}/ok"}
        elif path == "/to-ok":
            status, headers = 302, {"Location": "/ok"}
        elif path == "/loop":
            status, headers = 302, {"Location": "/loop"}
        body = b"" if method == "HEAD" else b"hello"
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {5 if status != 302 else 0}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body if status != 302 else b""))
        try:
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def local() -> AsyncIterator[LocalServer]:
    srv = LocalServer()
    srv.server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    other = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    srv.port = srv.server.sockets[0].getsockname()[1]
    srv.other_port = other.sockets[0].getsockname()[1]
    yield srv
    srv.server.close()
    other.close()


async def test_allowlisted_port_only(local):
    f = HttpxFetcher(allowlist=f"127.0.0.1:{local.port}")
    base = f"http://127.0.0.1:{local.port}"
    assert (await f.fetch(base + "/ok")).status == 200
    assert (await f.fetch(base + "/missing", method="HEAD")).status == 404
    r = await f.fetch(base + "/to-ok")
    assert (r.status, r.redirects) == (200, (base + "/to-ok",))
    for path in ("/to-private", "/to-metadata", "/to-other-port"):
        with pytest.raises(FetchError) as exc:
            await f.fetch(base + path)
        assert exc.value.kind == "blocked", path
    with pytest.raises(FetchError) as exc:
        await f.fetch(f"http://127.0.0.1:{local.other_port}/ok")
    assert exc.value.kind == "blocked"
    with pytest.raises(FetchError) as exc:
        await f.fetch(base + "/loop", max_redirects=3)
    assert exc.value.kind == "too_many_redirects"
    with pytest.raises(FetchError) as exc:
        await f.fetch(base + "/hang", timeout=0.3)
    assert exc.value.kind == "timeout"
    await f.aclose()


async def test_connection_refused_and_dns(local):
    f = HttpxFetcher(allowlist="127.0.0.1:1")
    with pytest.raises(FetchError) as exc:
        await f.fetch("http://127.0.0.1:1/", timeout=2)
    assert exc.value.kind == "connection_error"
    with pytest.raises(FetchError) as exc:
        await f.fetch("http://does-not-exist.invalid/", timeout=3)
    assert exc.value.kind in ("dns_error", "timeout")
    await f.aclose()


async def test_health_check_marks_the_whole_corpus_blocked(local):
    from tests.core.test_links_service import EDITOR, World

    w = World()
    w.svc.fetcher = HttpxFetcher(transport=httpx.MockTransport(_refuse))
    for i, url in enumerate(CORPUS):
        await w.do(w.svc.create, EDITOR, {"slug": f"s{i}", "destination": url})
    run = await w.do(w.svc.start_health_check, EDITOR, {})
    await w.jobs.drain(30)
    async with w.uow(False) as uow:
        run, results = await w.svc.get_health_run(uow, EDITOR, run.id)
    assert run.status == "completed"
    assert {r.classification for r in results} == {"blocked"} and len(results) == len(CORPUS)


async def test_health_check_against_local_server(local):
    from tests.core.test_links_service import EDITOR, World

    w = World(timeout=0.5)
    w.svc.fetcher = HttpxFetcher(allowlist=f"127.0.0.1:{local.port}")
    base = f"http://127.0.0.1:{local.port}"
    paths = {"ok": "/ok", "gone": "/missing", "boom": "/boom", "hang": "/hang", "nohead": "/nohead",
             "priv": "/to-private", "moved": "/to-ok"}
    for slug, path in paths.items():
        await w.do(w.svc.create, EDITOR, {"slug": slug, "destination": base + path})
    run = await w.do(w.svc.start_health_check, EDITOR, {})
    await w.jobs.drain(30)
    async with w.uow(False) as uow:
        run, results = await w.svc.get_health_run(uow, EDITOR, run.id)
    assert run.status == "completed"
    assert {r.slug: r.classification for r in results} == {
        "ok": "ok", "gone": "client_error", "boom": "server_error", "hang": "timeout", "nohead": "ok",
        "priv": "blocked", "moved": "redirect"}
    assert ("GET", "/nohead") in local.requests and ("GET", "/hang") not in local.requests


async def test_self_signed_certificate_is_a_tls_error(tmp_path):
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))

    async def handle(reader, writer):
        with contextlib.suppress(Exception):
            await reader.read(100)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    f = HttpxFetcher(allowlist=f"127.0.0.1:{port}")
    with pytest.raises(FetchError) as exc:
        await f.fetch(f"https://127.0.0.1:{port}/", timeout=3)
    assert exc.value.kind == "tls_error"
    await f.aclose()
    server.close()


async def test_request_body_and_headers_go_through_the_guard_on_every_hop():
    seen: list[tuple[str, str, bytes, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.content, request.headers.get("x-sig")))
        routes = {"/keep": (307, "/landing"), "/see-other": (303, "/landing"), "/moved": (301, "/landing"),
                  "/to-private": (308, "http://10.0.0.8/steal")}
        if request.url.path in routes:
            status, location = routes[request.url.path]
            return httpx.Response(status, headers={"Location": location})
        return httpx.Response(201, content=b"done")

    f = HttpxFetcher(allowlist="127.0.0.1:8931", transport=httpx.MockTransport(handler))
    base = "http://127.0.0.1:8931"
    hdrs = {"X-Sig": "abc"}
    r = await f.fetch(base + "/keep", method="POST", body=b"payload", headers=hdrs)
    assert (r.status, r.body, r.redirects) == (201, b"done", (base + "/keep",))
    assert seen == [("POST", "/keep", b"payload", "abc"), ("POST", "/landing", b"payload", "abc")]
    for path in ("/see-other", "/moved"):  # the POST becomes a GET without the body
        seen.clear()
        await f.fetch(base + path, method="POST", body=b"payload", headers=hdrs)
        assert seen[1] == ("GET", "/landing", b"", "abc")
    seen.clear()
    with pytest.raises(FetchError) as exc:  # the second hop is checked again before any connection
        await f.fetch(base + "/to-private", method="PUT", body=b"payload")
    assert exc.value.kind == "blocked" and [s[1] for s in seen] == ["/to-private"]
    seen.clear()
    r = await f.fetch(base + "/keep", method="POST", body=b"x", follow_redirects=False)
    assert (r.status, r.header("location"), r.redirects) == (307, "/landing", ())
    assert len(seen) == 1
    with pytest.raises(FetchError) as exc:
        await f.fetch("http://10.0.0.1/hook", method="POST", body=b"x", follow_redirects=False)
    assert exc.value.kind == "blocked"
    await f.aclose()


async def test_fake_fetcher_takes_a_body_with_the_same_redirect_rules():
    from adapters.http.fake import FakeFetcher, FakeReply

    fake = FakeFetcher({"https://a.example/in": FakeReply(307, location="https://a.example/landing"),
                        "https://a.example/other": FakeReply(303, location="https://a.example/landing"),
                        "https://a.example/landing": FakeReply(202)})
    assert (await fake.fetch("https://a.example/in", method="POST", body=b"p")).status == 202
    assert (await fake.fetch("https://a.example/other", method="post", body=b"p")).status == 202
    assert fake.calls[1:] == [("POST", "https://a.example/landing"), ("POST", "https://a.example/other"),
                              ("GET", "https://a.example/landing")]
    assert fake.bodies == [b"p", b"p", b"p", None]
    r = await fake.fetch("https://a.example/in", method="POST", body=b"p", follow_redirects=False)
    assert (r.status, r.header("location")) == (307, "https://a.example/landing")
