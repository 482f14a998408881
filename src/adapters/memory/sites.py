"""Memory repository of the sites area (immutable values in ``state`` tables)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from gharart_core.sites.model import Deployment, DeploymentStatus, FunctionBinding, Site, Submission

from .state import MemoryState

__all__ = ["REPOSITORIES", "MemorySites"]


class MemorySites:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    async def get_site(self, handle: str) -> Site | None:
        site: Site | None = self.s.table("site_sites").get(handle)
        return site

    async def save_site(self, site: Site, expected_version: int) -> bool:
        sites = self.s.table("site_sites")
        current = sites.get(site.handle)
        if (current.version if current else 0) != expected_version:
            return False
        hosts = self.s.table("site_hostnames")
        for name, (h, _v) in list(hosts.items()):
            if h == site.handle:
                del hosts[name]
        for host in site.custom_hostnames:
            if host.hostname in hosts:
                return False
            hosts[host.hostname] = (site.handle, host.verified)
        sites[site.handle] = site
        return True

    async def hostname_owner(self, hostname: str) -> tuple[str, bool] | None:
        owner: tuple[str, bool] | None = self.s.table("site_hostnames").get(hostname)
        return owner

    async def add_deployment(self, dep: Deployment) -> None:
        self.s.table("site_deployments")[dep.id] = dep

    async def update_deployment(self, dep: Deployment) -> None:
        self.s.table("site_deployments")[dep.id] = dep

    async def deployment_handle(self, deployment_id: str) -> str | None:
        dep: Deployment | None = self.s.table("site_deployments").get(deployment_id)
        return dep.handle if dep is not None else None

    async def get_deployment(self, handle: str, deployment_id: str) -> Deployment | None:
        dep: Deployment | None = self.s.table("site_deployments").get(deployment_id)
        return dep if dep is not None and dep.handle == handle else None

    async def list_deployments(self, handle: str, *, before_id: str | None, limit: int) -> Sequence[Deployment]:
        rows = sorted(
            (
                d
                for d in self.s.table("site_deployments").values()
                if d.handle == handle and (before_id is None or d.id < before_id)
            ),
            key=lambda d: d.id,
            reverse=True,
        )
        return rows[:limit]

    async def pending_deployments(self, handle: str) -> Sequence[Deployment]:
        return sorted(
            (
                d
                for d in self.s.table("site_deployments").values()
                if d.handle == handle and d.status is DeploymentStatus.PENDING
            ),
            key=lambda d: d.id,
            reverse=True,
        )

    async def waiting_for(self, handle: str, sha256: str) -> Sequence[tuple[str, frozenset[str]]]:
        return [(d.id, d.missing) for d in await self.pending_deployments(handle) if sha256 in d.missing]

    async def set_missing(self, deployment_id: str, missing: frozenset[str]) -> None:
        deps = self.s.table("site_deployments")
        deps[deployment_id] = attrs.evolve(deps[deployment_id], missing=frozenset(missing))

    async def stored_blobs(self, handle: str, digests: Iterable[str]) -> set[str]:
        blobs = self.s.table("site_blobs")
        return {d for d in digests if (handle, d) in blobs}

    async def blob_sizes(self, handle: str, digests: Iterable[str]) -> dict[str, int]:
        blobs = self.s.table("site_blobs")
        return {d: int(blobs[(handle, d)]) for d in set(digests) if (handle, d) in blobs}

    async def add_blob(self, handle: str, sha256: str, size: int) -> None:
        self.s.table("site_blobs")[(handle, sha256)] = size

    async def add_binding(self, binding: FunctionBinding) -> None:
        self.s.table("site_bindings")[binding.id] = binding

    async def get_binding(self, handle: str, binding_id: str) -> FunctionBinding | None:
        b: FunctionBinding | None = self.s.table("site_bindings").get(binding_id)
        return b if b is not None and b.handle == handle else None

    async def list_bindings(
        self, handle: str, *, deployment_id: str | None, before_id: str | None, limit: int
    ) -> Sequence[FunctionBinding]:
        rows = sorted(
            (
                b
                for b in self.s.table("site_bindings").values()
                if b.handle == handle
                and (deployment_id is None or b.deployment_id == deployment_id)
                and (before_id is None or b.id < before_id)
            ),
            key=lambda b: b.id,
            reverse=True,
        )
        return rows[:limit]

    async def bindings_for(self, deployment_id: str) -> Sequence[FunctionBinding]:
        return sorted(
            (b for b in self.s.table("site_bindings").values() if b.deployment_id == deployment_id),
            key=lambda b: b.id,
        )

    async def add_submission(self, submission: Submission) -> None:
        self.s.table("site_submissions")[submission.id] = submission

    async def list_submissions(
        self, handle: str, binding_id: str, *, before_id: str | None, limit: int
    ) -> Sequence[Submission]:
        rows = sorted(
            (
                s
                for s in self.s.table("site_submissions").values()
                if s.handle == handle and s.binding_id == binding_id and (before_id is None or s.id < before_id)
            ),
            key=lambda s: s.id,
            reverse=True,
        )
        return rows[:limit]


REPOSITORIES: dict[str, Any] = {"sites": MemorySites}
