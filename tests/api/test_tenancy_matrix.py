"""The tenancy and role matrix (SPEC §2, §13, A.1): every /v2 route × every kind of caller.

One table, ``ROUTES``, names each /v2 route (method + path template) with what guards it: the scope
and lowest role of a handle-scoped action (A.1), an authenticated user's own resource, an operator
workflow, or a public route. The expected status for each caller is derived from that row; a route in
the app's route table without a row fails ``test_every_route_has_a_row``.

"ok" means the guard let the caller through: any answer below 500 that is not 401, not a 403 with
``insufficient_scope``/``forbidden_role``/``operator_only`` and not a 404 ``handle_not_found``
(a 404 for the resource itself, a 409 or a 422 about the body are fine).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import attrs
import pytest
import pytest_asyncio

from entrypoints.containers import build_memory_container
from entrypoints.harness import Harness, make_harness
from entrypoints.http.app import create_app
from gharart_core.identity.model import SCOPES, Principal
from tests.seed import Seed, seed

H = "/v2/handles/{handle}"
pytestmark = pytest.mark.asyncio(loop_scope="module")


@attrs.frozen
class Row:
    kind: str  # handle | user | operator | public
    scope: str | None = None
    role: str | None = None  # lowest role for a handle route
    read: bool = True  # operators read every handle; writes need membership


def handle(scope: str | None, role: str, read: bool) -> Row:
    return Row("handle", scope, role, read)


USER, OPERATOR, PUBLIC = Row("user"), Row("operator", "operator"), Row("public")
LR, LW = handle("links:read", "viewer", True), handle("links:write", "editor", False)
SR, SW, SA = (handle("sites:read", "viewer", True), handle("sites:write", "editor", False),
              handle("sites:write", "admin", False))
FR, FW = handle("files:read", "viewer", True), handle("files:write", "editor", False)
DR, DPW = handle("docs:read", "viewer", True), handle("docs:admin", "editor", False)
DPOL_R, DPOL_W = handle("docs:admin", "admin", True), handle("docs:admin", "admin", False)

ROUTES: dict[str, Row] = {
    # handles, members, tokens, audit
    "POST /v2/handles": USER,
    "GET /v2/handles": USER,
    f"GET {H}": handle(None, "viewer", True),
    f"GET {H}/members": handle(None, "viewer", True),
    f"POST {H}/members": handle(None, "owner", False),
    f"PATCH {H}/members/{{member_id}}": handle(None, "owner", False),
    f"DELETE {H}/members/{{member_id}}": handle(None, "owner", False),
    "POST /v2/tokens": USER,
    "GET /v2/tokens": USER,
    "DELETE /v2/tokens/{token_id}": USER,
    f"GET {H}/audit-log": handle(None, "admin", True),
    # links
    f"POST {H}/links": LW,
    f"GET {H}/links": LR,
    f"GET {H}/links/{{slug}}": LR,
    f"PATCH {H}/links/{{slug}}": LW,
    f"DELETE {H}/links/{{slug}}": LW,
    f"GET {H}/links/{{slug}}/history": LR,
    f"POST {H}/links/{{slug}}/rollback": LW,
    f"POST {H}/links/{{slug}}/route-preview": LR,
    f"POST {H}/links/bulk-import": LW,
    f"GET {H}/links/bulk-import/{{runId}}": LR,
    f"GET {H}/links/bulk-import/{{runId}}/errors.csv": LR,
    f"GET {H}/links/export": LR,
    f"POST {H}/links/health-check": LW,
    f"GET {H}/links/health-check/{{runId}}": LR,
    # sites
    f"POST {H}/site-deployments": SW,
    f"GET {H}/site-deployments": SR,
    f"GET {H}/site-deployments/{{deployment_id}}": SR,
    f"PUT {H}/site-deployments/{{deployment_id}}/files/{{sha256}}": SW,
    f"POST {H}/site-deployments/{{deployment_id}}/promote": SA,
    f"POST {H}/site-deployments/rollback": SA,
    f"GET {H}/site-deployments/{{deployment_id}}/preview": SR,
    f"HEAD {H}/site-deployments/{{deployment_id}}/preview": SR,
    f"GET {H}/site-deployments/{{deployment_id}}/preview/{{path}}": SR,
    f"HEAD {H}/site-deployments/{{deployment_id}}/preview/{{path}}": SR,
    f"GET {H}/site": SR,
    f"PATCH {H}/site": SA,
    f"POST {H}/site/hostnames/{{hostname}}/verify": SA,
    f"PUT {H}/site-mode": SA,
    f"POST {H}/function-bindings": SW,
    f"GET {H}/function-bindings": SR,
    f"GET {H}/function-bindings/{{binding_id}}/submissions": SR,
    # site intelligence
    f"POST {H}/site-intel/{{hostname}}/crawl-runs": SW,
    f"GET {H}/site-intel/{{hostname}}/crawl-runs/{{run_id}}": SR,
    f"GET {H}/site-intel/{{hostname}}/snapshot": SR,
    f"POST {H}/site-intel/{{hostname}}/replay-runs": SW,
    f"GET {H}/site-intel/{{hostname}}/replay-runs/{{run_id}}": SR,
    # files
    f"POST {H}/files": FW,
    f"GET {H}/files": FR,
    f"GET {H}/files/{{file_id}}": FR,
    f"PATCH {H}/files/{{file_id}}": FW,
    f"DELETE {H}/files/{{file_id}}": FW,
    f"POST {H}/files/{{file_id}}/shares": FW,
    f"GET {H}/files/{{file_id}}/shares": FR,
    f"DELETE {H}/files/{{file_id}}/shares/{{share_id}}": FW,
    f"GET {H}/files/{{file_id}}/access-log": FR,
    "POST /v2/public/files/{file_id}/magic-link": PUBLIC,
    "GET /v2/public/files/{file_id}": PUBLIC,
    "HEAD /v2/public/files/{file_id}": PUBLIC,
    # internal docs
    f"PUT {H}/internal-docs/pages/{{path}}": DPW,
    f"DELETE {H}/internal-docs/pages/{{path}}": DPW,
    f"GET {H}/internal-docs/pages/{{path}}": DR,
    f"GET {H}/internal-docs/pages": DR,
    f"GET {H}/internal-docs/access": DPOL_R,
    f"PUT {H}/internal-docs/access": DPOL_W,
    f"POST {H}/internal-docs/access/evaluate": DPOL_R,
    f"POST {H}/internal-docs/session": DR,
    f"POST {H}/internal-docs/shares": DPOL_W,
    f"GET {H}/internal-docs/shares": DPOL_R,
    f"DELETE {H}/internal-docs/shares/{{share_id}}": DPOL_W,
    # support
    "POST /v2/support/report": Row("user", "support:write"),
    "GET /v2/support/reports": Row("user", "support:write"),
    "GET /v2/support/reports/{report_id}": Row("user", "support:write"),
    "GET /v2/operator/reports": OPERATOR,
    "POST /v2/operator/escalations": OPERATOR,
    "GET /v2/operator/escalations": OPERATOR,
    "GET /v2/operator/escalations/{escalation_id}": OPERATOR,
    "PATCH /v2/operator/escalations/{escalation_id}": OPERATOR,
    "POST /v2/public/content-report": PUBLIC,
}

PERSONAS = ["anonymous", "expired", "revoked", "garbage", "other", "restricted", "missing_scope", "viewer",
            "editor", "admin", "operator", "owner"]
ROLE_RANK = {"viewer": 1, "editor": 2, "admin": 3, "owner": 4}
AUTH_CODES = {"insufficient_scope", "forbidden_role", "operator_only", "handle_not_found", "unauthenticated"}


def _template(path: str) -> str:
    return re.sub(r"\{([^}:]+)(?::[^}]+)?\}", r"{\1}", path)


def expected(row: Row, persona: str) -> tuple[int, str] | str:
    """(status, code) or "ok"."""
    if row.kind == "public":
        return "ok"
    if persona in ("anonymous", "expired", "revoked", "garbage"):
        return 401, "unauthenticated"
    if row.kind == "operator":
        return "ok" if persona == "operator" else (403, "operator_only")
    if row.kind == "user":
        if persona == "missing_scope" and row.scope is not None:
            return 403, "insufficient_scope"
        return "ok"
    # handle-scoped
    if persona in ("other", "restricted"):
        return 404, "handle_not_found"
    if persona == "operator":
        return "ok" if row.read else (403, "forbidden_role")
    if persona == "missing_scope":
        return (403, "insufficient_scope") if row.scope is not None else "ok"
    role = "owner" if persona == "owner" else persona
    assert row.role is not None
    return "ok" if ROLE_RANK[role] >= ROLE_RANK[row.role] else (403, "forbidden_role")


# -- the world ------------------------------------------------------------------------------------
@attrs.define
class World:
    h: Harness
    seed: Seed
    tokens: dict[str, str]


async def _token(h: Harness, email: str, scopes: tuple[str, ...], **kw: Any) -> tuple[str, str]:
    identity = h.container.identity_service()
    async with h.uow_factory(write=True) as uow:
        user = await identity.ensure_user(uow, email)
        principal = Principal(user.id, user.email, frozenset(SCOPES), None, user.is_operator)
        issued = await identity.create_token(uow, principal, name="matrix", scopes=list(scopes), **kw)
        await uow.commit()
    return issued.secret, issued.token.id


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world() -> AsyncIterator[World]:
    async with make_harness() as h:
        s = await seed(h)
        owner_email = f"owner@{s.handle}.example.com"
        all_but_operator = tuple(x for x in SCOPES if x != "operator")
        tokens: dict[str, str] = {"owner": s.owner}
        for role in ("viewer", "editor", "admin"):
            tokens[role] = await h.add_member(s.handle, s.owner, f"m-{role}@{s.handle}.example.com", role,
                                              scopes=all_but_operator)
        tokens["other"] = await h.create_owner("globex", email="owner@globex.example.com", scopes=all_but_operator)
        tokens["operator"] = await h.create_user_token("staff@gharart.example.com", tuple(SCOPES), operator=True)
        r = await h.client.post("/v2/handles", json={"handle": "acme-two"}, headers=h.auth(s.owner))
        assert r.status_code == 201, r.text
        tokens["restricted"], _ = await _token(h, owner_email, all_but_operator, handle="acme-two", expires_at=None)
        now = h.clock.now()
        tokens["expired"], _ = await _token(h, owner_email, all_but_operator, handle=None,
                                            expires_at=now + timedelta(seconds=5))
        tokens["revoked"], revoked_id = await _token(h, owner_email, all_but_operator, handle=None, expires_at=None)
        r = await h.client.delete(f"/v2/tokens/{revoked_id}", headers=h.auth(s.owner))
        assert r.status_code == 204, r.text
        tokens["garbage"] = "gha_pat_" + "x" * 32
        h.clock.advance(seconds=60)
        yield World(h, s, tokens)


def _missing_scope_token_scopes(row: Row) -> tuple[str, ...]:
    return tuple(x for x in SCOPES if x not in (row.scope, "operator"))


def _request(world: World, key: str) -> dict[str, Any]:
    method, template = key.split(" ", 1)
    values = world.seed.path_values()
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    kw: dict[str, Any] = {"method": method, "url": path}
    if method in ("POST", "PUT", "PATCH"):
        if key.endswith("/files") and method == "POST":
            kw["files"] = {"file": ("m.txt", b"matrix", "text/plain")}
        elif "/files/{sha256}" in key:
            kw["content"] = b"not the blob"
            kw["headers"] = {"content-type": "application/octet-stream"}
        elif key.endswith("/bulk-import"):
            kw["content"] = b"slug,destination\nmatrix,https://example.com/m\n"
            kw["headers"] = {"content-type": "text/csv"}
            kw["params"] = {"mode": "dryRun"}
        else:
            kw["json"] = {}
    return kw


@pytest.mark.parametrize("key", sorted(ROUTES))
async def test_matrix(world: World, key: str) -> None:
    row = ROUTES[key]
    failures = []
    for persona in PERSONAS:
        if persona == "missing_scope":
            if row.scope is None and row.kind != "user":
                token = world.tokens["owner"]
            else:
                token, _ = await _token(world.h, f"owner@{world.seed.handle}.example.com",
                                        _missing_scope_token_scopes(row), handle=None, expires_at=None)
        else:
            token = world.tokens.get(persona, "")
        kw = _request(world, key)
        headers = dict(kw.pop("headers", {}))
        if persona != "anonymous":
            headers["Authorization"] = f"Bearer {token}"
        method = kw["method"]
        r = await world.h.client.request(headers=headers, **kw)
        want = expected(row, persona)
        code = None
        if r.headers.get("content-type", "").startswith(("application/problem+json", "application/json")):
            try:
                body = r.json()
                code = body.get("code") if isinstance(body, dict) else None
            except ValueError:
                code = None
        if r.status_code >= 500:
            failures.append(f"{persona}: {r.status_code} {r.text[:200]}")
        elif want == "ok":
            if r.status_code == 401 or (r.status_code in (403, 404) and code in AUTH_CODES):
                failures.append(f"{persona}: expected the guard to pass, got {r.status_code} {code}")
        else:
            status, want_code = want  # type: ignore[misc]
            if r.status_code != status or (method != "HEAD" and code != want_code):
                failures.append(f"{persona}: expected {status} {want_code}, got {r.status_code} {code}"
                                f" {r.text[:160]}")
            if status == 401 and "www-authenticate" not in r.headers:
                failures.append(f"{persona}: 401 without WWW-Authenticate")
    assert not failures, f"{key}:\n  " + "\n  ".join(failures)


def test_every_route_has_a_row() -> None:
    missing = []
    for route in create_app(build_memory_container()).litestar.routes:
        path = _template(route.path)
        if not path.startswith("/v2/"):
            continue
        for method in getattr(route, "methods", ()):
            if method != "OPTIONS" and f"{method} {path}" not in ROUTES:
                missing.append(f"{method} {path}")
    assert not missing, "routes without a row in the tenancy matrix: " + ", ".join(sorted(missing))
