"""Dashboard section: internal docs (access policy and evaluation)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get, post

from .common import PREFIX, Dash, _guard, _h, _int, _items, _s

__all__ = ["docs_evaluate", "docs_page", "docs_policy"]


@get(f"{PREFIX}/h/{{handle:str}}/docs", include_in_schema=False)
async def docs_page(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d = Dash(request)
    if not d.token:
        return d.redirect(f"{PREFIX}/login")
    return await _docs_page(d, handle)


async def _docs_page(d: Dash, handle: str, **extra: Any) -> Response[Any]:
    pol = await d.call("GET", f"{_h(handle)}/internal-docs/access")
    pages = await d.call("GET", f"{_h(handle)}/internal-docs/pages", params={"limit": 200})
    data = pol.data if pol.ok and isinstance(pol.data, dict) else None
    policy = (data or {}).get("policy", data) if data else None
    text = extra.pop("policy_text", None)
    if text is None and policy is not None:
        shown = {k: v for k, v in policy.items() if k in ("rules", "defaultEffect")}
        text = json.dumps(shown, indent=2)
    version = (data or {}).get("version", (policy or {}).get("version"))
    return await d.page("docs.html", handle=handle, policy=policy, policy_text=text or "", version=version,
                        findings=(data or {}).get("findings") or (data or {}).get("lint") or [],
                        pages=_items(pages), problem=pol.problem, **extra)


@post(f"{PREFIX}/h/{{handle:str}}/docs/policy", include_in_schema=False, status_code=200)
async def docs_policy(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    text = _s(form, "policy")
    try:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError("the policy must be a JSON object")
    except ValueError as exc:
        return await _docs_page(d, handle, policy_text=text, save_problem={
            "status": 400, "code": "malformed_body", "detail": f"Not valid JSON: {exc}", "requestId": ""})
    body["expectedVersion"] = _int(_s(form, "expectedVersion"))
    ack = [a.strip() for a in _s(form, "acknowledgeExposure").split(",") if a.strip()]
    if ack:
        body["acknowledgeExposure"] = ack
    save = _s(form, "action") == "save"
    r = await d.call("PUT", f"{_h(handle)}/internal-docs/access", json=body, action=True,
                     params=None if save else {"dryRun": "true"})
    if save and r.ok:
        d.set_flash("ok", "Policy saved.")
        return d.redirect(f"{PREFIX}/h/{handle}/docs")
    return await _docs_page(d, handle, policy_text=text, dry_run=r.data if r.ok else None,
                            save_problem=r.problem, ack=_s(form, "acknowledgeExposure"))


@post(f"{PREFIX}/h/{{handle:str}}/docs/evaluate", include_in_schema=False, status_code=200)
async def docs_evaluate(handle: str, request: Request[Any, Any, Any]) -> Response[Any]:
    d, form, refused = await _guard(request)
    if refused:
        return refused
    principal: dict[str, Any] = {}
    if _s(form, "anonymous"):
        principal["anonymous"] = True
    if _s(form, "email"):
        principal["email"] = _s(form, "email")
    if _s(form, "role"):
        principal["role"] = _s(form, "role")
    body = {"path": _s(form, "path"), "principal": principal}
    r = await d.call("POST", f"{_h(handle)}/internal-docs/access/evaluate", json=body, action=True)
    return await _docs_page(d, handle, decision=r.data if r.ok else None, eval_problem=r.problem,
                            eval_input=body)
