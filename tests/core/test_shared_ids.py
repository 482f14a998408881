"""Prefixed ULIDs: shape, Crockford alphabet and sort order."""

from __future__ import annotations

import re
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from gharart_core.shared import ids as ids_module
from gharart_core.shared.ids import PREFIXES, SequentialIds, UlidIds, has_prefix, is_valid_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SPEC_PREFIXES = "acc usr lnk dep fil shr pg run snp rpt esc cr fb req pat aud".split()
prefixes = st.sampled_from(sorted(PREFIXES))


def test_every_spec_prefix_is_known() -> None:
    assert set(SPEC_PREFIXES) <= PREFIXES


@given(prefix=prefixes, n=st.integers(1, 30))
def test_shape(prefix: str, n: int) -> None:
    gen = UlidIds()
    for _ in range(n):
        value = gen.new(prefix)
        head, _, body = value.partition("_")
        assert head == prefix and len(body) == 26
        assert set(body) <= set(CROCKFORD)
        assert re.fullmatch(r"[0-7]", body[0])  # 128-bit ULIDs start with 0-7
        assert is_valid_id(value) and is_valid_id(value, prefix) and has_prefix(value, prefix)
        assert not is_valid_id(value, "zzz" if prefix != "zzz" else "aaa")


@given(prefix=prefixes, n=st.integers(2, 200))
def test_ids_from_one_generator_sort_in_creation_order(prefix: str, n: int) -> None:
    gen = UlidIds()
    values = [gen.new(prefix) for _ in range(n)]
    assert values == sorted(values) and len(set(values)) == n


@given(times=st.lists(st.integers(1_600_000_000_000, 1_600_000_000_050), min_size=2, max_size=60))
def test_monotonic_even_when_the_clock_stalls_or_goes_back(times: list[int]) -> None:
    gen = UlidIds()
    clock = iter([t * 1_000_000 for t in times])
    with mock.patch.object(ids_module.time, "time_ns", side_effect=lambda: next(clock)):
        values = [gen.new("lnk") for _ in times]
    assert values == sorted(values) and len(set(values)) == len(values)


@given(a=st.integers(1_500_000_000_000, 2_000_000_000_000), b=st.integers(1_500_000_000_000, 2_000_000_000_000))
def test_later_milliseconds_sort_later_across_generators(a: int, b: int) -> None:
    def at(ms: int) -> str:
        with mock.patch.object(ids_module.time, "time_ns", return_value=ms * 1_000_000):
            return UlidIds().new("dep")

    if a < b:
        assert at(a) < at(b)


def test_sequential_ids_are_valid_and_ordered() -> None:
    gen = SequentialIds()
    values = [gen.new("usr") for _ in range(100)]
    assert values == sorted(values) and all(is_valid_id(v, "usr") for v in values)


@given(st.text(max_size=40))
def test_garbage_is_not_an_id(value: str) -> None:
    if not re.fullmatch(r"[a-z]{2,4}_[0-9A-HJKMNP-TV-Z]{26}", value):
        assert not is_valid_id(value)


def test_non_strings_and_lookalikes_are_not_ids() -> None:
    assert not is_valid_id(None) and not is_valid_id(12)
    assert not is_valid_id("lnk_" + "0" * 25)
    assert not is_valid_id("lnk_" + "I" * 26)  # I, L, O, U are not Crockford
    assert not is_valid_id("LNK_" + "0" * 26)


def test_trailing_newline_is_not_an_id() -> None:
    assert not is_valid_id(SequentialIds().new("lnk") + "\n")
