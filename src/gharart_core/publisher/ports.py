"""Ports of the publisher area: persistence, destinations, outbound HTTP and the sites bridge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from ..identity.model import HandleAccess
from ..identity.ports import IdentityRepository
from ..shared.ports import UnitOfWork
from .model import PublishingRecord, PublishStatus
from .tenancy import TenantScope

__all__ = [
    "DeliveryResult",
    "DeploymentMeta",
    "DeploymentMetaRepository",
    "DeploymentView",
    "Destination",
    "PublisherUoW",
    "PublishingRecordRepository",
    "SitesGateway",
    "WebhookResponse",
    "WebhookTransport",
]


class PublishingRecordRepository(Protocol):
    async def add(self, record: PublishingRecord) -> None: ...

    async def get(self, record_id: str) -> PublishingRecord | None: ...

    async def update(self, record: PublishingRecord, *, expected_version: int) -> bool:
        """Store ``record`` iff the stored version is ``expected_version``; False otherwise."""
        ...

    async def delete(self, record_id: str) -> None: ...

    async def list(self, scope: TenantScope, *, status: PublishStatus | None, destination: str | None,
                   content_id: str | None, offset: int, limit: int) -> tuple[Sequence[PublishingRecord], int]:
        """Records in ``scope``, newest first, and the total count before paging."""
        ...

    async def status_counts(self, scope: TenantScope) -> Sequence[tuple[str, str, str, int]]:
        """``(site_id, account_id, status, count)`` rows for the records in ``scope``."""
        ...

    async def last_published(self, scope: TenantScope) -> Mapping[str, datetime]:
        """Latest ``published_at`` per site in ``scope``."""
        ...


@attrs.frozen
class DeploymentMeta:
    """What the IGNY8 view adds to a sites deployment: its sector and free metadata."""

    deployment_id: str
    handle: str
    sector_id: str
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    updated_at: datetime | None = None
    deleted_at: datetime | None = None  # hidden from the IGNY8 view (sites keeps the deployment)


class DeploymentMetaRepository(Protocol):
    async def get(self, deployment_id: str) -> DeploymentMeta | None: ...

    async def put(self, meta: DeploymentMeta) -> None: ...

    async def for_handles(self, handles: Sequence[str] | None) -> Mapping[str, DeploymentMeta]:
        """Metadata of the deployments of ``handles`` (None = every handle), keyed by deployment id."""
        ...


class PublisherUoW(UnitOfWork, Protocol):
    publishing: PublishingRecordRepository
    deployment_meta: DeploymentMetaRepository
    identity: IdentityRepository


@attrs.frozen
class DeliveryResult:
    ok: bool
    external_url: str | None = None
    error: str | None = None


class Destination(Protocol):
    """Where a content item goes. ``validate`` checks the destination's config;
    ``deliver`` performs one attempt and reports the outcome (never raises for remote failures)."""

    name: str

    def validate(self, config: Mapping[str, Any], content: str | None, *, complete: bool = True
                 ) -> Mapping[str, Any]:
        """The cleaned config. ``complete=False`` (storing a record) checks shapes only;
        ``complete=True`` (before a delivery) also requires what delivery needs."""
        ...

    async def deliver(self, uow: PublisherUoW, access: HandleAccess, record: PublishingRecord,
                      content: str | None) -> DeliveryResult: ...


@attrs.frozen
class WebhookResponse:
    """Outcome of one outbound POST. ``status`` is None when no HTTP answer came back;
    ``error`` then names why (``blocked`` by the SSRF guard, ``timeout``, ``dns_error``...)."""

    status: int | None
    error: str | None = None
    body_excerpt: str = ""


class WebhookTransport(Protocol):
    """Outbound POST through the SSRF-guarded fetcher (adapters/http)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse: ...


@attrs.frozen
class DeploymentView:
    """A sites deployment as the publisher sees it (same id and status as ``/v2``)."""

    id: str
    handle: str
    status: str
    message: str
    created_by: str | None
    created_at: datetime
    deployed_at: datetime | None
    live: bool
    preview_url: str | None
    error: str | None = None
    file_count: int = 0
    missing_blobs: int = 0


class SitesGateway(Protocol):
    """The sites service as the publisher needs it (implemented over ``gharart_core.sites`` by
    :mod:`.sites_bridge`). Writes authorize through the sites service with ``access``; reads take
    handles the caller has already been scoped to."""

    async def list(self, uow: PublisherUoW, handles: Sequence[str]) -> Sequence[DeploymentView]:
        """Deployments of ``handles``, newest first."""
        ...

    async def get(self, uow: PublisherUoW, handles: Sequence[str], deployment_id: str) -> DeploymentView | None:
        """The deployment if it belongs to one of ``handles``."""
        ...

    async def handle_of(self, uow: PublisherUoW, deployment_id: str) -> str | None:
        """The handle that owns the deployment, or None (the caller still checks access)."""
        ...

    async def create(self, uow: PublisherUoW, access: HandleAccess, *, files: Mapping[str, tuple[bytes, str]],
                     message: str, base_on_live: bool) -> DeploymentView:
        """A new deployment holding ``files`` ({path: (bytes, content type)}), on top of the live
        deployment's files when ``base_on_live``; blobs are stored so it completes at once."""
        ...

    async def create_from_manifest(self, uow: PublisherUoW, access: HandleAccess, *,
                                   manifest: Mapping[str, Any], message: str) -> tuple[DeploymentView, Sequence[str]]:
        """A deployment from a ``/v2``-style manifest; answers it and the digests still to upload."""
        ...

    async def cancel(self, uow: PublisherUoW, access: HandleAccess, deployment_id: str,
                     reason: str) -> DeploymentView:
        """Move a pending/deploying deployment to ``failed`` (409 ``invalid_transition`` otherwise)."""
        ...

    async def promote(self, uow: PublisherUoW, access: HandleAccess, deployment_id: str) -> DeploymentView: ...

    def file_url(self, handle: str, deployment_id: str, path: str) -> str:
        """Where a published file can be read (the deployment's preview URL for ``path``)."""
        ...
