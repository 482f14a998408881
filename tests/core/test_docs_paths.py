"""Doc path normalisation: canonical, idempotent, and no traversal corpus escapes its prefix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.docs.paths import InvalidPath, is_under, normalize_path, path_prefixes

ALPHABET = st.sampled_from(
    [
        "/",
        ".",
        "..",
        "%",
        "2",
        "e",
        "E",
        "f",
        "F",
        "5",
        "c",
        "C",
        "0",
        "a",
        "conf",
        "\\",
        "\x00",
        "é",
        "e\u0301",
        "%2e",
        "%2f",
        "%5c",
        "%00",
        "%25",
        "%c0%ae",
        "%e2%88%95",
        "\uff0f",
        " ",
        "~",
        "%41",
    ]
)
RAW_PATHS = st.lists(ALPHABET, min_size=1, max_size=12).map("".join)

ATTACKS = [
    "../confidential/x",
    "..",
    "./../confidential",
    "%2e%2e/confidential",
    "%2E%2E/confidential",
    ".%2e/confidential",
    "%2e./confidential",
    "..%2fconfidential",
    "%2f..%2fconfidential",
    "..%5cconfidential",
    "..\\confidential",
    "%5c..%5cconfidential",
    "x/../../confidential",
    "x%2f..%2f..%2fconfidential",
    "%252e%252e/confidential",
    "%25%32%65%25%32%65/confidential",
    "%c0%ae%c0%ae/confidential",
    "%c0%af..%c0%afconfidential",
    "%e0%80%ae%e0%80%ae/confidential",
    "..%00/confidential",
    "x%00",
    "/confidential",
    "//confidential",
    "x//../confidential",
    "\uff0e\uff0e/confidential",
    "..\uff0fconfidential",
    "..\u2215confidential",
    "%ef%bc%8f..%ef%bc%8fconfidential",
    "x/./../confidential",
    ".../confidential",
    "x/%2e%2e%2fconfidential",
    "x/..;/confidential",
    "x/%2e%2e;/confidential",
]


def test_canonical_examples():
    assert normalize_path("handbook/onboarding.md") == "/handbook/onboarding.md"
    assert normalize_path("/handbook/") == "/handbook"
    assert normalize_path("/") == "/"
    assert normalize_path("/a%20b") == "/a b"
    assert normalize_path("/caf%C3%A9") == normalize_path("/cafe\u0301") == "/café"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "/a/../b",
        "/a/./b",
        "/a//b",
        "//",
        "/a%2fb",
        "/a%2Fb",
        "/a%5cb",
        "/a\\b",
        "/a\x00",
        "/a%00",
        "/%c0%ae%c0%ae",
        "/a%252e",
        "/a%zz",
        "/a\x7f",
        "/a\u2215b",
        "/" + "a" * 256,
        "/x" * 600,
        None,
        3,
    ],
)
def test_refused(bad):
    with pytest.raises(InvalidPath) as info:
        normalize_path(bad)
    assert info.value.code == "invalid_path"
    assert info.value.errors[0].field == "path"


@given(RAW_PATHS)
def test_normalisation_is_idempotent_and_canonical(raw):
    try:
        once = normalize_path(raw)
    except InvalidPath:
        return
    assert normalize_path(once) == once
    assert once.startswith("/")
    assert "//" not in once and "%" not in once and "\\" not in once and "\x00" not in once
    assert once == "/" or not once.endswith("/")
    assert all(seg not in (".", "..") for seg in once.split("/")[1:])


@pytest.mark.parametrize("attack", ATTACKS)
def test_traversal_corpus_never_escapes(attack):
    try:
        result = normalize_path("/public/" + attack)
    except InvalidPath:
        return
    assert is_under("/public", result)
    assert not is_under("/confidential", result)


@given(st.lists(st.sampled_from([*ATTACKS, "x", "y.md", "%2e", "."]), min_size=1, max_size=5).map("/".join))
def test_generated_traversals_never_escape(attack):
    try:
        result = normalize_path("/public/" + attack)
    except InvalidPath:
        return
    assert is_under("/public", result)


def test_segment_boundary():
    assert is_under("/conf", "/conf/x")
    assert is_under("/conf", "/conf")
    assert not is_under("/conf", "/confidential")
    assert not is_under("/conf", "/confidential/x")
    assert is_under("/", "/anything")
    assert path_prefixes("/a/b/c") == ["/", "/a", "/a/b", "/a/b/c"]
    assert path_prefixes("/") == ["/"]
