"""Wiring of the publisher services for the containers: destinations and the webhook transport
over the shared SSRF-guarded fetcher."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

__all__ = ["deployment_records_service_for", "publisher_service_for", "webhook_timeout", "webhook_transport"]


DEFAULT_WEBHOOK_TIMEOUT_S = 10.0


def webhook_timeout(env: Mapping[str, str] | None) -> float:
    """``GHARART_PUBLISHER_WEBHOOK_TIMEOUT_S`` (default 10, between 0.5 and 60 seconds)."""
    raw = (env or {}).get("GHARART_PUBLISHER_WEBHOOK_TIMEOUT_S")
    try:
        value = float(raw) if raw else DEFAULT_WEBHOOK_TIMEOUT_S
    except ValueError:
        value = DEFAULT_WEBHOOK_TIMEOUT_S
    return min(60.0, max(0.5, value))


def publisher_service_for(clock: Any, ids: Any, identity: Any, sites: Any, fetcher: Any,
                          env: Mapping[str, str] | None = None) -> Any:
    """The container's ``publisher_service``: destinations ``site`` (through the sites service)
    and ``webhook`` (through the shared SSRF-guarded fetcher)."""
    from gharart_core.publisher.destinations import FetcherTransport, SiteDestination, WebhookDestination
    from gharart_core.publisher.service import PublisherService
    from gharart_core.publisher.sites_bridge import SitesBridge

    timeout = webhook_timeout(env)
    return PublisherService(clock, ids, identity, {
        "site": SiteDestination(SitesBridge(sites)),
        "webhook": WebhookDestination(webhook_transport(fetcher, FetcherTransport, timeout=timeout)),
    })


def deployment_records_service_for(clock: Any, ids: Any, publisher: Any, sites: Any) -> Any:
    """The container's ``deployment_records_service``: the IGNY8 view over sites deployments."""
    from gharart_core.publisher.deployments import DeploymentRecordService
    from gharart_core.publisher.sites_bridge import SitesBridge

    return DeploymentRecordService(clock, ids, publisher, SitesBridge(sites))


def _accepts_body(fetcher: Any) -> bool:
    try:
        params = inspect.signature(fetcher.fetch).parameters
    except (TypeError, ValueError):
        return False
    return "body" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def webhook_transport(fetcher: Any, fetcher_transport: Any, *, timeout: float = DEFAULT_WEBHOOK_TIMEOUT_S) -> Any:
    """The webhook transport for the container's fetcher: the ``Fetcher`` port itself when it can
    send a body; for the httpx fetcher (GET/HEAD checks only) a POST through the same SSRF guard
    (its per-hop check and address pinning); for scripted fakes, their ``fetch`` without a body."""
    if fetcher is None:
        return _NoFetcher()
    if _accepts_body(fetcher):
        return fetcher_transport(fetcher, timeout=timeout)
    if hasattr(fetcher, "_target") and hasattr(fetcher, "_client"):
        return _GuardedPost(fetcher, timeout)
    return fetcher_transport(fetcher, timeout=timeout, send_body=False)


class _GuardedPost:
    """One POST through :class:`adapters.http.fetcher.HttpxFetcher`'s SSRF guard: the host is
    resolved and checked (allowlist included) and the connection goes to the checked address;
    no redirect is followed; at most 64 KiB of the answer is read."""

    def __init__(self, fetcher: Any, timeout: float = 10.0) -> None:
        self.fetcher = fetcher
        self.timeout = timeout

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        import asyncio

        import httpx

        from gharart_core.publisher.ports import WebhookResponse

        try:
            async with asyncio.timeout(self.timeout):
                target, extra, extensions = await self.fetcher._target(url)
                request = self.fetcher._client.build_request(
                    "POST", target, headers={"User-Agent": "GharartPublisher/1.0", **headers, **extra},
                    content=body, extensions=extensions)
                response = await self.fetcher._client.send(request, stream=True)
                try:
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= 65536:
                            break
                    text = b"".join(chunks)[:65536].decode("utf-8", "replace")
                finally:
                    await response.aclose()
                return WebhookResponse(response.status_code, None, text)
        except TimeoutError:
            return WebhookResponse(None, "timeout")
        except httpx.TimeoutException:
            return WebhookResponse(None, "timeout")
        except httpx.TransportError:
            return WebhookResponse(None, "connection_error")
        except Exception as exc:
            kind = getattr(exc, "kind", None)
            if not isinstance(kind, str):
                raise
            return WebhookResponse(None, kind)


class _NoFetcher:
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        from gharart_core.publisher.ports import WebhookResponse

        return WebhookResponse(None, "no outbound fetcher is configured")
