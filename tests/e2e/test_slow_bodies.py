"""Slow bodies and slow headers against a real ``gharart serve`` (granian) on loopback, SQLite and the
filesystem store in a temporary data dir.

``GHARART_BODY_TIMEOUT_S=1``: a client that sends the headers and half a body, then nothing (a JSON
link, a multipart upload, a CSV import, a deployment manifest, a doc page; with Content-Length, chunked,
and with an Idempotency-Key) gets 408 ``request_timeout`` with ``Connection: close`` after about a
second, the server closes the socket, and nothing was created (read back through the API). Other
clients are served while those stall, and a timed-out Idempotency-Key can be retried at once. An
upload that is slow but never pauses for a second goes through, however long it takes.

``GHARART_HEADER_TIMEOUT_S=2``: headers that never finish, or trickle in, and an idle keep-alive
connection are closed by the server after about two seconds.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import httpx
import pytest
from tests import corpora
from tests.live_server import NO_THROTTLES, LiveHarness, LiveServer

BODY_TIMEOUT = 1.0
HEADER_TIMEOUT = 2.0


@attrs.define
class Srv:
    server: LiveServer
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return f"{self.server.base}/v2/handles/acme{path}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    server = LiveServer(tmp_path_factory.mktemp("slow") / "data", GHARART_BODY_TIMEOUT_S=str(BODY_TIMEOUT),
                        GHARART_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT), **NO_THROTTLES)
    server.start()
    try:
        async def owner() -> str:
            h = LiveHarness(server)
            try:
                return await h.create_owner("acme")
            finally:
                await h.aclose()

        yield Srv(server, asyncio.run(owner()))
    finally:
        server.stop()
        log = server.log()
        assert "Traceback" not in log, log[-3000:]


@attrs.define
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    elapsed: float  # from the stall to the answer
    at: float  # time.monotonic() of the answer
    closed: bool  # the server closed the connection after answering


def _stall(port: int, token: str, method: str, path: str, ctype: str, body: bytes, *, chunked: bool = False,
           key: str | None = None, ready: threading.Barrier | None = None) -> Answer:
    """Send the headers and the first half of ``body``, then nothing; read what the server answers."""
    head, _ = corpora.halves(body)
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}",
             f"Content-Type: {ctype}"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = f"{len(head):x}\r\n".encode() + head + b"\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = head
    if key:
        lines.append(f"Idempotency-Key: {key}")
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        stalled = time.monotonic()
        if ready is not None:
            ready.wait(15)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
        at = time.monotonic()
        sock.settimeout(3)
        try:
            closed = sock.recv(1) == b""
        except (TimeoutError, OSError):
            closed = False
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                      json.loads(data) if data else {}, at - stalled, at, closed)
    finally:
        sock.close()


def _state(srv: Srv) -> dict[str, list[str]]:
    """What a client can see was created: links, files, deployments, doc pages."""
    out: dict[str, list[str]] = {}
    for name, path, field in (("links", "/links?limit=500", "slug"), ("files", "/files?limit=500", "name"),
                              ("deployments", "/site-deployments?limit=500", "id"),
                              ("pages", "/internal-docs/pages?limit=500", "path")):
        r = httpx.get(srv.url(path), headers=srv.auth, timeout=10)
        assert r.status_code == 200, r.text
        out[name] = sorted(str(item.get(field)) for item in r.json()["items"])
    return out


STALLED = [(name, method, path, ctype, body, chunked, None)
           for name, method, path, ctype, body in corpora.SLOW_BODIES for chunked in (False, True)]
STALLED += [(f"{name}-keyed", method, path, ctype, body, False, f"stall-{name}")
            for name, method, path, ctype, body in corpora.SLOW_BODIES if name in ("json-link", "multipart-file")]


def test_stalled_bodies_get_408_and_change_nothing_while_others_are_served(srv: Srv) -> None:
    before = _state(srv)
    ready = threading.Barrier(len(STALLED) + 1)
    port = srv.server.port
    with ThreadPoolExecutor(len(STALLED)) as pool:
        futures = {name: pool.submit(_stall, port, srv.token, method, f"/v2/handles/acme{path}", ctype, body,
                                     chunked=chunked, key=key, ready=ready)
                   for name, method, path, ctype, body, chunked, key in STALLED}
        ready.wait(15)  # every stalled client has sent half its body
        # Meanwhile other clients are served: reads, a JSON write and an upload.
        served = []
        for _ in range(3):
            r = httpx.get(srv.url("/links"), headers=srv.auth, timeout=10)
            served.append((r.status_code, time.monotonic()))
        r = httpx.post(srv.url("/links"), json={"slug": "meanwhile", "destination": "https://example.com/m"},
                       headers=srv.auth, timeout=10)
        served.append((r.status_code, time.monotonic()))
        r = httpx.post(srv.url("/files"), files={"file": ("meanwhile.txt", b"served meanwhile", "text/plain")},
                       headers=srv.auth, timeout=10)
        served.append((r.status_code, time.monotonic()))
        answers = {name: f.result(timeout=30) for name, f in futures.items()}
    first_timeout = min(a.at for a in answers.values())
    assert [s for s, _ in served] == [200, 200, 200, 201, 201]
    assert all(at < first_timeout for _, at in served), "other clients waited for the stalled ones"
    for name, a in answers.items():
        assert a.status == 408, (name, a)
        assert a.body["code"] == "request_timeout" and a.body["status"] == 408, (name, a.body)
        assert a.headers.get("connection") == "close", (name, a.headers)
        assert a.closed, f"{name}: the server kept the connection open"
        assert BODY_TIMEOUT * 0.9 <= a.elapsed < BODY_TIMEOUT + 4, (name, a.elapsed)
    after = _state(srv)
    assert after["links"] == sorted([*before["links"], "meanwhile"])
    assert after["files"] == sorted([*before["files"], "meanwhile.txt"])
    assert after["deployments"] == before["deployments"] and after["pages"] == before["pages"]
    # The stalled requests' Idempotency-Keys were released: the retry runs now and is stored.
    for name, method, path, ctype, body, _, key in STALLED:
        if key is None:
            continue
        hdrs = {**srv.auth, "content-type": ctype, "Idempotency-Key": key}
        r = httpx.request(method, srv.url(path), content=body, headers=hdrs, timeout=10)
        assert r.status_code == 201, (name, r.status_code, r.text)
        again = httpx.request(method, srv.url(path), content=body, headers=hdrs, timeout=10)
        assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true", name


def _trickle(body: bytes, pieces: int, gap: float) -> Iterator[bytes]:
    step = -(-len(body) // pieces)
    for i in range(0, len(body), step):
        if i:
            time.sleep(gap)
        yield body[i:i + step]


def test_slow_but_steady_uploads_go_through(srv: Srv) -> None:
    """Eight pieces 0.45 s apart: three times the limit in total, never idle for the limit."""
    gap = BODY_TIMEOUT * 0.45
    upload = corpora.SLOW_MULTIPART.replace(b"slow.txt", b"steady.txt")
    link = b'{"slug":"steady","destination":"https://example.com/steady","tags":["slow","steady"]}'

    def post(path: str, ctype: str, body: bytes) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        r = httpx.post(srv.url(path), content=_trickle(body, 8, gap), timeout=30,
                       headers={**srv.auth, "content-type": ctype, "content-length": str(len(body))})
        return r, time.monotonic() - started

    with ThreadPoolExecutor(2) as pool:
        f_file = pool.submit(post, "/files", f"multipart/form-data; boundary={corpora.SLOW_BOUNDARY}", upload)
        f_link = pool.submit(post, "/links", "application/json", link)
        (file_r, file_s), (link_r, link_s) = f_file.result(timeout=60), f_link.result(timeout=60)
    assert file_r.status_code == 201, file_r.text
    assert file_r.json()["size"] == len(b"slow " * 2000) and file_r.json()["name"] == "steady.txt"
    assert link_r.status_code == 201, link_r.text
    assert min(file_s, link_s) > BODY_TIMEOUT * 2.5  # the total was well over the limit
    assert httpx.get(srv.url("/links/steady"), headers=srv.auth, timeout=10).status_code == 200


def _closed_after(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes ``sock`` (None if still open after ``limit``)."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass
    return time.monotonic() - started


def test_slow_headers_and_idle_connections_are_closed_by_the_server(srv: Srv) -> None:
    port = srv.server.port
    unfinished = socket.create_connection(("127.0.0.1", port))
    unfinished.sendall(b"POST /v2/handles/acme/links HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    idle.request("GET", "/healthz")
    assert idle.getresponse().read()  # a keep-alive connection, now idle

    trickle_cut: list[float] = []

    def trickle() -> None:  # one header byte every 0.3 s: never completes within the limit
        sock = socket.create_connection(("127.0.0.1", port))
        started = time.monotonic()
        try:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 60 + b"\r\n\r\n":
                sock.sendall(bytes([byte]))
                time.sleep(0.3)
        except OSError:
            trickle_cut.append(time.monotonic() - started)
        finally:
            sock.close()

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    # Meanwhile the server answers others.
    assert httpx.get(f"{srv.server.base}/healthz", timeout=5).status_code == 200
    for sock in (unfinished, idle.sock):
        assert sock is not None
        waited = _closed_after(sock, HEADER_TIMEOUT + 6)
        assert waited is not None, "the server kept a connection without a complete request"
    t.join(timeout=40)
    assert trickle_cut and trickle_cut[0] < HEADER_TIMEOUT + 6, trickle_cut
    unfinished.close()
    idle.close()
