"""Ports of the sites area: its repository, the function registry and the replay gate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from ..shared.errors import Conflict, FieldError
from ..shared.ports import UnitOfWork
from .model import Deployment, FunctionBinding, Site, Submission

__all__ = [
    "FunctionCall",
    "FunctionRegistry",
    "FunctionResult",
    "HostnameVerifier",
    "NoReplayGate",
    "ReplayGate",
    "SiteFunction",
    "SitesRepository",
    "SitesUoW",
]


class SitesRepository(Protocol):
    async def get_site(self, handle: str) -> Site | None: ...

    async def save_site(self, site: Site, expected_version: int) -> bool:
        """Insert (``expected_version == 0``) or update where the stored version matches.
        ``site.version`` is the new version. Custom hostnames are replaced as a set."""
        ...

    async def hostname_owner(self, hostname: str) -> tuple[str, bool] | None:
        """(handle, verified) of a custom hostname."""
        ...

    async def add_deployment(self, dep: Deployment) -> None: ...

    async def update_deployment(self, dep: Deployment) -> None: ...

    async def get_deployment(self, handle: str, deployment_id: str) -> Deployment | None: ...

    async def deployment_handle(self, deployment_id: str) -> str | None:
        """The handle a deployment belongs to (ids are global), or None."""
        ...

    async def list_deployments(self, handle: str, *, before_id: str | None, limit: int) -> Sequence[Deployment]:
        """Newest first (ids sort by creation)."""
        ...

    async def pending_deployments(self, handle: str) -> Sequence[Deployment]:
        """Deployments of ``handle`` in ``pending``, newest first."""
        ...

    async def waiting_for(self, handle: str, sha256: str) -> Sequence[tuple[str, frozenset[str]]]:
        """(id, missing digests) of the handle's pending deployments still missing ``sha256``."""
        ...

    async def set_missing(self, deployment_id: str, missing: frozenset[str]) -> None: ...

    async def stored_blobs(self, handle: str, digests: Iterable[str]) -> set[str]: ...

    async def add_blob(self, handle: str, sha256: str, size: int) -> None: ...

    async def blob_sizes(self, handle: str, digests: Iterable[str]) -> dict[str, int]:
        """Stored size of each of ``digests`` the handle holds."""
        ...

    async def add_binding(self, binding: FunctionBinding) -> None: ...

    async def get_binding(self, handle: str, binding_id: str) -> FunctionBinding | None: ...

    async def list_bindings(
        self, handle: str, *, deployment_id: str | None, before_id: str | None, limit: int
    ) -> Sequence[FunctionBinding]:
        """Newest first."""
        ...

    async def bindings_for(self, deployment_id: str) -> Sequence[FunctionBinding]:
        """Every binding of one deployment, oldest first."""
        ...

    async def add_submission(self, submission: Submission) -> None: ...

    async def list_submissions(
        self, handle: str, binding_id: str, *, before_id: str | None, limit: int
    ) -> Sequence[Submission]: ...


class SitesUoW(UnitOfWork, Protocol):
    sites: SitesRepository


@attrs.frozen
class FunctionCall:
    """One request handed to a bound function."""

    binding: FunctionBinding
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@attrs.frozen
class FunctionResult:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    submission: Mapping[str, Any] | None = None  # stored by the service when set


class SiteFunction(Protocol):
    """A named callable that answers requests on a bound route."""

    methods: frozenset[str]

    def validate(self, config: Any) -> list[FieldError]:
        """Problems with ``config`` (fields relative to the config, e.g. ``location``)."""
        ...

    async def __call__(self, call: FunctionCall) -> FunctionResult: ...


class FunctionRegistry(Protocol):
    def get(self, name: str) -> SiteFunction | None: ...

    def names(self) -> list[str]: ...


class HostnameVerifier(Protocol):
    """Proves control of a custom hostname (the default checks a DNS TXT record)."""

    async def verify(self, hostname: str, token: str) -> bool: ...


class ReplayGate(Protocol):
    """Decides whether a deployment may be promoted on a site with ``requireReplayGate``."""

    async def check(self, uow: Any, handle: str, deployment_id: str) -> None:
        """Return when promote may go on; raise 409 ``replay_failed`` or ``replay_gate_required``."""
        ...


class NoReplayGate:
    """Used when no site-intelligence implementation is wired: a gated promote is refused."""

    async def check(self, uow: Any, handle: str, deployment_id: str) -> None:
        raise Conflict(
            "replay_gate_required",
            f"Deployment `{deployment_id}` has no passing replay run; run one before promoting.",
            extra={"deploymentId": deployment_id},
        )
