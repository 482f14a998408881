"""Bulk import runs, per-row errors and outcomes, and the records an import writes.

The row formats (CSV, JSON lines, formula neutralisation) are in :mod:`.import_formats`.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import attrs

from .model import Link, LinkVersion, Rule

__all__ = [
    "CSV_COLUMNS",
    "IMPORT_MODES",
    "ImportMeta",
    "ImportRowError",
    "ImportRun",
    "ImportedLink",
    "RowOutcome",
    "imported_link",
    "imported_version",
]

IMPORT_MODES = ("dryRun", "atomic", "partial")
CSV_COLUMNS = ("slug", "destination", "tags", "rules", "redirectStatus", "forwardQuery")


@attrs.frozen
class ImportRun:
    id: str
    handle: str
    mode: str
    status: str  # running | completed | failed
    created_at: datetime
    created_by: str | None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    total: int = 0
    finished_at: datetime | None = None
    request_id: str | None = None
    detail: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "failed": self.failed}


@attrs.frozen
class ImportRowError:
    """A failed row, kept for ``errors.csv`` with the cells as they were sent."""

    run_id: str
    row: int
    slug: str
    code: str
    message: str
    destination: str = ""
    tags: str = ""
    rules: str = ""
    redirect_status: str = ""


@attrs.frozen
class RowOutcome:
    row: int
    slug: str
    outcome: str  # created | updated | unchanged | failed
    code: str | None = None
    message: str | None = None


class ImportedLink(NamedTuple):
    """A link an import creates (version 1, never seen before on the handle).

    The repository writes the link and its first history entry from this one value and the
    batch's :class:`ImportMeta`, so neither a :class:`Link` nor a :class:`LinkVersion` is built
    per row on the bulk path; a named tuple because one is made per imported row.
    """

    id: str
    slug: str
    destination: str
    redirect_status: int
    forward_query: bool
    rules: tuple[Rule, ...]
    tags: tuple[str, ...]


@attrs.frozen
class ImportMeta:
    """What every link and history entry written by one import batch shares."""

    handle: str
    at: datetime  # createdAt/updatedAt of the links, createdAt of the history entries
    created_by: str | None
    request_id: str | None
    run_id: str
    source: str = "import"


def imported_link(meta: ImportMeta, rec: ImportedLink) -> Link:
    """The :class:`Link` an :class:`ImportedLink` stands for."""
    return Link(id=rec.id, handle=meta.handle, slug=rec.slug, version=1, destination=rec.destination,
                redirect_status=rec.redirect_status, forward_query=rec.forward_query, rules=rec.rules,
                tags=rec.tags, created_at=meta.at, updated_at=meta.at)


def imported_version(meta: ImportMeta, rec: ImportedLink) -> LinkVersion:
    """The first history entry of an :class:`ImportedLink`."""
    return LinkVersion(link_id=rec.id, version=1, destination=rec.destination, rules=rec.rules,
                       redirect_status=rec.redirect_status, forward_query=rec.forward_query, tags=rec.tags,
                       created_by=meta.created_by, created_at=meta.at, source=meta.source, reason=None,
                       request_id=meta.request_id, run_id=meta.run_id)
