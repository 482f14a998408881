"""Dashboard section: support reports and the operator escalations page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post

from .common import PREFIX, Dash, _guard, _items, _s

__all__ = ["operator_escalate", "operator_escalation_status", "operator_page", "support_page", "support_report"]


@get(f"{PREFIX}/support", include_in_schema=False)
async def support_page(request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    q = request.query_params
    prefill = {"handle": q.get("handle", ""), "requestId": q.get("requestId", "") or d.last_rid,
               "artifact": q.get("artifact", "")}
    mine = await d.call("GET", "/v2/support/reports", params={"limit": 50})
    return await d.page("support.html", prefill=prefill, reports=_items(mine), handles=await d.handles())


@post(f"{PREFIX}/support", include_in_schema=False, status_code=200)
async def support_report(request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    body: dict[str, Any] = {"summary": _s(form, "summary"), "details": _s(form, "details")}
    for key in ("handle", "requestId", "reproArtifact", "sessionId"):
        if _s(form, key):
            body[key] = _s(form, key)
    r = await d.call("POST", "/v2/support/report", json=body, action=True)
    prefill = {"handle": body.get("handle", ""), "requestId": body.get("requestId", ""),
               "artifact": body.get("reproArtifact", "")}
    mine = await d.call("GET", "/v2/support/reports", params={"limit": 50})
    return await d.page("support.html", prefill=prefill, reports=_items(mine), handles=await d.handles(),
                        report=r.data if r.ok else None, problem=r.problem, form=body,
                        status=201 if r.ok else 200)


@get(f"{PREFIX}/operator", include_in_schema=False)
async def operator_page(request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    esc = await d.call("GET", "/v2/operator/escalations", params={"limit": 100})
    reports = await d.call("GET", "/v2/operator/reports", params={"limit": 100})
    return await d.page("operator.html", escalations=_items(esc), reports=_items(reports), problem=esc.problem)


@post(f"{PREFIX}/operator/escalations", include_in_schema=False, status_code=200)
async def operator_escalate(request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    ids = form.get("reportIds") or []
    ids = ids if isinstance(ids, list) else [ids]
    body: dict[str, Any] = {"reportIds": [str(i) for i in ids]}
    if _s(form, "note"):
        body["note"] = _s(form, "note")
    r = await d.call("POST", "/v2/operator/escalations", json=body, action=True)
    return d.after(r, "Escalation created.", f"{PREFIX}/operator")


@post(f"{PREFIX}/operator/escalations/{{esc_id:str}}", include_in_schema=False, status_code=200)
async def operator_escalation_status(esc_id: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    r = await d.call("PATCH", f"/v2/operator/escalations/{quote(esc_id, safe='')}",
                     json={"status": _s(form, "status")}, action=True)
    return d.after(r, f"Escalation {esc_id} is {_s(form, 'status')}.", f"{PREFIX}/operator")
