"""A scripted :class:`Fetcher` for the harness and tests: no network, same SSRF policy.

Script answers per URL (exact) or per host: a status, a redirect, an error kind, a delay or
``hang`` (never answers; the caller's timeout ends it, like a real hanging page).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

import attrs

from gharart_core.links.ports import FetchError, FetchResponse

from .ssrf import Allowlist, is_blocked_ip, literal_ip, parse_allowlist

__all__ = ["FakeFetcher", "FakeReply"]


@attrs.frozen
class FakeReply:
    status: int = 200
    location: str | None = None
    error: str | None = None  # a FetchError kind
    delay_s: float = 0.0
    hang: bool = False
    body: bytes = b""
    head_status: int | None = None  # answer HEAD differently (e.g. 405)


class FakeFetcher:
    def __init__(self, replies: Mapping[str, FakeReply] | None = None, *, default: FakeReply | None = None,
                 allowlist: Allowlist | str | None = None, dns: Mapping[str, str] | None = None) -> None:
        self.replies: dict[str, FakeReply] = dict(replies or {})
        self.default = default or FakeReply()
        self.allowlist = allowlist if isinstance(allowlist, Allowlist) else parse_allowlist(allowlist)
        self.dns = {k.lower(): v for k, v in (dns or {}).items()}  # host -> IP for the SSRF check
        self.calls: list[tuple[str, str]] = []  # (method, url) of every hop
        self.bodies: list[bytes | None] = []  # the body sent on each of those hops

    def set(self, key: str, reply: FakeReply) -> None:
        self.replies[key] = reply

    def _reply(self, url: str) -> FakeReply:
        if url in self.replies:
            return self.replies[url]
        host = (urlsplit(url).hostname or "").lower()
        return self.replies.get(host, self.default)

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise FetchError("invalid_url", "only http(s) URLs are fetched", url=url)
        ip = literal_ip(self.dns.get(host, host))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if host in ("localhost", "localhost.localdomain") and ip is None:
            ip = literal_ip("127.0.0.1")
        if ip is not None and is_blocked_ip(ip) and not self.allowlist.allows(host, port, ip):
            raise FetchError("blocked", f"{host} resolves to a non-public address ({ip})", url=url)

    async def fetch(self, url: str, *, method: str = "GET", timeout: float = 5.0, max_redirects: int = 5,
                    max_body: int = 1 << 20, headers: Mapping[str, str] | None = None,
                    body: bytes | None = None, follow_redirects: bool = True) -> FetchResponse:
        started = time.monotonic()
        redirects: list[str] = []
        current = url
        method = method.upper()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._check(current)  # the SSRF policy on every hop, as the real fetcher
                    self.calls.append((method, current))
                    self.bodies.append(body)
                    reply = self._reply(current)
                    if reply.hang:
                        await asyncio.Event().wait()
                    if reply.delay_s:
                        await asyncio.sleep(reply.delay_s)
                    if reply.error:
                        raise FetchError(reply.error, f"scripted {reply.error}", url=current)
                    status = reply.head_status if method == "HEAD" and reply.head_status else reply.status
                    if status in (301, 302, 303, 307, 308) and reply.location and follow_redirects:
                        if len(redirects) >= max_redirects:
                            raise FetchError("too_many_redirects", f"more than {max_redirects} redirects",
                                             url=current)
                        redirects.append(current)
                        current = urljoin(current, reply.location)
                        if status == 303 or (status in (301, 302) and method == "POST"):
                            method, body = "GET", None
                        continue
                    return FetchResponse(status=status, url=current, body=reply.body[:max_body],
                                         headers=(("location", reply.location),) if reply.location else (),
                                         redirects=tuple(redirects),
                                         elapsed_ms=(time.monotonic() - started) * 1000)
        except TimeoutError as exc:
            raise FetchError("timeout", f"no answer within {timeout:g}s", url=current) from exc
