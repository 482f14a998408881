"""Identity entities and value objects."""

from __future__ import annotations

import enum
import re
from datetime import datetime

import attrs

__all__ = [
    "HANDLE_RE",
    "RESERVED_HANDLES",
    "SCOPES",
    "Account",
    "Handle",
    "HandleAccess",
    "LoginLink",
    "Member",
    "PersonalAccessToken",
    "Principal",
    "Role",
    "User",
]

HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?\Z")  # \Z: "$" would accept a trailing newline
RESERVED_HANDLES = frozenset(
    """api admin v1 v2 _edge edge public support operator operators www mail root static assets
    dashboard login logout signin signup auth oauth profiles profile l links files docs sites schema
    healthz readyz metrics status help about gharart system null undefined""".split()
)
SCOPES = (
    "links:read",
    "links:write",
    "sites:read",
    "sites:write",
    "files:read",
    "files:write",
    "docs:read",
    "docs:admin",
    "support:write",
    "operator",
)


class Role(enum.IntEnum):
    """Handle roles, ordered: a higher role includes every lower one."""

    VIEWER = 1
    EDITOR = 2
    ADMIN = 3
    OWNER = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Role:
        return cls[value.upper()]


@attrs.frozen
class Account:
    id: str
    created_at: datetime


@attrs.frozen
class User:
    id: str
    email: str | None
    subject: str | None
    is_operator: bool
    created_at: datetime


@attrs.frozen
class Handle:
    handle: str
    account_id: str
    created_at: datetime


@attrs.frozen
class Member:
    handle: str
    email: str
    role: Role
    added_at: datetime
    user_id: str | None = None  # None while pending (no user with that email yet)


@attrs.frozen
class PersonalAccessToken:
    id: str
    user_id: str
    name: str
    token_hash: str
    prefix: str
    scopes: frozenset[str]
    handle: str | None
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@attrs.frozen
class LoginLink:
    """A single-use email sign-in token, stored only as the SHA-256 of its secret."""

    token_hash: str
    user_id: str
    expires_at: datetime
    created_at: datetime
    used_at: datetime | None = None


@attrs.frozen
class Principal:
    """Who is calling, as established by a verified credential."""

    user_id: str
    email: str | None
    scopes: frozenset[str]
    credential_id: str | None
    is_operator_flag: bool = False
    handle_restriction: str | None = None
    handles_claim: frozenset[str] | None = None
    kind: str = "pat"

    @property
    def is_operator(self) -> bool:
        """Operator powers need both the platform flag and the ``operator`` scope."""
        return self.is_operator_flag and "operator" in self.scopes

    def can_see_handle(self, handle: str) -> bool:
        if self.handle_restriction is not None and self.handle_restriction != handle:
            return False
        return self.handles_claim is None or handle in self.handles_claim


@attrs.frozen
class HandleAccess:
    """A principal resolved against one handle: what the services authorize with."""

    principal: Principal
    handle: str
    account_id: str
    role: Role | None
    request_id: str | None = None
    handle_created_at: datetime | None = None

    @property
    def actor_id(self) -> str:
        return self.principal.user_id
