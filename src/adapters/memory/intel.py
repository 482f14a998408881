"""Memory repository of the intel area: runs and snapshots as frozen values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gharart_core.intel.model import REPLAY, Run, Snapshot

from .state import MemoryState

__all__ = ["REPOSITORIES", "MemoryIntel"]


class MemoryIntel:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    async def add_run(self, run: Run) -> None:
        self.s.table("intel_runs")[run.id] = run

    async def save_run(self, run: Run) -> None:
        self.s.table("intel_runs")[run.id] = run

    async def get_run(self, handle: str, run_id: str) -> Run | None:
        run: Run | None = self.s.table("intel_runs").get(run_id)
        return run if run is not None and run.handle == handle else None

    async def find_run(self, run_id: str) -> Run | None:
        run: Run | None = self.s.table("intel_runs").get(run_id)
        return run

    async def replays_for_deployment(self, handle: str, deployment_id: str) -> Sequence[Run]:
        runs = [
            r
            for r in self.s.table("intel_runs").values()
            if r.handle == handle and r.kind == REPLAY and r.deployment_id == deployment_id
        ]
        return sorted(runs, key=lambda r: (r.created_at, r.id))

    async def add_snapshot(self, snapshot: Snapshot) -> None:
        self.s.table("intel_snapshots")[snapshot.id] = snapshot

    async def get_snapshot(self, handle: str, snapshot_id: str) -> Snapshot | None:
        snap: Snapshot | None = self.s.table("intel_snapshots").get(snapshot_id)
        return snap if snap is not None and snap.handle == handle else None

    async def latest_snapshot(self, handle: str, hostname: str) -> Snapshot | None:
        snaps = [
            s
            for s in self.s.table("intel_snapshots").values()
            if s.handle == handle and s.hostname == hostname
        ]
        return max(snaps, key=lambda s: (s.created_at, s.id), default=None)


REPOSITORIES: dict[str, Any] = {"intel": MemoryIntel}
