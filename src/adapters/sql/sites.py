"""SQL repository of the sites area: sites, hostnames, deployments, blobs, bindings, submissions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gharart_core.sites.model import (
    Deployment,
    DeploymentStatus,
    FunctionBinding,
    Hostname,
    ManifestEntry,
    Site,
    Submission,
)

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = [
    "REPOSITORIES",
    "SqlSites",
    "site_bindings",
    "site_blobs",
    "site_deployments",
    "site_hostnames",
    "site_sites",
    "site_submissions",
]

site_sites = sa.Table(
    "site_sites",
    metadata,
    sa.Column("handle", sa.String(40), primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("mode_version", sa.Integer, nullable=False),
    sa.Column("live_deployment_id", sa.String(40)),
    sa.Column("require_replay_gate", sa.Boolean, nullable=False, default=False),
    sa.Column("redirect_url", sa.String(2048)),
    sa.Column("hostnames", sa.Text, nullable=False, default="[]"),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("mode_message", sa.String(1000)),
    sa.Column("updated_at", UtcDateTime),
)
site_hostnames = sa.Table(
    "site_hostnames",
    metadata,
    sa.Column("hostname", sa.String(253), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False, index=True),
    sa.Column("verified", sa.Boolean, nullable=False, default=False),
)
site_deployments = sa.Table(
    "site_deployments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("manifest", sa.Text, nullable=False),
    sa.Column("missing", sa.Text, nullable=False),
    sa.Column("message", sa.String(1000), nullable=False, default=""),
    sa.Column("created_by", sa.String(40)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("deployed_at", UtcDateTime),
    sa.Column("failed_reason", sa.String(1000)),
    sa.Column("previewed_at", UtcDateTime),
    sa.Column("source", sa.String(16), nullable=False, default="manifest"),
    sa.Index("ix_site_deployments_handle_status", "handle", "status"),
    sa.Index("ix_site_deployments_handle_id", "handle", "id"),
)
site_blobs = sa.Table(
    "site_blobs",
    metadata,
    sa.Column("handle", sa.String(40), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
)
site_bindings = sa.Table(
    "site_bindings",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False, index=True),
    sa.Column("deployment_id", sa.String(40), nullable=False, index=True),
    sa.Column("route", sa.String(512), nullable=False),
    sa.Column("function", sa.String(100), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
site_submissions = sa.Table(
    "site_submissions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("binding_id", sa.String(40), nullable=False, index=True),
    sa.Column("deployment_id", sa.String(40), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _site(r: Any) -> Site:
    hosts = tuple(Hostname(h[0], "custom", bool(h[1]), h[2]) for h in json.loads(r.hostnames or "[]"))
    return Site(
        handle=r.handle,
        mode=r.mode,
        mode_version=r.mode_version,
        live_deployment_id=r.live_deployment_id,
        require_replay_gate=bool(r.require_replay_gate),
        redirect_url=r.redirect_url,
        custom_hostnames=hosts,
        version=r.version,
        mode_message=r.mode_message,
        updated_at=r.updated_at,
    )


def _site_row(s: Site) -> dict[str, Any]:
    return dict(
        mode=s.mode,
        mode_version=s.mode_version,
        live_deployment_id=s.live_deployment_id,
        require_replay_gate=s.require_replay_gate,
        redirect_url=s.redirect_url,
        hostnames=_dumps([[h.hostname, h.verified, h.verification_token] for h in s.custom_hostnames]),
        version=s.version,
        mode_message=s.mode_message,
        updated_at=s.updated_at,
    )


def _dep(r: Any) -> Deployment:
    manifest = {p: ManifestEntry(v[0], v[1], v[2]) for p, v in json.loads(r.manifest).items()}
    return Deployment(
        id=r.id,
        handle=r.handle,
        status=DeploymentStatus(r.status),
        manifest=manifest,
        message=r.message or "",
        created_by=r.created_by,
        created_at=r.created_at,
        missing=frozenset(json.loads(r.missing)),
        deployed_at=r.deployed_at,
        failed_reason=r.failed_reason,
        previewed_at=r.previewed_at,
        source=r.source,
    )


def _dep_row(d: Deployment) -> dict[str, Any]:
    return dict(
        handle=d.handle,
        status=d.status.value,
        manifest=_dumps({p: [e.sha256, e.size, e.content_type] for p, e in d.manifest.items()}),
        missing=_dumps(sorted(d.missing)),
        message=d.message,
        created_by=d.created_by,
        created_at=d.created_at,
        deployed_at=d.deployed_at,
        failed_reason=d.failed_reason,
        previewed_at=d.previewed_at,
        source=d.source,
    )


def _binding(r: Any) -> FunctionBinding:
    return FunctionBinding(r.id, r.handle, r.deployment_id, r.route, r.function, json.loads(r.config), r.created_at)


def _submission(r: Any) -> Submission:
    return Submission(
        r.id, r.handle, r.binding_id, r.deployment_id, r.received_at, r.content_type, json.loads(r.fields)
    )


class SqlSites(SqlRepository):
    async def get_site(self, handle: str) -> Site | None:
        r = (await self.execute(sa.select(site_sites).where(site_sites.c.handle == handle))).first()
        return _site(r) if r else None

    async def save_site(self, site: Site, expected_version: int) -> bool:
        conn = await self.uow.connection()
        try:
            async with conn.begin_nested():
                if expected_version == 0:
                    await conn.execute(site_sites.insert().values(handle=site.handle, **_site_row(site)))
                else:
                    res = await conn.execute(
                        site_sites.update()
                        .where(site_sites.c.handle == site.handle, site_sites.c.version == expected_version)
                        .values(**_site_row(site))
                    )
                    if res.rowcount != 1:
                        return False
                await conn.execute(site_hostnames.delete().where(site_hostnames.c.handle == site.handle))
                if site.custom_hostnames:
                    await conn.execute(
                        site_hostnames.insert(),
                        [
                            dict(hostname=h.hostname, handle=site.handle, verified=h.verified)
                            for h in site.custom_hostnames
                        ],
                    )
        except IntegrityError:
            return False
        return True

    async def hostname_owner(self, hostname: str) -> tuple[str, bool] | None:
        r = (await self.execute(sa.select(site_hostnames).where(site_hostnames.c.hostname == hostname))).first()
        return (r.handle, bool(r.verified)) if r else None

    async def add_deployment(self, dep: Deployment) -> None:
        await self.execute(site_deployments.insert().values(id=dep.id, **_dep_row(dep)))

    async def update_deployment(self, dep: Deployment) -> None:
        await self.execute(site_deployments.update().where(site_deployments.c.id == dep.id).values(**_dep_row(dep)))

    async def deployment_handle(self, deployment_id: str) -> str | None:
        q = sa.select(site_deployments.c.handle).where(site_deployments.c.id == deployment_id)
        return (await self.execute(q)).scalar_one_or_none()

    async def get_deployment(self, handle: str, deployment_id: str) -> Deployment | None:
        r = (
            await self.execute(
                sa.select(site_deployments).where(
                    site_deployments.c.id == deployment_id, site_deployments.c.handle == handle
                )
            )
        ).first()
        return _dep(r) if r else None

    async def list_deployments(self, handle: str, *, before_id: str | None, limit: int) -> Sequence[Deployment]:
        q = sa.select(site_deployments).where(site_deployments.c.handle == handle)
        if before_id is not None:
            q = q.where(site_deployments.c.id < before_id)
        q = q.order_by(site_deployments.c.id.desc()).limit(limit)
        return [_dep(r) for r in (await self.execute(q)).all()]

    async def pending_deployments(self, handle: str) -> Sequence[Deployment]:
        q = (
            sa.select(site_deployments)
            .where(
                site_deployments.c.handle == handle,
                site_deployments.c.status == DeploymentStatus.PENDING.value,
            )
            .order_by(site_deployments.c.id.desc())
        )
        return [_dep(r) for r in (await self.execute(q)).all()]

    async def waiting_for(self, handle: str, sha256: str) -> Sequence[tuple[str, frozenset[str]]]:
        q = (
            sa.select(site_deployments.c.id, site_deployments.c.missing)
            .where(
                site_deployments.c.handle == handle,
                site_deployments.c.status == DeploymentStatus.PENDING.value,
                site_deployments.c.missing.contains(sha256),
            )
            .order_by(site_deployments.c.id.desc())
        )
        out = []
        for r in (await self.execute(q)).all():
            missing = frozenset(json.loads(r.missing))
            if sha256 in missing:
                out.append((r.id, missing))
        return out

    async def set_missing(self, deployment_id: str, missing: frozenset[str]) -> None:
        await self.execute(
            site_deployments.update()
            .where(site_deployments.c.id == deployment_id)
            .values(missing=_dumps(sorted(missing)))
        )

    async def stored_blobs(self, handle: str, digests: Iterable[str]) -> set[str]:
        wanted = sorted(set(digests))
        out: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            q = sa.select(site_blobs.c.sha256).where(site_blobs.c.handle == handle, site_blobs.c.sha256.in_(chunk))
            out.update(r[0] for r in (await self.execute(q)).all())
        return out

    async def blob_sizes(self, handle: str, digests: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(digests))
        out: dict[str, int] = {}
        for i in range(0, len(wanted), 500):
            q = sa.select(site_blobs.c.sha256, site_blobs.c.size).where(
                site_blobs.c.handle == handle, site_blobs.c.sha256.in_(wanted[i : i + 500])
            )
            out.update((r[0], int(r[1])) for r in (await self.execute(q)).all())
        return out

    async def add_blob(self, handle: str, sha256: str, size: int) -> None:
        values = dict(handle=handle, sha256=sha256, size=size)
        if self.dialect in ("sqlite", "postgresql"):  # one statement instead of a savepoint dance
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            await self.execute(insert(site_blobs).values(**values).on_conflict_do_nothing())
            return
        conn = await self.uow.connection()
        try:
            async with conn.begin_nested():
                await conn.execute(site_blobs.insert().values(**values))
        except IntegrityError:
            pass

    async def add_binding(self, binding: FunctionBinding) -> None:
        await self.execute(
            site_bindings.insert().values(
                id=binding.id,
                handle=binding.handle,
                deployment_id=binding.deployment_id,
                route=binding.route,
                function=binding.function,
                config=_dumps(dict(binding.config)),
                created_at=binding.created_at,
            )
        )

    async def get_binding(self, handle: str, binding_id: str) -> FunctionBinding | None:
        r = (
            await self.execute(
                sa.select(site_bindings).where(site_bindings.c.id == binding_id, site_bindings.c.handle == handle)
            )
        ).first()
        return _binding(r) if r else None

    async def list_bindings(
        self, handle: str, *, deployment_id: str | None, before_id: str | None, limit: int
    ) -> Sequence[FunctionBinding]:
        q = sa.select(site_bindings).where(site_bindings.c.handle == handle)
        if deployment_id is not None:
            q = q.where(site_bindings.c.deployment_id == deployment_id)
        if before_id is not None:
            q = q.where(site_bindings.c.id < before_id)
        q = q.order_by(site_bindings.c.id.desc()).limit(limit)
        return [_binding(r) for r in (await self.execute(q)).all()]

    async def bindings_for(self, deployment_id: str) -> Sequence[FunctionBinding]:
        q = sa.select(site_bindings).where(site_bindings.c.deployment_id == deployment_id).order_by(site_bindings.c.id)
        return [_binding(r) for r in (await self.execute(q)).all()]

    async def add_submission(self, submission: Submission) -> None:
        await self.execute(
            site_submissions.insert().values(
                id=submission.id,
                handle=submission.handle,
                binding_id=submission.binding_id,
                deployment_id=submission.deployment_id,
                received_at=submission.received_at,
                content_type=submission.content_type,
                fields=_dumps(dict(submission.fields)),
            )
        )

    async def list_submissions(
        self, handle: str, binding_id: str, *, before_id: str | None, limit: int
    ) -> Sequence[Submission]:
        q = sa.select(site_submissions).where(
            site_submissions.c.handle == handle, site_submissions.c.binding_id == binding_id
        )
        if before_id is not None:
            q = q.where(site_submissions.c.id < before_id)
        q = q.order_by(site_submissions.c.id.desc()).limit(limit)
        return [_submission(r) for r in (await self.execute(q)).all()]


REPOSITORIES: dict[str, Any] = {"sites": SqlSites}
