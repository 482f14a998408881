"""Serving a site: profile routes (site mode, then bindings, then files) and previews.

Freshness: the site row (mode, live pointer) is read on every request, so a mode change or a
promote is visible on the very next request on every worker. What is cached per process is
immutable by construction: a deployed release (manifest + bindings, keyed by deployment id)
and blob bytes (keyed by handle + sha256).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from ..shared.errors import BadRequest, Conflict, NotFound, Unauthenticated
from .model import SERVABLE, Deployment, DeploymentStatus, FunctionBinding, ManifestEntry, ServedPage, Submission
from .ports import FunctionCall, SitesUoW

__all__ = [
    "CACHE_CONTROL",
    "DEFAULT_404",
    "DEFAULT_MAINTENANCE",
    "ServingMixin",
    "clean_path",
    "etag_matches",
]

CACHE_CONTROL = "public, max-age=0, must-revalidate"
PRIVATE_CACHE_CONTROL = "private, max-age=0, must-revalidate"
HTML = "text/html; charset=utf-8"
DEFAULT_404 = (
    b'<!doctype html><html><head><meta charset="utf-8"><title>Not found</title></head>'
    b"<body><h1>Not found</h1><p>This page does not exist.</p></body></html>"
)
DEFAULT_MAINTENANCE = (
    b'<!doctype html><html><head><meta charset="utf-8"><title>Down for maintenance</title>'
    b"</head><body><h1>Down for maintenance</h1><p>This site is being updated. "
    b"Please come back in a few minutes.</p></body></html>"
)
NO_SITE = (
    b'<!doctype html><html><head><meta charset="utf-8"><title>No site yet</title></head>'
    b"<body><h1>Nothing deployed yet</h1></body></html>"
)

Viewer = Callable[[], Awaitable[bool | None]]


@attrs.frozen
class Release:
    deployment_id: str
    manifest: Mapping[str, ManifestEntry]
    bindings: Mapping[str, FunctionBinding]  # by route


def clean_path(path: str) -> str:
    """The relative path to serve (``""`` = root); 400 ``invalid_path`` for traversal and friends."""
    if path.startswith("/"):
        path = path[1:]
    bad = (
        "\\" in path
        or "\x00" in path
        or any(ord(c) < 32 or ord(c) == 127 for c in path)
        or "\ufffd" in path
        or len(path) > 1024
    )
    segments = path.split("/")
    inner = segments[:-1] if segments and segments[-1] == "" else segments
    if bad or (path and any(s in ("", ".", "..") for s in inner)):
        raise BadRequest("invalid_path", "The path is not allowed.")
    return path


def etag_matches(if_none_match: str | None, sha: str) -> bool:
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == f'"{sha}"':
            return True
    return False


class ServingMixin:
    """Mixed into :class:`SitesService`; uses its ``store``, ``functions``, ``clock``, ``ids``, ``limits``."""

    store: Any
    functions: Any
    clock: Any
    ids: Any
    limits: Any
    site_domain: str

    def _init_caches(self) -> None:
        self._releases: OrderedDict[str, Release] = OrderedDict()
        self._blobs: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._blob_bytes = 0

    async def _site_for_serving(self, uow: SitesUoW, handle: str) -> Any:
        site = await uow.sites.get_site(handle)
        if site is None:
            identity = getattr(uow, "identity", None)
            if identity is not None and await identity.get_handle(handle) is None:
                raise NotFound("handle_not_found", f"Handle `{handle}` was not found.")
            site = await self._site(uow, handle)  # type: ignore[attr-defined]
        return site

    async def _release(self, uow: SitesUoW, dep: Deployment | None, handle: str, dep_id: str) -> Release | None:
        cached = self._releases.get(dep_id)
        if cached is not None:
            self._releases.move_to_end(dep_id)
            return cached
        if dep is None:
            dep = await uow.sites.get_deployment(handle, dep_id)
        if dep is None:
            return None
        bindings = {b.route: b for b in await uow.sites.bindings_for(dep.id)}
        rel = Release(dep.id, dep.manifest, bindings)
        if dep.status in SERVABLE:  # immutable from here on: safe to keep
            self._releases[dep_id] = rel
            if len(self._releases) > 256:
                self._releases.popitem(last=False)
        return rel

    async def _blob(self, handle: str, path: str, entry: ManifestEntry) -> bytes:
        key = (handle, entry.sha256)
        data = self._blobs.get(key)
        if data is not None:
            self._blobs.move_to_end(key)
            return data
        from .base import blob_key  # late: base imports this module

        try:
            data = bytes(await self.store.get_bytes(blob_key(handle, entry.sha256)))
        except (KeyError, FileNotFoundError, LookupError) as exc:
            raise Conflict(
                "artifact_missing",
                f"The blob for `{path}` is missing from storage.",
                extra={"missing": [{"path": path, "sha256": entry.sha256}]},
            ) from exc
        if len(data) <= self.limits.blob_cache_item_bytes:
            self._blobs[key] = data
            self._blob_bytes += len(data)
            while self._blob_bytes > self.limits.blob_cache_bytes and self._blobs:
                _, old = self._blobs.popitem(last=False)
                self._blob_bytes -= len(old)
        return data

    async def serve_profile(
        self,
        uow: SitesUoW,
        handle: str,
        path: str,
        *,
        method: str = "GET",
        query: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        if_none_match: str | None = None,
        viewer: Viewer | None = None,
    ) -> ServedPage:
        """What ``GET /profiles/{handle}/{path}`` answers: site mode, then bindings, then files."""
        clean = clean_path(path)
        site = await self._site_for_serving(uow, handle)
        cache = CACHE_CONTROL
        if site.mode == "private":
            who = None if viewer is None else await viewer()
            if who is None:
                raise Unauthenticated("unauthenticated", "This site is private: sign in as a member.")
            if who is False:
                raise NotFound("handle_not_found", f"Handle `{handle}` was not found.")
            cache = PRIVATE_CACHE_CONTROL
        if site.mode == "redirect" and site.redirect_url:
            return ServedPage(
                302,
                "text/plain; charset=utf-8",
                b"",
                None,
                (("Location", site.redirect_url), ("Cache-Control", "no-store")),
            )
        rel = await self._release(uow, None, handle, site.live_deployment_id) if site.live_deployment_id else None
        dep_header = (("X-Gharart-Deployment", rel.deployment_id),) if rel else ()
        if site.mode == "maintenance":
            content = DEFAULT_MAINTENANCE
            entry = rel.manifest.get("maintenance.html") if rel else None
            if rel is not None and entry is not None:
                content = await self._blob(handle, "maintenance.html", entry)
            return ServedPage(
                503,
                HTML,
                content,
                rel.deployment_id if rel else None,
                (("Retry-After", "300"), ("Cache-Control", "no-store"), *dep_header),
            )
        if rel is None:
            return ServedPage(404, HTML, NO_SITE, None, (("Cache-Control", "no-store"),))
        return await self._serve_release(
            uow,
            handle,
            rel,
            clean,
            method=method,
            query=query,
            headers=headers,
            body=body,
            if_none_match=if_none_match,
            cache=cache,
            extra=(),
        )

    async def serve_preview(
        self,
        uow: SitesUoW,
        handle: str,
        deployment_id: str,
        path: str = "",
        *,
        method: str = "GET",
        query: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        if_none_match: str | None = None,
    ) -> ServedPage:
        """Serve one deployment whatever the live pointer and site mode (no authorization here)."""
        clean = clean_path(path)
        dep = await uow.sites.get_deployment(handle, deployment_id)
        if dep is None:
            raise NotFound("deployment_not_found", f"Deployment `{deployment_id}` was not found.")
        if dep.status not in SERVABLE:
            # a failed deployment will never get its blobs: its `reason` says why (SPEC A.3)
            failed = dep.status is DeploymentStatus.FAILED
            missing = [] if failed else [{"path": p, "sha256": s} for p, s in dep.missing_paths()]
            extra: dict[str, Any] = {"missing": missing, "status": dep.status.value}
            detail = f"Deployment `{dep.id}` is `{dep.status.value}`: " + (
                f"{len(missing)} file(s) not uploaded yet." if missing else "not deployed."
            )
            if failed or dep.failed_reason:
                reason = dep.failed_reason or "the deployment failed"
                extra["reason"] = reason
                detail = f"Deployment `{dep.id}` failed: {reason}"
            raise Conflict("artifact_missing", detail, extra=extra)
        rel = await self._release(uow, dep, handle, dep.id)
        assert rel is not None
        return await self._serve_release(
            uow,
            handle,
            rel,
            clean,
            method=method,
            query=query,
            headers=headers,
            body=body,
            if_none_match=if_none_match,
            cache=PRIVATE_CACHE_CONTROL,
            extra=(("X-Robots-Tag", "noindex"),),
        )

    async def _serve_release(
        self,
        uow: SitesUoW,
        handle: str,
        rel: Release,
        path: str,
        *,
        method: str,
        query: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
        if_none_match: str | None,
        cache: str,
        extra: tuple[tuple[str, str], ...],
    ) -> ServedPage:
        base = (("X-Gharart-Deployment", rel.deployment_id), *extra)
        route = "/" + path.rstrip("/")
        binding = rel.bindings.get(route) if rel.bindings else None
        if binding is not None:
            return await self._call(uow, handle, rel, binding, method, path, query, headers, body, base)
        if method not in ("GET", "HEAD"):
            return ServedPage(
                405,
                "text/plain; charset=utf-8",
                b"Method Not Allowed",
                rel.deployment_id,
                (("Allow", "GET, HEAD"), *base),
            )
        candidates = [path + "index.html"] if path == "" or path.endswith("/") else [path, path + "/index.html"]
        for cand in candidates:
            entry = rel.manifest.get(cand)
            if entry is None:
                continue
            hdrs = (("ETag", f'"{entry.sha256}"'), ("Cache-Control", cache), *base)
            if etag_matches(if_none_match, entry.sha256):
                return ServedPage(
                    304, entry.content_type, b"", rel.deployment_id, hdrs, entry.sha256, entry.sha256, cand
                )
            data = await self._blob(handle, cand, entry)
            return ServedPage(200, entry.content_type, data, rel.deployment_id, hdrs, entry.sha256, entry.sha256, cand)
        entry = rel.manifest.get("404.html")
        content = DEFAULT_404 if entry is None else await self._blob(handle, "404.html", entry)
        return ServedPage(
            404,
            HTML,
            content,
            rel.deployment_id,
            (("Cache-Control", "no-cache"), *base),
            path="404.html" if entry else None,
        )

    async def _call(
        self,
        uow: SitesUoW,
        handle: str,
        rel: Release,
        binding: FunctionBinding,
        method: str,
        path: str,
        query: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
        base: tuple[tuple[str, str], ...],
    ) -> ServedPage:
        fn = self.functions.get(binding.function)
        if fn is None:
            return ServedPage(
                503,
                "text/plain; charset=utf-8",
                b"Function unavailable",
                rel.deployment_id,
                (("Cache-Control", "no-store"), *base),
            )
        if method not in fn.methods and not (method == "HEAD" and "GET" in fn.methods):
            return ServedPage(
                405,
                "text/plain; charset=utf-8",
                b"Method Not Allowed",
                rel.deployment_id,
                (("Allow", ", ".join(sorted(fn.methods))), *base),
            )
        result = await fn(FunctionCall(binding, method, "/" + path, query, headers, body))
        if result.submission is not None:
            await uow.sites.add_submission(
                Submission(
                    self.ids.new("sub"),
                    handle,
                    binding.id,
                    rel.deployment_id,
                    self.clock.now(),
                    str(result.submission.get("ct", "")),
                    dict(result.submission.get("f", {})),
                )
            )
        return ServedPage(
            result.status,
            result.content_type,
            result.body,
            rel.deployment_id,
            (*result.headers, ("Cache-Control", "no-store"), *base),
        )
