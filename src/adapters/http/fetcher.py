"""httpx implementation of the :class:`gharart_core.links.ports.Fetcher` port, with the SSRF guard.

Every hop (the first URL and each redirect target) is resolved here, every resolved address is
checked against :func:`adapters.http.ssrf.is_blocked_ip` (unless the allowlist opens it), and the
connection goes to the checked address (``Host`` header and TLS SNI keep the name), so a DNS
answer cannot change between the check and the connection (no rebinding window).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from gharart_core.links.ports import FetchError, FetchResponse

from .ssrf import Allowlist, is_blocked_ip, literal_ip, parse_allowlist

__all__ = ["HttpxFetcher", "fetcher_from_settings"]

_REDIRECTS = (301, 302, 303, 307, 308)
_USER_AGENT = "GharartLinkCheck/1.0 (+https://gharart.com/bot)"


class HttpxFetcher:
    def __init__(self, *, allowlist: Allowlist | str | None = None, max_connections: int = 100,
                 verify: bool | ssl.SSLContext = True, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.allowlist = allowlist if isinstance(allowlist, Allowlist) else parse_allowlist(allowlist)
        self._client = httpx.AsyncClient(
            follow_redirects=False, trust_env=False, verify=verify,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            timeout=httpx.Timeout(None), transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        lit = literal_ip(host)
        if lit is not None:
            return [lit]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError("dns_error", f"could not resolve {host}") from exc
        out = []
        for info in infos:
            addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if addr not in out:
                out.append(addr)
        if not out:
            raise FetchError("dns_error", f"no address for {host}")
        return out

    async def _target(self, url: str) -> tuple[str, dict[str, str], dict[str, object]]:
        """Check one hop; return the URL to connect to (host replaced by the checked IP)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise FetchError("invalid_url", "the URL could not be parsed", url=url) from exc
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise FetchError("invalid_url", "only http(s) URLs without credentials are fetched", url=url)
        host = parts.hostname
        port = port or (443 if parts.scheme == "https" else 80)
        addrs = await self._resolve(host, port)
        usable = [ip for ip in addrs if not is_blocked_ip(ip) or self.allowlist.allows(host, port, ip)]
        if len(usable) != len(addrs):
            bad = next(ip for ip in addrs if ip not in usable)
            raise FetchError("blocked", f"{host} resolves to a non-public address ({bad})", url=url)
        ip = usable[0]
        ip_host = f"[{ip}]" if ip.version == 6 else str(ip)
        default = (parts.scheme == "https" and port == 443) or (parts.scheme == "http" and port == 80)
        netloc = ip_host if default and parts.port is None else f"{ip_host}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = parts.netloc.rsplit("@", 1)[-1]
        extensions: dict[str, object] = {}
        if parts.scheme == "https":
            extensions["sni_hostname"] = host
        return target, {"Host": host_header}, extensions

    async def fetch(self, url: str, *, method: str = "GET", timeout: float = 5.0, max_redirects: int = 5,
                    max_body: int = 1 << 20, headers: Mapping[str, str] | None = None,
                    body: bytes | None = None, follow_redirects: bool = True) -> FetchResponse:
        started = time.monotonic()
        redirects: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                return await self._fetch(url, method.upper(), max_redirects if follow_redirects else -1,
                                         max_body, headers or {}, body, redirects, started)
        except TimeoutError as exc:
            raise FetchError("timeout", f"no answer within {timeout:g}s", url=url,
                             redirects=tuple(redirects)) from exc

    async def _fetch(self, url: str, method: str, max_redirects: int, max_body: int,
                     headers: Mapping[str, str], content: bytes | None, redirects: list[str],
                     started: float) -> FetchResponse:
        """Follow at most ``max_redirects`` hops; ``-1`` returns the first answer, 3xx included."""
        current = url
        while True:
            # the guard runs on every hop: resolve, check, connect to the checked address
            target, extra_headers, extensions = await self._target(current)
            req_headers = {"User-Agent": _USER_AGENT, "Accept": "*/*", **headers, **extra_headers}
            request = self._client.build_request(method, target, headers=req_headers, extensions=extensions,
                                                 content=content)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", "the request timed out", url=current) from exc
            except httpx.ConnectError as exc:
                kind = "tls_error" if _is_tls(exc) else "connection_error"
                raise FetchError(kind, str(exc)[:200] or kind, url=current) from exc
            except httpx.TransportError as exc:
                kind = "tls_error" if _is_tls(exc) else "connection_error"
                raise FetchError(kind, str(exc)[:200] or type(exc).__name__, url=current) from exc
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location and max_redirects >= 0:
                    if len(redirects) >= max_redirects:
                        raise FetchError("too_many_redirects", f"more than {max_redirects} redirects",
                                         url=current, redirects=tuple(redirects))
                    redirects.append(current)
                    current = urljoin(current, location.strip())
                    if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                        method, content = "GET", None
                    continue
                answer = b""
                if max_body > 0 and method != "HEAD":
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= max_body:
                            break
                    answer = b"".join(chunks)[:max_body]
                return FetchResponse(status=response.status_code, url=current,
                                     headers=tuple(response.headers.multi_items()), body=answer,
                                     redirects=tuple(redirects),
                                     elapsed_ms=(time.monotonic() - started) * 1000)
            except httpx.TransportError as exc:
                raise FetchError("connection_error", str(exc)[:200] or type(exc).__name__, url=current) from exc
            finally:
                await response.aclose()


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        text = str(seen).upper()
        if "SSL" in text or "CERTIFICATE" in text or "TLS" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def fetcher_from_settings(settings: object) -> HttpxFetcher:
    """The production fetcher: ``GHARART_FETCH_ALLOWLIST`` opens holes in the SSRF guard."""
    entries = getattr(settings, "fetch_allowlist", ()) or ()
    text = entries if isinstance(entries, str) else ",".join(entries)
    return HttpxFetcher(allowlist=text)
