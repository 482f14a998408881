"""Files use cases: upload, edit, delete, shares, magic links, public download, purge.

The use cases live in cohesive modules (``uploads``, ``sharing``, ``downloads``) as mixins over
``FilesServiceBase``; this module assembles ``FilesService`` and keeps the historical names importable.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.errors import Conflict, FieldError, PreconditionFailed, ValidationFailed
from ..shared.pagination import Page, validate_limit
from .base import DEFAULT_MAX_FILE_BYTES, not_found
from .base import DEFAULT_RETENTION_S as DEFAULT_RETENTION_S  # re-exported: pre-split name
from .downloads import DownloadsMixin
from .model import File, parse_expires_at, parse_mode, parse_tags, validate_name
from .ports import FilesUoW
from .sharing import MAGIC_LINK_BYTES, SharingMixin
from .sharing import MAX_RECIPIENTS as MAX_RECIPIENTS  # re-exported: pre-split name
from .uploads import _UPLOAD_FIELDS as _UPLOAD_FIELDS  # re-exported: pre-split name
from .uploads import QuotaHook as QuotaHook  # re-exported: pre-split name
from .uploads import UploadField, UploadFile, UploadsMixin

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "MAGIC_LINK_BYTES",
    "FilesService",
    "UploadField",
    "UploadFile",
]

# kept importable from here for callers of the pre-split module
_not_found = not_found


class FilesService(UploadsMixin, SharingMixin, DownloadsMixin):
    """The files use cases; construction and shared lookups come from ``FilesServiceBase``."""

    # -- reads ----------------------------------------------------------------------------------------

    async def get(self, uow: FilesUoW, access: HandleAccess, file_id: str) -> File:
        authorize(access, Action.FILES_READ)
        return await self._live(uow, access, file_id)

    async def list_files(
        self,
        uow: FilesUoW,
        access: HandleAccess,
        *,
        mode: str | None = None,
        expired: str | bool | None = None,
        tag: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[File]:
        authorize(access, Action.FILES_READ)
        limit = validate_limit(limit)
        mode_v = parse_mode(mode) if mode not in (None, "") else None
        expired_v: bool | None
        if expired in (None, ""):
            expired_v = None
        elif isinstance(expired, bool):
            expired_v = expired
        elif isinstance(expired, str) and expired.lower() in ("true", "1", "false", "0"):
            expired_v = expired.lower() in ("true", "1")
        else:
            raise ValidationFailed(errors=[FieldError("expired", "invalid_boolean", "expected true or false")])
        return await uow.files.list(
            access.handle,
            now=self.clock.now(),
            mode=mode_v,
            expired=expired_v,
            tag=tag or None,
            cursor=cursor,
            limit=limit,
        )

    # -- edits ----------------------------------------------------------------------------------------
    async def update(
        self, uow: FilesUoW, access: HandleAccess, file_id: str, body: object, *, if_match: int | None = None
    ) -> File:
        authorize(access, Action.FILES_WRITE)
        if not isinstance(body, dict):
            raise ValidationFailed(errors=[FieldError("body", "invalid_type", "expected a JSON object")])
        file = await self._live(uow, access, file_id)
        changes: dict[str, Any] = {}
        errors: list[FieldError] = []
        expected = body.get("expectedVersion")
        if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
            errors.append(FieldError("expectedVersion", "invalid_type", "expected an integer"))
        for field, attr, parse in (
            ("mode", "mode", parse_mode),
            ("name", "name", validate_name),
            ("tags", "tags", parse_tags),
            ("expiresAt", "expires_at", parse_expires_at),
        ):
            if field not in body:
                continue
            if field in ("mode", "name", "tags") and body[field] is None:
                errors.append(FieldError(field, "invalid_type", f"{field} cannot be null"))
                continue
            try:
                changes[attr] = parse(body[field])
            except ValidationFailed as exc:
                errors.extend(exc.errors)
        if errors:
            raise ValidationFailed(errors=errors)
        if if_match is not None and if_match != file.version:
            raise PreconditionFailed(
                "version_conflict",
                "The file changed since you read it.",
                extra={"currentVersion": file.version},
            )
        if expected is not None and expected != file.version:
            raise Conflict(
                "version_conflict",
                "The file changed since you read it.",
                extra={"currentVersion": file.version},
            )
        changes = {k: v for k, v in changes.items() if getattr(file, k) != v}
        if not changes:
            return file
        if "mode" in changes:  # only a mode change invalidates issued links
            changes["access_version"] = file.access_version + 1
        new = attrs.evolve(file, **changes, version=file.version + 1, updated_at=self.clock.now())
        if not await uow.files.update(new, expected_version=file.version):
            current = await uow.files.get(file.id)
            raise Conflict(
                "version_conflict",
                "The file changed since you read it.",
                extra={"currentVersion": current.version if current else None},
            )
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "file.update",
            file.id,
            before=file.version,
            after=new.version,
            detail=",".join(sorted(k for k in changes if k != "access_version")),
        )
        return new

    async def delete(self, uow: FilesUoW, access: HandleAccess, file_id: str) -> None:
        """Soft delete: links stop at once; bytes go after the retention window. Repeats are no-ops."""
        authorize(access, Action.FILES_WRITE)
        file = await uow.files.get(file_id) if isinstance(file_id, str) else None
        if file is None or file.handle != access.handle:
            raise not_found(file_id)
        if file.is_deleted:
            return
        now = self.clock.now()
        new = attrs.evolve(file, deleted_at=now, version=file.version + 1, updated_at=now)
        if not await uow.files.update(new, expected_version=file.version):
            raise Conflict("version_conflict", "The file changed while deleting it.")
        await record(uow, self.clock, self.ids, access, "file.delete", file.id, before=file.version, after=new.version)
