"""The bulk-import fast path agrees with the full validation and with row-at-a-time writes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.registry import memory_factories
from gharart_core.links.import_formats import CsvRowParser, ParsedRow, RawRow, row_to_fields, simple_row_reader
from gharart_core.links.model import LinkFields
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import FakeClock
from gharart_core.shared.errors import ValidationFailed
from gharart_core.shared.ids import SequentialIds, UlidIds, _encode, _encode_run, is_valid_id

from .test_links_service import EDITOR, chunks

HEADER = ("slug", "destination", "tags", "rules", "redirectStatus", "forwardQuery")

cells = st.one_of(
    st.sampled_from(["", " ", "a", "launch|q1", "a| b |a", "a||b", "x" * 65, "=1", "'=x", "|", "\t"]),
    st.text(max_size=12))
slugs = st.one_of(st.sampled_from(["a", "Z-1", "export", "bulk-import", "-x", "a b", "s" * 65, ""]),
                  st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,5}", fullmatch=True))
urls = st.one_of(
    st.sampled_from(["https://a.example/", "HTTPS://A.example/x", "http://b.example:8080/p?q=1#f",
                     "https://bücher.example/", "javascript:alert(1)", "https://u:p@a.example/", "https://a..b/",
                     " https://a.example/ ", "https://a.example/ x", "https://[::1]/", "https://a.example:99999/",
                     "https://a.example/%zz", "ftp://a.example/", "https://a.example/é"]),
    st.text(max_size=20))
statuses = st.sampled_from(["", "301", "302", "307", "308", "200", " 302 ", "x"])
bools = st.sampled_from(["", "true", "FALSE", "1", "0", "yes", "no", "maybe"])


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(slug=slugs, dest=urls, tags=cells, rules=st.sampled_from(["", "[]", " "]), status=statuses, fq=bools,
       columns=st.sets(st.sampled_from(["tags", "rules", "redirectStatus", "forwardQuery"])))
def test_fast_path_accepts_only_what_the_full_path_accepts_with_the_same_values(
        slug, dest, tags, rules, status, fq, columns):
    header = ("slug", "destination", *sorted(columns))
    given_cells = {"slug": slug, "destination": dest, "tags": tags, "rules": rules, "redirectStatus": status,
                   "forwardQuery": fq}
    row = [given_cells[c] for c in header]
    fast = simple_row_reader(header)(row)
    try:
        full = row_to_fields(RawRow(1, dict(zip(header, row, strict=True))), csv_cells=True, simple=False)
    except ValidationFailed:
        full = None
    if fast is not None:
        assert full is not None
        assert (fast[0], LinkFields(*fast[1])) == full


def test_parser_hands_simple_rows_over_validated_and_the_rest_raw():
    p = CsvRowParser(validate_simple=True)
    text = ("slug,destination,tags,rules\r\n"
            "a,https://a.example/,x|y,\r\n"
            "b,not a url,,\r\n"
            "c,https://c.example/,,\"[{\"\"conditions\"\":{},\"\"destination\"\":\"\"https://d/\"\"}]\"\r\n"
            "d,https://d.example/\r\n")
    rows = p.feed(text) + p.finish()
    assert [type(r).__name__ for r in rows] == ["ParsedRow", "RawRow", "RawRow", "RawRow"]
    first = rows[0]
    assert isinstance(first, ParsedRow)
    assert (first.row, first.slug, first.fields) == (1, "a", ("https://a.example/", (), ("x", "y"), None, None))
    assert rows[3].error is not None and rows[3].error[0] == "malformed_row"


def test_chunk_with_a_quote_mark_takes_the_unneutralising_path():
    p = CsvRowParser(validate_simple=True)
    rows = p.feed("slug,destination,tags\n'=a,https://a.example/,'+t\nb,https://b.example/,t\n") + p.finish()
    assert all(isinstance(r, RawRow) for r in rows)
    assert rows[0].values == {"slug": "=a", "destination": "https://a.example/", "tags": "+t"}


def test_new_many_matches_one_by_one_minting():
    for first in (0, 1023, 1024, 2**79 - 3, 2**128 - 2000):
        for n in (0, 1, 1024, 1500):
            assert _encode_run("lnk_", first, n) == ["lnk_" + _encode(first + i, 26) for i in range(n)]
    ids = UlidIds()
    minted = [ids.new("lnk"), *ids.new_many("lnk", 3000), ids.new("lnk")]
    assert minted == sorted(minted) and len(set(minted)) == len(minted)
    assert all(is_valid_id(i, "lnk") for i in minted)


def _service(batch: int, ids=None):
    state, factories, clock = MemoryState(), memory_factories(), FakeClock()

    def uow(write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(state, factories, write=write)

    return LinksService(clock=clock, ids=ids or SequentialIds(), uow_factory=uow, import_batch=batch), uow


async def _run(batch: int, text: str, mode: str):
    svc, uow = _service(batch)
    async with uow() as u:
        result = await svc.import_links(u, EDITOR, chunks(text, 13), fmt="csv", mode=mode)
        await u.commit()
    async with uow(False) as u:
        links = {s: await u.links.get("acme", s) for s in ("a", "b", "c")}
        history = {s: [(v.version, v.destination, v.source, v.run_id is not None)
                       for v in await u.links.versions(link.id)] for s, link in links.items() if link}
    return result, links, history


async def test_repeated_slugs_give_the_same_answer_whatever_the_batch_size():
    text = ("slug,destination,tags\n"
            "a,https://a.example/1,x\nb,https://b.example/1,\na,https://a.example/2,x\n"
            "a,https://a.example/2,x\nc,https://c.example/,y\nb,https://b.example/1,\na,https://a.example/3,\n")
    answers = []
    for mode in ("partial", "dryRun"):
        for batch in (1, 2, 3, 5000):
            result, links, history = await _run(batch, text, mode)
            answers.append((mode, [(r.row, r.slug, r.outcome) for r in result.rows], result.run.counts))
            if mode == "partial":
                assert links["a"] is not None and (links["a"].version, links["a"].tags) == (3, ())
                assert history["a"] == [(3, "https://a.example/3", "import", True),
                                        (2, "https://a.example/2", "import", True),
                                        (1, "https://a.example/1", "import", True)]
                assert links["b"] is not None and links["b"].version == 1
            else:
                assert all(link is None for link in links.values())
    expected = [(1, "a", "created"), (2, "b", "created"), (3, "a", "updated"), (4, "a", "unchanged"),
                (5, "c", "created"), (6, "b", "unchanged"), (7, "a", "updated")]
    assert all(rows == expected for _, rows, _ in answers)
    assert all(counts == {"created": 3, "updated": 2, "unchanged": 2, "failed": 0} for _, _, counts in answers)


def test_links_int_settings():
    import pytest

    from entrypoints.settings import int_setting

    assert int_setting({}, "GHARART_HEALTH_PER_HOST", 4) == 4
    assert int_setting({"GHARART_HEALTH_PER_HOST": " "}, "GHARART_HEALTH_PER_HOST", 4) == 4
    assert int_setting({"GHARART_HEALTH_PER_HOST": "8"}, "GHARART_HEALTH_PER_HOST", 4) == 8
    for bad in ("-1", "2.5", "\uff18", "many"):
        with pytest.raises(ValueError, match="GHARART_HEALTH_PER_HOST"):
            int_setting({"GHARART_HEALTH_PER_HOST": bad}, "GHARART_HEALTH_PER_HOST", 4)
