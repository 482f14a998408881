"""ArtifactDirectory over the other areas' repositories, for the support core.

Support resolves repro artifacts (``dep_``, ``run_``, ``lnk_``, slugs, ``fil_``, ``shr_``, ``pg_``...)
and content-report targets through this one adapter, so the support core never imports another
area. Every lookup is defensive: a repository that is absent (area not installed) or lacks the
method simply means "not found", never an error for the reporter.

Repository methods relied on are listed in :data:`LOOKUPS` (first match wins).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gharart_core.identity.model import HANDLE_RE
from gharart_core.support.model import ArtifactRef, ContentTarget

__all__ = ["LOOKUPS", "RepositoryArtifactDirectory"]

#: Lookups: what -> ((uow attribute, method, scope), ...), tried in order. ``scope`` says how the
#: method is called: ``"handle"`` = ``method(handle, id)`` once per handle the reporter may see,
#: ``"global"`` = ``method(id)`` (the owner is then checked by the caller).
LOOKUPS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "link_by_id": (("links", "get_by_id", "global"), ("links", "find_by_id", "global")),
    "link_by_slug": (("links", "get", "handle"),),
    "deployment": (("sites", "get_deployment", "handle"),),
    "binding": (("sites", "get_binding", "handle"),),
    "health_run": (("links", "get_health_run", "handle"),),
    "import_run": (("links", "get_import_run", "handle"),),
    "intel_run": (("intel", "find_run", "global"), ("intel", "get_run", "handle")),
    "snapshot": (("intel", "get_snapshot", "handle"),),
    "file": (("files", "get", "global"),),
    "share": (("files", "get_share", "global"),),
    "page_by_path": (("docs", "get_page", "handle"),),
    "pages": (("docs", "all_pages", "handle_only"),),
    "token": (("identity", "get_token", "global"),),
    "hostname": (("sites", "hostname_owner", "global"),),
}

_RUN_KINDS = {
    "health": "health_check",
    "health_check": "health_check",
    "health-check": "health_check",
    "healthcheck": "health_check",
    "import": "import",
    "bulk_import": "import",
    "bulk-import": "import",
    "crawl": "crawl",
    "replay": "replay",
}
_ID_RE = re.compile(r"^([a-z]{2,4})_[0-9A-HJKMNP-TV-Z]{26}$")
_LINK_PATH_RE = re.compile(r"^(?:https?://[^/]+)?/l/([a-z0-9-]{1,40})/([^/?#\s]+)")
_HANDLE_SLUG_RE = re.compile(r"^([a-z0-9-]{1,40})/([A-Za-z0-9._~-]{1,128})$")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")


def _live(obj: Any) -> bool:
    return obj is not None and getattr(obj, "deleted_at", None) is None and not getattr(obj, "deleted", False)


def _value(obj: Any, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return getattr(value, "value", value)  # enums
    return None


class RepositoryArtifactDirectory:
    async def _call(self, uow: Any, what: str, key: Any, handles: Sequence[str]) -> Any:
        for attr, name, scope in LOOKUPS[what]:
            method = getattr(getattr(uow, attr, None), name, None)
            if method is None:
                continue
            try:
                if scope == "global":
                    found = await method(key)
                    if found is not None:
                        return found
                    continue
                for handle in handles:
                    found = await method(handle) if scope == "handle_only" else await method(handle, key)
                    if found is not None:
                        return found
            except TypeError:
                continue  # a different signature than expected: treat as absent
        return None

    def _can(self, uow: Any, what: str) -> bool:
        repos = ((getattr(uow, attr, None), name) for attr, name, _ in LOOKUPS[what])
        return any(getattr(repo, name, None) is not None for repo, name in repos)

    async def _link(self, uow: Any, handles: Sequence[str], slug: str) -> ArtifactRef | None:
        link = await self._call(uow, "link_by_slug", slug, handles)
        if not _live(link):
            return None
        return ArtifactRef("link", _value(link, "id") or slug, _value(link, "handle"))

    async def owner_of(self, uow: Any, artifact: str, *, handles: Sequence[str]) -> ArtifactRef | None:
        text = artifact.strip()
        m = _ID_RE.match(text)
        if m:
            return await self._by_id(uow, m.group(1), text, handles)
        lm = _LINK_PATH_RE.match(text) or _HANDLE_SLUG_RE.match(text)
        if lm:
            return await self._link(uow, [lm.group(1)], lm.group(2))
        if _SLUG_RE.match(text):
            return await self._link(uow, handles, text)
        return None

    async def _by_id(self, uow: Any, prefix: str, ident: str, handles: Sequence[str]) -> ArtifactRef | None:
        simple = {"dep": ("deployment", "deployment"), "snp": ("snapshot", "snapshot"),
                  "fb": ("binding", "binding"), "fil": ("file", "file"), "shr": ("share", "share"),
                  "lnk": ("link_by_id", "link"), "pat": ("token", "token")}
        if prefix in simple:
            lookup, kind = simple[prefix]
            obj = await self._call(uow, lookup, ident, handles)
            if not _live(obj):
                return None
            handle = _value(obj, "handle")
            if handle is None and prefix == "shr":
                file = await self._call(uow, "file", _value(obj, "file_id"), handles)
                handle = _value(file, "handle") if file is not None else None
            return ArtifactRef(kind, ident, handle)
        if prefix == "pg":
            for handle in handles:
                pages = await self._call(uow, "pages", None, [handle]) or ()
                if any(_value(p, "id") == ident for p in pages):
                    return ArtifactRef("page", ident, handle)
            return None
        if prefix == "run":
            for lookup, subkind in (("health_run", "health_check"), ("import_run", "import")):
                run = await self._call(uow, lookup, ident, handles)
                if run is not None:
                    return ArtifactRef("run", ident, _value(run, "handle"), subkind)
            run = await self._call(uow, "intel_run", ident, handles)
            if run is None:
                return None
            raw = str(_value(run, "kind", "run_kind", "type") or "").lower()
            return ArtifactRef("run", ident, _value(run, "handle"), _RUN_KINDS.get(raw))
        return None

    async def target_exists(self, uow: Any, target: ContentTarget) -> ContentTarget | None:
        if target.kind == "link" and target.handle:
            return target if await self._link(uow, [target.handle], target.key) is not None else None
        if target.kind == "file":
            file = await self._call(uow, "file", target.key, ())
            if not _live(file) or _value(file, "mode") == "private" or _value(file, "purged_at") is not None:
                return None
            return ContentTarget("file", _value(file, "handle"), target.key)
        if target.kind == "hostname":
            owner = await self._call(uow, "hostname", target.key, ())
            if not owner or not owner[1]:  # (handle, verified)
                return None
            return ContentTarget("profile", owner[0], "")
        if target.handle is None or not HANDLE_RE.match(target.handle):
            return None
        if await uow.identity.get_handle(target.handle) is None:
            return None
        if target.kind == "docs" and target.key and self._can(uow, "page_by_path"):
            page = None
            for key in (f"/{target.key.lstrip('/')}", target.key):  # docs stores paths with a leading /
                page = page or await self._call(uow, "page_by_path", key, [target.handle])
            if not _live(page):
                return None
        return target
