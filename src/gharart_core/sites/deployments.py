"""Sites: deployments — create (manifest or archive), blob uploads, list/get, promote and
rollback, preview (SPEC §5, A.3)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.errors import Conflict, FieldError, PreconditionRequired, ValidationFailed
from ..shared.pagination import Page, decode_cursor, encode_cursor, validate_limit
from .archive import extract_archive
from .base import BlobUpload, SitesCore, blob_key
from .model import (
    SERVABLE,
    Deployment,
    DeploymentStatus,
    FunctionBinding,
    ManifestEntry,
    Site,
    content_type_for,
    is_sha256,
    transition,
)
from .ports import SitesUoW
from .validation import check_message, parse_create, require_object

__all__ = ["DeploymentsMixin"]

_S = DeploymentStatus


class DeploymentsMixin(SitesCore):
    async def create_deployment(self, uow: SitesUoW, access: HandleAccess, body: Any) -> tuple[Deployment, list[str]]:
        """Create from a manifest; answer the deployment and the digests still to upload."""
        authorize(access, Action.SITES_WRITE)
        manifest, message, specs = parse_create(
            body, self.functions, max_files=self.limits.max_files, max_blob_bytes=self.limits.max_blob_bytes
        )
        digests = {e.sha256 for e in manifest.values()}
        missing = digests - await uow.sites.stored_blobs(access.handle, digests)
        dep = Deployment(
            self.ids.new("dep"),
            access.handle,
            _S.PENDING,
            manifest,
            message or "",
            access.actor_id,
            self.clock.now(),
            frozenset(missing),
        )
        await uow.sites.add_deployment(dep)
        await self._add_bindings(uow, access.handle, dep.id, specs)
        if not missing:
            dep = await self._finish(uow, dep)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.deployment.create",
            dep.id,
            detail=f"{len(manifest)} files, {len(missing)} blobs required",
        )
        return dep, sorted(missing)

    async def create_from_archive(
        self, uow: SitesUoW, access: HandleAccess, data: bytes, media_type: str, message: str | None
    ) -> tuple[Deployment, list[str]]:
        authorize(access, Action.SITES_WRITE)
        if message is not None and (errs := check_message(message, "message")):
            raise ValidationFailed(detail=errs[0].message, errors=errs)
        files = extract_archive(data, media_type, self.limits.archive)
        manifest: dict[str, ManifestEntry] = {}
        blobs: dict[str, bytes] = {}
        for path, content in files:
            sha = hashlib.sha256(content).hexdigest()
            manifest[path] = ManifestEntry(sha, len(content), content_type_for(path))
            blobs[sha] = content
        stored = await uow.sites.stored_blobs(access.handle, blobs)
        for sha, content in blobs.items():
            if sha not in stored:
                await self.store.put_bytes(blob_key(access.handle, sha), content)
                await uow.sites.add_blob(access.handle, sha, len(content))
        dep = Deployment(
            self.ids.new("dep"),
            access.handle,
            _S.PENDING,
            manifest,
            message or "",
            access.actor_id,
            self.clock.now(),
            source="archive",
        )
        await uow.sites.add_deployment(dep)
        dep = await self._finish(uow, dep)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.deployment.create",
            dep.id,
            detail=f"archive, {len(manifest)} files",
        )
        return dep, []

    async def upload_blob(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        deployment_id: str,
        sha256: str,
        chunks: AsyncIterator[bytes],
    ) -> Deployment:
        """:meth:`receive_blob`, answering the whole deployment afterwards."""
        res = await self.receive_blob(uow, access, deployment_id, sha256, chunks)
        return await self._get(uow, access.handle, res.deployment_id)

    async def check_blob(self, uow: SitesUoW, access: HandleAccess, deployment_id: str, sha256: str) -> str:
        """The checks before a blob's body is read: the deployment exists and names the digest.
        Answers the normalised digest. Run it on a read-only unit so nothing is locked while the
        body streams (the HTTP route does; :meth:`receive_blob` runs it itself otherwise)."""
        authorize(access, Action.SITES_WRITE)
        sha = sha256.lower() if isinstance(sha256, str) else ""
        if is_sha256(sha) and deployment_id in dict(await uow.sites.waiting_for(access.handle, sha)):
            return sha
        dep = await self._get(uow, access.handle, deployment_id)
        if not is_sha256(sha):
            raise ValidationFailed(
                detail="The digest must be 64 hex characters.",
                errors=[FieldError("sha256", "invalid_digest", "64 hex characters")],
            )
        if sha not in {e.sha256 for e in dep.manifest.values()}:
            raise ValidationFailed(
                detail=f"`{sha}` is not in deployment `{dep.id}`'s manifest.",
                errors=[FieldError("sha256", "not_in_manifest", "upload only digests the manifest names")],
            )
        return sha

    async def receive_blob(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        deployment_id: str,
        sha256: str,
        chunks: AsyncIterator[bytes],
        *,
        checked: bool = False,
    ) -> BlobUpload:
        """Store one blob (digest verified while streaming) and complete every pending deployment
        of the handle that was waiting for it. Costs one small read per waiting deployment: the
        manifest is only loaded to explain a refusal or to finish a deployment. ``checked``: the
        caller ran :meth:`check_blob` already; ``uow`` is first used once the blob is stored."""
        if checked:
            authorize(access, Action.SITES_WRITE)
            sha = sha256.lower()
        else:
            sha = await self.check_blob(uow, access, deployment_id, sha256)  # authorizes too
        info = await self.store.put_stream(
            blob_key(access.handle, sha), chunks, max_bytes=self.limits.max_blob_bytes, expected_sha256=sha
        )
        waiting = dict(await uow.sites.waiting_for(access.handle, sha))
        # add_blob is idempotent; a digest some deployment still waits for is not stored yet
        if waiting or not await uow.sites.stored_blobs(access.handle, [sha]):
            await uow.sites.add_blob(access.handle, sha, info.size)
        result = None
        for dep_id, missing in waiting.items():
            remaining = missing - {sha}
            await uow.sites.set_missing(dep_id, remaining)
            status = DeploymentStatus.PENDING
            if not remaining:
                pending = await uow.sites.get_deployment(access.handle, dep_id)
                assert pending is not None
                status = (await self._finish(uow, attrs.evolve(pending, missing=frozenset()))).status
                # one audit entry per completed deployment, not one per blob (a deploy makes thousands)
                await record(uow, self.clock, self.ids, access, f"site.deployment.{status.value}", dep_id)
            if dep_id == deployment_id:
                result = BlobUpload(dep_id, sha, info.size, status, len(remaining))
        if result is None:
            dep = await self._get(uow, access.handle, deployment_id)
            result = BlobUpload(dep.id, sha, info.size, dep.status, len(dep.missing))
        return result

    async def list_deployments(
        self, uow: SitesUoW, access: HandleAccess, *, cursor: str | None = None, limit: int | None = None
    ) -> tuple[Page[Deployment], Site]:
        authorize(access, Action.SITES_READ)
        n = validate_limit(limit)
        key = decode_cursor(cursor)
        before = str(key[0]) if key else None
        rows = list(await uow.sites.list_deployments(access.handle, before_id=before, limit=n + 1))
        nxt = encode_cursor([rows[n - 1].id]) if len(rows) > n else None
        return Page(rows[:n], nxt), await self._site(uow, access.handle)

    async def get_deployment(
        self, uow: SitesUoW, access: HandleAccess, deployment_id: str
    ) -> tuple[Deployment, list[FunctionBinding], Site]:
        authorize(access, Action.SITES_READ)
        dep = await self._get(uow, access.handle, deployment_id)
        return dep, list(await uow.sites.bindings_for(dep.id)), await self._site(uow, access.handle)

    def _check_expected(self, body: dict[str, Any], site: Site) -> None:
        expected = body["expectedLiveDeploymentId"]
        if expected is not None and not isinstance(expected, str):
            raise ValidationFailed(
                detail="expectedLiveDeploymentId must be a string or null",
                errors=[FieldError("expectedLiveDeploymentId", "invalid_type", "a deployment id or null")],
            )
        if expected != site.live_deployment_id:
            raise Conflict(
                "version_conflict",
                "The live deployment is not the one you expected; reload and retry.",
                extra={"currentLiveDeploymentId": site.live_deployment_id},
            )

    async def _move_live(
        self, uow: SitesUoW, access: HandleAccess, site: Site, target: Deployment, *, rollback: bool,
        reason: str | None = None,
    ) -> tuple[Deployment, Site, Deployment | None]:
        """Point the site at ``target`` (a rollback marks the old live deployment ``rolled_back``) and
        audit the move as ``site.promote`` or ``site.rollback``."""
        before = site.live_deployment_id
        previous = None
        if site.live_deployment_id and site.live_deployment_id != target.id:
            previous = await uow.sites.get_deployment(access.handle, site.live_deployment_id)
            if previous is not None and rollback and previous.status is _S.DEPLOYED:
                previous = transition(previous, _S.ROLLED_BACK)
                await uow.sites.update_deployment(previous)
        if target.status is _S.ROLLED_BACK:
            target = transition(target, _S.DEPLOYED)
            await uow.sites.update_deployment(target)
        new_site = await self._save_site(uow, site, attrs.evolve(site, live_deployment_id=target.id))
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site.rollback" if rollback else "site.promote",
            target.id,
            before=new_site.version - 1,
            after=new_site.version,
            detail=f"live: {before} -> {target.id}" + (f"; reason: {reason}" if reason else ""),
        )
        return target, new_site, previous

    async def promote(
        self, uow: SitesUoW, access: HandleAccess, deployment_id: str, body: Any
    ) -> tuple[Deployment, Site, Deployment | None]:
        authorize(access, Action.SITES_ADMIN)
        body = {} if body is None else require_object(body)
        dep = await self._get(uow, access.handle, deployment_id)
        site = await self._site(uow, access.handle)
        if "expectedLiveDeploymentId" in body:
            self._check_expected(body, site)
        if dep.status not in SERVABLE:
            raise Conflict(
                "invalid_transition",
                f"Deployment `{dep.id}` is `{dep.status.value}`; only deployed or rolled_back deployments can go live.",
                extra={"status": dep.status.value, "missing": _missing(dep)},
            )
        if site.require_replay_gate:
            await self.replay_gate.check(uow, access.handle, dep.id)
        return await self._move_live(uow, access, site, dep, rollback=False)

    async def rollback(
        self, uow: SitesUoW, access: HandleAccess, body: Any
    ) -> tuple[Deployment, Site, Deployment | None]:
        authorize(access, Action.SITES_ADMIN)
        body = require_object(body)
        errors = []
        target_id = body.get("targetDeploymentId")
        if target_id is None:
            errors.append(FieldError("targetDeploymentId", "required", "targetDeploymentId is required"))
        elif not isinstance(target_id, str):
            errors.append(FieldError("targetDeploymentId", "invalid_type", "a deployment id"))
        reason = body.get("reason")
        errors += check_message(reason, "reason")
        if errors:
            raise ValidationFailed(detail=errors[0].message, errors=errors)
        site = await self._site(uow, access.handle)
        if "expectedLiveDeploymentId" not in body:
            raise PreconditionRequired(
                "precondition_required",
                "Send expectedLiveDeploymentId (null when nothing is live).",
                extra={"currentLiveDeploymentId": site.live_deployment_id},
            )
        target = await uow.sites.get_deployment(access.handle, target_id)
        if target is None:
            raise ValidationFailed(
                detail=f"Deployment `{target_id}` was not found.",
                errors=[FieldError("targetDeploymentId", "deployment_not_found", f"`{target_id}` was not found")],
            )
        self._check_expected(body, site)
        if target.status not in SERVABLE:
            raise Conflict(
                "invalid_transition",
                f"Deployment `{target.id}` is `{target.status.value}`; roll back to a deployed or "
                "rolled_back deployment.",
                extra={"status": target.status.value},
            )
        if target.id == site.live_deployment_id:
            raise Conflict(
                "already_current",
                f"Deployment `{target.id}` is already live.",
                extra={"currentLiveDeploymentId": site.live_deployment_id},
            )
        return await self._move_live(uow, access, site, target, rollback=True, reason=reason)

    async def preview(
        self,
        uow: SitesUoW,
        access: HandleAccess,
        deployment_id: str,
        path: str = "",
        *,
        if_none_match: str | None = None,
        method: str = "GET",
        query: str = "",
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> Any:
        authorize(access, Action.SITES_READ)
        return await self.serve_preview(
            uow,
            access.handle,
            deployment_id,
            path,
            if_none_match=if_none_match,
            method=method,
            query=query,
            headers=headers,
            body=body,
        )

    async def record_preview(self, uow: SitesUoW, handle: str, deployment_id: str) -> None:
        dep = await uow.sites.get_deployment(handle, deployment_id)
        if dep is not None:
            await uow.sites.update_deployment(attrs.evolve(dep, previewed_at=self.clock.now()))


def _missing(dep: Deployment) -> list[dict[str, str]]:
    return [{"path": p, "sha256": s} for p, s in dep.missing_paths()]
