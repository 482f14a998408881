"""The :class:`~.ports.SitesGateway` over the sites area: the publisher's deployments are the
sites service's deployments, created and moved through it (SPEC §5, §10)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..identity.model import HandleAccess
from ..shared.audit_helpers import record as audit
from ..shared.errors import Conflict
from ..sites.model import Deployment, DeploymentStatus, content_type_for, transition
from ..sites.service import SitesService
from .ports import DeploymentView, PublisherUoW

__all__ = ["SitesBridge"]

_PAGE = 500


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class SitesBridge:
    def __init__(self, sites: SitesService) -> None:
        self.service = sites

    @staticmethod
    def _view(dep: Deployment, live_id: str | None) -> DeploymentView:
        return DeploymentView(
            id=dep.id, handle=dep.handle, status=dep.status.value, message=dep.message,
            created_by=dep.created_by, created_at=dep.created_at, deployed_at=dep.deployed_at,
            live=dep.id == live_id, preview_url=f"/v2/handles/{dep.handle}/site-deployments/{dep.id}/preview",
            error=dep.failed_reason, file_count=len(dep.manifest), missing_blobs=len(dep.missing))

    async def _live_id(self, uow: Any, handle: str) -> str | None:
        site = await uow.sites.get_site(handle)
        return site.live_deployment_id if site is not None else None

    async def list(self, uow: PublisherUoW, handles: Sequence[str]) -> Sequence[DeploymentView]:
        out: list[DeploymentView] = []
        repo = uow.sites  # type: ignore[attr-defined]
        for handle in handles:
            live = await self._live_id(uow, handle)
            before = None
            while True:
                rows = list(await repo.list_deployments(handle, before_id=before, limit=_PAGE))
                out.extend(self._view(d, live) for d in rows)
                if len(rows) < _PAGE:
                    break
                before = rows[-1].id
        out.sort(key=lambda v: v.id, reverse=True)
        return out

    async def handle_of(self, uow: PublisherUoW, deployment_id: str) -> str | None:
        handle: str | None = await uow.sites.deployment_handle(deployment_id)  # type: ignore[attr-defined]
        return handle

    async def get(self, uow: PublisherUoW, handles: Sequence[str], deployment_id: str) -> DeploymentView | None:
        for handle in handles:
            dep = await self.service.get_deployment_internal(uow, handle, deployment_id)  # type: ignore[arg-type]
            if dep is not None:
                return self._view(dep, await self._live_id(uow, handle))
        return None

    async def create(self, uow: PublisherUoW, access: HandleAccess, *, files: Mapping[str, tuple[bytes, str]],
                     message: str, base_on_live: bool) -> DeploymentView:
        manifest: dict[str, dict[str, Any]] = {}
        bindings: list[dict[str, Any]] = []
        repo = uow.sites  # type: ignore[attr-defined]
        if base_on_live:
            live_id = await self._live_id(uow, access.handle)
            live = await repo.get_deployment(access.handle, live_id) if live_id else None
            if live is not None:
                manifest = {p: {"sha256": e.sha256, "size": e.size, "contentType": e.content_type}
                            for p, e in live.manifest.items()}
                bindings = [{"route": b.route, "function": b.function, "config": dict(b.config)}
                            for b in await repo.bindings_for(live.id)]
        blobs: dict[str, bytes] = {}
        for path, (data, ctype) in files.items():
            sha = hashlib.sha256(data).hexdigest()
            manifest[path] = {"sha256": sha, "size": len(data), "contentType": ctype or content_type_for(path)}
            blobs[sha] = data
        body: dict[str, Any] = {"manifest": manifest, "message": message}
        if bindings:
            body["functionBindings"] = bindings
        dep, missing = await self.service.create_deployment(uow, access, body)  # type: ignore[arg-type]
        for sha in missing:
            if sha in blobs:
                dep = await self.service.upload_blob(uow, access, dep.id, sha, _once(blobs[sha]))  # type: ignore[arg-type]
        return self._view(dep, await self._live_id(uow, access.handle))

    async def create_from_manifest(self, uow: PublisherUoW, access: HandleAccess, *,
                                   manifest: Mapping[str, Any], message: str) -> tuple[DeploymentView, Sequence[str]]:
        dep, missing = await self.service.create_deployment(
            uow, access, {"manifest": manifest, "message": message})  # type: ignore[arg-type]
        return self._view(dep, await self._live_id(uow, access.handle)), tuple(missing)

    async def cancel(self, uow: PublisherUoW, access: HandleAccess, deployment_id: str,
                     reason: str) -> DeploymentView:
        repo = uow.sites  # type: ignore[attr-defined]
        dep = await repo.get_deployment(access.handle, deployment_id)
        if dep is None:
            raise Conflict("invalid_transition", f"Deployment `{deployment_id}` cannot be cancelled.")
        dep = transition(dep, DeploymentStatus.FAILED, failed_reason=reason)
        await repo.update_deployment(dep)
        await audit(uow, self.service.clock, self.service.ids, access, "site.deployment.cancel", dep.id,
                    detail=reason)
        return self._view(dep, await self._live_id(uow, access.handle))

    async def promote(self, uow: PublisherUoW, access: HandleAccess, deployment_id: str) -> DeploymentView:
        dep, site, _ = await self.service.promote(uow, access, deployment_id, None)  # type: ignore[arg-type]
        return self._view(dep, site.live_deployment_id)

    def file_url(self, handle: str, deployment_id: str, path: str) -> str:
        return f"/v2/handles/{handle}/site-deployments/{deployment_id}/preview/{path}"
