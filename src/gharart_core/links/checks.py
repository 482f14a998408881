"""Health-check runs: start (202), run in the background, report progress and results.

The background job is ``run_health_job(run_id)`` and nothing else, so a durable queue only carries
``("links.health_check", run_id)``; ``requeue_orphaned_health_run`` is the recovery step its worker
runs first when the job is a retry after a worker died mid-run.

Each distinct destination is probed once (HEAD; GET only when HEAD answers 405/501) under a
global and a per-host concurrency limit, with a per-request timeout, so one hanging host costs
its timeout and nothing more. Results are written in small batches so progress is visible.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.errors import FieldError, NotFound, ValidationFailed
from ..shared.ids import is_valid_id
from ..shared.ports import JobRunner
from .health import (
    CLASSIFICATIONS,
    HealthResult,
    HealthRun,
    classify_error,
    classify_status,
    requeue_orphan,
    transition,
)
from .model import SLUG_RE, Health, Link
from .ports import Fetcher, FetchError, LinksUoW
from .urls import host_of

if TYPE_CHECKING:
    from ..shared.clock import Clock
    from ..shared.ids import IdGenerator

__all__ = ["HealthMixin", "Probe"]

_FLUSH_EVERY_S = 0.5
_FLUSH_ROWS = 200


@attrs.frozen
class Probe:
    classification: str
    http_status: int | None
    duration_ms: int
    detail: str | None


class HealthMixin:
    clock: Clock
    ids: IdGenerator
    uow_factory: Callable[..., Any] | None
    jobs: JobRunner | None
    fetcher: Fetcher | None
    health_timeout_s: float
    health_concurrency: int
    health_per_host: int
    health_max_redirects: int

    async def start_health_check(self, uow: LinksUoW, access: HandleAccess, body: object) -> HealthRun:
        authorize(access, Action.LINKS_WRITE)
        body = body if body is not None else {}
        if not isinstance(body, Mapping):
            raise ValidationFailed(errors=[FieldError("body", "invalid_type", "expected a JSON object")])
        slugs, tag = body.get("slugs"), body.get("tag")
        errors: list[FieldError] = []
        if slugs is not None and (not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs)):
            errors.append(FieldError("slugs", "invalid_type", "slugs must be a list of strings"))
        if tag is not None and not isinstance(tag, str):
            errors.append(FieldError("tag", "invalid_type", "tag must be a string"))
        elif isinstance(tag, str) and ("\x00" in tag or len(tag) > 256):
            errors.append(FieldError("tag", "invalid_value", "tag is not a valid tag"))
        if errors:
            raise ValidationFailed(errors=errors)
        if isinstance(slugs, list):
            if len(slugs) > 100_000:
                raise ValidationFailed(errors=[FieldError("slugs", "too_many", "at most 100000 slugs")])
            found = await uow.links.get_many(access.handle, sorted({s for s in slugs if SLUG_RE.match(s)}))
            missing = [FieldError(f"slugs.{i}", "link_not_found", f"link `{s}` was not found")
                       for i, s in enumerate(slugs) if s not in found or found[s].is_deleted]
            if missing:
                raise ValidationFailed(errors=missing[:100])
            selector = json.dumps({"slugs": list(dict.fromkeys(slugs))})
        elif isinstance(tag, str):
            selector = json.dumps({"tag": tag})
        else:
            selector = json.dumps({})
        run = HealthRun(id=self.ids.new("run"), handle=access.handle, status="queued",
                        created_at=self.clock.now(), created_by=access.actor_id, selector=selector)
        await uow.links.save_health_run(run)
        await record(uow, self.clock, self.ids, access, "link.health_check", f"run:{run.id}")
        jobs, run_id = self.jobs, run.id

        async def _submit() -> None:
            if jobs is not None:
                jobs.submit("links.health_check", run_id, lambda: self.run_health_job(run_id))

        uow.after_commit(_submit)
        return run

    async def get_health_run(self, uow: LinksUoW, access: HandleAccess, run_id: str,
                             classification: str | None = None) -> tuple[HealthRun, list[HealthResult]]:
        authorize(access, Action.LINKS_READ)
        if classification is not None and classification not in CLASSIFICATIONS:
            raise ValidationFailed(errors=[FieldError("classification", "invalid_value",
                                                      "classification is one of " + ", ".join(CLASSIFICATIONS))])
        run = await uow.links.get_health_run(access.handle, run_id) if is_valid_id(run_id, "run") else None
        if run is None:
            raise NotFound("run_not_found", f"Health-check run `{run_id}` was not found.")
        return run, await uow.links.health_results(run_id, classification=classification)

    async def _targets(self, uow: LinksUoW, handle: str, selector: dict[str, Any]) -> list[Link]:
        if "slugs" in selector:
            found = await uow.links.get_many(handle, selector["slugs"])
            return [found[s] for s in selector["slugs"] if s in found and not found[s].is_deleted]
        out: list[Link] = []
        after: str | None = None
        while True:
            page = await uow.links.list(handle, tag=selector.get("tag"), after=after, limit=1000)
            out.extend(page)
            if len(page) < 1000:
                return out
            after = page[-1].slug

    async def run_health_job(self, run_id: str) -> HealthRun | None:
        """The background job, rebuilt from the run id alone: probe, store results and each link's
        last health, finish the run. A run that is not ``queued`` (gone, already running, finished)
        is left alone and ``None`` returned, so a redelivered job is a no-op."""
        assert self.uow_factory is not None and self.fetcher is not None
        async with self.uow_factory(write=True) as uow:
            run = await uow.links.find_health_run(run_id)
            if run is None or run.status != "queued":
                return None
            targets = await self._targets(uow, run.handle, json.loads(run.selector))
            run = transition(run, "running", started_at=self.clock.now(), total=len(targets))
            await uow.links.save_health_run(run)
            await uow.commit()
        try:
            run = await self._probe_all(run, targets)
        except Exception as exc:
            async with self.uow_factory(write=True) as uow:
                current = await uow.links.find_health_run(run_id) or run
                run = transition(current, "failed", finished_at=self.clock.now(), detail=str(exc)[:500])
                await uow.links.save_health_run(run)
                await uow.commit()
            raise
        return run

    async def requeue_orphaned_health_run(self, run_id: str) -> bool:
        """Before a retried job runs: a ``running`` run was started by a worker that died (the queue
        runs one job per run at a time). Put it back to ``queued`` and delete the results the dead
        worker already wrote, in one transaction, so the re-run ends with one result per link.
        Returns whether the run was requeued."""
        assert self.uow_factory is not None
        async with self.uow_factory(write=True) as uow:
            run = await uow.links.find_health_run(run_id)
            if run is None or run.status != "running":
                return False
            await uow.links.clear_health_results(run_id)
            await uow.links.save_health_run(requeue_orphan(run))
            await uow.commit()
        return True

    async def _probe_all(self, run: HealthRun, targets: list[Link]) -> HealthRun:
        by_dest: dict[str, list[Link]] = {}
        for link in targets:
            by_dest.setdefault(link.destination, []).append(link)
        global_limit = asyncio.Semaphore(self.health_concurrency)
        host_limits: dict[str, asyncio.Semaphore] = {}
        buffer: list[tuple[Link, Probe]] = []
        counts: dict[str, int] = {}
        lock = asyncio.Lock()
        last_flush = time.monotonic()

        async def flush() -> None:
            nonlocal buffer, last_flush, run
            async with lock:
                if not buffer:
                    return
                items, buffer = buffer, []
                last_flush = time.monotonic()
                assert self.uow_factory is not None
                now = self.clock.now()
                async with self.uow_factory(write=True) as uow:
                    await uow.links.add_health_results([
                        HealthResult(run.id, link.slug, link.destination, p.classification, p.http_status,
                                     p.duration_ms, p.detail) for link, p in items])
                    await uow.links.set_health([(link.id, Health(p.classification, now, run.id))
                                                for link, p in items])
                    run = attrs.evolve(run, counts=tuple(sorted(counts.items())))
                    await uow.links.save_health_run(run)
                    await uow.commit()

        async def one(dest: str, links: list[Link]) -> None:
            host = host_of(dest)
            sem = host_limits.setdefault(host, asyncio.Semaphore(self.health_per_host))
            async with sem, global_limit:
                probe = await self.probe(dest)
            for link in links:
                counts[probe.classification] = counts.get(probe.classification, 0) + 1
                buffer.append((link, probe))
            if len(buffer) >= _FLUSH_ROWS or time.monotonic() - last_flush >= _FLUSH_EVERY_S:
                await flush()

        await asyncio.gather(*(one(d, ls) for d, ls in by_dest.items()))
        await flush()
        assert self.uow_factory is not None
        async with self.uow_factory(write=True) as uow:
            run = transition(run, "completed", finished_at=self.clock.now(), counts=tuple(sorted(counts.items())))
            await uow.links.save_health_run(run)
            await uow.commit()
        return run

    async def probe(self, url: str) -> Probe:
        """HEAD, then GET only when HEAD answers 405/501 (never after a timeout)."""
        assert self.fetcher is not None
        started = time.monotonic()
        try:
            resp = await self.fetcher.fetch(url, method="HEAD", timeout=self.health_timeout_s,
                                            max_redirects=self.health_max_redirects, max_body=0)
            if resp.status in (405, 501):
                resp = await self.fetcher.fetch(url, method="GET", timeout=self.health_timeout_s,
                                                max_redirects=self.health_max_redirects, max_body=0)
        except FetchError as exc:
            ms = int((time.monotonic() - started) * 1000)
            return Probe(classify_error(exc.kind), None, ms, exc.detail[:300])
        ms = int((time.monotonic() - started) * 1000)
        cls = classify_status(resp.status, bool(resp.redirects))
        detail = f"redirected to {resp.url}" if resp.redirects else None
        if resp.status // 100 == 3:
            detail = f"stopped at a {resp.status} after {len(resp.redirects)} redirect(s)"
        return Probe(cls, resp.status, ms, detail)
