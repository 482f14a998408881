"""ASGI fast path for ``GET /l/{handle}/{slug}``: the product's hottest route.

A per-(handle, slug) cache of compiled links, validated on every request by a cheap version
read, so edits, rollbacks, rule changes and deletions take effect on the very next request:

* every link write bumps ``link_generations[handle]`` in the same transaction;
* on SQLite, ``PRAGMA data_version`` on a private read-only connection says in microseconds
  whether *any* connection committed since the last look; only then is the handle's generation
  re-read (one primary-key lookup), and a changed generation drops that handle's entries;
* on other databases the generation is read on each request through the unit of work.

Clicks go to the shared :class:`ClickBuffer` and are written in batches. Anything unusual
(unknown link, odd path, other methods) returns ``False`` and the normal Litestar route answers.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any
from urllib.parse import parse_qsl, unquote

from gharart_core.links.clicks import ClickBuffer
from gharart_core.links.model import SLUG_RE, Link
from gharart_core.links.rules import evaluate
from gharart_core.links.service import build_facts

__all__ = ["LinksFastPath", "clicks_for", "close_clicks"]

log = logging.getLogger("gharart.links.fastpath")
_MAX_ENTRIES = 200_000
_CACHE_CONTROL = (b"cache-control", b"private, max-age=0")
_EMPTY = {"type": "http.response.body", "body": b""}


def clicks_for(runtime: Any) -> ClickBuffer:
    """The process's click buffer (shared by the fast path and the Litestar route)."""
    buf: ClickBuffer | None = getattr(runtime, "_links_clicks", None)
    if buf is None:
        buf = ClickBuffer(runtime.uow_factory, today=runtime.clock.now)
        runtime._links_clicks = buf
    return buf


async def close_clicks(runtime: Any) -> None:
    buf: ClickBuffer | None = getattr(runtime, "_links_clicks", None)
    if buf is not None:
        await buf.close()


class _SqliteVersion:
    """Reads ``PRAGMA data_version`` and generations on a private read-only connection."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                                    isolation_level=None)
        self.conn.execute("PRAGMA query_only=1")

    def data_version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def generation(self, handle: str) -> int:
        row = self.conn.execute("SELECT generation FROM link_generations WHERE handle = ?", (handle,)).fetchone()
        return int(row[0]) if row else 0


class LinksFastPath:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        self.uow_factory = runtime.uow_factory
        self.clicks = clicks_for(runtime)
        self.cache: dict[tuple[str, str], Link] = {}
        self.generations: dict[str, int] = {}  # handle -> generation the cached entries belong to
        self.checked_at: dict[str, int] = {}  # handle -> data_version at which the generation was read
        self._sqlite: _SqliteVersion | None = None
        self._sqlite_tried = False
        self.hits = 0
        self.misses = 0

    # -- version checks -------------------------------------------------------------------

    def _sqlite_reader(self) -> _SqliteVersion | None:
        if self._sqlite is None and not self._sqlite_tried:
            self._sqlite_tried = True
            db = getattr(self.rt.container, "database", None)
            url = db().url if db is not None else ""
            if url.startswith("sqlite") and ":memory:" not in url:
                try:
                    reader = _SqliteVersion(url.split("///", 1)[1])
                    reader.generation("")  # the table exists (migrated)
                    self._sqlite = reader
                except sqlite3.Error:
                    self._sqlite_tried = False  # not migrated yet: try again later
        return self._sqlite

    async def _generation(self, handle: str) -> int | None:
        """The handle's current generation, or None when unchanged since the last check."""
        reader = self._sqlite_reader()
        if reader is not None:
            dv = reader.data_version()
            if self.checked_at.get(handle) == dv:
                return None
            gen = reader.generation(handle)
            self.checked_at[handle] = dv
            return gen
        async with self.uow_factory(write=False) as uow:
            return int(await uow.links.generation(handle))

    async def _link(self, handle: str, slug: str) -> Link | None:
        gen = await self._generation(handle)
        if gen is not None and self.generations.get(handle) != gen:
            for key in [k for k in self.cache if k[0] == handle]:
                del self.cache[key]
            self.generations[handle] = gen
        link = self.cache.get((handle, slug))
        if link is not None:
            self.hits += 1
            return link
        self.misses += 1
        async with self.uow_factory(write=False) as uow:
            link = await uow.links.get(handle, slug)
        if link is None or link.is_deleted:
            return None
        if len(self.cache) >= _MAX_ENTRIES:
            self.cache.clear()
        self.cache[(handle, slug)] = link
        return link

    # -- ASGI -----------------------------------------------------------------------------

    async def try_redirect(self, scope: dict[str, Any], receive: Any, send: Any) -> bool:
        path: str = scope["path"]
        if not path.startswith("/l/") or scope["method"] not in ("GET", "HEAD"):
            return False
        parts = path[3:].split("/")
        if len(parts) != 2:
            return False
        handle, slug = unquote(parts[0]), unquote(parts[1])
        if not handle or not SLUG_RE.match(slug):
            return False
        try:
            link = await self._link(handle, slug)
        except Exception:  # the normal route will answer (and report) instead
            log.exception("fast path lookup failed")
            return False
        if link is None:
            return False
        qs: bytes = scope.get("query_string", b"")
        destination = link.destination
        if link.rules:
            destination = self._evaluate(link, scope, qs)
        location = destination.encode("latin-1")
        if link.forward_query and qs:
            base, sep, frag = location.partition(b"#")
            location = base + (b"&" if b"?" in base else b"?") + qs + (sep + frag if sep else b"")
        headers = [(b"location", location), _CACHE_CONTROL, (b"content-length", b"0")]
        request_id = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                if 0 < len(v) <= 128 and all(33 <= c <= 126 for c in v):
                    request_id = v
                break
        headers.append((b"x-request-id", request_id or self.rt.ids.new("req").encode()))
        self.clicks.record(link.id)
        await send({"type": "http.response.start", "status": link.redirect_status, "headers": headers})
        await send(_EMPTY)
        return True

    def _evaluate(self, link: Link, scope: dict[str, Any], qs: bytes) -> str:
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.decode("latin-1"), v.decode("latin-1"))
        client = scope.get("client")
        client_ip = client[0] if client else ""
        from .routes.links_public import client_country

        ua = headers.get("user-agent", "")
        facts = build_facts(user_agent=ua, country=client_country(headers, client_ip, self.settings),
                            accept_language=headers.get("accept-language"),
                            query=dict(parse_qsl(qs.decode("latin-1"), keep_blank_values=True)),
                            referrer=headers.get("referer"), at=self.rt.clock.now(),
                            visitor_key=f"{client_ip}|{ua}")
        return evaluate(link.destination, link.rules, facts, salt=link.id).destination
