"""Seeded data shared by the hardening tests: one handle with one of everything."""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

from entrypoints.harness import Harness
from gharart_core.identity.model import SCOPES

HANDLE = "acme"
INDEX = b"<!doctype html><title>acme</title><a href='/about.html'>about</a>"


@attrs.define
class Seed:
    handle: str
    owner: str  # PAT of the owner (all scopes, operator flag + scope)
    slug: str
    deployment_id: str
    file_id: str
    share_id: str
    run_id: str
    report_id: str
    escalation_id: str
    member_id: str
    token_id: str
    page_path: str
    binding_id: str
    sha256: str
    extra: dict[str, Any] = attrs.field(factory=dict)

    def path_values(self) -> dict[str, str]:
        return {
            "handle": self.handle, "slug": self.slug, "deployment_id": self.deployment_id,
            "file_id": self.file_id, "share_id": self.share_id, "run_id": self.run_id, "runId": self.run_id,
            "report_id": self.report_id, "escalation_id": self.escalation_id, "member_id": self.member_id,
            "token_id": self.token_id, "path": self.page_path, "binding_id": self.binding_id,
            "sha256": self.sha256, "hostname": f"{self.handle}.localhost",
            "record_id": self.extra.get("record_id", "1"), "proxy": "index.html",
        }


def _ok(r: Any, *codes: int) -> dict[str, Any]:
    if r.status_code not in (codes or (200, 201, 202)):
        raise AssertionError(f"seeding failed: {r.request.method} {r.request.url} -> {r.status_code} {r.text}")
    return r.json() if r.content else {}


async def seed(h: Harness, handle: str = HANDLE, *, operator: bool = False) -> Seed:
    """Seed ``handle``; with ``operator`` its owner also carries the operator flag and scope."""
    owner = await h.create_owner(handle, email=f"owner@{handle}.example.com", scopes=tuple(SCOPES))
    if operator:
        owner = await h.create_user_token(f"owner@{handle}.example.com", tuple(SCOPES), operator=True)
    else:
        await h.create_user_token(f"ops@{handle}.example.com", tuple(SCOPES), operator=True)
    a = h.auth(owner)
    c = h.client
    base = f"/v2/handles/{handle}"
    _ok(await c.post(f"{base}/links", json={"slug": "promo", "destination": "https://example.com/p"}, headers=a))
    _ok(await c.patch(f"{base}/links/promo", json={"destination": "https://example.com/q", "expectedVersion": 1},
                      headers=a))
    digest = hashlib.sha256(INDEX).hexdigest()
    dep = _ok(await c.post(f"{base}/site-deployments",
                           json={"manifest": {"index.html": {"sha256": digest, "size": len(INDEX)}},
                                 "message": "v1"}, headers=a))
    _ok(await c.put(f"{base}/site-deployments/{dep['id']}/files/{digest}", content=INDEX,
                    headers={**a, "content-type": "application/octet-stream"}))
    _ok(await c.post(f"{base}/site-deployments/{dep['id']}/promote", json={"expectedLiveDeploymentId": None},
                     headers=a))
    f = _ok(await c.post(f"{base}/files", headers=a, files={"file": ("notes.txt", b"hello notes", "text/plain")},
                         data={"mode": "link"}))
    share = _ok(await c.post(f"{base}/files/{f['id']}/shares", json={"emails": ["friend@example.org"]}, headers=a))
    share_id = (share.get("items") or share.get("shares") or [share])[0].get("id", "shr_x") \
        if isinstance(share, dict) else "shr_x"
    run = _ok(await c.post(f"{base}/links/bulk-import?mode=partial", content=b"slug,destination\nbulk1,https://example.com/b\n",
                           headers={**a, "content-type": "text/csv"}))
    rep = _ok(await c.post("/v2/support/report", json={"summary": "broken", "details": "it broke", "handle": handle},
                           headers=a))
    ops = a if operator else h.auth(await h.create_user_token(f"ops@{handle}.example.com", tuple(SCOPES),
                                                                operator=True))
    esc = _ok(await c.post("/v2/operator/escalations", json={"reportIds": [rep["reportId"]]}, headers=ops))
    viewer = await h.add_member(handle, owner, f"viewer@{handle}.example.com", "viewer")
    members = _ok(await c.get(f"{base}/members", headers=a))
    member_id = next(m["userId"] for m in members["items"] if m["role"] == "viewer")
    tokens = _ok(await c.get("/v2/tokens", headers=h.auth(viewer)))
    page = _ok(await c.put(f"{base}/internal-docs/pages/handbook/intro.md",
                           json={"content": "# hi", "contentType": "text/markdown"}, headers=a))
    del page
    bind = _ok(await c.post(f"{base}/function-bindings",
                            json={"route": "/api/contact", "function": "form-capture", "config": {}}, headers=a))
    rec = await c.post("/api/v1/publisher/publishing-records/",
                       json={"site_id": handle, "content_id": "c1", "destination": "https://example.com/pub",
                             "title": "t"}, headers=a)
    record_id = "1"
    if rec.status_code in (200, 201) and isinstance(rec.json().get("data"), dict):
        record_id = str(rec.json()["data"].get("id", "1"))
    await h.drain()
    return Seed(handle=handle, owner=owner, slug="promo", deployment_id=dep["id"], file_id=f["id"],
                share_id=share_id, run_id=run["runId"], report_id=rep["reportId"], escalation_id=esc["id"],
                member_id=member_id, token_id=tokens["items"][0]["id"], page_path="handbook/intro.md",
                binding_id=bind["id"], sha256=digest, extra={"record_id": record_id, "viewer": viewer})
