"""Destination and slug validation, import parsing and formula neutralisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.links.import_formats import CsvRowParser, NdjsonRowParser, neutralise, unneutralise
from gharart_core.links.schema import check_slug
from gharart_core.links.urls import DestinationError, validate_destination
from gharart_core.shared.errors import ValidationFailed


@pytest.mark.parametrize(("url", "expected"), [
    ("https://example.com", "https://example.com"),
    ("HTTPS://Example.COM/Path?q=1#f", "HTTPS://Example.COM/Path?q=1#f"),
    ("https://Bücher.example/a b".replace(" ", "%20"), "https://xn--bcher-kva.example/a%20b"),
    ("https://bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4"),
    ("http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
])
def test_valid_destinations(url, expected):
    assert validate_destination(url) == expected


@pytest.mark.parametrize(("url", "code"), [
    ("javascript:alert(1)", "invalid_url"),
    ("JavaScript:alert(1)", "invalid_url"),
    ("data:text/html,<b>x</b>", "invalid_url"),
    ("https://user:pass@example.com/", "invalid_url"),
    ("https://example.com/\x00", "invalid_url"),
    ("https://exa mple.com/", "invalid_url"),
    ("https://example.com/\r\nSet-Cookie:x", "invalid_url"),
    ("ftp://example.com/", "invalid_url"),
    ("//example.com/", "invalid_url"),
    ("example.com", "invalid_url"),
    ("https://", "invalid_url"),
    ("https://exa_mple..com", "invalid_url"),
    ("https://example.com:99999/", "invalid_url"),
    ("https://" + "a" * 2050 + ".com", "too_long"),
])
def test_refused_destinations(url, code):
    with pytest.raises(DestinationError) as exc:
        validate_destination(url)
    assert exc.value.code == code


@given(st.text(max_size=300))
def test_validation_never_crashes(text):
    try:
        out = validate_destination(text)
    except DestinationError:
        return
    assert out.isascii() and len(out) <= 2048
    assert validate_destination(out) == out  # normalisation is idempotent


@pytest.mark.parametrize(("slug", "code"), [("export", "slug_reserved"), ("health-check", "slug_reserved"),
                                             ("-x", "validation_failed"), ("a" * 65, "validation_failed"),
                                             ("a b", "validation_failed")])
def test_bad_slugs(slug, code):
    with pytest.raises(ValidationFailed) as exc:
        check_slug(slug)
    assert exc.value.code == code


@given(st.text(max_size=20))
def test_neutralise_round_trips(cell):
    assert unneutralise(neutralise(cell)) == cell
    assert not neutralise(cell).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_parser_handles_any_chunking():
    text = ('slug,destination,rules\r\na,https://a.example/,"[{""conditions"":{},\n""destination"":""https://b/""}]"\r\n'
            "b,https://b.example/,\n'=c,https://c.example/,\n")
    for size in (1, 3, 7, 1000):
        p = CsvRowParser()
        rows = []
        for i in range(0, len(text), size):
            rows += p.feed(text[i:i + size])
        rows += p.finish()
        assert [(r.row, r.values["slug"]) for r in rows] == [(1, "a"), (2, "b"), (3, "=c")]
        assert "\n" in rows[0].values["rules"]


def test_csv_without_required_columns():
    with pytest.raises(ValidationFailed):
        CsvRowParser().feed("name,url\nx,y\n")


def test_ndjson_bad_lines_fail_their_row():
    p = NdjsonRowParser()
    rows = p.feed('{"slug":"a","destination":"https://a/"}\nnot json\n[1]\n') + p.finish()
    assert [r.error[0] if r.error else None for r in rows] == [None, "malformed_row", "malformed_row"]


_PATH_CHARS = "abcXYZ019!$&'()*+,/:;=@~-._%"
urls_st = st.builds(
    lambda scheme, labels, port, path, query: f"{scheme}://{'.'.join(labels)}{port}{path}{query}",
    st.sampled_from(["http", "https"]),
    st.lists(st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True), min_size=1, max_size=4),
    st.sampled_from(["", ":8080", ":1", ":65535"]),
    st.text(_PATH_CHARS, max_size=20).map(lambda p: "/" + p),
    st.sampled_from(["", "?a=1&b=2", "?q=%20x#frag", "#top"]),
)


@given(urls_st)
def test_fast_path_agrees_with_the_full_validation(url):
    from gharart_core.links.urls import normalise_destination

    assert validate_destination(url) == normalise_destination(url)
