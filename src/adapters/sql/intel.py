"""SQL repository of the intel area: runs and snapshots (page lists stored as JSON text)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gharart_core.intel.model import REPLAY, BrokenLink, Reason, Run, Snapshot, SnapshotPage

from .database import SqlRepository
from .schema import UtcDateTime, metadata

__all__ = ["REPOSITORIES", "SqlIntel", "intel_runs", "intel_snapshots"]

intel_runs = sa.Table(
    "intel_runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(40)),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("snapshot_id", sa.String(40)),
    sa.Column("deployment_id", sa.String(40)),
    sa.Column("verdict", sa.String(10)),
    sa.Column("reasons", sa.Text, nullable=False, default="[]"),
    sa.Column("error", sa.Text),
    sa.Column("pages_done", sa.Integer, nullable=False, default=0),
    sa.Index("ix_intel_runs_deployment", "handle", "deployment_id"),
)
intel_snapshots = sa.Table(
    "intel_snapshots",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("handle", sa.String(40), nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(40)),
    sa.Column("pages", sa.Text, nullable=False),
    sa.Column("broken_links", sa.Text, nullable=False),
    sa.Index("ix_intel_snapshots_host", "handle", "hostname", "created_at"),
)


def _reasons_json(reasons: Sequence[Reason]) -> str:
    return json.dumps([[r.kind, r.url, r.before, r.after, r.source] for r in reasons])


def _reasons(text: str) -> tuple[Reason, ...]:
    return tuple(Reason(*row) for row in json.loads(text or "[]"))


def _run_values(run: Run) -> dict[str, Any]:
    return dict(
        handle=run.handle,
        kind=run.kind,
        status=run.status,
        hostname=run.hostname,
        created_at=run.created_at,
        created_by=run.created_by,
        started_at=run.started_at,
        finished_at=run.finished_at,
        snapshot_id=run.snapshot_id,
        deployment_id=run.deployment_id,
        verdict=run.verdict,
        reasons=_reasons_json(run.reasons),
        error=run.error,
        pages_done=run.pages_done,
    )


def _run(r: Any) -> Run:
    return Run(
        id=r.id,
        handle=r.handle,
        kind=r.kind,
        status=r.status,
        hostname=r.hostname,
        created_at=r.created_at,
        created_by=r.created_by,
        started_at=r.started_at,
        finished_at=r.finished_at,
        snapshot_id=r.snapshot_id,
        deployment_id=r.deployment_id,
        verdict=r.verdict,
        reasons=_reasons(r.reasons),
        error=r.error,
        pages_done=r.pages_done,
    )


def _pages_json(pages: Sequence[SnapshotPage]) -> str:
    return json.dumps(
        [
            [p.url, p.status, p.content_type, p.digest, p.title, list(p.links), p.timing_ms, p.error]
            for p in pages
        ],
        separators=(",", ":"),
    )


def _pages(text: str) -> tuple[SnapshotPage, ...]:
    return tuple(
        SnapshotPage(
            url=u, status=s, content_type=c, digest=d, title=t, links=tuple(ls), timing_ms=ms, error=e
        )
        for u, s, c, d, t, ls, ms, e in json.loads(text)
    )


def _snapshot(r: Any) -> Snapshot:
    broken = tuple(BrokenLink(f, t, s) for f, t, s in json.loads(r.broken_links))
    return Snapshot(
        id=r.id,
        handle=r.handle,
        hostname=r.hostname,
        created_at=r.created_at,
        pages=_pages(r.pages),
        broken_links=broken,
        run_id=r.run_id,
    )


class SqlIntel(SqlRepository):
    async def add_run(self, run: Run) -> None:
        await self.execute(intel_runs.insert().values(id=run.id, **_run_values(run)))

    async def save_run(self, run: Run) -> None:
        await self.execute(intel_runs.update().where(intel_runs.c.id == run.id).values(**_run_values(run)))

    async def get_run(self, handle: str, run_id: str) -> Run | None:
        r = (
            await self.execute(
                sa.select(intel_runs).where(intel_runs.c.id == run_id, intel_runs.c.handle == handle)
            )
        ).first()
        return _run(r) if r else None

    async def find_run(self, run_id: str) -> Run | None:
        r = (await self.execute(sa.select(intel_runs).where(intel_runs.c.id == run_id))).first()
        return _run(r) if r else None

    async def replays_for_deployment(self, handle: str, deployment_id: str) -> Sequence[Run]:
        q = (
            sa.select(intel_runs)
            .where(
                intel_runs.c.handle == handle,
                intel_runs.c.deployment_id == deployment_id,
                intel_runs.c.kind == REPLAY,
            )
            .order_by(intel_runs.c.created_at, intel_runs.c.id)
        )
        return [_run(r) for r in await self.execute(q)]

    async def add_snapshot(self, snapshot: Snapshot) -> None:
        await self.execute(
            intel_snapshots.insert().values(
                id=snapshot.id,
                handle=snapshot.handle,
                hostname=snapshot.hostname,
                created_at=snapshot.created_at,
                run_id=snapshot.run_id,
                pages=_pages_json(snapshot.pages),
                broken_links=json.dumps([[b.from_url, b.to_url, b.status] for b in snapshot.broken_links]),
            )
        )

    async def get_snapshot(self, handle: str, snapshot_id: str) -> Snapshot | None:
        r = (
            await self.execute(
                sa.select(intel_snapshots).where(
                    intel_snapshots.c.id == snapshot_id, intel_snapshots.c.handle == handle
                )
            )
        ).first()
        return _snapshot(r) if r else None

    async def latest_snapshot(self, handle: str, hostname: str) -> Snapshot | None:
        q = (
            sa.select(intel_snapshots)
            .where(intel_snapshots.c.handle == handle, intel_snapshots.c.hostname == hostname)
            .order_by(intel_snapshots.c.created_at.desc(), intel_snapshots.c.id.desc())
            .limit(1)
        )
        r = (await self.execute(q)).first()
        return _snapshot(r) if r else None


REPOSITORIES: dict[str, Any] = {"intel": SqlIntel}
