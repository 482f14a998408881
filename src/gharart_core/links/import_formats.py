"""Bulk import/export row formats: incremental CSV and JSON-lines parsing, formula neutralisation.

Parsers are fed text chunks and hand back complete rows as they appear, so a 100k-row body is
never held whole. Export cells that a spreadsheet would run as a formula get a leading ``'``;
import strips exactly one such ``'`` so export → import round-trips.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from ..shared.errors import BadRequest, FieldError, ValidationFailed
from .model import RESERVED_SLUGS, SLUG_RE, LinkFields, Rule
from .schema import Collector, check_slug, parse_fields
from .urls import MAX_URL_LENGTH, NORMAL_URL_RE, DestinationError, validate_destination

__all__ = [
    "MAX_ROW_CHARS",
    "CsvRowParser",
    "NdjsonRowParser",
    "ParsedRow",
    "RawRow",
    "SimpleRow",
    "Utf8Decoder",
    "neutralise",
    "row_to_fields",
    "simple_csv_row",
    "simple_row_reader",
    "unneutralise",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_ROW_CHARS = 256 * 1024


class ParsedRow(NamedTuple):
    """A data row that passed :func:`simple_row_reader` while being parsed."""

    row: int
    slug: str
    fields: tuple[Any, ...]  # LinkFields' values in order (destination, rules, tags, status, forwardQuery)


class RawRow(NamedTuple):
    """One data row as decoded: values are what the format gave (strings for CSV).

    A named tuple rather than an attrs class: one is made per imported row, and building a
    tuple costs a fraction of a frozen attrs instance (see docs/decisions/links-import-performance.md).
    """

    row: int
    values: Mapping[str, Any]
    error: tuple[str, str] | None = None  # (code, message) for rows that could not be decoded

    def cell(self, name: str) -> str:
        v = self.values.get(name)
        if v is None:
            return ""
        if isinstance(v, str):
            return v
        if name == "tags" and isinstance(v, list):
            return "|".join(str(t) for t in v)
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) or (cell.startswith("'") and _needs(cell[1:])) else cell


def _needs(rest: str) -> bool:
    # a cell that already starts with ' followed by a formula character gets one more, so the
    # import side's "strip one" gives the original back
    return rest.startswith(_FORMULA_START) or (rest.startswith("'") and _needs(rest[1:]))


def unneutralise(cell: str) -> str:
    if cell.startswith("'") and (cell[1:].startswith(_FORMULA_START) or
                                 (cell[1:].startswith("'") and _needs(cell[2:]))):
        return cell[1:]
    return cell


class Utf8Decoder:
    """Incremental strict UTF-8 with the BOM dropped; bad bytes are the client's error (400)."""

    def __init__(self) -> None:
        self._dec = codecs.getincrementaldecoder("utf-8-sig")()

    def feed(self, data: bytes, final: bool = False) -> str:
        try:
            return self._dec.decode(data, final)
        except UnicodeDecodeError as exc:
            raise BadRequest("malformed_body", "The import body is not valid UTF-8.") from exc


class CsvRowParser:
    """Feed text; get rows. A record ends at a newline outside quotes (RFC 4180)."""

    def __init__(self, *, validate_simple: bool = False) -> None:
        self._buf = ""
        self._header: list[str] | None = None
        self._row = 0
        # with validate_simple, a row simple_csv_row accepts comes out already validated, as a
        # ParsedRow (no dict, no RawRow); any other row comes out as a RawRow as usual
        self._validate_simple = validate_simple
        self._simple: Callable[[Sequence[str]], SimpleRow | None] | None = None

    def feed(self, text: str) -> list[RawRow | ParsedRow]:
        self._buf += text
        cut = self._complete_prefix()
        if cut <= 0:
            if len(self._buf) > MAX_ROW_CHARS * 4:
                raise BadRequest("malformed_body", "A CSV record is too long or a quote is never closed.")
            return []
        chunk, self._buf = self._buf[:cut], self._buf[cut:]
        return self._parse(chunk)

    def finish(self) -> list[RawRow | ParsedRow]:
        chunk, self._buf = self._buf, ""
        if chunk.count('"') % 2:
            raise BadRequest("malformed_body", "The CSV ends inside a quoted field.")
        rows = self._parse(chunk) if chunk.strip() else []
        if self._header is None:
            raise ValidationFailed("validation_failed", "The CSV has no header row.",
                                   errors=[FieldError("header", "required", "header row is required")])
        return rows

    def _complete_prefix(self) -> int:
        buf = self._buf
        last_nl = buf.rfind("\n")
        if last_nl == -1:
            return 0
        if buf.count('"', 0, last_nl + 1) % 2 == 0:
            return last_nl + 1
        # walk the lines keeping quote parity; the cut is after the last balanced newline
        cut = 0
        quotes = 0
        start = 0
        while True:
            nl = buf.find("\n", start, last_nl + 1)
            if nl == -1:
                break
            quotes += buf.count('"', start, nl + 1)
            if quotes % 2 == 0:
                cut = nl + 1
            start = nl + 1
        return cut

    def _parse(self, chunk: str) -> list[RawRow | ParsedRow]:
        out: list[RawRow | ParsedRow] = []
        try:
            records = list(csv.reader(io.StringIO(chunk, newline="")))
        except csv.Error as exc:
            raise BadRequest("malformed_body", f"The CSV could not be parsed: {exc}") from exc
        quoted = "'" in chunk  # no cell of this chunk can need unneutralising otherwise
        header = self._header
        simple = None if quoted else self._simple
        row = self._row
        parsed = ParsedRow._make
        for rec in records:
            if not rec or (len(rec) == 1 and rec[0].strip() == ""):
                continue
            if header is None:
                header = self._header = [h.strip() for h in rec]
                missing = [c for c in ("slug", "destination") if c not in header]
                if missing:
                    raise ValidationFailed(
                        "validation_failed", "The CSV header must name the slug and destination columns.",
                        errors=[FieldError(f"header.{c}", "required", f"column `{c}` is required")
                                for c in missing])
                if self._validate_simple:
                    self._simple = simple_row_reader(tuple(header))
                    simple = None if quoted else self._simple
                continue
            row += 1
            if len(rec) != len(header):
                values = {k: unneutralise(v) for k, v in zip(header, rec, strict=False)}
                out.append(RawRow(row, values, ("malformed_row", f"expected {len(header)} cells, got {len(rec)}")))
                continue
            if simple is not None:
                ok = simple(rec)
                if ok is not None:
                    out.append(parsed((row, *ok)))
                    continue
            values = dict(zip(header, rec, strict=True))
            if quoted:
                for k, v in values.items():
                    if v[:1] == "'":
                        values[k] = unneutralise(v)
            out.append(RawRow(row, values))
        self._row = row
        return out


class NdjsonRowParser:
    """Feed text; get one row per non-empty line, each a JSON object."""

    def __init__(self) -> None:
        self._buf = ""
        self._row = 0

    def feed(self, text: str) -> list[RawRow]:
        self._buf += text
        cut = self._buf.rfind("\n")
        if cut == -1:
            if len(self._buf) > MAX_ROW_CHARS * 4:
                raise BadRequest("malformed_body", "A JSON line is too long.")
            return []
        chunk, self._buf = self._buf[: cut + 1], self._buf[cut + 1:]
        return list(self._lines(chunk))

    def finish(self) -> list[RawRow]:
        chunk, self._buf = self._buf, ""
        return list(self._lines(chunk))

    def _lines(self, chunk: str) -> Iterator[RawRow]:
        for line in chunk.split("\n"):
            if not line.strip():
                continue
            self._row += 1
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):
                yield RawRow(self._row, {}, ("malformed_row", "the line is not valid JSON"))
                continue
            if not isinstance(value, dict):
                yield RawRow(self._row, {}, ("malformed_row", "each line must be a JSON object"))
                continue
            yield RawRow(self._row, value)


_STATUSES = {"": 302, "301": 301, "302": 302, "307": 307, "308": 308}
_BOOLS = {"": False, "false": False, "0": False, "no": False, "true": True, "1": True, "yes": True}
_TAG_CELL_RE = re.compile(r"^[^\x00-\x1f|]{1,64}(?:\|[^\x00-\x1f|]{1,64})*$")


# (slug, (destination, rules, tags, redirect status, forward query)): LinkFields' values, None = not given
SimpleRow = tuple[str, tuple[str, tuple[Rule, ...] | None, tuple[str, ...] | None, int | None, bool | None]]
_TAG_CACHE: dict[str, tuple[str, ...] | None] = {}  # tag cell -> tags (None: take the full path)
_TAG_CACHE_MAX = 4096


def _tag_cell(cell: str) -> tuple[str, ...] | None:
    tags = _TAG_CACHE.get(cell, ())
    if tags != ():
        return tags
    if not _TAG_CELL_RE.match(cell):
        tags = None
    else:
        parts = [t.strip() for t in cell.split("|")]
        tags = None if "" in parts or len(parts) > 50 else tuple(dict.fromkeys(parts))
    if len(_TAG_CACHE) >= _TAG_CACHE_MAX:
        _TAG_CACHE.clear()
    _TAG_CACHE[cell] = tags
    return tags


@lru_cache(maxsize=64)
def simple_row_reader(header: tuple[str, ...]) -> Callable[[Sequence[str]], SimpleRow | None]:
    """A validator of the common CSV row (no rules, plain tags) for rows of ``header``'s cells:
    it returns the row's values, or None to send the row down the full path (:func:`row_to_fields`),
    which reports any error precisely. What it accepts, the full path accepts with the same values.
    Column positions are worked out once per header, not once per row."""
    pos = {name: i for i, name in enumerate(header)}  # a repeated column: the last one counts
    i_slug, i_dest = pos["slug"], pos["destination"]
    i_rules, i_tags = pos.get("rules"), pos.get("tags")
    i_status, i_fq = pos.get("redirectStatus"), pos.get("forwardQuery")
    no_rules: tuple[Rule, ...] | None = None if i_rules is None else ()
    slug_ok, reserved, statuses, bools = SLUG_RE.match, RESERVED_SLUGS, _STATUSES, _BOOLS
    normal_url = NORMAL_URL_RE.match

    def read(cells: Sequence[str]) -> SimpleRow | None:
        slug = cells[i_slug]
        if not slug_ok(slug) or slug in reserved or (i_rules is not None and cells[i_rules]):
            return None
        destination = cells[i_dest].strip()
        if not normal_url(destination) or len(destination) > MAX_URL_LENGTH:  # else: the full URL check
            try:
                destination = validate_destination(destination)
            except DestinationError:
                return None
        tags: tuple[str, ...] | None = None
        if i_tags is not None:
            cell = cells[i_tags]
            tags = _tag_cell(cell) if cell else ()
            if tags is None:
                return None
        status = None
        if i_status is not None:
            status = statuses.get(cells[i_status].strip())
            if status is None:
                return None
        fq = None
        if i_fq is not None:
            fq = bools.get(cells[i_fq].strip().lower())
            if fq is None:
                return None
        return slug, (destination, no_rules, tags, status, fq)

    return read


def simple_csv_row(values: Mapping[str, Any]) -> SimpleRow | None:
    """:func:`simple_row_reader` for one row given as a column -> cell mapping."""
    if not all(isinstance(v, str) for v in values.values()):
        return None
    if "slug" not in values or "destination" not in values:
        return None
    return simple_row_reader(tuple(values))(list(values.values()))


def row_to_fields(raw: RawRow, *, csv_cells: bool, simple: bool = True) -> tuple[str, LinkFields]:
    """Validate one row; raise :class:`ValidationFailed` whose first error names the row's code.

    CSV cells are strings: an empty optional cell means "none" (no tags, no rules, 302).
    """
    if csv_cells and simple:
        ok = simple_csv_row(raw.values)
        if ok is not None:
            return ok[0], LinkFields(*ok[1])
    values = dict(raw.values)
    body: dict[str, Any] = {}
    errs = Collector()
    slug = values.get("slug")
    if isinstance(slug, str):
        slug = slug.strip()
    check_slug(slug if slug != "" else None)
    body["destination"] = values.get("destination")
    if isinstance(body["destination"], str):
        body["destination"] = body["destination"].strip()
    if csv_cells:
        if "tags" in values:
            body["tags"] = values["tags"] or []
        if "rules" in values:
            cell = (values["rules"] or "").strip()
            if cell:
                try:
                    body["rules"] = json.loads(cell)
                except (ValueError, RecursionError):
                    errs.add("rules", "invalid_json", "the rules cell is not valid JSON")
            else:
                body["rules"] = []
        if "redirectStatus" in values:
            body["redirectStatus"] = values["redirectStatus"].strip() or 302
        if "forwardQuery" in values:
            cell = values["forwardQuery"].strip().lower()
            if cell in ("", "false", "0", "no"):
                body["forwardQuery"] = False
            elif cell in ("true", "1", "yes"):
                body["forwardQuery"] = True
            else:
                body["forwardQuery"] = cell
    else:
        for key in ("tags", "rules", "redirectStatus", "forwardQuery"):
            if key in values:
                body[key] = values[key]
        if body.get("rules") is None and "rules" in body:
            body["rules"] = []
        if body.get("redirectStatus") is None and "redirectStatus" in body:
            body["redirectStatus"] = 302
    fields = parse_fields(body, errs, require_destination=True)
    errs.raise_if_any("The row failed validation.")
    return str(slug), fields
