"""Publishing use cases behind the IGNY8-compatible API (SPEC §10, A.5).

Every method takes the caller's unit of work and :class:`Principal`; the handle (``site_id``)
comes from the body or from the stored record, so access is resolved here: a record on a
handle the caller cannot see is 404 (no cross-tenant existence oracle); reads need
``sites:read`` and the viewer role, writes ``sites:write`` and the editor role.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..identity.model import HandleAccess, Principal
from ..identity.policy import Action, authorize
from ..identity.service import IdentityService
from ..shared.audit_helpers import record as audit
from ..shared.clock import Clock
from ..shared.errors import Conflict, FieldError, NotFound, ValidationFailed
from ..shared.ids import IdGenerator, is_valid_id
from .model import (
    InvalidTransition,
    PublishingRecord,
    PublishStatus,
    parse_status,
    transition,
    validate_content_id,
    validate_sector,
    validate_title,
)
from .ports import Destination, PublisherUoW
from .tenancy import TenantScope, list_scope
from .validation import collect, config_object, opt_text, opt_url, site_id_field

__all__ = ["PublishOutcome", "PublisherService", "SiteSummary"]

_ERROR_MAX = 2000
_CONFIG_MAX = 64 * 1024
_DESTINATION_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@attrs.frozen
class PublishOutcome:
    record: PublishingRecord
    attempted: bool  # False when the record was already published (idempotent no-op)


@attrs.frozen
class SiteSummary:
    site_id: str
    account_id: str
    counts: Mapping[str, int]
    total: int
    last_published_at: datetime | None


class PublisherService:
    def __init__(self, clock: Clock, ids: IdGenerator, identity: IdentityService,
                 destinations: Mapping[str, Destination]) -> None:
        self.clock = clock
        self.ids = ids
        self.identity = identity
        self.destinations = dict(destinations)

    # -- access ---------------------------------------------------------------
    async def scope(self, uow: PublisherUoW, principal: Principal, *, site_id: str | None = None,
                    sector_id: str | None = None, account_id: str | None = None) -> TenantScope:
        memberships = {h.handle: role for h, role in await uow.identity.handles_for_user(principal.user_id)}
        return list_scope(principal, memberships, scope="sites:read", site_id=site_id, sector_id=sector_id,
                          account_id=account_id)

    async def site_access(self, uow: PublisherUoW, principal: Principal, site_id: str, action: Action,
                          request_id: str | None, *, field: str | None = "site_id") -> HandleAccess:
        """Access to a site named in a body: an unknown or invisible site is a field error (as a
        DRF related field answers), or 404 when ``field`` is None."""
        try:
            access = await self.identity.resolve(uow, principal, site_id, request_id)
        except NotFound:
            if field is None:
                raise
            raise ValidationFailed(errors=[FieldError(
                field, "does_not_exist", f'Invalid pk "{site_id}" - object does not exist.')]) from None
        authorize(access, action)
        return access

    async def _load(self, uow: PublisherUoW, principal: Principal, record_id: str, action: Action,
                    request_id: str | None) -> tuple[PublishingRecord, HandleAccess]:
        not_found = NotFound("publishing_record_not_found", "No publishing record with that id.")
        record = await uow.publishing.get(record_id) if is_valid_id(record_id, "pub") else None
        if record is None:
            raise not_found
        try:
            access = await self.identity.resolve(uow, principal, record.site_id, request_id)
        except NotFound:
            raise not_found from None
        authorize(access, action)
        return record, access

    # -- reads ----------------------------------------------------------------
    async def list_records(self, uow: PublisherUoW, principal: Principal, *, site_id: str | None = None,
                           sector_id: str | None = None, account_id: str | None = None,
                           status: str | None = None, destination: str | None = None,
                           content_id: str | None = None, offset: int = 0,
                           limit: int = 10) -> tuple[Sequence[PublishingRecord], int]:
        scope = await self.scope(uow, principal, site_id=site_id, sector_id=sector_id, account_id=account_id)
        wanted = parse_status(status) if status is not None else None
        if scope.empty:
            return [], 0
        return await uow.publishing.list(scope, status=wanted, destination=destination, content_id=content_id,
                                         offset=offset, limit=limit)

    async def get_record(self, uow: PublisherUoW, principal: Principal, record_id: str,
                         request_id: str | None = None) -> PublishingRecord:
        record, _ = await self._load(uow, principal, record_id, Action.SITES_READ, request_id)
        return record

    async def summary(self, uow: PublisherUoW, principal: Principal, *, site_id: str | None = None,
                      sector_id: str | None = None) -> list[SiteSummary]:
        """Per-site record counts by status; every site in scope appears, even with no records."""
        scope = await self.scope(uow, principal, site_id=site_id, sector_id=sector_id)
        if scope.empty:
            return []
        rows = await uow.publishing.status_counts(scope)
        last = await uow.publishing.last_published(scope)
        sites: dict[str, tuple[str, dict[str, int]]] = {}
        for handle in sorted(scope.handles or ()):
            h = await uow.identity.get_handle(handle)
            if h is not None:
                sites[handle] = (h.account_id, {})
        for site, account, status, count in rows:
            sites.setdefault(site, (account, {}))[1][status] = count
        out = []
        for site, (account, counts) in sorted(sites.items()):
            full = {s.value: counts.get(s.value, 0) for s in PublishStatus}
            out.append(SiteSummary(site, account, full, sum(full.values()), last.get(site)))
        return out

    # -- writes ---------------------------------------------------------------
    def _destination_name(self, name: object) -> str:
        """A record may name any destination (IGNY8 clients record their own publishes, e.g.
        ``wordpress``); only the built-ins (:attr:`destinations`) can be delivered to."""
        if name is None or name == "":
            raise ValidationFailed(errors=[FieldError("destination", "required", "This field is required.")])
        if not isinstance(name, str) or not _DESTINATION_RE.match(name):
            raise ValidationFailed(errors=[FieldError(
                "destination", "invalid", "A destination is 1-40 lowercase letters, digits, `_` or `-`.")])
        return name

    def _deliverable(self, name: str) -> Destination:
        dest = self.destinations.get(name)
        if dest is None:
            choices = ", ".join(sorted(self.destinations))
            raise ValidationFailed(errors=[FieldError(
                "destination", "invalid_choice",
                f'"{name}" cannot be published to by this service; use one of: {choices}.')])
        return dest

    def _clean_config(self, errors: list[FieldError], name: str | None, raw: Mapping[str, Any] | None,
                      content: str | None, *, complete: bool) -> Mapping[str, Any] | None:
        if name is None or raw is None:
            return None
        dest = self.destinations.get(name)
        if dest is None:
            if complete:
                collect(errors, self._deliverable, name)
                return None
            if len(repr(raw)) > _CONFIG_MAX:
                errors.append(FieldError("config", "invalid", "At most 64 KiB of settings."))
                return None
            return raw
        try:
            return dest.validate(raw, content, complete=complete)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            return None

    async def create_record(self, uow: PublisherUoW, principal: Principal, data: Mapping[str, Any],
                            request_id: str | None = None) -> PublishingRecord:
        """Create a ``pending`` record (nothing is delivered until publish or retry)."""
        record, _ = await self._new_record(uow, principal, data, request_id)
        return record

    async def _new_record(self, uow: PublisherUoW, principal: Principal, data: Mapping[str, Any],
                          request_id: str | None, *, deliver: bool = False) -> tuple[PublishingRecord, HandleAccess]:
        if not isinstance(data, Mapping):
            raise ValidationFailed(errors=[FieldError("non_field_errors", "invalid",
                                                      "Invalid data. Expected a dictionary.")])
        errors: list[FieldError] = []
        site_id = collect(errors, site_id_field, data.get("site_id"))
        sector = collect(errors, validate_sector, data.get("sector_id"))
        content_id = collect(errors, validate_content_id, data.get("content_id"))
        title = collect(errors, validate_title, data.get("title"))
        dest = collect(errors, self._destination_name, data.get("destination"))
        raw_config = collect(errors, config_object, data.get("config"))
        content = collect(errors, opt_text, data.get("content"), "content", 10_000_000)
        config = self._clean_config(errors, dest, raw_config, content, complete=deliver)
        if "status" in data and data["status"] not in (None, PublishStatus.PENDING.value):
            status = collect(errors, parse_status, data["status"])
            if status is not None:
                errors.append(FieldError("status", "invalid_transition",
                                         "A new record starts as `pending`; publish it to move it on."))
        if errors:
            raise ValidationFailed(errors=errors)
        assert site_id is not None and dest is not None and config is not None
        access = await self.site_access(uow, principal, site_id, Action.SITES_WRITE, request_id)
        check = getattr(self.destinations.get(dest), "check_access", None)
        if check is not None:
            check(access, config)
        now = self.clock.now()
        record = PublishingRecord(
            id=self.ids.new("pub"), account_id=access.account_id, site_id=site_id,
            sector_id=sector or "default", content_id=content_id or "", destination=dest,
            title=title or "", status=PublishStatus.PENDING, created_at=now, updated_at=now,
            config=dict(config), content=content)
        await uow.publishing.add(record)
        await audit(uow, self.clock, self.ids, access, "publisher.record.create", record.id, after=record.version)
        return record, access

    async def update_record(self, uow: PublisherUoW, principal: Principal, record_id: str,
                            data: Mapping[str, Any], *, partial: bool,
                            request_id: str | None = None) -> PublishingRecord:
        """PUT (``partial=False``: the required fields must be present) or PATCH.

        Writable: ``title``, ``sector_id``, ``external_url``, ``error``, ``status`` (along the
        transition table only; the same status is a no-op), and while the record is not
        published, ``content_id``, ``content`` and ``config``. ``site_id``/``account_id`` cannot
        move a record to another tenant; other read-only fields are ignored, as DRF does.
        """
        record, access = await self._load(uow, principal, record_id, Action.SITES_WRITE, request_id)
        if not isinstance(data, Mapping):
            raise ValidationFailed(errors=[FieldError("non_field_errors", "invalid",
                                                      "Invalid data. Expected a dictionary.")])
        errors: list[FieldError] = []
        if not partial:
            for name in ("site_id", "content_id", "destination"):
                if data.get(name) in (None, ""):
                    errors.append(FieldError(name, "required", "This field is required."))
        changes: dict[str, Any] = {}
        for name, current in (("site_id", record.site_id), ("account_id", record.account_id)):
            if data.get(name) not in (None, current):
                errors.append(FieldError(name, "read_only", "A record cannot move to another tenant."))
        if "destination" in data and data["destination"] not in (None, record.destination):
            errors.append(FieldError("destination", "read_only",
                                     "The destination is fixed; create a new record instead."))
        if "title" in data:
            changes["title"] = collect(errors, validate_title, data["title"])
        if "sector_id" in data:
            changes["sector_id"] = collect(errors, validate_sector, data["sector_id"])
        if "external_url" in data:
            changes["external_url"] = collect(errors, opt_url, data["external_url"], "external_url")
        if "error" in data:
            changes["error"] = collect(errors, opt_text, data["error"], "error", _ERROR_MAX)
        mutable_content = record.status is not PublishStatus.PUBLISHED
        for name in ("content_id", "content", "config"):
            if name in data and data[name] is not None and not mutable_content:
                errors.append(FieldError(name, "read_only", "A published record's content is final."))
        if mutable_content:
            if data.get("content_id") is not None:
                changes["content_id"] = collect(errors, validate_content_id, data["content_id"])
            if "content" in data:
                changes["content"] = collect(errors, opt_text, data["content"], "content", 10_000_000)
            if data.get("config") is not None:
                raw = collect(errors, config_object, data["config"])
                new_config = self._clean_config(errors, record.destination, raw,
                                                changes.get("content", record.content), complete=False)
                if new_config is not None:
                    changes["config"] = dict(new_config)
        target = None
        if data.get("status") is not None:
            target = collect(errors, parse_status, data["status"])
        if errors:
            raise ValidationFailed(errors=errors)
        now = self.clock.now()
        updated = record
        if target is not None and target is not record.status:
            updated = transition(record, target, now, external_url=changes.get("external_url"),
                                 error=changes.get("error"))
        if changes:
            updated = attrs.evolve(updated, **changes)
        if updated == record:
            return record
        updated = attrs.evolve(updated, updated_at=now, version=record.version + 1)
        if not await uow.publishing.update(updated, expected_version=record.version):
            raise Conflict("version_conflict", "The record changed meanwhile; read it again.")
        await audit(uow, self.clock, self.ids, access, "publisher.record.update", record.id,
                    before=record.version, after=updated.version)
        return updated

    async def delete_record(self, uow: PublisherUoW, principal: Principal, record_id: str,
                            request_id: str | None = None) -> None:
        record, access = await self._load(uow, principal, record_id, Action.SITES_WRITE, request_id)
        await uow.publishing.delete(record.id)
        await audit(uow, self.clock, self.ids, access, "publisher.record.delete", record.id,
                    before=record.version)

    # -- publishing -----------------------------------------------------------
    async def publish(self, uow: PublisherUoW, principal: Principal, data: Mapping[str, Any],
                      request_id: str | None = None) -> PublishOutcome:
        """Publish a content item: a new record, delivered now. With ``publishing_record_id`` the
        body names an existing record instead, which is then published like a retry."""
        if isinstance(data, Mapping) and data.get("publishing_record_id") is not None:
            return await self.retry(uow, principal, str(data["publishing_record_id"]), request_id)
        record, access = await self._new_record(uow, principal, data, request_id, deliver=True)
        return await self._attempt(uow, access, record)

    async def retry(self, uow: PublisherUoW, principal: Principal, record_id: str,
                    request_id: str | None = None) -> PublishOutcome:
        """Deliver a ``pending`` or ``failed`` record again. A ``published`` record is left as it is
        (so a retried retry cannot publish twice); a record mid-attempt is 400 ``errors.status``."""
        record, access = await self._load(uow, principal, record_id, Action.SITES_WRITE, request_id)
        if record.status is PublishStatus.PUBLISHED:
            return PublishOutcome(record, attempted=False)
        if record.status is PublishStatus.PUBLISHING:
            raise InvalidTransition(record.status, PublishStatus.PUBLISHING)
        return await self._attempt(uow, access, record)

    async def _attempt(self, uow: PublisherUoW, access: HandleAccess, record: PublishingRecord) -> PublishOutcome:
        repo = uow.publishing
        dest = self._deliverable(record.destination)
        errors: list[FieldError] = []
        self._clean_config(errors, record.destination, record.config, record.content, complete=True)
        if errors:
            raise ValidationFailed(errors=errors)
        check = getattr(dest, "check_access", None)
        if check is not None:
            check(access, record.config)
        claimed = transition(record, PublishStatus.PUBLISHING, self.clock.now())
        # Claim first: on PostgreSQL a concurrent retry blocks on this row and then finds the
        # version moved on, so the destination is called once per attempt, never twice.
        if not await repo.update(claimed, expected_version=record.version):
            current = await repo.get(record.id)
            if current is not None and current.status is PublishStatus.PUBLISHED:
                return PublishOutcome(current, attempted=False)  # a concurrent retry got there first
            raise Conflict("publish_in_progress", "Another request is publishing this record.")
        result = await dest.deliver(uow, access, claimed, claimed.content)
        now = self.clock.now()
        if result.ok:
            final = transition(claimed, PublishStatus.PUBLISHED, now, external_url=result.external_url)
        else:
            final = transition(claimed, PublishStatus.FAILED, now, error=(result.error or "failed")[:_ERROR_MAX])
        if not await repo.update(final, expected_version=claimed.version):
            raise Conflict("publish_in_progress", "Another request is publishing this record.")
        await audit(uow, self.clock, self.ids, access, f"publisher.record.{final.status.value}", record.id,
                    before=record.version, after=final.version, detail=final.error)
        return PublishOutcome(final, attempted=True)
