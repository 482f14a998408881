"""Authorization as a pure policy: scope AND role on the handle (SPEC §2, A.1)."""

from __future__ import annotations

import enum

from ..shared.errors import Forbidden, NotFound
from .model import HandleAccess, Principal, Role

__all__ = ["Action", "authorize", "handle_visible", "require_scope"]


@enum.unique
class Action(enum.Enum):
    """Every guarded action: (scope, lowest role, is a read, name).

    The trailing name keeps values distinct: without it, actions with the same rule
    (e.g. members read and handle read) would silently become aliases of one another.
    """

    LINKS_READ = ("links:read", Role.VIEWER, True, "links.read")
    LINKS_WRITE = ("links:write", Role.EDITOR, False, "links.write")
    SITES_READ = ("sites:read", Role.VIEWER, True, "sites.read")
    SITES_WRITE = ("sites:write", Role.EDITOR, False, "sites.write")
    SITES_ADMIN = ("sites:write", Role.ADMIN, False, "sites.admin")
    FILES_READ = ("files:read", Role.VIEWER, True, "files.read")
    FILES_WRITE = ("files:write", Role.EDITOR, False, "files.write")
    DOCS_READ = ("docs:read", Role.VIEWER, True, "docs.read")
    DOCS_PAGES_WRITE = ("docs:admin", Role.EDITOR, False, "docs.pages_write")
    DOCS_POLICY = ("docs:admin", Role.ADMIN, False, "docs.policy")
    DOCS_POLICY_READ = ("docs:admin", Role.ADMIN, True, "docs.policy_read")
    AUDIT_READ = (None, Role.ADMIN, True, "audit.read")
    HANDLE_READ = (None, Role.VIEWER, True, "handle.read")
    MEMBERS_READ = (None, Role.VIEWER, True, "members.read")
    MEMBERS_WRITE = (None, Role.OWNER, False, "members.write")

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
