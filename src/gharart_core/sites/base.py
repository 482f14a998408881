"""Sites: the state and steps every sites use case shares (limits, site row, deployment
lookup, completion of a deployment, adding bindings). The use cases are mixins over it:
:mod:`.site_settings`, :mod:`.deployments`, :mod:`.bindings`, :mod:`.serving`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from ..shared.clock import Clock
from ..shared.errors import Conflict, NotFound
from ..shared.ids import IdGenerator
from ..shared.ports import ObjectStore
from ..shared.tokens import TokenSource
from .archive import ArchiveLimits
from .functions import default_registry
from .model import Deployment, DeploymentStatus, FunctionBinding, Hostname, Site, transition
from .ports import FunctionRegistry, HostnameVerifier, NoReplayGate, ReplayGate, SitesUoW
from .serving import ServingMixin
from .validation import BindingSpec

__all__ = ["BlobUpload", "SitesCore", "SitesLimits", "blob_key"]

_S = DeploymentStatus


@attrs.frozen
class SitesLimits:
    max_files: int = 20_000
    max_blob_bytes: int = 100 * 1024 * 1024
    archive: ArchiveLimits = attrs.field(factory=ArchiveLimits)
    blob_cache_bytes: int = 64 * 1024 * 1024
    blob_cache_item_bytes: int = 1024 * 1024
    max_archive_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None) -> SitesLimits:
        """Read the ``GHARART_SITES_*`` knobs (documented in docs/sites.md)."""
        env = env or {}

        def num(name: str, default: int) -> int:
            value = env.get(f"GHARART_SITES_{name}")
            return int(value) if value and value.isascii() and value.isdigit() else default

        return cls(
            max_files=num("MAX_FILES", 20_000),
            max_blob_bytes=num("MAX_BLOB_BYTES", 100 * 1024 * 1024),
            archive=ArchiveLimits(
                max_files=num("ARCHIVE_MAX_FILES", 10_000),
                max_total_bytes=num("ARCHIVE_MAX_TOTAL_BYTES", 512 * 1024 * 1024),
                max_file_bytes=num("MAX_BLOB_BYTES", 100 * 1024 * 1024),
            ),
            blob_cache_bytes=num("BLOB_CACHE_BYTES", 64 * 1024 * 1024),
            max_archive_bytes=num("MAX_ARCHIVE_BYTES", 256 * 1024 * 1024),
        )


@attrs.frozen
class BlobUpload:
    deployment_id: str
    sha256: str
    size: int
    status: DeploymentStatus
    missing_blobs: int


def blob_key(handle: str, sha256: str) -> str:
    """Blobs are content-addressed inside each handle's own namespace (no cross-tenant oracle)."""
    return f"sites/{handle}/blobs/{sha256}"


def _not_found(deployment_id: str) -> NotFound:
    return NotFound("deployment_not_found", f"Deployment `{deployment_id}` was not found.")


class SitesCore(ServingMixin):
    """Constructor and shared steps of :class:`~.service.SitesService`."""

    def __init__(
        self,
        *,
        clock: Clock,
        ids: IdGenerator,
        tokens: TokenSource,
        object_store: ObjectStore,
        functions: FunctionRegistry | None = None,
        replay_gate: ReplayGate | None = None,
        site_domain: str = "localhost",
        limits: SitesLimits | None = None,
        hostname_verifier: HostnameVerifier | None = None,
    ) -> None:
        self.hostname_verifier = hostname_verifier
        # moves when this process changes a hostname, so host lookups cached here can be dropped
        self.hostnames_generation = 0
        self.clock = clock
        self.ids = ids
        self.tokens = tokens
        self.store = object_store
        self.functions = functions or default_registry()
        self.replay_gate: ReplayGate = replay_gate or NoReplayGate()
        self.site_domain = site_domain.strip(".").lower() or "localhost"
        self.limits = limits or SitesLimits()
        self._init_caches()

    def default_hostname(self, handle: str) -> str:
        return f"{handle}.{self.site_domain}"

    def site_hostnames(self, site: Site) -> list[Hostname]:
        return [Hostname(self.default_hostname(site.handle), "default", True), *site.custom_hostnames]

    async def hostnames(self, uow: SitesUoW, handle: str) -> list[Hostname]:
        return self.site_hostnames(await self._site(uow, handle))

    async def _site(self, uow: SitesUoW, handle: str) -> Site:
        return await uow.sites.get_site(handle) or Site(handle=handle)

    async def _save_site(self, uow: SitesUoW, old: Site, new: Site) -> Site:
        new = attrs.evolve(new, version=old.version + 1, updated_at=self.clock.now())
        if not await uow.sites.save_site(new, old.version):
            current = await self._site(uow, old.handle)
            raise Conflict(
                "version_conflict",
                "The site changed meanwhile; reload and retry.",
                extra={
                    "currentLiveDeploymentId": current.live_deployment_id,
                    "currentModeVersion": current.mode_version,
                },
            )
        return new

    async def _get(self, uow: SitesUoW, handle: str, deployment_id: str) -> Deployment:
        dep = await uow.sites.get_deployment(handle, deployment_id) if isinstance(deployment_id, str) else None
        if dep is None:
            raise _not_found(str(deployment_id))
        return dep

    async def get_deployment_internal(self, uow: SitesUoW, handle: str, deployment_id: str) -> Deployment | None:
        return await uow.sites.get_deployment(handle, deployment_id)

    async def bindings_of(self, uow: SitesUoW, deployment_id: str) -> list[FunctionBinding]:
        return list(await uow.sites.bindings_for(deployment_id))

    async def _finish(self, uow: SitesUoW, dep: Deployment) -> Deployment:
        """pending -> deploying -> deployed (or failed), once no blob is missing."""
        dep = transition(dep, _S.DEPLOYING)
        await uow.sites.update_deployment(dep)
        mismatch = await self._size_mismatch(uow, dep)
        if mismatch is not None:
            dep = transition(dep, _S.FAILED, failed_reason=mismatch)
            await uow.sites.update_deployment(dep)
            return dep
        for b in await uow.sites.bindings_for(dep.id):
            if self.functions.get(b.function) is None:
                dep = transition(dep, _S.FAILED, failed_reason=f"unknown_function: {b.function} on {b.route}")
                await uow.sites.update_deployment(dep)
                return dep
        dep = transition(dep, _S.DEPLOYED, deployed_at=self.clock.now())
        await uow.sites.update_deployment(dep)
        return dep

    async def _size_mismatch(self, uow: SitesUoW, dep: Deployment) -> str | None:
        """A manifest size that contradicts its stored blob (the digest matched, the size is wrong):
        the reason the deployment fails, or None. A declared size of 0 means "not given"."""
        declared = {p: e for p, e in dep.manifest.items() if e.size}
        if not declared:
            return None
        sizes = await uow.sites.blob_sizes(dep.handle, {e.sha256 for e in declared.values()})
        bad = [(p, e.size, sizes[e.sha256]) for p, e in sorted(declared.items())
               if e.sha256 in sizes and sizes[e.sha256] != e.size]
        if not bad:
            return None
        path, said, has = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return f"size_mismatch: {path} declares {said} bytes, its blob has {has}{more}"

    async def _add_bindings(
        self, uow: SitesUoW, handle: str, dep_id: str, specs: Sequence[BindingSpec]
    ) -> list[FunctionBinding]:
        out = []
        for spec in specs:
            b = FunctionBinding(
                self.ids.new("fb"),
                handle,
                dep_id,
                spec.route,
                spec.function,
                dict(spec.config),
                self.clock.now(),
            )
            await uow.sites.add_binding(b)
            out.append(b)
        return out
