"""Files use cases: shares with named recipients and the magic links mailed to them."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..identity.service import normalize_email
from ..shared.audit_helpers import record
from ..shared.clock import format_ts
from ..shared.errors import FieldError, NotFound, ValidationFailed
from ..shared.pagination import Page, validate_limit
from ..shared.ports import MailMessage
from ..shared.tokens import sha256_hex
from .base import FilesServiceBase, not_found
from .model import File, FileMode, MagicLink, Share, parse_expires_at, validate_note
from .ports import FilesUoW

__all__ = ["MAGIC_LINK_BYTES", "MAX_RECIPIENTS", "SharingMixin"]

MAGIC_LINK_BYTES = 24  # 192 bits; the brief's floor is 128
MAX_RECIPIENTS = 100


class SharingMixin(FilesServiceBase):
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
            raise not_found(file_id)
        share = await uow.files.get_share(share_id) if isinstance(share_id, str) else None
        if share is None or share.file_id != file.id:
            raise NotFound("share_not_found", f"Share `{share_id}` was not found.")
        if share.is_revoked:
            return
        await uow.files.update_share(attrs.evolve(share, revoked_at=self.clock.now()))
        await uow.files.set_share_count(file.id, await uow.files.count_active_shares(file.id))
        await record(uow, self.clock, self.ids, access, "file.share.revoke", share.id, detail=file.id)

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
