"""The tenancy and role matrix (SPEC §2, §10, §13, A.1, A.5): every route × every kind of caller.

Two tables. ``ROUTES`` names each guarded /v2 route (method + path template) with what guards it:
the scope and lowest role of a handle-scoped action (A.1), an authenticated user's own resource or an
operator workflow. The expected answer for each caller is derived from that row, where "ok" means the
guard let the caller through: any answer below 500 that is not 401, not a 403 with
``insufficient_scope``/``forbidden_role``/``operator_only`` and not a 404 ``handle_not_found`` (a
404 for the resource itself, a 409 or a 422 about the body are fine).

``CASES`` covers every other route: the IGNY8 publisher API under ``/api/v1/publisher/`` (envelope
answers, code in ``X-Error-Code``), the public routes (``/l``, ``/profiles`` in live and private
site mode, ``/_edge/docs``, ``/v2/public/*``) and the service routes. Each of its cells names the
exact status, and the code where one is expected; list routes also name the sites each caller sees.

A route in the app's route table without a row (``/dashboard`` aside) fails
``test_every_route_has_a_row``, and so does a row whose route is gone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import attrs
import pytest
import pytest_asyncio

from entrypoints.containers import build_memory_container
from entrypoints.harness import Harness, make_harness
from entrypoints.http.app import create_app
from entrypoints.settings import DEFAULT_RATE_LIMITS, parse_rate_limits
from gharart_core.identity.model import SCOPES, Principal
from tests.seed import Seed, seed

H = "/v2/handles/{handle}"
pytestmark = pytest.mark.asyncio(loop_scope="module")


@attrs.frozen
class Row:
    kind: str  # handle | user | operator
    scope: str | None = None
    role: str | None = None  # lowest role for a handle route
    read: bool = True  # operators read every handle; writes need membership


def handle(scope: str | None, role: str, read: bool) -> Row:
    return Row("handle", scope, role, read)


USER, OPERATOR = Row("user"), Row("operator", "operator")
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
}

PERSONAS = ["anonymous", "expired", "revoked", "garbage", "other", "restricted", "missing_scope", "viewer",
            "editor", "admin", "operator", "owner"]
ROLE_RANK = {"viewer": 1, "editor": 2, "admin": 3, "owner": 4}
AUTH_CODES = {"insufficient_scope", "forbidden_role", "operator_only", "handle_not_found", "unauthenticated"}


def _template(path: str) -> str:
    return re.sub(r"\{([^}:]+)(?::[^}]+)?\}", r"{\1}", path)


def expected(row: Row, persona: str) -> tuple[int, str] | str:
    """(status, code) or "ok"."""
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
    # The public routes' per-IP throttles (5 magic links, 10 content reports a minute) are tested in
    # test_files_api.py and test_support_api.py; here every caller comes from the same address.
    limits = parse_rate_limits(f"{DEFAULT_RATE_LIMITS},magic_link=600/m:600,content_report=600/m:600")
    async with make_harness(rate_limits=limits) as h:
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
            assert not isinstance(want, str)
            status, want_code = want
            if r.status_code != status or (method != "HEAD" and code != want_code):
                failures.append(f"{persona}: expected {status} {want_code}, got {r.status_code} {code}"
                                f" {r.text[:160]}")
            if status == 401 and "www-authenticate" not in r.headers:
                failures.append(f"{persona}: 401 without WWW-Authenticate")
    assert not failures, f"{key}:\n  " + "\n  ".join(failures)


# -- every other route: one exact status per caller ----------------------------------------------
Cell = tuple[int, str | None]  # (status, code); code None: none is checked
UNAUTH: Cell = (401, "unauthenticated")
BAD_CREDENTIALS = ("anonymous", "expired", "revoked", "garbage")
P = "/api/v1/publisher"


def grid(member: Cell, *, bad: Cell = UNAUTH, outsider: Cell | None = None, missing_scope: Cell | None = None,
         viewer: Cell | None = None, operator: Cell | None = None, anonymous: Cell | None = None
         ) -> dict[str, Cell]:
    """The cell of each caller: ``member`` for editor, admin and owner, and for every caller not named.
    ``outsider`` is another handle's owner and the PAT restricted to another handle."""
    cells = dict.fromkeys(PERSONAS, member)
    cells.update(dict.fromkeys(BAD_CREDENTIALS, bad))
    named = {"other": outsider, "restricted": outsider, "missing_scope": missing_scope, "viewer": viewer,
             "operator": operator, "anonymous": anonymous}
    cells.update({k: v for k, v in named.items() if v is not None})
    return cells


def everyone(status: int, code: str | None = None) -> dict[str, Cell]:
    return dict.fromkeys(PERSONAS, (status, code))


SCOPE_403: Cell = (403, "insufficient_scope")
ROLE_403: Cell = (403, "forbidden_role")
PUB_READ = grid((200, None), missing_scope=SCOPE_403)
PUB_RECORD_READ = grid((200, None), outsider=(404, "publishing_record_not_found"), missing_scope=SCOPE_403)
PUB_DEPLOY_READ = grid((200, None), outsider=(404, "deployment_not_found"), missing_scope=SCOPE_403)
# a site named in a body that the caller cannot see is a field error, as a DRF related field answers
# (the same answer as for a site that does not exist: no tenant enumeration)
PUB_CREATE = grid((201, None), outsider=(400, "validation_failed"), missing_scope=SCOPE_403, viewer=ROLE_403,
                  operator=ROLE_403)


def pub_write(outsider: str) -> dict[str, Cell]:
    return grid((200, None), outsider=(404, outsider), missing_scope=SCOPE_403, viewer=ROLE_403,
                operator=ROLE_403)


def globex_only(not_found: str) -> dict[str, Cell]:
    """A record of globex (another account): its owner and operators read it, nobody else sees it."""
    return {**everyone(404, not_found), **dict.fromkeys(BAD_CREDENTIALS, UNAUTH), "other": (200, None),
            "operator": (200, None)}


DOCS_DENIED: Cell = (403, "docs_access_denied")
# the policy set by ``extra``: /guide for editors and up, /open for anyone, default deny
DOCS_EDITORS = grid((200, None), anonymous=(404, "page_not_found"), outsider=DOCS_DENIED,
                    missing_scope=SCOPE_403, viewer=DOCS_DENIED, operator=DOCS_DENIED)
DOCS_ANYONE = grid((200, None), anonymous=(200, None), missing_scope=SCOPE_403)
DOCS_DEFAULT_DENY = grid(DOCS_DENIED, anonymous=(404, "page_not_found"))

# which sites' records each caller's publisher lists show (SPEC §10, A.5): members see their handles,
# a restricted PAT its one handle, operators every account's
SEES: dict[str, set[str]] = {
    "other": {"globex"}, "restricted": {"acme-two"}, "viewer": {"acme"}, "editor": {"acme"}, "admin": {"acme"},
    "owner": {"acme", "acme-two"}, "operator": {"acme", "acme-two", "globex"},
}


@attrs.frozen
class Case:
    cells: dict[str, Cell]
    url: str  # with {placeholders} from ``Extra.values``
    body: Any = None  # JSON
    scope: str | None = None  # what the ``missing_scope`` caller's token lacks (None: the owner's token)
    envelope: bool = False  # /api/v1: every answer is the IGNY8 envelope
    fresh: str | None = None  # "record" | "deployment": a new one per caller, as {record_id}/{deployment_id}
    private: bool = False  # served while acme's site is in private mode
    lists: str | None = None  # "results" | "status": the sites each caller sees must be SEES[caller]


RECORD = {"site_id": "acme", "content_id": "matrix", "destination": "webhook", "title": "Matrix",
          "config": {"url": "https://hooks.example.com/matrix"}}
PUB_DETAIL = f"{P}/publishing-records/{{record_id}}/"
DEP_DETAIL = f"{P}/deployments/{{deployment_id}}/"
PROFILE_ROUTES = {
    "GET /profiles/{handle}": "/profiles/acme",
    "HEAD /profiles/{handle}": "/profiles/acme",
    "GET /profiles/{handle}/index.html": "/profiles/acme/index.html",
    "HEAD /profiles/{handle}/index.html": "/profiles/acme/index.html",
    "POST /profiles/{handle}/index.html": "/profiles/acme/index.html",
    "GET /profiles/{handle}/{path}": "/profiles/acme/about.html",
    "HEAD /profiles/{handle}/{path}": "/profiles/acme/about.html",
    "POST /profiles/{handle}/{path}": "/profiles/acme/api/contact",
}


def _profile_cases() -> dict[str, Case]:
    out = {}
    for key, url in PROFILE_ROUTES.items():
        # POST reaches the live release's function bindings; index.html has none (405)
        status = 405 if key == "POST /profiles/{handle}/index.html" else 200
        body = {"name": "matrix"} if key.startswith("POST") else None
        out[key] = Case(everyone(status), url, body)
        # private: members only (A.3); operators, who read every handle (A.1), too
        out[f"{key} [private]"] = Case(grid((status, None), outsider=(404, "handle_not_found")), url, body,
                                       private=True)
    return out


CASES: dict[str, Case] = {
    # IGNY8 publisher (SPEC §10, A.5): reads need sites:read and the viewer role, writes sites:write
    # and the editor role (docs/publisher.md); operators read every account, write nowhere
    f"GET {P}": Case(grid((200, None)), f"{P}/", envelope=True),
    f"GET {P}/publishing-records": Case(PUB_READ, f"{P}/publishing-records/?page_size=100", scope="sites:read",
                                        envelope=True, lists="results"),
    f"POST {P}/publishing-records": Case(PUB_CREATE, f"{P}/publishing-records/", RECORD, "sites:write", True),
    f"GET {P}/publishing-records/{{record_id}}": Case(PUB_RECORD_READ, PUB_DETAIL, scope="sites:read",
                                                      envelope=True),
    f"GET {P}/publishing-records/{{record_id}} [globex]": Case(
        globex_only("publishing_record_not_found"), f"{P}/publishing-records/{{globex_record}}/",
        scope="sites:read", envelope=True),
    f"PUT {P}/publishing-records/{{record_id}}": Case(
        pub_write("publishing_record_not_found"), PUB_DETAIL, {**RECORD, "title": "Matrix (put)"}, "sites:write",
        True, "record"),
    f"PATCH {P}/publishing-records/{{record_id}}": Case(
        pub_write("publishing_record_not_found"), PUB_DETAIL, {"title": "Matrix (patch)"}, "sites:write", True,
        "record"),
    f"DELETE {P}/publishing-records/{{record_id}}": Case(
        pub_write("publishing_record_not_found"), PUB_DETAIL, None, "sites:write", True, "record"),
    f"POST {P}/publishing-records/{{record_id}}/retry": Case(
        pub_write("publishing_record_not_found"), f"{P}/publishing-records/{{record_id}}/retry/", {},
        "sites:write", True, "record"),
    f"POST {P}/publish": Case(PUB_CREATE, f"{P}/publish/", {**RECORD, "content": "<p>matrix</p>"}, "sites:write",
                              True),
    f"POST {P}/retry": Case(pub_write("publishing_record_not_found"), f"{P}/retry/",
                            {"publishing_record_id": "{record_id}"}, "sites:write", True, "record"),
    f"GET {P}/status": Case(PUB_READ, f"{P}/status/", scope="sites:read", envelope=True, lists="status"),
    f"GET {P}/deployments": Case(PUB_READ, f"{P}/deployments/?page_size=100", scope="sites:read", envelope=True,
                                 lists="results"),
    f"POST {P}/deployments": Case(PUB_CREATE, f"{P}/deployments/",
                                  {"site_id": "acme", "files": {"index.html": "<p>matrix</p>"}}, "sites:write",
                                  True),
    f"GET {P}/deployments/{{deployment_id}}": Case(PUB_DEPLOY_READ, DEP_DETAIL, scope="sites:read", envelope=True),
    f"GET {P}/deployments/{{deployment_id}} [globex]": Case(
        globex_only("deployment_not_found"), f"{P}/deployments/{{globex_deployment}}/",
        scope="sites:read", envelope=True),
    f"PUT {P}/deployments/{{deployment_id}}": Case(
        pub_write("deployment_not_found"), DEP_DETAIL, {"site_id": "acme", "metadata": {"matrix": "put"}},
        "sites:write", True),
    f"PATCH {P}/deployments/{{deployment_id}}": Case(
        pub_write("deployment_not_found"), DEP_DETAIL, {"metadata": {"matrix": "patch"}}, "sites:write", True),
    f"DELETE {P}/deployments/{{deployment_id}}": Case(
        pub_write("deployment_not_found"), DEP_DETAIL, None, "sites:write", True, "deployment"),
    # public redirect, profiles (live and private site mode), internal docs edge
    "GET /l/{handle}/{slug}": Case(everyone(302), "/l/acme/{slug}"),
    **_profile_cases(),
    "GET /_edge/docs/{handle}/{path}": Case(DOCS_EDITORS, "/_edge/docs/acme/guide/welcome.md", scope="docs:read"),
    "GET /_edge/docs/{handle}/{path} [anyone]": Case(DOCS_ANYONE, "/_edge/docs/acme/open/faq.md",
                                                     scope="docs:read"),
    "GET /_edge/docs/{handle}": Case(DOCS_DEFAULT_DENY, "/_edge/docs/acme", scope="docs:read"),
    # public files: the file's mode and the link token decide; a bearer token changes nothing
    "GET /v2/public/files/{file_id} [public]": Case(everyone(200), "/v2/public/files/{public_file}"),
    "GET /v2/public/files/{file_id} [link]": Case(everyone(401, "token_required"), "/v2/public/files/{link_file}"),
    "GET /v2/public/files/{file_id} [link+token]": Case(everyone(200),
                                                        "/v2/public/files/{link_file}?token={link_token}"),
    "GET /v2/public/files/{file_id} [private]": Case(everyone(404, "file_not_found"),
                                                     "/v2/public/files/{private_file}"),
    "HEAD /v2/public/files/{file_id} [public]": Case(everyone(200), "/v2/public/files/{public_file}"),
    "HEAD /v2/public/files/{file_id} [link]": Case(everyone(401), "/v2/public/files/{link_file}"),
    "HEAD /v2/public/files/{file_id} [private]": Case(everyone(404), "/v2/public/files/{private_file}"),
    "POST /v2/public/files/{file_id}/magic-link": Case(everyone(202), "/v2/public/files/{link_file}/magic-link",
                                                       {"email": "friend@example.org"}),
    "POST /v2/public/content-report": Case(everyone(202), "/v2/public/content-report",
                                           {"category": "spam", "targetUrl": "http://testserver/l/acme/{slug}",
                                            "description": "matrix"}),
    # service routes: no auth, a token (even a bad one) changes nothing
    "GET /healthz": Case(everyone(200), "/healthz"),
    "GET /readyz": Case(everyone(200), "/readyz"),
    "GET /metrics": Case(everyone(200), "/metrics"),
    "GET /schema": Case(everyone(200), "/schema"),
    "GET /schema/openapi.json": Case(everyone(200), "/schema/openapi.json"),
    "GET /schema/swagger": Case(everyone(200), "/schema/swagger"),
    "GET /schema/oauth2-redirect.html": Case(everyone(200), "/schema/oauth2-redirect.html"),
    "GET /schema/{path}": Case(everyone(404), "/schema/redoc"),  # Litestar's page for renderers not configured
}


def _route_key(key: str) -> str:
    return key.split(" [", 1)[0]


@attrs.define
class Extra:
    values: dict[str, str]


async def _ok(r: Any, *codes: int) -> Any:
    assert r.status_code in (codes or (200, 201)), f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    body = r.json()
    return body.get("data", body) if isinstance(body, dict) and "success" in body else body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def extra(world: World) -> Extra:
    """Resources of their own for ``CASES`` (made after the /v2 rows, whose writes may delete the seed's)."""
    h, c = world.h, world.h.client
    owner, other = h.auth(world.tokens["owner"]), h.auth(world.tokens["other"])
    base = "/v2/handles/acme"
    v: dict[str, str] = {"slug": "matrix-go"}
    await _ok(await c.post(f"{base}/links", json={"slug": v["slug"], "destination": "https://example.com/go"},
                           headers=owner))
    # a live release with about.html and a `json` function on /api/contact
    site = await _ok(await c.get(f"{base}/site", headers=owner))
    pages = {"index.html": b"<!doctype html><title>matrix</title>", "about.html": b"<!doctype html><p>about</p>"}
    digests = {p: hashlib.sha256(b).hexdigest() for p, b in pages.items()}
    dep = await _ok(await c.post(f"{base}/site-deployments", headers=owner, json={
        "message": "matrix", "manifest": {p: {"sha256": digests[p], "size": len(b)} for p, b in pages.items()}}))
    await _ok(await c.post(f"{base}/function-bindings", headers=owner, json={
        "route": "/api/contact", "function": "json", "config": {"body": {"ok": True}}, "deploymentId": dep["id"]}))
    for p, b in pages.items():
        await _ok(await c.put(f"{base}/site-deployments/{dep['id']}/files/{digests[p]}", content=b,
                              headers={**owner, "content-type": "application/octet-stream"}))
    await _ok(await c.post(f"{base}/site-deployments/{dep['id']}/promote", headers=owner,
                           json={"expectedLiveDeploymentId": site["liveDeploymentId"]}))
    v["deployment_id"] = dep["id"]
    # docs: /guide for editors and up, /open for anyone
    for path, classification in (("guide/welcome.md", "internal"), ("open/faq.md", "public")):
        await _ok(await c.put(f"{base}/internal-docs/pages/{path}", headers=owner,
                              json={"content": "# matrix", "contentType": "text/markdown",
                                    "classification": classification}))
    policy = await _ok(await c.get(f"{base}/internal-docs/access", headers=owner))
    await _ok(await c.put(f"{base}/internal-docs/access", headers=owner, json={
        "expectedVersion": policy["version"], "defaultEffect": "deny", "rules": [
            {"id": "guide", "pathPrefix": "/guide", "effect": "allow", "principals": {"roles": ["editor"]}},
            {"id": "open", "pathPrefix": "/open", "effect": "allow", "principals": {"anyone": True}}]}))
    # files in each mode; the link file shared, its recipient's token read from the outbox
    for mode in ("public", "link", "private"):
        f = await _ok(await c.post(f"{base}/files", headers=owner, data={"mode": mode},
                                   files={"file": (f"{mode}.txt", b"matrix " + mode.encode(), "text/plain")}))
        v[f"{mode}_file"] = f["id"]
    await _ok(await c.post(f"{base}/files/{v['link_file']}/shares", json={"emails": ["friend@example.org"]},
                           headers=owner))
    mail = h.outbox.to("friend@example.org")[-1].text
    url = next(w for w in mail.split() if w.startswith("http") and v["link_file"] in w)
    v["link_token"] = parse_qs(urlparse(url).query)["token"][0]
    # publisher records and deployments on three sites of two accounts
    v["record_id"] = (await _ok(await c.post(f"{P}/publishing-records/", json=RECORD, headers=owner)))["id"]
    await _ok(await c.post(f"{P}/publishing-records/", json={**RECORD, "site_id": "acme-two"}, headers=owner))
    v["globex_record"] = (await _ok(await c.post(f"{P}/publishing-records/", json={**RECORD, "site_id": "globex"},
                                                 headers=other)))["id"]
    await _ok(await c.post(f"{P}/deployments/", json={"site_id": "acme-two", "files": {"index.html": "two"}},
                           headers=owner))
    v["globex_deployment"] = (await _ok(await c.post(
        f"{P}/deployments/", json={"site_id": "globex", "files": {"index.html": "globex"}}, headers=other)))["id"]
    return Extra(v)


async def _fresh(world: World, kind: str) -> str:
    """A new publishing record (pending) or deployment (deployed, not live) on acme, made by its owner."""
    owner = world.h.auth(world.tokens["owner"])
    if kind == "record":
        r = await world.h.client.post(f"{P}/publishing-records/", json=RECORD, headers=owner)
    else:
        r = await world.h.client.post(f"{P}/deployments/", json={"site_id": "acme", "files": {"a.html": "a"}},
                                      headers=owner)
    return str((await _ok(r))["id"])


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, v in values.items():
            value = value.replace("{" + name + "}", v)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


async def _site_mode(world: World, mode: str) -> None:
    h, owner = world.h, world.h.auth(world.tokens["owner"])
    site = await _ok(await h.client.get("/v2/handles/acme/site", headers=owner))
    await _ok(await h.client.put("/v2/handles/acme/site-mode", headers=owner,
                                 json={"mode": mode, "expectedModeVersion": site["modeVersion"]}))


def _check(case: Case, persona: str, method: str, r: Any) -> list[str]:
    status, want_code = case.cells[persona]
    body: Any = None
    if method != "HEAD" and r.headers.get("content-type", "").startswith(("application/json",
                                                                          "application/problem+json")):
        body = r.json()
    if case.envelope:
        code = r.headers.get("x-error-code")
        if method != "HEAD" and (not isinstance(body, dict)
                                 or set(body) != {"success", "data", "message", "errors", "request_id"}
                                 or body["success"] is not (r.status_code < 400)):
            return [f"{persona}: not the envelope: {r.status_code} {r.text[:200]}"]
    else:
        code = body.get("code") if isinstance(body, dict) else None
    out = []
    if r.status_code != status or (want_code is not None and method != "HEAD" and code != want_code):
        out.append(f"{persona}: expected {status} {want_code}, got {r.status_code} {code} {r.text[:160]}")
    elif status == 401 and "www-authenticate" not in r.headers:
        out.append(f"{persona}: 401 without WWW-Authenticate")
    elif case.envelope and method == "DELETE" and body["data"] is not None:
        out.append(f"{persona}: DELETE answered data {body['data']!r}, not null")
    elif case.lists and status == 200:
        data = body["data"]
        sites = {x["site_id"] for x in data["results"]}
        if case.lists == "results" and data["count"] != len(data["results"]):
            out.append(f"{persona}: more than one page ({data['count']})")
        if sites != SEES[persona]:
            out.append(f"{persona}: sees {sorted(sites)}, expected {sorted(SEES[persona])}")
    return out


@pytest.mark.parametrize("key", sorted(CASES))
async def test_route_cells(world: World, extra: Extra, key: str) -> None:
    case = CASES[key]
    method = key.split(" ", 1)[0]
    failures = []
    if case.private:
        await _site_mode(world, "private")
    try:
        for persona in PERSONAS:
            values = dict(extra.values)
            if case.fresh is not None:
                values[f"{case.fresh}_id"] = await _fresh(world, case.fresh)
            if persona == "missing_scope" and case.scope is not None:
                token, _ = await _token(world.h, f"owner@{world.seed.handle}.example.com",
                                        tuple(x for x in SCOPES if x not in (case.scope, "operator")),
                                        handle=None, expires_at=None)
            else:
                token = world.tokens["owner" if persona == "missing_scope" else persona] \
                    if persona != "anonymous" else ""
            headers = {} if persona == "anonymous" else {"Authorization": f"Bearer {token}"}
            world.h.client.cookies.clear()  # no docs session cookie left by an earlier request
            kw: dict[str, Any] = {"json": _fill(case.body, values)} if case.body is not None else {}
            r = await world.h.client.request(method, _fill(case.url, values), headers=headers, **kw)
            failures += _check(case, persona, method, r)
    finally:
        if case.private:
            await _site_mode(world, "live")
    assert not failures, f"{key}:\n  " + "\n  ".join(failures)


async def test_every_route_has_a_row() -> None:
    """Every route of the route table has a row, and every row a route. The dashboard's server-rendered
    pages are left out: their sign-in, roles and handle checks are covered by tests/api/test_dashboard_pages.py."""
    rows = set(ROUTES) | {_route_key(k) for k in CASES}
    served = set()
    for route in create_app(build_memory_container()).litestar.routes:
        path = _template(route.path)
        if path == "/dashboard" or path.startswith("/dashboard/"):
            continue
        served |= {f"{m} {path}" for m in getattr(route, "methods", ()) if m != "OPTIONS"}
    assert not served - rows, "routes without a row in the tenancy matrix: " + ", ".join(sorted(served - rows))
    assert not rows - served, "rows for routes the app does not serve: " + ", ".join(sorted(rows - served))


async def test_operator_reads_deployments_of_any_handle() -> None:
    """A /v2 deployment of a handle the publisher API never touched: operators read it as its owner does."""
    async with make_harness() as h:
        owner = h.auth(await h.create_owner("initech"))
        operator = h.auth(await h.create_user_token("staff@gharart.example.com", tuple(SCOPES), operator=True))
        r = await h.client.post("/v2/handles/initech/site-deployments", headers=owner, json={
            "message": "v1", "manifest": {"index.html": {"sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}}})
        assert r.status_code == 201, r.text
        dep_id = r.json()["id"]
        r = await h.client.get(f"{P}/deployments/{dep_id}/", headers=owner)
        assert r.status_code == 200, r.text
        listed = await h.client.get(f"{P}/deployments/", headers=operator)
        detail = await h.client.get(f"{P}/deployments/{dep_id}/", headers=operator)
    assert dep_id in {d["id"] for d in listed.json()["data"]["results"]}
    assert detail.status_code == 200, detail.text
