"""Reading docs at the edge: who the caller is (bearer, docs session, partner link) and the
audited decision; plus the partner share links and docs sessions that identify callers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from ..identity.model import HANDLE_RE, HandleAccess, Principal
from ..identity.policy import Action, authorize
from ..shared.audit import AuditEvent
from ..shared.audit_helpers import record
from ..shared.clock import Clock, parse_ts
from ..shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from ..shared.ids import IdGenerator
from ..shared.ports import Mailer, MailMessage, ObjectStore
from ..shared.tokens import TokenSource, constant_time_equals, sha256_hex
from .model import Caller, Classification, Decision, DocPage, DocSession, DocShare, Policy
from .parse import parse_email
from .paths import InvalidPath, normalize_path
from .ports import DocsUoW
from .rules import CompiledPolicy

__all__ = ["SESSION_COOKIE", "SESSION_TTL", "DocsEdgeService", "EdgeRead"]

SESSION_COOKIE = "gharart_docs"
SESSION_TTL = timedelta(hours=8)
_TOKEN_BYTES = 32  # 256 bits; the floor is 128


@attrs.frozen
class EdgeRead:
    page: DocPage
    decision: Decision
    cacheable: bool  # public page that anonymous callers may read too
    new_session: str | None = None  # a session secret to set as the cookie (partner links)
    session_expires_in: int = int(SESSION_TTL.total_seconds())


@attrs.frozen
class _Reader:
    caller: Caller
    actor_id: str | None
    credential_id: str | None
    new_session: str | None = None
    missing_scope: str | None = None  # a bearer token without docs:read


class DocsEdgeService:
    def __init__(self, clock: Clock, ids: IdGenerator, tokens: TokenSource, objects: ObjectStore,
                 mailer: Mailer, uow_factory: Callable[..., Any], *, public_url: str | None = None) -> None:
        self.clock = clock
        self.ids = ids
        self.tokens = tokens
        self.objects = objects
        self.mailer = mailer
        self.uow_factory = uow_factory
        self.public_url = public_url
        self._compiled: dict[str, CompiledPolicy] = {}

    def _compile(self, handle: str, policy: Policy) -> CompiledPolicy:
        """Reuse the prefix index while the stored rules are the very same value."""
        cached = self._compiled.get(handle)
        if (cached is not None and cached.policy.version == policy.version
                and cached.policy.rules is policy.rules):
            return cached
        compiled = CompiledPolicy(policy)
        if len(self._compiled) > 1024:
            self._compiled.clear()
        self._compiled[handle] = compiled
        return compiled

    # -- sessions ------------------------------------------------------------
    async def create_session(self, uow: DocsUoW, access: HandleAccess) -> tuple[str, DocSession]:
        """A docs session (the ``gharart_docs`` cookie) for a member reading with ``docs:read``.

        Like every ``/v2/handles/{handle}`` route it is 404 for callers who cannot see the handle;
        people outside the handle use partner links instead.
        """
        authorize(access, Action.DOCS_READ)
        principal = access.principal
        secret = self.tokens.token(_TOKEN_BYTES)
        now = self.clock.now()
        session = DocSession(sha256_hex(secret), access.handle, now + SESSION_TTL, now,
                             user_id=principal.user_id, credential_id=principal.credential_id,
                             email=principal.email)
        await uow.docs.add_session(session)
        await record(uow, self.clock, self.ids, access, "docs.session.create", None)
        return secret, session

    # -- partner links ---------------------------------------------------------
    async def create_share(self, uow: DocsUoW, access: HandleAccess, body: object,
                           base_url: str) -> DocShare:
        authorize(access, Action.DOCS_POLICY)
        if not isinstance(body, Mapping):
            raise ValidationFailed(errors=[FieldError("body", "invalid_type", "must be an object")])
        errors: list[FieldError] = []
        email = parse_email(body.get("email"))
        if email is None:
            errors.append(FieldError("email", "required" if body.get("email") is None else "invalid_email",
                                     "an email address"))
        path = "/"
        if body.get("path") is not None:
            try:
                path = normalize_path(body.get("path"))
            except InvalidPath as exc:
                errors.extend(exc.errors)
        now = self.clock.now()
        expires_at = None
        if body.get("expiresAt") is not None:
            try:
                expires_at = parse_ts(body["expiresAt"])
                if expires_at <= now:
                    errors.append(FieldError("expiresAt", "in_past", "must be in the future"))
            except ValueError:
                errors.append(FieldError("expiresAt", "invalid_timestamp", "an RFC 3339 timestamp"))
        note = body.get("note") or ""
        if not isinstance(note, str) or len(note) > 500:
            errors.append(FieldError("note", "too_long", "a string of at most 500 characters"))
        if errors or email is None:
            raise ValidationFailed(detail="The share is not valid.", errors=errors)
        secret = self.tokens.token(_TOKEN_BYTES)
        share = DocShare(self.ids.new("shr"), access.handle, email, sha256_hex(secret), path, str(note),
                         expires_at, now, access.actor_id)
        await uow.docs.add_share(share)
        await record(uow, self.clock, self.ids, access, "docs.share.create", share.id, detail=email)
        root = (self.public_url or base_url).rstrip("/")
        link = f"{root}/_edge/docs/{access.handle}{path if path != '/' else '/'}?token={secret}"
        message = MailMessage(
            to=email, subject=f"{access.handle} shared internal docs with you",
            text=f"You have been given access to {access.handle}'s docs as {email}.\n\n{link}\n\n"
                 "The link identifies you; do not forward it."
                 + (f"\nIt expires at {expires_at.isoformat()}." if expires_at else ""))
        uow.after_commit(lambda: self.mailer.send(message))
        return share

    async def list_shares(self, uow: DocsUoW, access: HandleAccess) -> list[DocShare]:
        authorize(access, Action.DOCS_POLICY_READ)
        return list(await uow.docs.list_shares(access.handle))

    async def revoke_share(self, uow: DocsUoW, access: HandleAccess, share_id: str) -> DocShare:
        authorize(access, Action.DOCS_POLICY)
        share = await uow.docs.get_share(access.handle, share_id)
        if share is None:
            raise NotFound("share_not_found", "No such share.")
        if share.revoked_at is None:
            share = attrs.evolve(share, revoked_at=self.clock.now())
            await uow.docs.update_share(share)
            await record(uow, self.clock, self.ids, access, "docs.share.revoke", share.id)
        return share

    def _live_share(self, share: DocShare | None, handle: str, token_hash: str | None = None) -> DocShare:
        if share is None or share.handle != handle or (
                token_hash is not None and not constant_time_equals(share.token_hash, token_hash)):
            raise Forbidden("link_invalid", "This docs link is not valid.")
        if share.revoked_at is not None:
            raise Forbidden("link_revoked", "This docs link was revoked; ask the sender for a new one.")
        if share.expires_at is not None and share.expires_at <= self.clock.now():
            raise Forbidden("link_expired", "This docs link has expired; ask the sender for a new one.",
                            extra={"expiredAt": share.expires_at.isoformat()})
        return share

    # -- reading ---------------------------------------------------------------
    async def _reader(self, uow: DocsUoW, handle: str, principal: Principal | None,
                      session_secret: str | None, share_token: str | None) -> _Reader:
        if share_token:
            token_hash = sha256_hex(share_token)
            share = self._live_share(await uow.docs.share_by_hash(token_hash), handle, token_hash)
            return _Reader(Caller(email=share.email), None, share.id, self.tokens.token(_TOKEN_BYTES))
        if principal is not None:
            reader = await self._user_reader(uow, handle, principal.user_id, principal.credential_id,
                                             principal.email, principal.can_see_handle(handle))
            if "docs:read" not in principal.scopes:
                reader = attrs.evolve(reader, missing_scope="docs:read")
            return reader
        if session_secret:
            session = await uow.docs.session_by_hash(sha256_hex(session_secret))
            if session is not None and session.handle == handle and session.expires_at > self.clock.now():
                if session.share_id is not None:
                    share = self._live_share(await uow.docs.get_share(handle, session.share_id), handle)
                    return _Reader(Caller(email=share.email), None, share.id)
                if session.user_id is not None:
                    return await self._user_reader(uow, handle, session.user_id, session.credential_id,
                                                   session.email, True)
        return _Reader(Caller(anonymous=True), None, None)

    async def _user_reader(self, uow: DocsUoW, handle: str, user_id: str, credential_id: str | None,
                           email: str | None, visible: bool) -> _Reader:
        user = await uow.identity.get_user(user_id)
        email = (user.email if user is not None and user.email else email)
        member = await uow.identity.get_member(handle, user_id) if visible else None
        caller = Caller(email=email.lower() if email else None, role=member.role if member else None)
        return _Reader(caller, user_id, credential_id)

    async def read(self, handle: str, raw_path: object, *, principal: Principal | None = None,
                   session_secret: str | None = None, share_token: str | None = None,
                   request_id: str | None = None) -> EdgeRead:
        """Decide and audit one read. Anonymous denials are 404, signed-in ones 403 ``docs_access_denied``.

        Reads use a unit of work of their own, and the audit entry is committed in another one
        before the answer is known, so denials (whose request rolls back) are recorded too.
        """
        path = normalize_path(raw_path if raw_path not in (None, "") else "/")
        not_found = NotFound("page_not_found", "No such page.")
        if not HANDLE_RE.match(handle):
            raise not_found
        async with self.uow_factory(write=False) as uow:
            stored = await uow.docs.get_policy(handle)
            # a stored policy implies the handle exists; otherwise ask (one query fewer per read)
            if stored is None and await uow.identity.get_handle(handle) is None:
                raise not_found
            reader = await self._reader(uow, handle, principal, session_secret, share_token)
            policy: Policy = stored or Policy()
            compiled = self._compile(handle, policy)
            decision = compiled.evaluate(path, reader.caller)
            page = await uow.docs.get_page(handle, path)  # looked up either way: the audit target
        await self._audit_read(handle, path, page, decision, reader, request_id)
        if not decision.allowed:
            if reader.caller.is_anonymous:
                raise not_found
            raise Forbidden("docs_access_denied", "The internal docs policy does not let you read this page.",
                            extra={"reason": decision.reason.value, "matchedRule": decision.matched_rule})
        if reader.missing_scope is not None:  # a denial stays a denial; an allow still needs the scope
            raise Forbidden("insufficient_scope", "Reading docs with a token needs the `docs:read` scope.",
                            extra={"requiredScope": reader.missing_scope})
        if page is None:
            raise not_found
        cacheable = (page.classification is Classification.PUBLIC
                     and compiled.evaluate(path, Caller(anonymous=True)).allowed)
        return EdgeRead(page, decision, cacheable, reader.new_session)

    async def _audit_read(self, handle: str, path: str, page: DocPage | None, decision: Decision,
                          reader: _Reader, request_id: str | None) -> None:
        now = self.clock.now()
        async with self.uow_factory(write=True) as audit_uow:
            if decision.allowed and reader.new_session is not None and reader.credential_id is not None:
                await audit_uow.docs.add_session(DocSession(
                    sha256_hex(reader.new_session), handle, now + SESSION_TTL, now,
                    share_id=reader.credential_id, email=reader.caller.email))
            await audit_uow.audit.add(AuditEvent(
                self.ids.new("aud"), now, reader.actor_id, reader.credential_id, handle, "docs.read",
                page.id if page is not None else path, request_id,
                detail=f"{decision.effect.value} {decision.reason.value} rule={decision.matched_rule} "
                       f"path={path} as={_who(reader.caller)}"
                       + (f" refused: missing {reader.missing_scope}" if reader.missing_scope else "")))
            await audit_uow.commit()

    def open_content(self, page: DocPage) -> AsyncIterator[bytes]:
        return self.objects.get_stream(page.object_key)  # type: ignore[return-value]  # async generator


def _who(caller: Caller) -> str:
    if caller.is_anonymous:
        return "anonymous"
    parts: Iterable[str] = (p for p in (caller.email, caller.role.label if caller.role else None) if p)
    return "/".join(parts)
