"""Audit regressions: RFC 3339 timestamps at the edges of the calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gharart_core.shared.clock import MAX_YEAR, MIN_YEAR, format_ts, parse_ts


def test_format_always_has_four_digit_years() -> None:
    assert format_ts(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"
    assert format_ts(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == "0999-12-31T23:59:59.999Z"


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59Z",
                                  "0001-01-01T00:00:00Z", "0999-01-01T00:00:00Z"])
def test_out_of_range_timestamps_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ts(text)


@settings(max_examples=50)
@given(st.datetimes(min_value=datetime(MIN_YEAR, 1, 1), max_value=datetime(MAX_YEAR, 12, 31)))
def test_round_trip_at_millisecond_precision(value: datetime) -> None:
    value = value.replace(microsecond=value.microsecond // 1000 * 1000, tzinfo=UTC)
    text = format_ts(value)
    assert text is not None and len(text) == 24
    assert parse_ts(text) == value
