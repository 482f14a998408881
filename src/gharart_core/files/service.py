"""Files use cases: upload, edit, delete, shares, magic links, public download, purge."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..identity.service import normalize_email
from ..shared.audit_helpers import record
from ..shared.clock import Clock, format_ts
from ..shared.errors import (
    Conflict,
    DomainError,
    FieldError,
    NotFound,
    PreconditionFailed,
    TooLarge,
    Unavailable,
    ValidationFailed,
)
from ..shared.ids import IdGenerator
from ..shared.pagination import Page, validate_limit
from ..shared.ports import Mailer, MailMessage, ObjectStore
from ..shared.tokens import TokenSource, constant_time_equals, sha256_hex
from .access import AccessDecision, Outcome, decide_access, outcome_error
from .model import (
    AccessLogEntry,
    File,
    FileMode,
    MagicLink,
    Share,
    guess_type,
    parse_expires_at,
    parse_mode,
    parse_tags,
    sanitize_name,
    validate_name,
    validate_note,
)
from .ports import FilesUoW, FilesUoWFactory
from .sniff import SNIFF_BYTES, normalize_type, sniff, types_compatible

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "MAGIC_LINK_BYTES",
    "FilesService",
    "UploadField",
    "UploadFile",
]

DEFAULT_MAX_FILE_BYTES = 5 * 1024**3
DEFAULT_RETENTION_S = 7 * 86400
MAGIC_LINK_BYTES = 24  # 192 bits; the brief's floor is 128
MAX_RECIPIENTS = 100
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


def _not_found(file_id: str) -> NotFound:
    return NotFound("file_not_found", f"File `{file_id}` was not found.")


class FilesService:
    def __init__(
        self,
        clock: Clock,
        ids: IdGenerator,
        tokens: TokenSource,
        store: ObjectStore,
        mailer: Mailer,
        uow_factory: FilesUoWFactory,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        retention_s: int = DEFAULT_RETENTION_S,
        public_url: str | None = None,
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.tokens = tokens
        self.store = store
        self.mailer = mailer
        self.uow_factory = uow_factory
        self.max_file_bytes = max_file_bytes
        self.retention_s = retention_s
        self.public_url = public_url.rstrip("/") if public_url else None

    # -- reads ----------------------------------------------------------------------------------------
    async def _live(self, uow: FilesUoW, access: HandleAccess, file_id: str) -> File:
        file = await uow.files.get(file_id) if isinstance(file_id, str) else None
        if file is None or file.handle != access.handle or file.is_deleted:
            raise _not_found(file_id)
        return file

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
            raise _not_found(file_id)
        if file.is_deleted:
            return
        now = self.clock.now()
        new = attrs.evolve(file, deleted_at=now, version=file.version + 1, updated_at=now)
        if not await uow.files.update(new, expected_version=file.version):
            raise Conflict("version_conflict", "The file changed while deleting it.")
        await record(uow, self.clock, self.ids, access, "file.delete", file.id, before=file.version, after=new.version)

    # -- shares ---------------------------------------------------------------------------------------
    async def create_shares(
        self, uow: FilesUoW, access: HandleAccess, file_id: str, body: object, *, base_url: str
    ) -> list[Share]:
        authorize(access, Action.FILES_WRITE)
        if not isinstance(body, dict):
            raise ValidationFailed(errors=[FieldError("body", "invalid_type", "expected a JSON object")])
        file = await self._live(uow, access, file_id)
        emails = self._parse_recipients(body)
        expires_at = parse_expires_at(body.get("expiresAt"))
        note = validate_note(body.get("note"))
        now = self.clock.now()
        shares = []
        for email in emails:
            share = Share(
                id=self.ids.new("shr"),
                file_id=file.id,
                handle=file.handle,
                email=email,
                expires_at=expires_at,
                note=note,
                created_at=now,
                created_by=access.actor_id,
            )
            await uow.files.add_share(share)
            await self._issue(uow, file, share, base_url, note=note)
            await record(uow, self.clock, self.ids, access, "file.share", share.id, detail=file.id)
            shares.append(share)
        await uow.files.set_share_count(file.id, await uow.files.count_active_shares(file.id))
        return shares

    @staticmethod
    def _parse_recipients(body: Mapping[str, Any]) -> list[str]:
        raw = body.get("emails")
        field = "emails"
        if raw is None and "email" in body:
            raw, field = [body["email"]], "email"
        if raw is None:
            raise ValidationFailed(errors=[FieldError("emails", "required", "list the recipients' emails")])
        if not isinstance(raw, list):
            raise ValidationFailed(errors=[FieldError(field, "invalid_type", "expected a list of emails")])
        if not raw:
            raise ValidationFailed(errors=[FieldError(field, "required", "at least one recipient")])
        if len(raw) > MAX_RECIPIENTS:
            raise ValidationFailed(errors=[FieldError(field, "too_many", f"at most {MAX_RECIPIENTS}")])
        out: list[str] = []
        errors: list[FieldError] = []
        for i, value in enumerate(raw):
            name = f"{field}.{i}" if field == "emails" else field
            try:
                email = normalize_email(value, name)
            except ValidationFailed as exc:
                errors.extend(exc.errors)
                continue
            if email.lower() not in (e.lower() for e in out):
                out.append(email)
        if errors:
            raise ValidationFailed(errors=errors)
        return out

    async def list_shares(
        self,
        uow: FilesUoW,
        access: HandleAccess,
        file_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Share]:
        authorize(access, Action.FILES_READ)
        limit = validate_limit(limit)
        file = await self._live(uow, access, file_id)
        return await uow.files.list_shares(file.id, cursor=cursor, limit=limit)

    async def revoke_share(self, uow: FilesUoW, access: HandleAccess, file_id: str, share_id: str) -> None:
        authorize(access, Action.FILES_WRITE)
        # DELETE stays idempotent: a share of a file deleted since can still be revoked (204)
        file = await uow.files.get(file_id) if isinstance(file_id, str) else None
        if file is None or file.handle != access.handle:
            raise _not_found(file_id)
        share = await uow.files.get_share(share_id) if isinstance(share_id, str) else None
        if share is None or share.file_id != file.id:
            raise NotFound("share_not_found", f"Share `{share_id}` was not found.")
        if share.is_revoked:
            return
        await uow.files.update_share(attrs.evolve(share, revoked_at=self.clock.now()))
        await uow.files.set_share_count(file.id, await uow.files.count_active_shares(file.id))
        await record(uow, self.clock, self.ids, access, "file.share.revoke", share.id, detail=file.id)

    async def access_log(
        self,
        uow: FilesUoW,
        access: HandleAccess,
        file_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[AccessLogEntry]:
        authorize(access, Action.FILES_READ)
        limit = validate_limit(limit)
        file = await self._live(uow, access, file_id)
        return await uow.files.list_access(file.id, cursor=cursor, limit=limit)

    # -- magic links ----------------------------------------------------------------------------------
    def link_url(self, file_id: str, token: str, base_url: str) -> str:
        root = self.public_url or base_url.rstrip("/")
        return f"{root}/v2/public/files/{file_id}?token={token}"

    async def _issue(self, uow: FilesUoW, file: File, share: Share, base_url: str, *, note: str | None = None) -> str:
        """Mint a token for ``share`` bound to the file's current access version; mail it on commit."""
        token = self.tokens.token(MAGIC_LINK_BYTES)
        await uow.files.add_link(
            MagicLink(
                token_hash=sha256_hex(token),
                file_id=file.id,
                share_id=share.id,
                email=share.email,
                access_version=file.access_version,
                created_at=self.clock.now(),
            )
        )
        url = self.link_url(file.id, token, base_url)
        lines = [f"A file was shared with you: {file.name}", "", "Download:", url, ""]
        if note:
            lines[1:1] = ["", "Note from the sender:", *textwrap.wrap(note, 76)]
        if file.expires_at is not None:
            lines.append(f"The file is available until {format_ts(file.expires_at)}.")
        lines.append(f"If the link stops working, request a new one: POST /v2/public/files/{file.id}/magic-link")
        message = MailMessage(
            to=share.email,
            subject=f"Shared with you: {file.name}",
            text="\n".join(lines),
            headers=(("X-Gharart-File", file.id), ("X-Gharart-Share", share.id)),
        )
        mailer = self.mailer

        async def send() -> None:
            await mailer.send(message)

        uow.after_commit(send)
        return token

    @staticmethod
    def magic_link_email(body: object) -> str:
        """Validate a magic-link request body ``{"email": ...}``; 422 ``validation_failed`` otherwise."""
        if not isinstance(body, dict):
            raise ValidationFailed(errors=[FieldError("body", "invalid_type", "expected a JSON object")])
        if "email" not in body or body["email"] in (None, ""):
            raise ValidationFailed(errors=[FieldError("email", "required", "email is required")])
        return normalize_email(body["email"])

    async def request_magic_link(self, uow: FilesUoW, file_id: str, body: object, *, base_url: str) -> str:
        """Mail a fresh link when ``email`` holds a live grant on a live ``link`` file.

        Answers the same way whatever happens (no recipient enumeration): returns the normalized
        email; raises only for a malformed body.
        """
        email = self.magic_link_email(body)
        await self.send_magic_link(uow, file_id, email, base_url=base_url)
        return email

    async def send_magic_link(self, uow: FilesUoW, file_id: str, email: str, *, base_url: str) -> bool:
        file = await uow.files.get(file_id) if isinstance(file_id, str) else None
        now = self.clock.now()
        if file is None or file.is_deleted or file.mode is not FileMode.LINK or file.is_expired(now):
            return False
        live = [s for s in await uow.files.shares_for_email(file.id, email) if s.is_live(now)]
        if not live:
            return False
        await self._issue(uow, file, live[0], base_url, note=live[0].note)
        return True

    # -- public download ------------------------------------------------------------------------------
    async def decide(self, uow: FilesUoW, file_id: str, token: str | None) -> tuple[File | None, AccessDecision]:
        """Look the token up and apply the policy (no writes)."""
        file = await uow.files.get(file_id) if isinstance(file_id, str) else None
        link = share = None
        presented = bool(token)
        if presented and file is not None and file.mode is FileMode.LINK:
            digest = sha256_hex(token or "")
            link = await uow.files.link_by_hash(digest)
            if link is not None and not constant_time_equals(link.token_hash, digest):
                link = None
            share = await uow.files.get_share(link.share_id) if link is not None else None
        return file, decide_access(file, now=self.clock.now(), token_presented=presented, link=link, share=share)

    async def open_download(self, file_id: str, token: str | None, *, request_id: str | None) -> File:
        """Decide a public download, log the outcome in its own unit of work, raise on refusal.

        The log is written apart from the request's transaction because refusals (4xx) roll
        that one back, and refusals are exactly what the access log is for.
        """
        async with self.uow_factory(write=False) as uow:
            file, decision = await self.decide(uow, file_id, token)
        if file is not None:
            async with self.uow_factory(write=True) as w:
                await w.files.add_access(
                    AccessLogEntry(
                        id=self.ids.new("acl"),
                        file_id=file.id,
                        handle=file.handle,
                        at=self.clock.now(),
                        email=decision.email,
                        share_id=decision.share_id,
                        outcome=decision.outcome.value,
                        request_id=request_id,
                    )
                )
                await w.commit()
        if decision.outcome is not Outcome.OK:
            raise outcome_error(decision.outcome, file, file_id)
        assert file is not None
        return file

    # -- retention ------------------------------------------------------------------------------------
    async def purge(self, *, now: datetime | None = None, batch: int = 200) -> int:
        """Delete the bytes of files deleted more than ``retention_s`` ago; returns how many."""
        cutoff = (now or self.clock.now()) - timedelta(seconds=self.retention_s)
        purged = 0
        while True:
            async with self.uow_factory(write=False) as uow:
                due: Sequence[File] = await uow.files.purgeable(cutoff, batch)
            if not due:
                return purged
            for file in due:
                await self.store.delete(file.object_key)
                async with self.uow_factory(write=True) as w:
                    await w.files.mark_purged(file.id, self.clock.now())
                    await w.commit()
                purged += 1
