"""Internal docs entities: pages, the access policy, decisions, shares and sessions."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from ..identity.model import Role

__all__ = [
    "Caller",
    "Classification",
    "Decision",
    "DocPage",
    "DocSession",
    "DocShare",
    "Effect",
    "Policy",
    "Principals",
    "Reason",
    "Rule",
]


class Classification(enum.Enum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"


class Effect(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


class Reason(enum.Enum):
    ALLOW_RULE = "allow_rule"
    DENY_RULE = "deny_rule"
    DEFAULT_DENY = "default_deny"


@attrs.frozen
class Principals:
    """Who a rule is about. Roles are hierarchical: ``editor`` also matches admins and owners."""

    roles: frozenset[Role] = frozenset()
    emails: frozenset[str] = frozenset()  # lowercase
    email_domains: frozenset[str] = frozenset()  # lowercase, exact domain
    anyone: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.roles or self.emails or self.email_domains or self.anyone)


@attrs.frozen
class Rule:
    id: str
    path_prefix: str  # normalised
    effect: Effect
    principals: Principals
    description: str = ""


@attrs.frozen
class Policy:
    """A handle's access policy. Every handle has one: version 1 is the empty default-deny policy."""

    version: int = 1
    rules: tuple[Rule, ...] = ()
    default_effect: Effect = Effect.DENY
    updated_at: datetime | None = None
    updated_by: str | None = None


@attrs.frozen
class Caller:
    """Who asks to read a page, as the policy sees them.

    ``anonymous`` callers match only ``anyone`` rules, whatever else is set. A signed-in caller
    with neither email nor role is not anonymous, but also matches only ``anyone`` rules.
    """

    email: str | None = None
    role: Role | None = None
    anonymous: bool = False

    @property
    def is_anonymous(self) -> bool:
        return self.anonymous

    @property
    def domain(self) -> str | None:
        if self.email is None or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1]


@attrs.frozen
class Decision:
    effect: Effect
    matched_rule: str | None
    reason: Reason

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW


@attrs.frozen
class DocPage:
    id: str
    handle: str
    path: str
    classification: Classification
    content_type: str
    size: int
    sha256: str
    object_key: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None = None


@attrs.frozen
class DocShare:
    """A partner grant: the holder of the link reads as the email principal ``email``."""

    id: str
    handle: str
    email: str
    token_hash: str
    path: str
    note: str
    expires_at: datetime | None
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None = None


@attrs.frozen
class DocSession:
    """A docs session behind the ``gharart_docs`` cookie (a user or a share holder)."""

    token_hash: str
    handle: str
    expires_at: datetime
    created_at: datetime
    user_id: str | None = None
    credential_id: str | None = None
    share_id: str | None = None
    email: str | None = None
