"""The public redirect ``GET /l/{handle}/{slug}`` (the Litestar route; the ASGI fast path is in
``fastpath_links``) and its helpers: the ``Location``, the trusted country header, the 404 page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Response, get

from gharart_core.links.service import build_facts
from gharart_core.shared.errors import NotFound

from ..context import RequestContext
from .links_common import links_service

__all__ = ["ROUTES", "client_country", "location_for", "not_found_response"]


def location_for(destination: str, query_string: str, forward: bool) -> str:
    """The ``Location``: the destination, plus the incoming query string when the link forwards it."""
    if not forward or not query_string:
        return destination
    base, hash_sep, fragment = destination.partition("#")
    joined = base + ("&" if "?" in base else "?") + query_string
    return joined + (hash_sep + fragment if hash_sep else "")


def client_country(headers: Any, client_ip: str, settings: Any) -> str | None:
    """Country from the configured proxy header, trusted only from a configured proxy address."""
    name = getattr(settings, "country_header", None)
    if not name or not _trusted(client_ip, getattr(settings, "trusted_proxies", ())):
        return None
    value = headers.get(name.lower()) if hasattr(headers, "get") else None
    if not value or len(value) != 2 or not value.isalpha() or value.upper() in ("XX", "T1"):
        return None
    return str(value.upper())


def _trusted(ip: str, proxies: Any) -> bool:
    import ipaddress

    if not ip or not proxies:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for p in proxies:
        try:
            if addr in ipaddress.ip_network(p, strict=False):
                return True
        except ValueError:
            continue
    return False


def not_found_response(accept: str | None, request_id: str | None) -> Response[Any]:
    if accept and "text/html" in accept:
        html = ("<!doctype html><html><head><meta charset=utf-8><title>Link not found</title></head>"
                "<body><h1>Link not found</h1><p>This short link does not exist or was removed.</p></body></html>")
        return Response(content=html.encode(), status_code=404, media_type="text/html",
                        headers={"Cache-Control": "private, max-age=0"})
    raise NotFound("link_not_found", "This short link does not exist or was removed.")


@get("/l/{handle:str}/{slug:str}", status_code=302, tags=["links"])
async def public_redirect(handle: str, slug: str, ctx: RequestContext) -> Response[Any]:
    svc = links_service(ctx)
    link = await svc.resolve(ctx.uow, handle, slug)
    req = ctx.request
    if link is None:
        return not_found_response(req.headers.get("accept"), ctx.request_id)
    query_string = req.scope.get("query_string", b"").decode("latin-1")
    ua = req.headers.get("user-agent") or ""
    destination = link.destination
    if link.rules:
        from gharart_core.links.rules import evaluate

        facts = build_facts(user_agent=ua, country=client_country(req.headers, ctx.client_ip, ctx.settings),
                            accept_language=req.headers.get("accept-language"),
                            query=dict(parse_qsl(query_string, keep_blank_values=True)),
                            referrer=req.headers.get("referer"), at=ctx.clock.now(),
                            visitor_key=f"{ctx.client_ip}|{ua}")
        destination = evaluate(link.destination, link.rules, facts, salt=link.id).destination
    from ..fastpath_links import clicks_for

    clicks_for(ctx.rt).record(link.id)
    return Response(content=b"", status_code=link.redirect_status, headers={
        "Location": location_for(destination, query_string, link.forward_query),
        "Cache-Control": "private, max-age=0"})



ROUTES = [public_redirect]
