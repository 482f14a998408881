"""Identity use cases: provisioning, handles, members, tokens, PAT authentication."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from ..shared.audit import AuditEvent
from ..shared.clock import Clock
from ..shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from ..shared.ids import IdGenerator
from ..shared.ports import UnitOfWork
from ..shared.tokens import TokenSource, constant_time_equals, sha256_hex
from .model import (
    HANDLE_RE,
    RESERVED_HANDLES,
    SCOPES,
    Account,
    Handle,
    HandleAccess,
    Member,
    PersonalAccessToken,
    Principal,
    Role,
    User,
)
from .policy import Action, authorize, handle_visible, require_scope
from .ports import IdentityRepository

__all__ = ["PAT_PREFIX", "IdentityService", "IdentityUoW", "IssuedToken", "validate_handle"]

PAT_PREFIX = "gha_pat_"
_EMAIL_MAX = 254


class IdentityUoW(UnitOfWork, Protocol):
    identity: IdentityRepository


@attrs.frozen
class IssuedToken:
    token: PersonalAccessToken
    secret: str


def validate_handle(handle: object) -> str:
    # reserved words first: `_edge` is reserved even though it could never match the pattern
    if isinstance(handle, str) and handle in RESERVED_HANDLES:
        raise ValidationFailed(
            "handle_reserved",
            f"`{handle}` is reserved.",
            errors=[FieldError("handle", "handle_reserved", "this handle is reserved")],
        )
    if not isinstance(handle, str) or not HANDLE_RE.match(handle):
        raise ValidationFailed(
            "invalid_handle",
            "A handle is 1-40 lowercase letters, digits or inner hyphens.",
            errors=[FieldError("handle", "invalid_handle", "does not match the handle pattern")],
        )
    if handle in RESERVED_HANDLES:
        raise ValidationFailed(
            "handle_reserved",
            f"`{handle}` is reserved.",
            errors=[FieldError("handle", "handle_reserved", "this handle is reserved")],
        )
    return handle


def normalize_email(email: object, field: str = "email") -> str:
    if (
        not isinstance(email, str)
        or len(email) > _EMAIL_MAX
        or email.count("@") != 1
        or any(c.isspace() or ord(c) < 32 for c in email)
    ):
        raise ValidationFailed(errors=[FieldError(field, "invalid_email", "not an email address")])
    local, domain = email.split("@")
    if not local or not domain or "." not in domain.strip(".") or ".." in domain:
        raise ValidationFailed(errors=[FieldError(field, "invalid_email", "not an email address")])
    return f"{local}@{domain.lower()}"


class IdentityService:
    def __init__(self, clock: Clock, ids: IdGenerator, tokens: TokenSource,
                 operator_emails: Iterable[str] = ()) -> None:
        self.clock = clock
        self.ids = ids
        self.tokens = tokens
        self.operator_emails = frozenset(e.strip().lower() for e in operator_emails if e.strip())

    # -- users ---------------------------------------------------------------
    async def provision(self, uow: IdentityUoW, *, subject: str, email: str | None) -> User:
        """The user behind a verified JWT, created on first sight."""
        repo = uow.identity
        user = await repo.user_by_subject(subject)
        if user is None and email:
            user = await repo.user_by_email(email.lower())
            if user is not None and user.subject is None:
                user = attrs.evolve(user, subject=subject)
                await repo.add_user(user)
        if user is None:
            user = User(
                id=self.ids.new("usr"),
                email=email.lower() if email else None,
                subject=subject,
                is_operator=False,
                created_at=self.clock.now(),
            )
            await repo.add_user(user)
        if user.email:
            await repo.claim_pending(user.email, user.id)
        return user

    async def ensure_user(self, uow: IdentityUoW, email: str) -> User:
        email = normalize_email(email)
        repo = uow.identity
        user = await repo.user_by_email(email)
        if user is None:
            user = User(self.ids.new("usr"), email, None, False, self.clock.now())
            await repo.add_user(user)
            await repo.claim_pending(email, user.id)
        return user

    async def set_operator(self, uow: IdentityUoW, email: str, flag: bool = True) -> User:
        user = await self.ensure_user(uow, email)
        await uow.identity.set_operator(user.id, flag)
        return attrs.evolve(user, is_operator=flag)

    def is_operator(self, user: User) -> bool:
        return user.is_operator or (user.email or "").lower() in self.operator_emails

    # -- PATs ----------------------------------------------------------------
    async def authenticate_pat(self, uow: IdentityUoW, secret: str) -> Principal:
        """Verify a PAT and record its use (needs a write unit of work that the caller commits)."""
        principal, stale = await self.verify_pat(uow, secret)
        if stale:
            await self.record_pat_use(uow, principal)
        return principal

    async def verify_pat(self, uow: IdentityUoW, secret: str) -> tuple[Principal, bool]:
        """Verify a PAT without writing: (principal, whether its last-used time is over a minute old)."""
        if not secret.startswith(PAT_PREFIX) or len(secret) > 200:
            raise Unauthenticated(detail="The token is not valid.")
        digest = sha256_hex(secret)
        token = await uow.identity.token_by_hash(digest)
        now = self.clock.now()
        if token is None or not constant_time_equals(token.token_hash, digest):
            raise Unauthenticated(detail="The token is not valid.")
        if token.revoked_at is not None:
            raise Unauthenticated(detail="The token was revoked.")
        if token.expires_at is not None and token.expires_at <= now:
            raise Unauthenticated(detail="The token has expired.")
        user = await uow.identity.get_user(token.user_id)
        if user is None:
            raise Unauthenticated(detail="The token is not valid.")
        stale = token.last_used_at is None or now - token.last_used_at > timedelta(seconds=60)
        principal = Principal(
            user_id=user.id,
            email=user.email,
            scopes=token.scopes,
            credential_id=token.id,
            is_operator_flag=self.is_operator(user),
            handle_restriction=token.handle,
            kind="pat",
        )
        return principal, stale

    async def record_pat_use(self, uow: IdentityUoW, principal: Principal) -> None:
        """Set the token's ``lastUsedAt`` to now (write unit of work; the caller commits)."""
        if principal.kind == "pat" and principal.credential_id is not None:
            await uow.identity.touch_token(principal.credential_id, self.clock.now())

    async def touch_token(self, uow: IdentityUoW, token_id: str) -> None:
        """Record that a token was used (callers debounce this; it is bookkeeping, not security)."""
        await uow.identity.touch_token(token_id, self.clock.now())

    async def create_token(self, uow: IdentityUoW, principal: Principal, *, name: str,
                           scopes: Sequence[str], handle: str | None,
                           expires_at: datetime | None, request_id: str | None = None) -> IssuedToken:
        errors = []
        if not isinstance(name, str) or not name.strip():
            errors.append(FieldError("name", "required", "name is required"))
        elif len(name) > 100:
            errors.append(FieldError("name", "too_long", "at most 100 characters"))
        for i, scope in enumerate(scopes):
            if scope not in SCOPES:
                errors.append(FieldError(f"scopes.{i}", "unknown_scope", f"unknown scope {scope!r}"))
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            errors.append(FieldError("expiresAt", "in_past", "expiresAt must be in the future"))
        if errors:
            raise ValidationFailed(errors=errors)
        missing = sorted(set(scopes) - principal.scopes)
        if missing:
            raise Forbidden("insufficient_scope",
                            f"A token cannot carry scopes its creator does not hold: {', '.join(missing)}.")
        if handle is not None:
            validate_handle(handle)
            await self.resolve(uow, principal, handle)
        if principal.handle_restriction is not None and handle != principal.handle_restriction:
            raise Forbidden("insufficient_scope", "A handle-restricted token can only create tokens for its handle.")
        secret = PAT_PREFIX + self.tokens.token(24)
        token = PersonalAccessToken(
            id=self.ids.new("pat"),
            user_id=principal.user_id,
            name=name.strip(),
            token_hash=sha256_hex(secret),
            prefix=secret[:12],
            scopes=frozenset(scopes),
            handle=handle,
            expires_at=expires_at,
            created_at=now,
        )
        await uow.identity.add_token(token)
        await self._audit(uow, principal, handle, "token.create", token.id, request_id)
        return IssuedToken(token, secret)

    async def list_tokens(self, uow: IdentityUoW, principal: Principal) -> Sequence[PersonalAccessToken]:
        tokens = await uow.identity.tokens_for_user(principal.user_id)
        return sorted((t for t in tokens if t.revoked_at is None), key=lambda t: t.id, reverse=True)

    async def revoke_token(self, uow: IdentityUoW, principal: Principal, token_id: str,
                           request_id: str | None = None) -> None:
        token = await uow.identity.get_token(token_id)
        if token is None or token.user_id != principal.user_id:
            raise NotFound("token_not_found", "No such token.")
        if token.revoked_at is None:
            await uow.identity.revoke_token(token_id, self.clock.now())
            await self._audit(uow, principal, token.handle, "token.revoke", token.id, request_id)

    # -- handles -------------------------------------------------------------
    async def resolve(self, uow: IdentityUoW, principal: Principal, handle: str,
                      request_id: str | None = None) -> HandleAccess:
        """Resolve the caller's access to ``handle``; 404 when it is not theirs to see."""
        not_found = NotFound("handle_not_found", f"Handle `{handle}` was not found.")
        if not isinstance(handle, str) or not HANDLE_RE.match(handle) or not principal.can_see_handle(handle):
            raise not_found
        h = await uow.identity.get_handle(handle)
        if h is None:
            raise not_found
        member = await uow.identity.get_member(handle, principal.user_id)
        role = member.role if member is not None else None
        if not handle_visible(principal, handle, role):
            raise not_found
        return HandleAccess(principal, handle, h.account_id, role, request_id, h.created_at)

    async def create_handle(self, uow: IdentityUoW, principal: Principal, handle: str,
                            request_id: str | None = None) -> Handle:
        validate_handle(handle)
        if principal.handle_restriction is not None:
            raise Forbidden("insufficient_scope", "A handle-restricted token cannot create handles.")
        repo = uow.identity
        owned = [h for h, r in await repo.handles_for_user(principal.user_id) if r is Role.OWNER]
        now = self.clock.now()
        if owned:
            account_id = owned[0].account_id
        else:
            account_id = self.ids.new("acc")
            await repo.add_account(Account(account_id, now))
        h = Handle(handle, account_id, now)
        if not await repo.add_handle(h):
            raise Conflict("handle_taken", f"`{handle}` is taken.")
        user = await repo.get_user(principal.user_id)
        email = (user.email if user and user.email else f"{principal.user_id}@users.invalid")
        await repo.upsert_member(Member(handle, email, Role.OWNER, now, principal.user_id))
        await self._audit(uow, principal, handle, "handle.create", handle, request_id)
        return h

    async def get_handle(self, uow: IdentityUoW, access: HandleAccess) -> Handle:
        authorize(access, Action.HANDLE_READ)
        if access.handle_created_at is not None:  # handles are immutable: the resolved access is enough
            return Handle(access.handle, access.account_id, access.handle_created_at)
        h = await uow.identity.get_handle(access.handle)
        if h is None:
            raise NotFound("handle_not_found", f"Handle `{access.handle}` was not found.")
        return h

    async def list_handles(self, uow: IdentityUoW, principal: Principal) -> Sequence[tuple[Handle, Role]]:
        pairs = await uow.identity.handles_for_user(principal.user_id)
        return [(h, r) for h, r in pairs if principal.can_see_handle(h.handle)]

    # -- members -------------------------------------------------------------
    async def list_members(self, uow: IdentityUoW, access: HandleAccess) -> Sequence[Member]:
        authorize(access, Action.MEMBERS_READ)
        return await uow.identity.list_members(access.handle)

    async def add_member(self, uow: IdentityUoW, access: HandleAccess, email: str, role: str) -> Member:
        authorize(access, Action.MEMBERS_WRITE)
        email_n = normalize_email(email)
        parsed = _parse_role(role)
        repo = uow.identity
        existing = await repo.member_by_email(access.handle, email_n)
        if existing is not None:
            raise Conflict("member_exists", f"{email_n} is already a member.",
                           extra={"userId": existing.user_id or existing.email})
        # an email nobody signed in with yet gets its user (and userId) now; the first sign-in with
        # that `email` claim binds the subject to it, so the membership is theirs from then on
        user = await repo.user_by_email(email_n) or await self.ensure_user(uow, email_n)
        member = Member(access.handle, email_n, parsed, self.clock.now(), user.id)
        await repo.upsert_member(member)
        await self._audit_access(uow, access, "member.add", email_n)
        return member

    async def _find_member(self, uow: IdentityUoW, handle: str, member_id: str) -> Member:
        for m in await uow.identity.list_members(handle):
            if m.user_id == member_id or (m.user_id is None and m.email == member_id):
                return m
        raise NotFound("member_not_found", "No such member.")

    async def change_member(self, uow: IdentityUoW, access: HandleAccess, member_id: str, role: str) -> Member:
        authorize(access, Action.MEMBERS_WRITE)
        parsed = _parse_role(role)
        member = await self._find_member(uow, access.handle, member_id)
        if member.role is Role.OWNER and parsed is not Role.OWNER:
            await self._guard_last_owner(uow, access.handle)
        updated = attrs.evolve(member, role=parsed)
        await uow.identity.upsert_member(updated)
        await self._audit_access(uow, access, "member.update", member_id)
        return updated

    async def remove_member(self, uow: IdentityUoW, access: HandleAccess, member_id: str) -> None:
        authorize(access, Action.MEMBERS_WRITE)
        member = await self._find_member(uow, access.handle, member_id)
        if member.role is Role.OWNER:
            await self._guard_last_owner(uow, access.handle)
        await uow.identity.remove_member(access.handle, member.email)
        await self._audit_access(uow, access, "member.remove", member_id)

    async def _guard_last_owner(self, uow: IdentityUoW, handle: str) -> None:
        owners = [m for m in await uow.identity.list_members(handle) if m.role is Role.OWNER]
        if len(owners) <= 1:
            raise Conflict("last_owner", "A handle keeps at least one owner.")

    # -- audit ---------------------------------------------------------------
    async def _audit(self, uow: IdentityUoW, principal: Principal, handle: str | None, action: str,
                     target: str | None, request_id: str | None) -> None:
        await uow.audit.add(AuditEvent(
            id=self.ids.new("aud"), at=self.clock.now(), actor_id=principal.user_id,
            credential_id=principal.credential_id, handle=handle, action=action, target=target,
            request_id=request_id,
        ))

    async def _audit_access(self, uow: IdentityUoW, access: HandleAccess, action: str, target: str) -> None:
        await self._audit(uow, access.principal, access.handle, action, target, access.request_id)

    async def require_operator(self, principal: Principal) -> None:
        if not principal.is_operator:
            raise Forbidden("operator_only", "This is an operator workflow; end users report problems "
                            "with POST /v2/support/report.")

    require_scope = staticmethod(require_scope)


def _parse_role(role: object) -> Role:
    try:
        if not isinstance(role, str):
            raise KeyError(role)
        return Role.parse(role)
    except KeyError:
        raise ValidationFailed(errors=[FieldError("role", "invalid_choice",
                                                  "one of owner, admin, editor, viewer")]) from None
