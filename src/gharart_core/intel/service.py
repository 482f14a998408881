"""Site-intelligence use cases: start/read crawl and replay runs, read snapshots, the replay gate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.clock import Clock
from ..shared.errors import FieldError, NotFound, ValidationFailed
from ..shared.ids import IdGenerator, is_valid_id
from ..shared.ports import JobRunner
from .crawler import Crawler, HostLimiter
from .extract import origin_url
from .gate import DEFAULT_REPLAY_MAX_AGE_S, check_replay_gate
from .model import CRAWL, REPLAY, CrawlLimits, Run, Snapshot, transition_run
from .ports import IntelUoW, PageSourceFactory, SiteDirectory
from .replay import replay_snapshot

__all__ = ["IntelConfig", "IntelReplayGate", "IntelService", "normalize_hostname"]

log = logging.getLogger("gharart.intel")
UowFactory = Callable[..., AbstractAsyncContextManager[Any]]


@attrs.frozen
class IntelConfig:
    site_domain: str = "localhost"
    replay_max_age_s: int = DEFAULT_REPLAY_MAX_AGE_S
    limits: CrawlLimits = attrs.field(factory=CrawlLimits)
    replay_limits: CrawlLimits = attrs.field(factory=lambda: CrawlLimits(max_pages=2000, time_budget_s=120.0))
    per_host_concurrency: int = 4


def normalize_hostname(hostname: str) -> str:
    """Lower case, no trailing dot, no port (host matching ignores the port)."""
    host = hostname.strip().lower().rstrip(".")
    if host.startswith("["):
        return host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _scheme_for(hostname: str) -> str:
    return "http" if hostname == "localhost" or hostname.endswith(".localhost") else "https"


class IntelService:
    def __init__(
        self,
        *,
        clock: Clock,
        ids: IdGenerator,
        jobs: JobRunner,
        uow_factory: UowFactory,
        sites: SiteDirectory,
        sources: PageSourceFactory,
        config: IntelConfig | None = None,
        host_limiter: HostLimiter | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.ids = ids
        self.jobs = jobs
        self.uow_factory = uow_factory
        self.sites = sites
        self.sources = sources
        self.config = config or IntelConfig()
        self.host_limiter = host_limiter or HostLimiter(self.config.per_host_concurrency)
        self.monotonic = monotonic

    # -- hostnames -------------------------------------------------------------------------

    def default_hostname(self, handle: str) -> str:
        return f"{handle}.{self.config.site_domain.strip('.').lower()}"

    async def resolve_hostname(self, uow: IntelUoW, handle: str, hostname: str) -> tuple[str, bool]:
        """(normalised hostname, served in-process) or 404 ``hostname_not_found``."""
        host = normalize_hostname(hostname)
        if host == self.default_hostname(handle):
            return host, True
        for h in await self.sites.hostnames(uow, handle):
            if normalize_hostname(h.hostname) != host:
                continue
            if h.kind == "default":
                return host, True
            if h.verified:
                return host, False
        raise NotFound(
            "hostname_not_found",
            f"`{hostname}` is not a hostname of `{handle}` (its default hostname or a verified custom one).",
        )

    # -- crawl runs --------------------------------------------------------------------------

    async def start_crawl(self, uow: IntelUoW, access: HandleAccess, hostname: str) -> Run:
        authorize(access, Action.SITES_WRITE)
        host, _ = await self.resolve_hostname(uow, access.handle, hostname)
        run = Run(
            id=self.ids.new("run"),
            handle=access.handle,
            kind=CRAWL,
            status="queued",
            hostname=host,
            created_at=self.clock.now(),
            created_by=access.actor_id,
        )
        await uow.intel.add_run(run)
        await record(uow, self.clock, self.ids, access, "site_intel.crawl", run.id, detail=host)
        self._submit_after_commit(uow, run)
        return run

    async def get_run(
        self, uow: IntelUoW, access: HandleAccess, hostname: str, run_id: str, kind: str
    ) -> Run:
        authorize(access, Action.SITES_READ)
        host, _ = await self.resolve_hostname(uow, access.handle, hostname)
        run = await uow.intel.get_run(access.handle, run_id) if is_valid_id(run_id, "run") else None
        if run is None or run.kind != kind or run.hostname != host:
            raise NotFound("run_not_found", f"No {kind} run `{run_id}` on `{host}`.")
        return run

    async def get_snapshot(
        self, uow: IntelUoW, access: HandleAccess, hostname: str, snapshot_id: str | None = None
    ) -> Snapshot:
        authorize(access, Action.SITES_READ)
        host, _ = await self.resolve_hostname(uow, access.handle, hostname)
        if snapshot_id is None:
            snap = await uow.intel.latest_snapshot(access.handle, host)
        else:
            snap = await self._snapshot(uow, access.handle, host, snapshot_id)
        if snap is None:
            raise NotFound(
                "snapshot_not_found",
                f"No snapshot `{snapshot_id}` of `{host}`."
                if snapshot_id
                else f"`{host}` has no snapshot yet; start a crawl run first.",
            )
        return snap

    async def _snapshot(self, uow: IntelUoW, handle: str, host: str, snapshot_id: str) -> Snapshot | None:
        if not is_valid_id(snapshot_id, "snp"):
            return None
        snap = await uow.intel.get_snapshot(handle, snapshot_id)
        return snap if snap is not None and snap.hostname == host else None

    # -- replay runs -------------------------------------------------------------------------

    async def start_replay(self, uow: IntelUoW, access: HandleAccess, hostname: str, body: Any) -> Run:
        authorize(access, Action.SITES_WRITE)
        host, _ = await self.resolve_hostname(uow, access.handle, hostname)
        snapshot_id, deployment_id = _replay_body(body)
        errors = []
        if await self._snapshot(uow, access.handle, host, snapshot_id) is None:
            errors.append(
                FieldError("snapshotId", "snapshot_not_found", f"No snapshot `{snapshot_id}` of `{host}`.")
            )
        if not (
            is_valid_id(deployment_id, "dep")
            and await self.sites.get_deployment_internal(uow, access.handle, deployment_id) is not None
        ):
            errors.append(
                FieldError(
                    "deploymentId",
                    "deployment_not_found",
                    f"No deployment `{deployment_id}` on `{access.handle}`.",
                )
            )
        if errors:
            raise ValidationFailed(
                "validation_failed", "The replay refers to something that does not exist.", errors=errors
            )
        run = Run(
            id=self.ids.new("run"),
            handle=access.handle,
            kind=REPLAY,
            status="queued",
            hostname=host,
            created_at=self.clock.now(),
            created_by=access.actor_id,
            snapshot_id=snapshot_id,
            deployment_id=deployment_id,
        )
        await uow.intel.add_run(run)
        await record(
            uow,
            self.clock,
            self.ids,
            access,
            "site_intel.replay",
            run.id,
            detail=f"{snapshot_id} -> {deployment_id}",
        )
        self._submit_after_commit(uow, run)
        return run

    # -- background work ---------------------------------------------------------------------

    def _submit_after_commit(self, uow: IntelUoW, run: Run) -> None:
        """Queue the run once the transaction that created it is durable.

        The job is ``run_job(run_id)`` and nothing else, so a real queue only has to carry
        ``(kind, run_id)`` and call ``run_job`` in its worker.
        """
        run_id = run.id

        async def submit() -> None:
            self.jobs.submit(f"site_intel.{run.kind}", run_id, lambda: self.run_job(run_id))

        uow.after_commit(submit)

    async def requeue_orphaned_run(self, run_id: str) -> bool:
        """Before a retried job runs: a ``running`` run was started by a worker that died (the queue
        runs one job per run at a time). Put it back to ``queued``; a crawl or replay stores its result
        in the transaction that completes the run, so nothing partial is left. Returns whether the
        run was requeued."""
        async with self.uow_factory(write=True) as uow:
            run = await uow.intel.find_run(run_id)
            if run is None or run.status != "running":
                return False
            await uow.intel.save_run(attrs.evolve(run, status="queued", started_at=None))
            await uow.commit()
        return True

    async def run_job(self, run_id: str) -> None:
        """Execute a queued run (crawl or replay). A run that is not ``queued`` is left alone, so a
        redelivered job is a no-op."""
        async with self.uow_factory(write=False) as uow:
            run = await uow.intel.find_run(run_id)
            if run is None or run.status != "queued":
                return
            in_process = True
            gone: NotFound | None = None
            if run.kind == CRAWL:
                try:
                    _, in_process = await self.resolve_hostname(uow, run.handle, run.hostname)
                except NotFound as exc:  # the hostname was removed while the run waited
                    gone = exc
        if gone is not None:
            await self._fail(run.handle, run_id, gone)
        elif run.kind == CRAWL:
            await self._execute_crawl(run.handle, run_id, in_process)
        else:
            await self._execute_replay(run.handle, run_id)

    async def _transition(self, handle: str, run_id: str, to: str, **changes: Any) -> Run:
        async with self.uow_factory(write=True) as uow:
            run = await uow.intel.get_run(handle, run_id)
            if run is None:
                raise NotFound("run_not_found", f"Run {run_id} vanished.")
            run = transition_run(run, to, **changes)
            await uow.intel.save_run(run)
            await uow.commit()
            return run

    async def _progress(self, handle: str, run_id: str, pages_done: int) -> None:
        async with self.uow_factory(write=True) as uow:
            run = await uow.intel.get_run(handle, run_id)
            if run is not None and run.status == "running":
                await uow.intel.save_run(attrs.evolve(run, pages_done=pages_done))
                await uow.commit()

    async def _fail(self, handle: str, run_id: str, exc: BaseException) -> None:
        log.warning("site-intel run %s failed: %s", run_id, exc)
        detail = str(exc) or type(exc).__name__
        try:
            await self._transition(handle, run_id, "failed", finished_at=self.clock.now(), error=detail[:500])
        except Exception:
            log.exception("could not mark run %s failed", run_id)

    async def _execute_crawl(self, handle: str, run_id: str, in_process: bool) -> None:
        run = await self._transition(handle, run_id, "running", started_at=self.clock.now())
        try:
            source = self.sources.for_site(handle, run.hostname, in_process=in_process)

            async def progress(done: int) -> None:
                await self._progress(handle, run_id, done)

            crawler = Crawler(
                source,
                self.config.limits,
                host_limiter=self.host_limiter,
                monotonic=self.monotonic,
                on_progress=progress,
            )
            result = await crawler.crawl(origin_url(_scheme_for(run.hostname), run.hostname))
            snap = Snapshot(
                id=self.ids.new("snp"),
                handle=handle,
                hostname=run.hostname,
                created_at=self.clock.now(),
                pages=result.pages,
                broken_links=result.broken_links,
                run_id=run_id,
            )
            async with self.uow_factory(write=True) as uow:
                await uow.intel.add_snapshot(snap)
                current = await uow.intel.get_run(handle, run_id)
                assert current is not None
                await uow.intel.save_run(
                    transition_run(
                        current,
                        "completed",
                        finished_at=self.clock.now(),
                        snapshot_id=snap.id,
                        pages_done=len(result.pages),
                    )
                )
                await uow.commit()
        except Exception as exc:
            await self._fail(handle, run_id, exc)

    async def _execute_replay(self, handle: str, run_id: str) -> None:
        run = await self._transition(handle, run_id, "running", started_at=self.clock.now())
        try:
            async with self.uow_factory(write=False) as uow:
                snap = await uow.intel.get_snapshot(handle, run.snapshot_id or "")
            if snap is None:
                raise NotFound("snapshot_not_found", f"Snapshot {run.snapshot_id} vanished.")
            source = self.sources.for_preview(handle, run.deployment_id or "")
            result = await replay_snapshot(
                snap,
                source,
                self.config.replay_limits,
                host_limiter=self.host_limiter,
                monotonic=self.monotonic,
            )
            await self._transition(
                handle,
                run_id,
                "completed",
                finished_at=self.clock.now(),
                verdict=result.verdict,
                reasons=result.reasons,
                pages_done=len(result.pages),
            )
        except Exception as exc:
            await self._fail(handle, run_id, exc)


def _replay_body(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ValidationFailed(
            "validation_failed",
            "The body must be a JSON object.",
            errors=[FieldError("body", "invalid_type", "Expected an object.")],
        )
    errors = []
    values: list[str] = []
    for name in ("snapshotId", "deploymentId"):
        value = body.get(name)
        if value is None:
            errors.append(FieldError(name, "required", f"`{name}` is required."))
        elif not isinstance(value, str):
            errors.append(FieldError(name, "invalid_type", f"`{name}` must be a string."))
        values.append(value if isinstance(value, str) else "")
    if errors:
        raise ValidationFailed("validation_failed", "The replay request is incomplete.", errors=errors)
    return values[0], values[1]


class IntelReplayGate:
    """The sites area's ``ReplayGate``: promote needs a passing, fresh replay (A.3)."""

    def __init__(self, clock: Clock, max_age_s: int = DEFAULT_REPLAY_MAX_AGE_S) -> None:
        self.clock = clock
        self.max_age_s = max_age_s

    async def check(self, uow: Any, handle: str, deployment_id: str) -> None:
        runs = await uow.intel.replays_for_deployment(handle, deployment_id)
        check_replay_gate(deployment_id, runs, self.clock.now(), self.max_age_s)
