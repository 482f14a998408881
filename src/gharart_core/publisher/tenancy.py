"""Tenancy account -> site -> sector for the IGNY8 API, as pure policy functions.

IGNY8 scopes every queryset to the caller's account and lets privileged roles bypass the
filter. Here an account owns handles, a site *is* a handle (``site_id`` = handle) and a sector
is a free string inside a site. A caller sees every handle it is a member of (narrowed by a
handle-restricted token or a ``handles`` JWT claim); an operator (flag + ``operator`` scope)
sees every handle. Records always keep their own tenant fields; scoping only filters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ..identity.model import Principal, Role
from ..identity.policy import require_scope

__all__ = ["TenantScope", "list_scope", "matches"]


@attrs.frozen
class TenantScope:
    """Which records a list shows. ``handles is None`` means every handle (operator bypass)."""

    handles: frozenset[str] | None
    site_id: str | None = None
    sector_id: str | None = None
    account_id: str | None = None

    @property
    def empty(self) -> bool:
        return self.handles is not None and not self.handles


def list_scope(principal: Principal, memberships: Mapping[str, Role] | Iterable[str], *, scope: str,
               site_id: str | None = None, sector_id: str | None = None,
               account_id: str | None = None) -> TenantScope:
    """The scope of a list request.

    Raises 403 ``insufficient_scope`` when the credential lacks ``scope`` (operators reading
    need only the ``operator`` scope). A ``site_id`` filter naming a handle the caller cannot
    see yields an empty scope, as a DRF filter on a scoped queryset would (no 404: lists never
    reveal whether a site exists).
    """
    if principal.is_operator:
        handles: frozenset[str] | None = None
    else:
        require_scope(principal, scope)
        handles = frozenset(h for h in memberships if principal.can_see_handle(h))
    if site_id is not None:
        handles = frozenset({site_id}) if handles is None or site_id in handles else frozenset()
    return TenantScope(handles=handles, site_id=site_id, sector_id=sector_id, account_id=account_id)


def matches(scope: TenantScope, *, site_id: str, sector_id: str, account_id: str) -> bool:
    """Whether a record with these tenant fields belongs to ``scope``."""
    if scope.handles is not None and site_id not in scope.handles:
        return False
    if scope.sector_id is not None and sector_id != scope.sector_id:
        return False
    return scope.account_id is None or account_id == scope.account_id
