"""Deployment records: the IGNY8 view over the sites domain's deployments.

A deployment record *is* a sites deployment (same ``dep_…`` id, same status from the same state
machine), seen with tenant fields: ``account_id`` (the handle's account), ``site_id`` (the
handle) and ``sector_id`` plus free ``metadata`` kept by the publisher. Creating one creates a
sites deployment, so ``/v2`` sees it; a ``/v2`` deployment shows up here with sector ``default``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..identity.model import HandleAccess, Principal
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record as audit
from ..shared.clock import Clock
from ..shared.errors import FieldError, NotFound, ValidationFailed
from ..shared.ids import IdGenerator, is_valid_id
from .destinations import validate_site_path
from .model import DEFAULT_SECTOR, validate_sector
from .ports import DeploymentMeta, DeploymentView, PublisherUoW, SitesGateway
from .service import PublisherService
from .validation import collect

__all__ = ["DEPLOYMENT_STATUSES", "PATCH_MOVES", "DeploymentRecord", "DeploymentRecordService"]

DEPLOYMENT_STATUSES = ("pending", "deploying", "deployed", "failed", "rolled_back")
#: Status changes a PATCH may ask for, each done by the sites service: cancelling a deployment
#: that is still waiting (-> failed) and bringing a rolled-back release live again (-> deployed).
PATCH_MOVES: Mapping[str, frozenset[str]] = {
    "pending": frozenset({"failed"}),
    "deploying": frozenset({"failed"}),
    "rolled_back": frozenset({"deployed"}),
    "deployed": frozenset(),
    "failed": frozenset(),
}
_MAX_FILES = 1000
_MAX_METADATA = 64 * 1024


@attrs.frozen
class DeploymentRecord:
    id: str
    account_id: str
    site_id: str
    sector_id: str
    status: str
    message: str
    deployment_url: str | None
    is_live: bool
    error: str | None
    metadata: Mapping[str, Any]
    file_count: int
    missing_blobs: int
    created_by: str | None
    deployed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    required: tuple[str, ...] = ()


def _metadata(value: object) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(repr(value)) > _MAX_METADATA:
        raise ValidationFailed(errors=[FieldError("metadata", "invalid", "Expected an object (at most 64 KiB).")])
    return value


def _files(value: object) -> dict[str, tuple[bytes, str]]:
    if not isinstance(value, dict) or len(value) > _MAX_FILES:
        raise ValidationFailed(errors=[FieldError(
            "files", "invalid", f"Expected an object of path -> text content (at most {_MAX_FILES}).")])
    out: dict[str, tuple[bytes, str]] = {}
    errors: list[FieldError] = []
    for path, content in value.items():
        collect(errors, validate_site_path, path, f"files.{path}")
        if not isinstance(content, str):
            errors.append(FieldError(f"files.{path}", "invalid", "File content is a string."))
        elif not errors:
            out[path] = (content.encode("utf-8"), "")
    if errors:
        raise ValidationFailed(errors=errors)
    return out


def _message(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 1000 or "\x00" in value:
        raise ValidationFailed(errors=[FieldError("message", "invalid", "A string of at most 1000 characters.")])
    return value


class DeploymentRecordService:
    def __init__(self, clock: Clock, ids: IdGenerator, publisher: PublisherService, sites: SitesGateway) -> None:
        self.clock = clock
        self.ids = ids
        self.publisher = publisher
        self.sites = sites

    def _view(self, dep: DeploymentView, account_id: str, meta: DeploymentMeta | None,
              required: Sequence[str] = ()) -> DeploymentRecord:
        updated = max(t for t in (dep.created_at, dep.deployed_at, meta.updated_at if meta else None) if t)
        return DeploymentRecord(
            id=dep.id, account_id=account_id, site_id=dep.handle,
            sector_id=meta.sector_id if meta else DEFAULT_SECTOR, status=dep.status, message=dep.message,
            deployment_url=dep.preview_url, is_live=dep.live, error=dep.error,
            metadata=dict(meta.metadata) if meta else {}, file_count=dep.file_count,
            missing_blobs=dep.missing_blobs, created_by=dep.created_by, deployed_at=dep.deployed_at,
            created_at=dep.created_at, updated_at=updated, required=tuple(required))

    async def _handles(self, uow: PublisherUoW, principal: Principal, site_id: str | None) -> list[str]:
        """Handles a list covers: the caller's, or for operators (who bypass the tenant filter) every
        handle; ``?site_id=`` narrows either."""
        scope = await self.publisher.scope(uow, principal, site_id=site_id)
        if scope.handles is not None:
            return sorted(scope.handles)
        return list(await uow.identity.all_handles())

    async def _accounts(self, uow: PublisherUoW, handles: Sequence[str]) -> dict[str, str]:
        out = {}
        for h in handles:
            handle = await uow.identity.get_handle(h)
            if handle is not None:
                out[h] = handle.account_id
        return out

    async def list(self, uow: PublisherUoW, principal: Principal, *, site_id: str | None = None,
                   sector_id: str | None = None, account_id: str | None = None, status: str | None = None,
                   offset: int = 0, limit: int = 10) -> tuple[list[DeploymentRecord], int]:
        if status is not None and status not in DEPLOYMENT_STATUSES:
            raise ValidationFailed(errors=[FieldError(
                "status", "invalid_choice", f'"{status}" is not a valid choice.')])
        handles = await self._handles(uow, principal, site_id)
        accounts = await self._accounts(uow, handles)
        handles = [h for h in handles if h in accounts and (account_id is None or accounts[h] == account_id)]
        metas = await uow.deployment_meta.for_handles(handles) if handles else {}
        rows = []
        for dep in await self.sites.list(uow, handles) if handles else []:
            meta = metas.get(dep.id)
            if meta is not None and meta.deleted_at is not None:
                continue
            rec = self._view(dep, accounts[dep.handle], meta)
            if (sector_id is None or rec.sector_id == sector_id) and (status is None or rec.status == status):
                rows.append(rec)
        rows.sort(key=lambda r: r.id, reverse=True)
        return rows[offset:offset + limit], len(rows)

    async def _load(self, uow: PublisherUoW, principal: Principal, deployment_id: str, action: Action,
                    request_id: str | None) -> tuple[DeploymentRecord, HandleAccess]:
        not_found = NotFound("deployment_not_found", "No deployment record with that id.")
        if not is_valid_id(deployment_id, "dep"):
            raise not_found
        meta = await uow.deployment_meta.get(deployment_id)
        if meta is not None and meta.deleted_at is not None:
            raise not_found
        owner = meta.handle if meta is not None else await self.sites.handle_of(uow, deployment_id)
        dep = await self.sites.get(uow, [owner], deployment_id) if owner is not None else None
        if dep is None:
            raise not_found
        try:
            access = await self.publisher.identity.resolve(uow, principal, dep.handle, request_id)
        except NotFound:
            raise not_found from None
        authorize(access, action)
        return self._view(dep, access.account_id, meta), access

    async def get(self, uow: PublisherUoW, principal: Principal, deployment_id: str,
                  request_id: str | None = None) -> DeploymentRecord:
        rec, _ = await self._load(uow, principal, deployment_id, Action.SITES_READ, request_id)
        return rec

    async def create(self, uow: PublisherUoW, principal: Principal, data: Mapping[str, Any],
                     request_id: str | None = None) -> DeploymentRecord:
        """Body: ``site_id``, optional ``sector_id``, ``message``, ``metadata`` and either ``files``
        ({path: text}, stored at once: the deployment completes), a ``/v2`` ``manifest`` (blobs
        then go through ``PUT /v2/.../files/{sha256}``), or neither (a redeploy of the live files)."""
        if not isinstance(data, Mapping):
            raise ValidationFailed(errors=[FieldError("non_field_errors", "invalid",
                                                      "Invalid data. Expected a dictionary.")])
        errors: list[FieldError] = []
        site_id = data.get("site_id")
        if site_id in (None, ""):
            errors.append(FieldError("site_id", "required", "This field is required."))
        elif not isinstance(site_id, str):
            errors.append(FieldError("site_id", "invalid", "Not a valid string."))
        sector = collect(errors, validate_sector, data.get("sector_id"))
        metadata = collect(errors, _metadata, data.get("metadata"))
        message = collect(errors, _message, data.get("message"))
        files = collect(errors, _files, data["files"]) if data.get("files") is not None else None
        manifest = data.get("manifest")
        if manifest is not None and files is not None:
            errors.append(FieldError("manifest", "invalid", "Send `files` or `manifest`, not both."))
        if "status" in data and data["status"] not in (None, "pending"):
            errors.append(FieldError("status", "invalid_transition",
                                     "A deployment starts as `pending`; the sites service moves it on."))
        if errors:
            raise ValidationFailed(errors=errors)
        assert isinstance(site_id, str)
        access = await self.publisher.site_access(uow, principal, site_id, Action.SITES_WRITE, request_id)
        required: Sequence[str] = ()
        if manifest is not None:
            dep, required = await self.sites.create_from_manifest(uow, access, manifest=manifest,
                                                                  message=message or "")
        else:
            dep = await self.sites.create(uow, access, files=files or {}, message=message or "",
                                          base_on_live=files is None)
        meta = DeploymentMeta(dep.id, access.handle, sector or DEFAULT_SECTOR, dict(metadata or {}),
                              self.clock.now())
        await uow.deployment_meta.put(meta)
        await audit(uow, self.clock, self.ids, access, "publisher.deployment.create", dep.id)
        return self._view(dep, access.account_id, meta, required)

    async def update(self, uow: PublisherUoW, principal: Principal, deployment_id: str, data: Mapping[str, Any],
                     *, partial: bool, request_id: str | None = None) -> DeploymentRecord:
        """Writable: ``sector_id``, ``metadata`` and ``status`` along :data:`PATCH_MOVES` (the same
        status is a no-op; anything else is 400 ``errors.status``). A release's files and message
        are immutable, as on ``/v2``."""
        rec, access = await self._load(uow, principal, deployment_id, Action.SITES_WRITE, request_id)
        if not isinstance(data, Mapping):
            raise ValidationFailed(errors=[FieldError("non_field_errors", "invalid",
                                                      "Invalid data. Expected a dictionary.")])
        errors: list[FieldError] = []
        if not partial and data.get("site_id") in (None, ""):
            errors.append(FieldError("site_id", "required", "This field is required."))
        for name, current in (("site_id", rec.site_id), ("account_id", rec.account_id)):
            if data.get(name) not in (None, current):
                errors.append(FieldError(name, "read_only", "A deployment cannot move to another tenant."))
        sector = collect(errors, validate_sector, data["sector_id"]) if "sector_id" in data else None
        metadata = collect(errors, _metadata, data["metadata"]) if "metadata" in data else None
        target = data.get("status")
        if target is not None and target != rec.status:
            if target not in DEPLOYMENT_STATUSES:
                errors.append(FieldError("status", "invalid_choice", f'"{target}" is not a valid choice.'))
            elif target not in PATCH_MOVES[rec.status]:
                allowed = ", ".join(sorted(PATCH_MOVES[rec.status])) or "none"
                errors.append(FieldError("status", "invalid_transition",
                                         f"Cannot move from `{rec.status}` to `{target}`; allowed: {allowed}."))
        if errors:
            raise ValidationFailed(errors=errors)
        if target is not None and target != rec.status:
            if target == "failed":
                reason = str(data.get("error") or "cancelled through the publisher API")[:500]
                await self.sites.cancel(uow, access, rec.id, reason)
            else:
                await self.sites.promote(uow, access, rec.id)
        meta = await uow.deployment_meta.get(rec.id) or DeploymentMeta(rec.id, rec.site_id, DEFAULT_SECTOR, {})
        new_meta = attrs.evolve(meta, sector_id=sector if sector is not None else meta.sector_id,
                                metadata=dict(metadata) if metadata is not None else meta.metadata)
        if new_meta != meta or (target is not None and target != rec.status):
            await uow.deployment_meta.put(attrs.evolve(new_meta, updated_at=self.clock.now()))
            await audit(uow, self.clock, self.ids, access, "publisher.deployment.update", rec.id,
                        detail=f"status {rec.status} -> {target}" if target and target != rec.status else None)
        rec, _ = await self._load(uow, principal, rec.id, Action.SITES_READ, request_id)
        return rec

    async def delete(self, uow: PublisherUoW, principal: Principal, deployment_id: str,
                     request_id: str | None = None) -> None:
        """Hide the record from this API. The sites deployment stays (releases are immutable and
        ``/v2`` keeps its history); one still waiting for blobs is cancelled. The live release
        cannot be deleted (400): roll back or promote another one first."""
        rec, access = await self._load(uow, principal, deployment_id, Action.SITES_WRITE, request_id)
        if rec.is_live:
            raise ValidationFailed(errors=[FieldError(
                "non_field_errors", "deployment_live",
                "The live deployment cannot be deleted; promote another first.")])
        if rec.status in ("pending", "deploying"):
            await self.sites.cancel(uow, access, rec.id, "deleted through the publisher API")
        meta = await uow.deployment_meta.get(rec.id) or DeploymentMeta(rec.id, rec.site_id, DEFAULT_SECTOR, {})
        now = self.clock.now()
        await uow.deployment_meta.put(attrs.evolve(meta, deleted_at=now, updated_at=now))
        await audit(uow, self.clock, self.ids, access, "publisher.deployment.delete", rec.id)

    async def summary(self, uow: PublisherUoW, principal: Principal, handles: Sequence[str]
                      ) -> dict[str, dict[str, Any]]:
        """Per site: the live deployment id and deployment counts by status."""
        out: dict[str, dict[str, Any]] = {}
        for dep in await self.sites.list(uow, list(handles)) if handles else []:
            entry = out.setdefault(dep.handle, {"live_deployment_id": None,
                                                "counts": dict.fromkeys(DEPLOYMENT_STATUSES, 0)})
            entry["counts"][dep.status] = entry["counts"].get(dep.status, 0) + 1
            if dep.live:
                entry["live_deployment_id"] = dep.id
        return out
