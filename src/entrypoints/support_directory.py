"""ArtifactDirectory over the other areas' repositories, for the support core.

Support resolves repro artifacts (``dep_``, ``run_``, ``lnk_``, slugs, ``fil_``, ``shr_``, ``pg_``...)
and content-report targets through this one adapter, so the support core never imports another
area. Every lookup is defensive: a repository that is absent (area not installed) or lacks the
method simply means "not found", never an error for the reporter.

Repository methods relied on (first match wins; see :data:`LOOKUPS`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gharart_core.identity.model import HANDLE_RE
from gharart_core.support.model import ArtifactRef, ContentTarget

__all__ = ["LOOKUPS", "RepositoryArtifactDirectory"]

#: (uow attribute, method names tried in order) per lookup.
LOOKUPS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "link_by_id": (("links", ("get_by_id", "get_link_by_id", "by_id")),),
    "link_by_slug": (("links", ("get", "get_by_slug", "get_link")),),
    "deployment": (
        ("sites", ("get_deployment", "get_deployment_by_id")),
        ("deployments", ("get", "get_deployment")),
    ),
    "run": (
        ("links", ("get_run", "get_health_run", "get_import_run")),
        ("intel", ("get_run",)),
        ("runs", ("get",)),
    ),
    "snapshot": (("intel", ("get_snapshot",)),),
    "binding": (("sites", ("get_binding", "get_function_binding")),),
    "file": (("files", ("get", "get_file")),),
    "share": (("files", ("get_share",)),),
    "page_by_id": (("docs", ("get_page_by_id", "page_by_id")),),
    "page_by_path": (("docs", ("get_page", "page_by_path")),),
    "site": (("sites", ("get_site",)),),
    "token": (("identity", ("get_token",)),),
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
    async def _lookup(self, uow: Any, what: str, *args: Any) -> Any:
        for attr, methods in LOOKUPS[what]:
            repo = getattr(uow, attr, None)
            if repo is None:
                continue
            for name in methods:
                method = getattr(repo, name, None)
                if method is None:
                    continue
                try:
                    found = await method(*args)
                except TypeError:
                    continue  # a different signature: try the next name
                if found is not None:
                    return found
        return None

    async def _link(self, uow: Any, handle: str, slug: str) -> ArtifactRef | None:
        link = await self._lookup(uow, "link_by_slug", handle, slug)
        if not _live(link):
            return None
        return ArtifactRef("link", _value(link, "id") or f"{handle}/{slug}", handle)

    async def owner_of(self, uow: Any, artifact: str, *, handles: Sequence[str]) -> ArtifactRef | None:
        text = artifact.strip()
        m = _ID_RE.match(text)
        if m:
            return await self._by_id(uow, m.group(1), text)
        lm = _LINK_PATH_RE.match(text) or _HANDLE_SLUG_RE.match(text)
        if lm:
            return await self._link(uow, lm.group(1), lm.group(2))
        if _SLUG_RE.match(text):
            for handle in handles:
                ref = await self._link(uow, handle, text)
                if ref is not None:
                    return ref
        return None

    async def _by_id(self, uow: Any, prefix: str, ident: str) -> ArtifactRef | None:
        simple = {
            "dep": ("deployment", "deployment"),
            "snp": ("snapshot", "snapshot"),
            "fb": ("binding", "binding"),
            "fil": ("file", "file"),
            "shr": ("share", "share"),
            "pg": ("page_by_id", "page"),
            "lnk": ("link_by_id", "link"),
        }
        if prefix in simple:
            lookup, kind = simple[prefix]
            obj = await self._lookup(uow, lookup, ident)
            if not _live(obj):
                return None
            handle = _value(obj, "handle")
            if handle is None and prefix == "shr":
                file = await self._lookup(uow, "file", _value(obj, "file_id"))
                handle = _value(file, "handle") if file is not None else None
            return ArtifactRef(kind, ident, handle)
        if prefix == "run":
            run = await self._lookup(uow, "run", ident)
            if run is None:
                return None
            raw = str(_value(run, "kind", "run_kind", "type") or "").lower()
            return ArtifactRef("run", ident, _value(run, "handle"), _RUN_KINDS.get(raw))
        if prefix == "pat":
            token = await self._lookup(uow, "token", ident)
            return ArtifactRef("token", ident, _value(token, "handle")) if token is not None else None
        return None

    async def target_exists(self, uow: Any, target: ContentTarget) -> ContentTarget | None:
        if target.kind == "link" and target.handle:
            return target if await self._link(uow, target.handle, target.key) is not None else None
        if target.kind == "file":
            file = await self._lookup(uow, "file", target.key)
            if not _live(file):
                return None
            return ContentTarget("file", _value(file, "handle"), target.key)
        if target.handle is None or not HANDLE_RE.match(target.handle):
            return None
        handle = await uow.identity.get_handle(target.handle)
        if handle is None:
            return None
        if target.kind == "docs" and target.key and self._can(uow, "page_by_path"):
            page = await self._lookup(uow, "page_by_path", target.handle, target.key)
            if not _live(page):
                return None
        return target

    @staticmethod
    def _can(uow: Any, what: str) -> bool:
        return any(
            getattr(getattr(uow, attr, None), name, None) is not None
            for attr, methods in LOOKUPS[what]
            for name in methods
        )
