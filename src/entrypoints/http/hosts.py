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
import sqlite3
import time
from typing import Any

from gharart_core.identity.model import HANDLE_RE
from gharart_core.sites.serving import CACHE_CONTROL, etag_matches

__all__ = [
    "DnsHostnameVerifier",
    "HostResolver",
    "ProfileFastPath",
    "make_host_fast_path",
    "make_profile_fast_path",
    "try_host",
]

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
        self.ip_literals: set[str] = set()
        self.version: int | None = None
        self.generation = 0

    async def handle_for(self, host: str) -> str | None:
        if host in self.skip:
            return None
        suffix = "." + self.site_domain
        if host.endswith(suffix):
            label = host[: -len(suffix)]
            return label if HANDLE_RE.match(label) else None
        if host in self.ip_literals:
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:  # an IP literal is never a site's hostname; remember it (the parse costs more than a lookup)
            if len(self.ip_literals) < 1024:
                self.ip_literals.add(host)
            return None
        db = getattr(self.rt.container, "database", None)
        svc = self.rt.container.sites_service()
        if svc.hostnames_generation != self.generation:  # changed by this process: drop at once
            self.cache.clear()
            self.generation = svc.hostnames_generation
        if db is not None:  # memory stores are cheap to ask every time
            reader = sqlite_reader(self.rt)
            now = time.monotonic()
            if reader is not None:  # any commit anywhere invalidates: verification shows at once
                dv = reader.data_version()
                if dv != self.version:
                    self.cache.clear()
                    self.version = dv
                now = 0.0  # the TTL does not apply
            hit = self.cache.get(host)
            if hit is not None and (reader is not None or hit[0] > now):
                return hit[1]
        async with self.rt.uow_factory(write=False) as uow:
            handle = await svc.handle_for_host(uow, host)
        if db is not None:
            if len(self.cache) > 10_000:
                self.cache.clear()
            self.cache[host] = (time.monotonic() + CUSTOM_TTL_S, handle)
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


# -- profile fast path ------------------------------------------------------------------------------
class _SqliteSites:
    """``PRAGMA data_version`` + the site row on a private read-only connection (microseconds)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA query_only=1")

    def data_version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def site(self, handle: str) -> tuple[str, str | None] | None:
        row = self.conn.execute(
            "SELECT mode, live_deployment_id FROM site_sites WHERE handle = ?", (handle,)
        ).fetchone()
        return (str(row[0]), row[1]) if row else None


def sqlite_reader(runtime: Any) -> _SqliteSites | None:
    """One private read-only SQLite connection per app (None on other databases)."""
    reader = getattr(runtime, "_sites_sqlite", None)
    if reader is not None:
        return reader  # type: ignore[no-any-return]
    db = getattr(runtime.container, "database", None)
    url = db().url if db is not None else ""
    if url.startswith("sqlite") and ":memory:" not in url:
        try:
            reader = _SqliteSites(url.split("///", 1)[1])
            reader.site("")  # migrated?
        except sqlite3.Error:
            return None  # not migrated yet: try again on the next request
        runtime._sites_sqlite = reader
    return reader


class ProfileFastPath:
    """Answers the common case of ``GET/HEAD /profiles/{handle}/{path}`` at the ASGI level: a live
    site whose release and blob are already in the service's caches (which only ever hold immutable
    values). The site row (mode, live pointer) is checked on every request: on SQLite through
    ``PRAGMA data_version`` (any commit anywhere invalidates), elsewhere by a read. Anything else
    (other modes, bindings, misses, odd paths) falls through to the Litestar route."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.sites: dict[str, tuple[str, str | None] | None] = {}
        self.version: int | None = None
        self.svc = runtime.container.sites_service()

    def _reader(self) -> _SqliteSites | None:
        return sqlite_reader(self.rt)

    async def site(self, handle: str) -> tuple[str, str | None] | None:
        reader = self._reader()
        if reader is not None:
            dv = reader.data_version()
            if dv != self.version:
                self.sites.clear()
                self.version = dv
            if handle not in self.sites:
                if len(self.sites) > 100_000:
                    self.sites.clear()
                self.sites[handle] = reader.site(handle)
            return self.sites[handle]
        async with self.rt.uow_factory(write=False) as uow:
            s = await uow.sites.get_site(handle)
        return (s.mode, s.live_deployment_id) if s is not None else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> bool:
        method = scope["method"]
        path: str = scope["path"]
        if method not in ("GET", "HEAD") or not path.startswith("/profiles/"):
            return False
        raw = bytes(scope.get("raw_path") or b"")
        if b"%" in raw or b"\\" in raw or b"//" in raw[1:] or b"/." in raw:
            return False
        handle, _, rest = path[10:].partition("/")
        if not handle or not _ or len(handle) > 40:
            return False
        started = time.perf_counter()
        state = await self.site(handle)
        if state is None or state[0] != "live" or state[1] is None:
            return False
        rel = self.svc._releases.get(state[1])
        if rel is None or ("/" + rest.rstrip("/")) in rel.bindings:
            return False
        name = rest + "index.html" if rest == "" or rest.endswith("/") else rest
        entry = rel.manifest.get(name)
        if entry is None:
            return False
        body = self.svc._blobs.get((handle, entry.sha256))
        if body is None:
            return False
        etag = f'"{entry.sha256}"'.encode()
        inm = next((v for k, v in scope.get("headers", ()) if k == b"if-none-match"), None)
        status = 304 if inm is not None and etag_matches(inm.decode("latin-1"), entry.sha256) else 200
        rid = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        if rid is None or len(rid) > 128 or not all(33 <= c <= 126 for c in rid):
            rid = self.rt.ids.new("req").encode()
        payload = b"" if status == 304 or method == "HEAD" else body
        headers = [
            (b"content-type", entry.content_type.encode()),
            (b"etag", etag),
            (b"cache-control", CACHE_CONTROL.encode()),
            (b"x-gharart-deployment", rel.deployment_id.encode()),
            (b"x-request-id", rid),
        ]
        if status == 200:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.rt.metrics.observe("/profiles/{handle:str}/{path:path}", method, status, time.perf_counter() - started)
        return True


def make_profile_fast_path(runtime: Any, litestar: Any) -> Any:
    return ProfileFastPath(runtime)


class DnsHostnameVerifier:
    """Looks for a TXT record ``_gharart.<hostname>`` whose value is the verification token."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s

    async def verify(self, hostname: str, token: str) -> bool:
        if not token:
            return False
        try:
            import dns.asyncresolver
            import dns.exception

            answer = await dns.asyncresolver.resolve(f"_gharart.{hostname}", "TXT", lifetime=self.timeout_s)
        except Exception:  # NXDOMAIN, timeouts, no resolver: simply not verified
            return False
        for rdata in answer:
            value = b"".join(getattr(rdata, "strings", ())).decode("utf-8", "replace").strip()
            if value == token:
                return True
        return False
