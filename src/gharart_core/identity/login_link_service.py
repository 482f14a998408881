"""Email sign-in links: mail a single-use link to a known address, trade it for a session PAT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from ..shared.audit import AuditEvent
from ..shared.clock import Clock, format_ts
from ..shared.ids import IdGenerator
from ..shared.ports import Mailer, MailMessage
from ..shared.tokens import TokenSource, sha256_hex
from .login_links import (
    DEFAULT_LOGIN_LINK_TTL_S,
    LOGIN_LINK_BYTES,
    SESSION_SCOPES,
    SESSION_TOKEN_NAME,
    SESSION_TTL,
    LinkState,
    check_redeemable,
    invalid_link,
    link_state,
    new_login_link,
    plausible_secret,
)
from .model import Principal
from .service import IdentityService, IdentityUoW, IssuedToken, normalize_email

__all__ = ["LOGIN_LINK_PATH", "PURGE_AFTER", "LoginLinkService"]

LOGIN_LINK_PATH = "/dashboard/login/link"
PURGE_AFTER = timedelta(days=1)  # expired links are kept this long, so "used" and "expired" stay diagnosable

Deliver = Callable[[Awaitable[None]], None]


class LoginLinkService:
    def __init__(self, clock: Clock, ids: IdGenerator, tokens: TokenSource, mailer: Mailer,
                 identity: IdentityService, *, ttl_s: int = DEFAULT_LOGIN_LINK_TTL_S,
                 public_url: str | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError("GHARART_LOGIN_LINK_TTL_S must be a positive number of seconds")
        self.clock = clock
        self.ids = ids
        self.tokens = tokens
        self.mailer = mailer
        self.identity = identity
        self.ttl_s = ttl_s
        self.public_url = public_url.rstrip("/") if public_url else None

    def link_url(self, token: str, base_url: str) -> str:
        root = self.public_url or base_url.rstrip("/")
        return f"{root}{LOGIN_LINK_PATH}?token={token}"

    async def request(self, uow: IdentityUoW, email: object, *, base_url: str,
                      deliver: Deliver | None = None) -> bool:
        """Mail a sign-in link when ``email`` belongs to a user; True when one was minted.

        Callers answer the same whatever this returns (no account enumeration). Only a malformed
        address raises (422 ``validation_failed``, ``invalid_email``). The mail goes out once the
        unit of work commits; ``deliver`` (e.g. a background-task spawner) takes the sending off the
        caller's path, so a slow mail server does not tell known addresses from unknown ones.
        """
        address = normalize_email(email)
        user = await uow.identity.user_by_email(address)
        now = self.clock.now()
        await uow.identity.purge_login_links(now - PURGE_AFTER)
        if user is None or not user.email:
            return False
        secret = self.tokens.token(LOGIN_LINK_BYTES)
        link = new_login_link(sha256_hex(secret), user.id, now, self.ttl_s)
        await uow.identity.add_login_link(link)
        minutes = max(1, self.ttl_s // 60)
        message = MailMessage(
            to=user.email,
            subject="Your Gharart sign-in link",
            text="\n".join([
                f"Someone asked to sign in to the Gharart dashboard as {user.email}.",
                "",
                "Sign in:",
                self.link_url(secret, base_url),
                "",
                f"The link works once, for {minutes} minute{'s' if minutes != 1 else ''} "
                f"(until {format_ts(link.expires_at)}).",
                "If you did not ask for it, ignore this mail: nothing happens until the link is used.",
            ]),
            headers=(("X-Gharart-Login-Link", format_ts(link.created_at) or ""),),
        )
        mailer = self.mailer

        async def send() -> None:
            if deliver is None:
                await mailer.send(message)
            else:
                deliver(mailer.send(message))

        uow.after_commit(send)
        return True

    async def state(self, uow: IdentityUoW, secret: object) -> LinkState:
        """Where the link stands now, without using it (the confirmation page)."""
        if not plausible_secret(secret):
            return LinkState.UNKNOWN
        assert isinstance(secret, str)
        return link_state(await uow.identity.get_login_link(sha256_hex(secret)), self.clock.now())

    async def redeem(self, uow: IdentityUoW, secret: object, *, request_id: str | None = None) -> IssuedToken:
        """Use the link (once) and mint the session PAT for its user; audited as ``login.link``.

        Raises 403 ``login_link_expired`` or ``login_link_invalid`` (unknown, already used, or
        its user is gone). The caller commits; on a rollback the link stays unused.
        """
        now = self.clock.now()
        digest = sha256_hex(secret) if plausible_secret(secret) and isinstance(secret, str) else None
        link = await uow.identity.get_login_link(digest) if digest else None
        link = check_redeemable(link, now)
        user = await uow.identity.get_user(link.user_id)
        # the conditional update is what makes it single-use under concurrency
        if user is None or not await uow.identity.use_login_link(link.token_hash, now):
            raise invalid_link()
        principal = Principal(user.id, user.email, SESSION_SCOPES, None,
                              is_operator_flag=self.identity.is_operator(user), kind="login_link")
        issued = await self.identity.create_token(
            uow, principal, name=SESSION_TOKEN_NAME, scopes=sorted(SESSION_SCOPES), handle=None,
            expires_at=now + SESSION_TTL, request_id=request_id)
        await uow.audit.add(AuditEvent(
            id=self.ids.new("aud"), at=now, actor_id=user.id, credential_id=issued.token.id, handle=None,
            action="login.link", target=issued.token.id, request_id=request_id, detail="dashboard"))
        return issued
