"""Files use case: streaming multipart uploads into the object store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.errors import DomainError, FieldError, TooLarge, Unavailable, ValidationFailed
from .base import FilesServiceBase
from .model import File, FileMode, guess_type, parse_expires_at, parse_mode, parse_tags, sanitize_name, validate_name
from .ports import FilesUoW
from .sniff import SNIFF_BYTES, normalize_type, sniff, types_compatible

__all__ = ["QuotaHook", "UploadField", "UploadFile", "UploadsMixin"]

_UPLOAD_FIELDS = ("name", "mode", "expiresAt", "tags")


@attrs.frozen
class UploadField:
    """A plain multipart form field."""

    name: str
    value: str


@attrs.frozen
class UploadFile:
    """A multipart file part; ``chunks`` must be consumed (or abandoned) before the next part."""

    name: str
    filename: str | None
    content_type: str | None
    chunks: AsyncIterator[bytes]


QuotaHook = Callable[[int], Awaitable[None]]


class UploadsMixin(FilesServiceBase):
    # -- upload ---------------------------------------------------------------------------------------
    async def upload(
        self,
        uow: FilesUoW,
        access: HandleAccess,
        parts: AsyncIterator[UploadField | UploadFile],
        *,
        quota: QuotaHook | None = None,
    ) -> File:
        """Stream the ``file`` part into the object store and record the file.

        The size limit and the content sniff are enforced while streaming; any failure after bytes
        reached the store deletes them again, so a refused or failed upload leaves nothing behind.
        """
        authorize(access, Action.FILES_WRITE)
        file_id = self.ids.new("fil")
        key = f"files/{file_id}"
        fields: dict[str, str] = {}
        declared = ""
        original_name: str | None = None
        sniffed: str | None = None
        info = None
        started = False
        try:
            async for part in parts:
                if isinstance(part, UploadField):
                    if part.name == "tags" and "tags" in fields:  # repeated `-F tags=a -F tags=b`
                        fields["tags"] = f"{fields['tags']},{part.value}"
                        self._check_fields({"tags": fields["tags"]})
                    elif part.name in _UPLOAD_FIELDS and part.name not in fields:
                        fields[part.name] = part.value
                        self._check_fields({part.name: part.value})  # fail before any byte is stored
                    continue
                if part.name != "file":
                    async for _ in part.chunks:  # an unexpected file part: read past it
                        pass
                    continue
                if started:
                    raise ValidationFailed(errors=[FieldError("file", "duplicate", "send one `file` part")])
                started = True
                declared = normalize_type(part.content_type)
                original_name = part.filename
                head = bytearray()
                limit = self.max_file_bytes

                async def chunks(
                    src: AsyncIterator[bytes] = part.chunks,
                    head: bytearray = head,
                    limit: int = limit,
                    declared: str = declared,
                ) -> AsyncIterator[bytes]:
                    nonlocal sniffed
                    size = 0
                    checked = False
                    async for chunk in src:
                        size += len(chunk)
                        if size > limit:
                            raise TooLarge(
                                "file_too_large",
                                f"Files are limited to {limit} bytes.",
                                extra={"maxBytes": limit},
                            )
                        if not checked:
                            head += chunk[: SNIFF_BYTES - len(head)]
                            if len(head) >= SNIFF_BYTES:
                                sniffed = self._check_type(declared, bytes(head))
                                checked = True
                        yield chunk
                    if not checked:
                        sniffed = self._check_type(declared, bytes(head))

                try:
                    info = await self.store.put_stream(key, chunks(), max_bytes=self.max_file_bytes)
                except DomainError:
                    raise
                except Exception as exc:  # the store itself failed: nothing was recorded, retry later
                    raise Unavailable(
                        "object_store_unavailable", "The file store failed during the upload; nothing was kept, retry."
                    ) from exc
            if info is None:
                raise ValidationFailed(errors=[FieldError("file", "required", "a `file` part is required")])
            values = self._check_fields(fields)
            if quota is not None:
                await quota(info.size)
            now = self.clock.now()
            name = values["name"] if "name" in values else sanitize_name(original_name)
            content_type = self._resolve_type(declared, sniffed, name)
            file = File(
                id=file_id,
                handle=access.handle,
                name=name,
                content_type=content_type,
                size=info.size,
                sha256=info.sha256 or "",
                mode=values.get("mode", FileMode.PRIVATE),
                expires_at=values.get("expiresAt"),
                access_version=1,
                version=1,
                tags=values.get("tags", ()),
                share_count=0,
                created_by=access.actor_id,
                created_at=now,
                updated_at=now,
                object_key=key,
            )
            await uow.files.add(file)
            await record(uow, self.clock, self.ids, access, "file.upload", file.id, after=1)
            return file
        except BaseException:
            if started:
                await self._discard(key)
            raise

    async def _discard(self, key: str) -> None:
        # best effort: a store failing here is the store failing the upload in the first place
        with contextlib.suppress(Exception):
            await self.store.delete(key)

    @staticmethod
    def _check_type(declared: str, head: bytes) -> str | None:
        found = sniff(head)
        if not types_compatible(declared, found):
            raise ValidationFailed(
                "content_type_mismatch",
                f"The file is declared as `{declared}` but its content is `{found}`.",
                errors=[FieldError("file", "content_type_mismatch", f"content looks like {found}")],
                extra={"declaredType": declared, "sniffedType": found},
            )
        return found

    @staticmethod
    def _resolve_type(declared: str, sniffed: str | None, name: str) -> str:
        if declared and declared not in ("application/octet-stream", "binary/octet-stream"):
            return declared
        return sniffed or guess_type(name) or "application/octet-stream"

    @staticmethod
    def _check_fields(fields: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        errors: list[FieldError] = []
        parsers: dict[str, Callable[[Any], Any]] = {
            "name": validate_name,
            "mode": parse_mode,
            "expiresAt": parse_expires_at,
            "tags": parse_tags,
        }
        for field, value in fields.items():
            try:
                out[field] = parsers[field](value)
            except ValidationFailed as exc:
                errors.extend(exc.errors)
        if errors:
            raise ValidationFailed(errors=errors)
        return out
