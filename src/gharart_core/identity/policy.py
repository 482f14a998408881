"""Authorization as a pure policy: scope AND role on the handle (SPEC §2, A.1)."""

from __future__ import annotations

import enum

from ..shared.errors import Forbidden, NotFound
from .model import HandleAccess, Principal, Role

__all__ = ["Action", "authorize", "handle_visible", "require_scope"]


class Action(enum.Enum):
    """Every guarded action: (scope, lowest role, is a read)."""

    LINKS_READ = ("links:read", Role.VIEWER, True)
    LINKS_WRITE = ("links:write", Role.EDITOR, False)
    SITES_READ = ("sites:read", Role.VIEWER, True)
    SITES_WRITE = ("sites:write", Role.EDITOR, False)
    SITES_ADMIN = ("sites:write", Role.ADMIN, False)
    FILES_READ = ("files:read", Role.VIEWER, True)
    FILES_WRITE = ("files:write", Role.EDITOR, False)
    DOCS_READ = ("docs:read", Role.VIEWER, True)
    DOCS_PAGES_WRITE = ("docs:admin", Role.EDITOR, False)
    DOCS_POLICY = ("docs:admin", Role.ADMIN, False)
    DOCS_POLICY_READ = ("docs:admin", Role.ADMIN, True)
    AUDIT_READ = (None, Role.ADMIN, True)
    HANDLE_READ = (None, Role.VIEWER, True)
    MEMBERS_READ = (None, Role.VIEWER, True)
    MEMBERS_WRITE = (None, Role.OWNER, False)

    @property
    def scope(self) -> str | None:
        return self.value[0]  # type: ignore[no-any-return]

    @property
    def role(self) -> Role:
        return self.value[1]  # type: ignore[no-any-return]

    @property
    def is_read(self) -> bool:
        return self.value[2]  # type: ignore[no-any-return]


def handle_visible(principal: Principal, handle: str, role: Role | None) -> bool:
    """A handle is visible to its members and to operators; restricted tokens see only theirs."""
    if not principal.can_see_handle(handle):
        return False
    return role is not None or principal.is_operator


def require_scope(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise Forbidden("insufficient_scope", f"This action needs the `{scope}` scope.",
                        extra={"requiredScope": scope})


def authorize(access: HandleAccess, action: Action) -> None:
    """Raise unless ``access`` may perform ``action``.

    Order: an invisible handle is 404 ``handle_not_found`` (no tenant enumeration); then a
    missing scope is 403 ``insufficient_scope`` (it wins over the role); then a role below the
    action's is 403 ``forbidden_role``. Operators read everything; writing needs membership.
    """
    principal = access.principal
    if not handle_visible(principal, access.handle, access.role):
        raise NotFound("handle_not_found", f"Handle `{access.handle}` was not found.")
    if action.is_read and principal.is_operator:
        return
    if action.scope is not None:
        require_scope(principal, action.scope)
    if access.role is None or access.role < action.role:
        raise Forbidden(
            "forbidden_role",
            f"This action needs the `{action.role.label}` role on `{access.handle}`.",
            extra={"requiredRole": action.role.label},
        )
