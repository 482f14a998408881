"""Email sign-in links, the pure part: minting, expiry and single use.

A link is a random secret mailed to a user; only its SHA-256 is stored. It signs in once, before
``expires_at``. Everything here is a plain function of its inputs so the rules can be driven by
property tests; ``login_link_service`` does the I/O.
"""

from __future__ import annotations

import enum
import string
from datetime import datetime, timedelta

import attrs

from ..shared.errors import Forbidden
from .model import SCOPES, LoginLink

__all__ = [
    "DEFAULT_LOGIN_LINK_TTL_S",
    "LOGIN_LINK_BYTES",
    "SESSION_SCOPES",
    "SESSION_TOKEN_NAME",
    "SESSION_TTL",
    "LinkState",
    "check_redeemable",
    "expired_link",
    "invalid_link",
    "link_state",
    "mark_used",
    "new_login_link",
    "plausible_secret",
]

LOGIN_LINK_BYTES = 24  # 192 random bits (the floor is 128)
DEFAULT_LOGIN_LINK_TTL_S = 900
SESSION_TOKEN_NAME = "dashboard sign-in"
SESSION_TTL = timedelta(hours=8)
# what a signed-in person may hold by default: every scope but `operator`, which a person asks for
# explicitly on a PAT of their own
SESSION_SCOPES = frozenset(s for s in SCOPES if s != "operator")

_SECRET_CHARS = frozenset(string.ascii_letters + string.digits + "-_")


class LinkState(enum.Enum):
    VALID = "valid"
    UNKNOWN = "unknown"  # no such link (never issued, mistyped, or purged long after expiry)
    USED = "used"
    EXPIRED = "expired"


def new_login_link(token_hash: str, user_id: str, now: datetime, ttl_s: int) -> LoginLink:
    """A fresh, unused link for ``user_id`` expiring ``ttl_s`` seconds after ``now``."""
    if ttl_s <= 0:
        raise ValueError("a sign-in link needs a positive lifetime")
    return LoginLink(token_hash=token_hash, user_id=user_id, expires_at=now + timedelta(seconds=ttl_s),
                     created_at=now)


def link_state(link: LoginLink | None, now: datetime) -> LinkState:
    """Where ``link`` stands at ``now``. A used link stays ``USED`` even once past its expiry."""
    if link is None:
        return LinkState.UNKNOWN
    if link.used_at is not None:
        return LinkState.USED
    if now >= link.expires_at:
        return LinkState.EXPIRED
    return LinkState.VALID


def check_redeemable(link: LoginLink | None, now: datetime) -> LoginLink:
    """Return ``link`` when it may sign in at ``now``; raise 403 ``login_link_expired`` or
    ``login_link_invalid`` (unknown or already used: the two are not told apart) otherwise."""
    state = link_state(link, now)
    if state is LinkState.EXPIRED:
        raise expired_link()
    if state is not LinkState.VALID or link is None:
        raise invalid_link()
    return link


def invalid_link() -> Forbidden:
    return Forbidden("login_link_invalid",
                     "This sign-in link is not valid: it was used already, or it is not a link we sent. "
                     "Ask for a new one below.")


def expired_link() -> Forbidden:
    return Forbidden("login_link_expired",
                     "This sign-in link has expired. Ask for a new one below; links work for a short "
                     "time after they are sent.")


def mark_used(link: LoginLink, now: datetime) -> LoginLink:
    """The link after signing in with it at ``now`` (raises like ``check_redeemable`` otherwise)."""
    return attrs.evolve(check_redeemable(link, now), used_at=now)


def plausible_secret(value: object) -> bool:
    """Whether ``value`` could be a secret we minted (URL-safe, sane length): others are not hashed."""
    return isinstance(value, str) and 16 <= len(value) <= 200 and set(value) <= _SECRET_CHARS
