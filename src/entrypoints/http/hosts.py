"""Host-based serving: a request whose ``Host`` (port ignored) is one of a handle's hostnames is
served exactly as ``/profiles/{handle}/...``.

The helper rewrites the ASGI scope's path in place and lets the request go on through the normal
middleware (request id, request log, metrics) to the profile route. It is mounted through the
``FAST_PATHS`` hook of ``entrypoints/http/routes/sites.py``: ``create_app`` calls
``make_host_fast_path(runtime, litestar)`` and runs it first for every HTTP request. To mount it
elsewhere, call ``await try_host(scope, runtime)`` before routing.

Default hostnames (``{handle}.{GHARART_SITE_DOMAIN}``) are recognised without a database read;
custom hostnames are looked up (verified ones only) with a short per-process TTL cache, because
adding a hostname need not be instant the way a site-mode change must be.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from gharart_core.identity.model import HANDLE_RE

__all__ = ["HostResolver", "make_host_fast_path", "try_host"]

CUSTOM_TTL_S = 5.0


def _host_of(scope: dict[str, Any]) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == b"host":
            host = v.decode("latin-1").strip().lower()
            if host.startswith("["):
                return None  # IPv6 literal: never a site
            host = host.rsplit(":", 1)[0] if ":" in host else host
            return host.rstrip(".") or None
    return None


class HostResolver:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.site_domain = (runtime.settings.site_domain or "localhost").strip(".").lower()
        public = runtime.settings.public_url or ""
        self.skip = {"localhost", "testserver", "testserver.local", self.site_domain}
        if "://" in public:
            self.skip.add(public.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].lower())
        self.cache: dict[str, tuple[float, str | None]] = {}

    async def handle_for(self, host: str) -> str | None:
        if host in self.skip:
            return None
        suffix = "." + self.site_domain
        if host.endswith(suffix):
            label = host[: -len(suffix)]
            return label if HANDLE_RE.match(label) else None
        try:
            ipaddress.ip_address(host)
            return None
        except ValueError:
            pass
        now = time.monotonic()
        hit = self.cache.get(host)
        if hit is not None and hit[0] > now:
            return hit[1]
        svc = self.rt.container.sites_service()
        async with self.rt.uow_factory(write=False) as uow:
            handle = await svc.handle_for_host(uow, host)
        if len(self.cache) > 10_000:
            self.cache.clear()
        self.cache[host] = (now + CUSTOM_TTL_S, handle)
        return handle


async def try_host(scope: dict[str, Any], resolver: HostResolver) -> bool:
    """Rewrite ``scope`` to the profile route when its Host is a site's; True when rewritten."""
    if scope.get("type") != "http" or scope.get("gharart_host_rewritten"):
        return False
    host = _host_of(scope)
    if host is None:
        return False
    handle = await resolver.handle_for(host)
    if handle is None:
        return False
    path = scope.get("path") or "/"
    raw = scope.get("raw_path") or path.encode("utf-8")
    prefix = f"/profiles/{handle}"
    scope["path"] = prefix + (path if path.startswith("/") else "/" + path)
    scope["raw_path"] = prefix.encode() + (raw if raw.startswith(b"/") else b"/" + raw)
    scope["gharart_host_rewritten"] = handle
    return True


def make_host_fast_path(runtime: Any, litestar: Any) -> Any:
    resolver = HostResolver(runtime)

    async def fast(scope: dict[str, Any], receive: Any, send: Any) -> bool:
        await try_host(scope, resolver)
        return False  # never answers by itself: the rewritten request goes on as usual

    return fast
