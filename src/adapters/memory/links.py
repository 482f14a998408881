"""Memory repository for links, their history, clicks and import/health runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from gharart_core.links.health import HealthResult, HealthRun
from gharart_core.links.importing import (
    ImportedLink,
    ImportMeta,
    ImportRowError,
    ImportRun,
    imported_link,
    imported_version,
)
from gharart_core.links.model import Health, Link, LinkVersion

from .state import MemoryState

__all__ = ["REPOSITORIES", "MemoryLinks"]


class MemoryLinks:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    @property
    def _links(self) -> dict[Any, Any]:
        return self.s.table("links")

    async def get(self, handle: str, slug: str) -> Link | None:
        link: Link | None = self._links.get((handle, slug))
        return link

    async def get_many(self, handle: str, slugs: Sequence[str]) -> dict[str, Link]:
        table = self._links
        return {s: table[(handle, s)] for s in slugs if (handle, s) in table}

    async def insert(self, link: Link) -> bool:
        key = (link.handle, link.slug)
        if key in self._links:
            return False
        self._links[key] = link
        self.s.table("link_ids")[link.id] = key
        return True

    async def update(self, link: Link, expected_version: int) -> bool:
        key = (link.handle, link.slug)
        cur = self._links.get(key)
        if cur is None or cur.version != expected_version or cur.id != link.id:
            return False
        self._links[key] = link
        return True

    async def save_batch(self, new: Sequence[Link], changed: Sequence[tuple[Link, int]],
                         versions: Sequence[LinkVersion]) -> None:
        for link in new:
            if not await self.insert(link):
                raise RuntimeError(f"slug taken during import: {link.slug}")
        for link, expected in changed:
            if not await self.update(link, expected):
                raise RuntimeError(f"link changed during import: {link.slug}")
        for v in versions:
            await self.add_version(v)

    async def insert_imported(self, meta: ImportMeta, rows: Sequence[ImportedLink]) -> None:
        for rec in rows:
            if not await self.insert(imported_link(meta, rec)):
                raise RuntimeError(f"slug taken during import: {rec.slug}")
            await self.add_version(imported_version(meta, rec))

    async def add_version(self, version: LinkVersion) -> None:
        table = self.s.table("link_versions")
        table[version.link_id] = (*table.get(version.link_id, ()), version)

    async def list(self, handle: str, *, tag: str | None = None, prefix: str | None = None,
                   health: str | None = None, q: str | None = None, after: str | None = None,
                   limit: int = 50) -> list[Link]:
        q_low = q.lower() if q else None
        rows = []
        for (h, slug), link in self._links.items():
            if h != handle or link.is_deleted or (after is not None and slug <= after):
                continue
            if tag is not None and tag not in link.tags:
                continue
            if prefix is not None and not slug.startswith(prefix):
                continue
            if health is not None:
                cls = link.health.classification if link.health else "unchecked"
                if cls != health:
                    continue
            if q_low is not None and q_low not in slug.lower() and q_low not in link.destination.lower():
                continue
            rows.append(link)
        rows.sort(key=lambda link: link.slug)
        return rows[:limit]

    async def versions(self, link_id: str, *, before: int | None = None, limit: int = 50) -> list[LinkVersion]:
        rows = [v for v in reversed(self.s.table("link_versions").get(link_id, ()))
                if before is None or v.version < before]
        return rows[:limit]

    async def get_version(self, link_id: str, version: int) -> LinkVersion | None:
        return next((v for v in self.s.table("link_versions").get(link_id, ()) if v.version == version), None)

    async def set_health(self, updates: Sequence[tuple[str, Health]]) -> None:
        ids = self.s.table("link_ids")
        for link_id, health in updates:
            key = ids.get(link_id)
            if key is not None and key in self._links:
                self._links[key] = attrs.evolve(self._links[key], health=health)

    async def bump_generation(self, handle: str) -> int:
        table = self.s.table("link_generations")
        table[handle] = int(table.get(handle, 0)) + 1
        return int(table[handle])

    async def generation(self, handle: str) -> int:
        return int(self.s.table("link_generations").get(handle, 0))

    async def add_clicks(self, counts: Sequence[tuple[str, str, int]]) -> None:
        table = self.s.table("link_clicks")
        for link_id, day, n in counts:
            table[(link_id, day)] = int(table.get((link_id, day), 0)) + n

    async def clicks(self, link_id: str) -> int:
        return sum(n for (lid, _), n in self.s.table("link_clicks").items() if lid == link_id)

    async def save_import_run(self, run: ImportRun) -> None:
        self.s.table("link_import_runs")[run.id] = run

    async def get_import_run(self, handle: str, run_id: str) -> ImportRun | None:
        run: ImportRun | None = self.s.table("link_import_runs").get(run_id)
        return run if run is not None and run.handle == handle else None

    async def add_import_errors(self, errors: Sequence[ImportRowError]) -> None:
        table = self.s.table("link_import_errors")
        for e in errors:
            table[(e.run_id, e.row)] = e

    async def import_errors(self, run_id: str, *, after_row: int = 0, limit: int = 1000) -> list[ImportRowError]:
        rows = sorted((e for (rid, row), e in self.s.table("link_import_errors").items()
                       if rid == run_id and row > after_row), key=lambda e: e.row)
        return rows[:limit]

    async def save_health_run(self, run: HealthRun) -> None:
        self.s.table("link_health_runs")[run.id] = run

    async def get_health_run(self, handle: str, run_id: str) -> HealthRun | None:
        run: HealthRun | None = self.s.table("link_health_runs").get(run_id)
        return run if run is not None and run.handle == handle else None

    async def find_health_run(self, run_id: str) -> HealthRun | None:
        run: HealthRun | None = self.s.table("link_health_runs").get(run_id)
        return run

    async def add_health_results(self, results: Sequence[HealthResult]) -> None:
        table = self.s.table("link_health_results")
        for r in results:
            table[r.run_id] = (*table.get(r.run_id, ()), r)

    async def clear_health_results(self, run_id: str) -> int:
        table = self.s.table("link_health_results")
        if run_id not in table:
            return 0
        count = len(table[run_id])
        del table[run_id]
        return count

    async def health_results(self, run_id: str, *, classification: str | None = None) -> list[HealthResult]:
        rows = self.s.table("link_health_results").get(run_id, ())
        return sorted((r for r in rows if classification is None or r.classification == classification),
                      key=lambda r: r.slug)


REPOSITORIES: dict[str, Any] = {"links": MemoryLinks}
