"""Wiring of the publisher services for the containers: destinations and the webhook transport
over the shared SSRF-guarded fetcher."""

from __future__ import annotations

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


def webhook_transport(fetcher: Any, fetcher_transport: Any, *, timeout: float = DEFAULT_WEBHOOK_TIMEOUT_S) -> Any:
    """The webhook transport for the container's fetcher: POSTs through the ``Fetcher`` port
    (its SSRF guard, checked address and timeout), or a transport that reports that no outbound
    fetcher is configured."""
    if fetcher is None:
        return _NoFetcher()
    return fetcher_transport(fetcher, timeout=timeout)


class _NoFetcher:
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Any:
        from gharart_core.publisher.ports import WebhookResponse

        return WebhookResponse(None, "no outbound fetcher is configured")
