"""The authorization policy against a brute-force reference built from SPEC A.1."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.identity.model import SCOPES, HandleAccess, Principal, Role
from gharart_core.identity.policy import Action, authorize
from gharart_core.shared.errors import DomainError, Forbidden, NotFound

# SPEC A.1, written out independently of the implementation: action -> (scope or None for "any",
# lowest role, is a read).
A1 = {
    "LINKS_READ": ("links:read", "viewer", True),
    "LINKS_WRITE": ("links:write", "editor", False),
    "SITES_READ": ("sites:read", "viewer", True),
    "SITES_WRITE": ("sites:write", "editor", False),
    "SITES_ADMIN": ("sites:write", "admin", False),        # promote, site rollback, site mode, PATCH /site
    "FILES_READ": ("files:read", "viewer", True),
    "FILES_WRITE": ("files:write", "editor", False),
    "DOCS_READ": ("docs:read", "viewer", True),
    "DOCS_PAGES_WRITE": ("docs:admin", "editor", False),   # doc pages PUT/DELETE
    "DOCS_POLICY": ("docs:admin", "admin", False),         # docs policy PUT, evaluate
    "DOCS_POLICY_READ": ("docs:admin", "admin", True),     # docs policy GET
    "AUDIT_READ": (None, "admin", True),
    "MEMBERS_READ": (None, "viewer", True),
    "MEMBERS_WRITE": (None, "owner", False),
    "HANDLE_READ": (None, "viewer", True),
}
RANK = {None: 0, "viewer": 1, "editor": 2, "admin": 3, "owner": 4}
ROLES: list[str | None] = [None, "viewer", "editor", "admin", "owner"]
HANDLE = "acme"


def reference(action: str, scopes: frozenset[str], flag: bool, restriction: str | None,
              claim: frozenset[str] | None, role: str | None) -> str:
    """Expected outcome: 'ok', 'handle_not_found', 'insufficient_scope' or 'forbidden_role'."""
    scope, lowest, is_read = A1[action]
    operator = flag and "operator" in scopes
    if restriction not in (None, HANDLE) or (claim is not None and HANDLE not in claim):
        return "handle_not_found"
    if role is None and not operator:
        return "handle_not_found"   # non-members cannot tell the handle exists
    if is_read and operator:
        return "ok"                 # operators read everything, audit log and docs policy included
    if scope is not None and scope not in scopes:
        return "insufficient_scope"  # wins over the role
    if RANK[role] < RANK[lowest]:
        return "forbidden_role"     # operators write only where they are members
    return "ok"


def outcome(action: Action, access: HandleAccess) -> str:
    try:
        authorize(access, action)
    except (Forbidden, NotFound) as exc:
        return exc.code
    except DomainError as exc:  # pragma: no cover - any other error is a bug
        return f"unexpected {exc.code}"
    return "ok"


def test_action_table_matches_spec() -> None:
    assert {a.name for a in Action} == set(A1)
    for action in Action:
        scope, lowest, is_read = A1[action.name]
        assert (action.scope, action.role.label, action.is_read) == (scope, lowest, is_read), action


RESTRICTIONS = [None, HANDLE, "other"]
CLAIMS: list[frozenset[str] | None] = [None, frozenset({HANDLE}), frozenset({"other"})]


@given(scopes=st.frozensets(st.sampled_from(SCOPES)))
def test_policy_equals_reference_for_every_principal_role_and_action(scopes: frozenset[str]) -> None:
    for flag, restriction, claim, role in itertools.product((False, True), RESTRICTIONS, CLAIMS, ROLES):
        principal = Principal("usr_1", "u@example.com", scopes, "pat_1", is_operator_flag=flag,
                              handle_restriction=restriction, handles_claim=claim)
        access = HandleAccess(principal, HANDLE, "acc_1", None if role is None else Role.parse(role))
        for action in Action:
            expected = reference(action.name, scopes, flag, restriction, claim, role)
            assert outcome(action, access) == expected, (action, scopes, flag, restriction, claim, role)


def _access(role: str | None, *scopes: str, operator: bool = False) -> HandleAccess:
    principal = Principal("usr_1", None, frozenset(scopes), "pat_1", is_operator_flag=operator)
    return HandleAccess(principal, HANDLE, "acc_1", None if role is None else Role.parse(role))


@pytest.mark.parametrize(("access", "action", "expected"), [
    (_access("editor", "links:write"), Action.LINKS_WRITE, "ok"),
    (_access("viewer", "links:write"), Action.LINKS_WRITE, "forbidden_role"),
    (_access("viewer", "links:read"), Action.LINKS_WRITE, "insufficient_scope"),  # both short: scope wins
    (_access("editor", "sites:write"), Action.SITES_ADMIN, "forbidden_role"),
    (_access("admin", "sites:write"), Action.SITES_ADMIN, "ok"),
    (_access("owner"), Action.MEMBERS_WRITE, "ok"),
    (_access("admin", *SCOPES), Action.MEMBERS_WRITE, "forbidden_role"),
    (_access("viewer"), Action.MEMBERS_READ, "ok"),
    (_access("editor", "docs:admin"), Action.DOCS_POLICY_READ, "forbidden_role"),
    (_access(None, "operator", operator=True), Action.AUDIT_READ, "ok"),
    (_access(None, "operator", operator=True), Action.DOCS_POLICY_READ, "ok"),
    (_access(None, "operator", "links:write", operator=True), Action.LINKS_WRITE, "forbidden_role"),
    (_access(None, "links:read", operator=True), Action.LINKS_READ, "handle_not_found"),  # flag without scope
    (_access(None, *SCOPES), Action.LINKS_READ, "handle_not_found"),
])
def test_spec_examples(access: HandleAccess, action: Action, expected: str) -> None:
    assert outcome(action, access) == expected
