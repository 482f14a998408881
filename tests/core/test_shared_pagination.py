"""Opaque cursors and limit validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.shared.errors import BadRequest, ValidationFailed
from gharart_core.shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor, validate_limit

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.text(max_size=40),
                    st.floats(allow_nan=False, allow_infinity=False))
keys = st.lists(scalars, max_size=6)


@given(keys)
def test_round_trip(key: list[object]) -> None:
    cursor = encode_cursor(key)
    assert cursor.isascii() and "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor) == key


@given(st.text(max_size=200))
def test_garbage_is_invalid_cursor_never_a_crash(cursor: str) -> None:
    try:
        value = decode_cursor(cursor)
    except BadRequest as exc:
        assert exc.code == "invalid_cursor"
    else:
        assert value is None or isinstance(value, list)


@given(st.binary(max_size=100))
def test_random_bytes_are_invalid_cursor_never_a_crash(raw: bytes) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        value = decode_cursor(cursor)
    except BadRequest as exc:
        assert exc.code == "invalid_cursor"
    else:
        assert value is None or isinstance(value, list)


@pytest.mark.parametrize("cursor", ["!!!", "e30", "eyJhIjoxfQ", "bnVsbA", "MTIz", "x" * 5000, "%%", "\x00"])
def test_known_garbage(cursor: str) -> None:
    # e30 = {} ; eyJhIjoxfQ = {"a":1} ; bnVsbA = null ; MTIz = 123: JSON, but not a cursor
    with pytest.raises(BadRequest) as err:
        decode_cursor(cursor)
    assert err.value.code == "invalid_cursor"


def test_absent_cursor() -> None:
    assert decode_cursor(None) is None and decode_cursor("") is None


@given(st.integers(1, MAX_LIMIT))
def test_limits_in_range(limit: int) -> None:
    assert validate_limit(limit) == limit


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, 10**9, True, False, "10", 1.5])
def test_limits_out_of_range_are_422(limit: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_limit(limit)  # type: ignore[arg-type]
    assert err.value.code == "validation_failed"
    assert [e.field for e in err.value.errors] == ["limit"]


def test_default_limit() -> None:
    assert validate_limit(None) == DEFAULT_LIMIT == 50
