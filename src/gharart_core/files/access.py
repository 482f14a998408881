"""The public file access policy: a pure function from state to an exact outcome code (A.4).

Order of checks, and why:

1. unknown, deleted or ``private`` -> ``file_not_found``, whatever the token: the public route
   must not tell a missing file from a hidden one.
2. ``public`` -> ``file_expired`` past the file's expiry, else ``ok`` (a token is ignored).
3. ``link`` without a token -> ``token_required``; a token that is unknown, tampered or issued
   for another file -> ``link_invalid`` (nothing about the file leaks to a forger).
4. With a genuine token for this file: the file's own expiry first (``file_expired`` wins over the
   grant's ``link_expired`` when both passed), then ``link_revoked``, then a mode change since issue
   (``link_invalidated_mode_changed``), then the grant's expiry (``link_expired``).

Expiry is always read from the file and share passed in, never from the token.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from ..shared.clock import format_ts
from ..shared.errors import DomainError, Forbidden, Gone, NotFound, Unauthenticated
from .model import File, FileMode, MagicLink, Share

__all__ = ["AccessDecision", "Outcome", "decide_access", "outcome_error"]


class Outcome(enum.Enum):
    OK = "ok"
    TOKEN_REQUIRED = "token_required"
    LINK_INVALID = "link_invalid"
    LINK_EXPIRED = "link_expired"
    FILE_EXPIRED = "file_expired"
    LINK_INVALIDATED_MODE_CHANGED = "link_invalidated_mode_changed"
    LINK_REVOKED = "link_revoked"
    FILE_NOT_FOUND = "file_not_found"

    @property
    def status(self) -> int:
        return _STATUS[self]


_STATUS = {
    Outcome.OK: 200,
    Outcome.TOKEN_REQUIRED: 401,
    Outcome.LINK_INVALID: 403,
    Outcome.LINK_EXPIRED: 403,
    Outcome.FILE_EXPIRED: 410,
    Outcome.LINK_INVALIDATED_MODE_CHANGED: 403,
    Outcome.LINK_REVOKED: 403,
    Outcome.FILE_NOT_FOUND: 404,
}


@attrs.frozen
class AccessDecision:
    outcome: Outcome
    share_id: str | None = None
    email: str | None = None


def decide_access(
    file: File | None,
    *,
    now: datetime,
    token_presented: bool,
    link: MagicLink | None,
    share: Share | None,
) -> AccessDecision:
    """Decide a public download.

    Args:
        file: the file by id, deleted ones included (``None`` when unknown).
        now: the current time.
        token_presented: a non-empty ``token`` was sent.
        link: the stored magic link whose hash matched the token (``None`` when none did).
        share: the grant ``link`` was issued under.
    """
    if file is None or file.is_deleted or file.mode is FileMode.PRIVATE:
        return AccessDecision(Outcome.FILE_NOT_FOUND)
    if file.mode is FileMode.PUBLIC:
        return AccessDecision(Outcome.FILE_EXPIRED if file.is_expired(now) else Outcome.OK)
    if not token_presented:
        return AccessDecision(Outcome.TOKEN_REQUIRED)
    if (
        link is None
        or share is None
        or link.file_id != file.id
        or share.file_id != file.id
        or share.id != link.share_id
    ):
        return AccessDecision(Outcome.LINK_INVALID)
    who = {"share_id": share.id, "email": share.email}
    if file.is_expired(now):
        return AccessDecision(Outcome.FILE_EXPIRED, **who)
    if share.is_revoked:
        return AccessDecision(Outcome.LINK_REVOKED, **who)
    if link.access_version != file.access_version:
        return AccessDecision(Outcome.LINK_INVALIDATED_MODE_CHANGED, **who)
    if share.is_expired(now):
        return AccessDecision(Outcome.LINK_EXPIRED, **who)
    return AccessDecision(Outcome.OK, **who)


def outcome_error(outcome: Outcome, file: File | None, file_id: str) -> DomainError:
    """The domain error the HTTP layer renders for a refused download."""
    if outcome is Outcome.FILE_NOT_FOUND:
        return NotFound("file_not_found", f"File `{file_id}` was not found.")
    if outcome is Outcome.TOKEN_REQUIRED:
        return Unauthenticated(
            "token_required", "This file is shared by magic link: add `?token=` from your link."
        )
    if outcome is Outcome.LINK_INVALID:
        return Forbidden("link_invalid", "This magic link is not valid for this file.")
    if outcome is Outcome.FILE_EXPIRED:
        expired_at = file.expires_at if file is not None else None
        return Gone(
            "file_expired",
            f"This file expired at {format_ts(expired_at)}.",
            extra={"expiredAt": format_ts(expired_at)},
        )
    if outcome is Outcome.LINK_REVOKED:
        return Forbidden("link_revoked", "Access to this file was revoked for this recipient.")
    if outcome is Outcome.LINK_INVALIDATED_MODE_CHANGED:
        return Forbidden(
            "link_invalidated_mode_changed",
            "The file's sharing mode changed after this link was issued. Request a new link with "
            f'POST /v2/public/files/{file_id}/magic-link {{"email": "..."}}.',
            extra={"magicLinkUrl": f"/v2/public/files/{file_id}/magic-link"},
        )
    if outcome is Outcome.LINK_EXPIRED:
        return Forbidden("link_expired", "This recipient's access window has ended.")
    raise ValueError(f"{outcome} is not a refusal")
