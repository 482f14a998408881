"""A webhook publish over a real socket: a receiver on 127.0.0.1 (only its port allow-listed),
the real guarded fetcher, the HTTP API; fail once, retry, published once."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dependency_injector import providers

from adapters.http.fetcher import HttpxFetcher
from entrypoints.harness import make_harness


class Receiver(BaseHTTPRequestHandler):
    calls: list[tuple[str, dict[str, str], bytes]] = []
    fail_first = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.calls.append((self.path, dict(self.headers), body))
        if Receiver.fail_first:
            Receiver.fail_first = False
            status, payload = 503, b"busy"
        else:
            status, payload = 201, json.dumps({"link": "https://blog.example.com/p/7"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(payload)


async def test_webhook_publish_over_a_real_socket() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.calls, Receiver.fail_first = [], True
    fetcher = HttpxFetcher(allowlist=f"127.0.0.1:{port}")
    try:
        async with make_harness() as h:
            h.container.fetcher.override(providers.Object(fetcher))
            token = await h.create_owner("acme", "alice@acme.example.com")
            auth = h.auth(token)
            r = await h.client.post("/api/v1/publisher/publish/", headers=auth, json={
                "site_id": "acme", "content_id": 7, "destination": "webhook", "title": "Seven",
                "content": "<p>7</p>", "config": {"url": f"http://127.0.0.1:{port}/hook"}})
            rec = r.json()["data"]
            assert r.status_code == 201 and rec["status"] == "failed" and "503" in rec["error"]
            r = await h.client.post(f"/api/v1/publisher/publishing-records/{rec['id']}/retry/",
                                    headers={**auth, "Idempotency-Key": "again"})
            done = r.json()["data"]
            assert done["status"] == "published" and done["external_url"] == "https://blog.example.com/p/7"
            r = await h.client.post(f"/api/v1/publisher/publishing-records/{rec['id']}/retry/", headers=auth)
            assert r.json()["data"]["attempts"] == 2
            blocked = await h.client.post("/api/v1/publisher/publish/", headers=auth, json={
                "site_id": "acme", "content_id": 8, "destination": "webhook",
                "config": {"url": f"http://127.0.0.1:{port + 1}/hook"}})
            assert blocked.json()["data"]["error"] == "webhook not delivered: blocked"
    finally:
        await fetcher.aclose()
        server.shutdown()
        server.server_close()
    assert len(Receiver.calls) == 2
    path, headers, body = Receiver.calls[1]
    event = json.loads(body)
    assert path == "/hook" and headers["Idempotency-Key"] == rec["id"] and headers["X-Gharart-Attempt"] == "2"
    assert event["content"] == "<p>7</p>" and event["content_id"] == "7" and event["site_id"] == "acme"
