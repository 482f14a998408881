"""Bulk import (streamed, dryRun/atomic/partial) and export of links.

Rows are parsed from the body as it arrives and handled in batches; only the per-row answer
(at most 1,000 rows, then failed rows only) and the failed rows for ``errors.csv`` are kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import attrs

from ..identity.model import HandleAccess
from ..identity.policy import Action, authorize
from ..shared.audit_helpers import record
from ..shared.errors import FieldError, NotFound, ValidationFailed
from ..shared.ids import is_valid_id
from .import_formats import CsvRowParser, NdjsonRowParser, ParsedRow, RawRow, Utf8Decoder, row_to_fields, simple_csv_row
from .importing import (
    IMPORT_MODES,
    ImportedLink,
    ImportMeta,
    ImportRowError,
    ImportRun,
    RowOutcome,
    imported_link,
    imported_version,
)
from .model import Link, LinkFields, LinkVersion, apply_fields, same_content, version_of
from .ports import LinksUoW

if TYPE_CHECKING:
    from ..shared.clock import Clock
    from ..shared.ids import IdGenerator

__all__ = ["MAX_LISTED_ROWS", "ImportFailed", "ImportMixin", "ImportResult"]

MAX_LISTED_ROWS = 1000


@attrs.frozen
class ImportResult:
    run: ImportRun
    rows: tuple[RowOutcome, ...]
    rows_truncated: bool


class ImportFailed(ValidationFailed):
    """Atomic import with failed rows: nothing was written; the run and its errors are kept."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("import_failed",
                         f"{result.run.failed} row(s) failed; nothing was imported (atomic mode).")
        self.result = result


class _Outcomes:
    def __init__(self) -> None:
        self.rows: list[RowOutcome] = []
        self.truncated = False
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
        self.total = 0
        self.errors: list[ImportRowError] = []

    def ok(self, row: int, slug: str, outcome: str) -> None:
        """A successful row: once the answer lists failed rows only, just count it."""
        if self.truncated:
            self.total += 1
            self.counts[outcome] += 1
        else:
            self.add(RowOutcome(row, slug, outcome))

    def add(self, outcome: RowOutcome) -> None:
        self.total += 1
        self.counts[outcome.outcome] += 1
        if not self.truncated and self.total > MAX_LISTED_ROWS:
            self.truncated = True
            self.rows = [r for r in self.rows if r.outcome == "failed"]
        if not self.truncated or outcome.outcome == "failed":
            self.rows.append(outcome)


class ImportMixin:
    clock: Clock
    ids: IdGenerator
    import_batch: int
    uow_factory: Callable[..., Any] | None

    def check_import_mode(self, mode: str | None) -> str:
        mode = mode or "atomic"
        if mode not in IMPORT_MODES:
            raise ValidationFailed(errors=[FieldError("mode", "invalid_value",
                                                      "mode is one of dryRun, atomic, partial")])
        return mode

    async def import_links(self, uow: LinksUoW, access: HandleAccess, chunks: AsyncIterator[bytes], *,
                           fmt: str, mode: str | None = None, run_id: str | None = None,
                           progress: Callable[[int], None] | None = None) -> ImportResult:
        """Import rows streamed from ``chunks``. Raises :class:`ImportFailed` for an atomic import
        with failed rows, after rolling back the link writes and committing only the run record."""
        authorize(access, Action.LINKS_WRITE)
        mode = self.check_import_mode(mode)
        now = self.clock.now()
        run = ImportRun(id=run_id or self.ids.new("run"), handle=access.handle, mode=mode, status="running",
                        created_at=now, created_by=access.actor_id, request_id=access.request_id)
        parser: CsvRowParser | NdjsonRowParser = \
            CsvRowParser(validate_simple=True) if fmt == "csv" else NdjsonRowParser()
        decoder = Utf8Decoder()
        out = _Outcomes()
        state = _BatchState(mode)
        pending: list[RawRow | ParsedRow] = []
        async for chunk in chunks:
            pending.extend(parser.feed(decoder.feed(chunk)))
            while len(pending) >= self.import_batch:
                batch, pending = pending[: self.import_batch], pending[self.import_batch:]
                await self._import_batch(uow, access, run, batch, fmt, state, out)
                if progress:
                    progress(out.total)
        pending.extend(parser.feed(decoder.feed(b"", final=True)))
        pending.extend(parser.finish())
        if pending:
            await self._import_batch(uow, access, run, pending, fmt, state, out)
            if progress:
                progress(out.total)
        c = out.counts
        run = attrs.evolve(run, created=c["created"], updated=c["updated"], unchanged=c["unchanged"],
                           failed=c["failed"], total=out.total, finished_at=self.clock.now(),
                           status="failed" if mode == "atomic" and c["failed"] else "completed")
        result = ImportResult(run, tuple(sorted(out.rows, key=lambda r: r.row)), out.truncated)
        if run.status == "failed":
            # nothing of the import may stay, but the run and errors.csv must: undo, then keep those
            await uow.rollback()
            await uow.links.save_import_run(run)
            await _save_errors(uow, out.errors)
            await uow.commit()
            raise ImportFailed(result)
        await uow.links.save_import_run(run)
        await _save_errors(uow, out.errors)
        if mode != "dryRun" and (c["created"] or c["updated"]):
            await uow.links.bump_generation(access.handle)
            await record(uow, self.clock, self.ids, access, "link.import", f"run:{run.id}",
                         detail=f"created={c['created']} updated={c['updated']} failed={c['failed']}")
        return result

    async def start_import_job(self, uow: LinksUoW, access: HandleAccess,
                               source: Callable[[], AsyncIterator[bytes]], *, fmt: str, mode: str,
                               cleanup: Callable[[], None] | None = None) -> ImportRun:
        """Record a running import and run it as a background job once this transaction commits
        (imports above ``GHARART_IMPORT_SYNC_ROWS`` rows)."""
        authorize(access, Action.LINKS_WRITE)
        mode = self.check_import_mode(mode)
        run = ImportRun(id=self.ids.new("run"), handle=access.handle, mode=mode, status="running",
                        created_at=self.clock.now(), created_by=access.actor_id, request_id=access.request_id)
        await uow.links.save_import_run(run)
        jobs = getattr(self, "jobs", None)

        async def job() -> None:
            assert self.uow_factory is not None
            try:
                async with self.uow_factory(write=True) as juow:
                    try:
                        await self.import_links(juow, access, source(), fmt=fmt, mode=mode, run_id=run.id)
                        await juow.commit()
                    except ImportFailed:
                        pass  # the run and its errors are already committed
                    except Exception as exc:
                        await juow.rollback()
                        await juow.links.save_import_run(attrs.evolve(
                            run, status="failed", finished_at=self.clock.now(), detail=str(exc)[:500]))
                        await juow.commit()
                        raise
            finally:
                if cleanup is not None:
                    cleanup()

        async def submit() -> None:
            if jobs is not None:
                jobs.submit("links.import", run.id, job)

        uow.after_commit(submit)
        return run

    async def _import_batch(self, uow: LinksUoW, access: HandleAccess, run: ImportRun,
                            batch: list[RawRow | ParsedRow], fmt: str, state: _BatchState, out: _Outcomes) -> None:
        valid: list[tuple[int, str, tuple[Any, ...]]] = []  # (row, slug, LinkFields' values)
        csv_cells = fmt == "csv"
        for raw in batch:
            if type(raw) is ParsedRow:  # validated by the parser already
                valid.append(raw)
                continue
            assert isinstance(raw, RawRow)
            if raw.error is not None:
                self._fail(run, raw, out, *raw.error)
                continue
            if csv_cells:
                simple = simple_csv_row(raw.values)
                if simple is not None:
                    valid.append((raw.row, *simple))
                    continue
            try:
                slug, fields = row_to_fields(raw, csv_cells=csv_cells)
            except ValidationFailed as exc:
                first = exc.errors[0] if exc.errors else FieldError("row", exc.code, exc.detail)
                code = exc.code if exc.code != "validation_failed" else first.code
                self._fail(run, raw, out, code, f"{first.field}: {first.message}" if first.message else first.field)
                continue
            valid.append((raw.row, slug, attrs.astuple(fields, recurse=False)))
        if not valid:
            return
        slugs = dict.fromkeys(s for _, s, _ in valid)  # distinct, in row order
        seen = state.seen
        existing = await uow.links.get_many(access.handle, sorted(slugs))
        # one id per slug this batch creates from nothing, minted together, in row order
        link_ids = iter(mint_ids(self.ids, "lnk", sum(1 for s in slugs if s not in existing and s not in seen)))
        now = self.clock.now()
        meta = ImportMeta(handle=access.handle, at=now, created_by=access.actor_id,
                          request_id=access.request_id, run_id=run.id)
        fresh: dict[str, ImportedLink] = {}  # created here, first row of its slug: the bulk path
        new: dict[str, Link] = {}  # created here and changed again by a later row
        changed: dict[str, tuple[Link, int]] = {}
        versions: list[LinkVersion] = []
        counts = out.counts
        for row, slug, values in valid:
            if slug in fresh:  # a later row for a slug this batch creates: go on with a full Link
                rec = fresh.pop(slug)
                new[slug] = imported_link(meta, rec)
                versions.append(imported_version(meta, rec))
            # this batch's own writes first, then earlier batches' (dry runs), then the store
            cur = None
            if new or changed or seen or existing:
                cur = new.get(slug) or (changed[slug][0] if slug in changed else None) or seen.get(slug) \
                    or existing.get(slug)
            if cur is None:
                destination, rules, tags, status, fq = values
                fresh[slug] = ImportedLink(next(link_ids), slug, destination, status or 302, bool(fq),
                                           rules or (), tags or ())
                if out.truncated:  # only failed rows are listed from here on: count it
                    out.total += 1
                    counts["created"] += 1
                else:
                    out.ok(row, slug, "created")
                continue
            if cur.is_deleted:
                base = attrs.evolve(cur, rules=(), tags=(), redirect_status=302, forward_query=False,
                                    deleted_at=None, created_at=now)
                outcome = "created"
            else:
                base = cur
                outcome = "updated"
            link = apply_fields(base, LinkFields(*values))
            if outcome == "updated" and same_content(link, cur):
                out.ok(row, slug, "unchanged")
                continue
            link = attrs.evolve(link, version=cur.version + 1, updated_at=now)
            if slug in new:
                new[slug] = link
            else:
                first_expected = changed[slug][1] if slug in changed else cur.version
                changed[slug] = (link, first_expected)
            versions.append(version_of(link, created_by=access.actor_id, source="import", reason=None,
                                       request_id=access.request_id, run_id=run.id))
            out.ok(row, slug, outcome)
        if state.mode == "dryRun":
            seen.update({s: imported_link(meta, rec) for s, rec in fresh.items()})
            seen.update(new)
            seen.update({s: link for s, (link, _) in changed.items()})
            return
        if state.mode == "atomic" and out.counts["failed"]:
            return  # the import will be undone: stop writing, keep checking rows
        if fresh:
            await uow.links.insert_imported(meta, list(fresh.values()))
        if new or changed or versions:
            await uow.links.save_batch(list(new.values()), list(changed.values()), versions)

    def _fail(self, run: ImportRun, raw: RawRow, out: _Outcomes, code: str, message: str) -> None:
        slug = _clean(raw.cell("slug").strip(), 256)
        out.add(RowOutcome(raw.row, slug, "failed", code, _clean(message, 500)))
        out.errors.append(ImportRowError(
            run_id=run.id, row=raw.row, slug=slug, code=code, message=_clean(message, 500),
            destination=_clean(raw.cell("destination"), 4096), tags=_clean(raw.cell("tags"), 4096),
            rules=_clean(raw.cell("rules"), 65536), redirect_status=_clean(raw.cell("redirectStatus"), 64)))

    async def get_import_run(self, uow: LinksUoW, access: HandleAccess, run_id: str) -> ImportRun:
        authorize(access, Action.LINKS_READ)
        run = await uow.links.get_import_run(access.handle, run_id) if is_valid_id(run_id, "run") else None
        if run is None:
            raise NotFound("run_not_found", f"Import run `{run_id}` was not found.")
        return run

    async def iter_import_errors(self, access: HandleAccess, run_id: str) -> AsyncIterator[ImportRowError]:
        """Failed rows of a run, in row order, read in pages on their own unit of work."""
        authorize(access, Action.LINKS_READ)
        assert self.uow_factory is not None
        after = 0
        while True:
            async with self.uow_factory(write=False) as uow:
                page = await uow.links.import_errors(run_id, after_row=after, limit=1000)
            for err in page:
                yield err
            if len(page) < 1000:
                return
            after = page[-1].row

    async def iter_export(self, access: HandleAccess, *, include_history: bool = False,
                          page_size: int = 1000) -> AsyncIterator[tuple[Link, list[LinkVersion]]]:
        """Every live link by slug (with its history, oldest first, when asked), streamed in pages."""
        authorize(access, Action.LINKS_READ)
        assert self.uow_factory is not None
        after: str | None = None
        while True:
            async with self.uow_factory(write=False) as uow:
                page = await uow.links.list(access.handle, after=after, limit=page_size)
                items: list[tuple[Link, list[LinkVersion]]] = []
                for link in page:
                    history: list[LinkVersion] = []
                    if include_history:
                        history = list(reversed(await uow.links.versions(link.id, limit=1_000_000)))
                    items.append((link, history))
            for item in items:
                yield item
            if len(page) < page_size:
                return
            after = page[-1].slug


def _clean(text: str, limit: int) -> str:
    """Cells are kept for errors.csv as sent, minus NUL (no database stores it) and bounded."""
    return text.replace("\x00", "\ufffd")[:limit]


class _BatchState:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.seen: dict[str, Link] = {}  # dry runs only: what earlier rows would have written


def mint_ids(ids: IdGenerator, prefix: str, n: int) -> list[str]:
    """``n`` new ids at once when the generator can (``new_many``), else one by one."""
    many = getattr(ids, "new_many", None)
    if many is not None:
        return list(many(prefix, n))
    return [ids.new(prefix) for _ in range(n)]


async def _save_errors(uow: LinksUoW, errors: list[ImportRowError]) -> None:
    for i in range(0, len(errors), 1000):
        await uow.links.add_import_errors(errors[i:i + 1000])
