"""Clock port and implementations. Every timestamp in the core is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["MAX_YEAR", "MIN_YEAR", "Clock", "FakeClock", "SystemClock", "format_ts", "parse_ts", "utc"]

MIN_YEAR = 1000
MAX_YEAR = 9000


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to; used by tests and the harness."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        self._now = self._now + timedelta(seconds=seconds, **kwargs)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = utc(when)


def utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_ts(value: datetime | None) -> str | None:
    """RFC 3339 UTC with a ``Z`` suffix and millisecond precision."""
    if value is None:
        return None
    v = utc(value)
    # formatted by hand: strftime("%Y") does not zero-pad years before 1000 on every platform
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}."
            f"{v.microsecond // 1000:03d}Z")


def parse_ts(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; raises ``ValueError`` when it is not one."""
    if not isinstance(text, str) or len(text) > 64 or "T" not in text.upper():
        raise ValueError("not an RFC 3339 timestamp")
    value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp needs a timezone offset")
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00
        raise ValueError("timestamp out of range") from exc
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        # keeps expiry arithmetic (retention windows, TTLs) clear of datetime's own limits
        raise ValueError(f"timestamp years run from {MIN_YEAR} to {MAX_YEAR}")
    return value
