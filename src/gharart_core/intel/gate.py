"""The replay gate as a pure decision over a deployment's replay runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..shared.clock import format_ts
from ..shared.errors import Conflict
from .model import REPLAY, Run

__all__ = ["DEFAULT_REPLAY_MAX_AGE_S", "check_replay_gate", "latest_verdict_run"]

DEFAULT_REPLAY_MAX_AGE_S = 86400


def latest_verdict_run(runs: Sequence[Run]) -> Run | None:
    """The most recently finished replay that reached a verdict."""
    done = [
        r
        for r in runs
        if r.kind == REPLAY
        and r.status == "completed"
        and r.verdict is not None
        and r.finished_at is not None
    ]
    return max(done, key=lambda r: (r.finished_at, r.id), default=None)


def check_replay_gate(
    deployment_id: str, runs: Sequence[Run], now: datetime, max_age_s: int = DEFAULT_REPLAY_MAX_AGE_S
) -> Run:
    """Return the passing replay that unlocks promoting ``deployment_id``, or raise 409.

    - the latest replay with a verdict failed -> ``replay_failed`` naming that run;
    - otherwise no passing replay finished within ``max_age_s`` -> ``replay_gate_required``.
    """
    latest = latest_verdict_run(runs)
    if latest is not None and latest.verdict == "fail":
        raise Conflict(
            "replay_failed",
            f"The latest replay of deployment {deployment_id} ({latest.id}) failed; fix the release and "
            "replay it again before promoting.",
            extra={
                "runId": latest.id,
                "deploymentId": deployment_id,
                "snapshotId": latest.snapshot_id,
                "reasons": [{"kind": r.kind, "url": r.url} for r in latest.reasons][:20],
            },
        )
    cutoff = now - timedelta(seconds=max_age_s)
    fresh = [
        r
        for r in runs
        if r.kind == REPLAY
        and r.status == "completed"
        and r.verdict == "pass"
        and r.finished_at is not None
        and r.finished_at >= cutoff
    ]
    if not fresh:
        raise Conflict(
            "replay_gate_required",
            f"Deployment {deployment_id} needs a passing replay younger than {max_age_s} s before it can be "
            "promoted (requireReplayGate is on).",
            extra={
                "deploymentId": deployment_id,
                "maxAgeSeconds": max_age_s,
                "latestRunId": latest.id if latest else None,
                "latestFinishedAt": format_ts(latest.finished_at) if latest else None,
            },
        )
    return max(fresh, key=lambda r: (r.finished_at, r.id))
