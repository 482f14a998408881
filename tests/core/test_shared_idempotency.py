"""The idempotency decision (Stripe semantics) as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gharart_core.shared.idempotency import (
    IDEMPOTENCY_TTL,
    Decision,
    IdempotencyRecord,
    IdempotencyState,
    body_fingerprint,
    decide,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
offsets = st.integers(-100_000, 100_000).map(lambda s: timedelta(seconds=s))


@st.composite
def records(draw: st.DrawFn) -> IdempotencyRecord:
    state = draw(st.sampled_from(IdempotencyState))
    created = T0 + draw(offsets)
    lock = draw(st.one_of(st.none(), offsets.map(lambda d: T0 + d)))
    return IdempotencyRecord(
        actor="usr_1", route="POST /v2/handles/acme/links", key="k1",
        fingerprint=draw(st.sampled_from(["fp-a", "fp-b"])), state=state, created_at=created,
        expires_at=created + IDEMPOTENCY_TTL, locked_until=lock,
        status=201 if state is IdempotencyState.COMPLETED else None,
    )


def reference(rec: IdempotencyRecord | None, fingerprint: str, now: datetime) -> Decision:
    if rec is None or now >= rec.expires_at:
        return Decision.PROCEED                    # no live key: run it
    if rec.fingerprint != fingerprint:
        return Decision.REUSED                     # 422 idempotency_key_reused
    if rec.state is IdempotencyState.COMPLETED:
        return Decision.REPLAY                     # Idempotent-Replayed: true
    if rec.locked_until is not None and now >= rec.locked_until:
        return Decision.PROCEED                    # the holder died; its work rolled back
    return Decision.IN_PROGRESS                    # 409 idempotency_in_progress


@given(rec=st.one_of(st.none(), records()), fp=st.sampled_from(["fp-a", "fp-b"]), delta=offsets)
def test_decide_matches_reference(rec: IdempotencyRecord | None, fp: str, delta: timedelta) -> None:
    now = T0 + delta
    assert decide(rec, fp, now) is reference(rec, fp, now)


@given(rec=records(), delta=offsets)
def test_a_different_body_is_never_replayed(rec: IdempotencyRecord, delta: timedelta) -> None:
    other = "fp-b" if rec.fingerprint == "fp-a" else "fp-a"
    assert decide(rec, other, T0 + delta) in (Decision.PROCEED, Decision.REUSED)


def test_keys_live_24_hours() -> None:
    rec = IdempotencyRecord("usr_1", "POST /x", "k", "fp", IdempotencyState.COMPLETED, T0, T0 + IDEMPOTENCY_TTL,
                            status=200)
    assert timedelta(hours=24) == IDEMPOTENCY_TTL
    assert decide(rec, "fp", T0 + timedelta(hours=23, minutes=59)) is Decision.REPLAY
    assert decide(rec, "fp", T0 + timedelta(hours=24)) is Decision.PROCEED


def test_in_flight_then_stale_lock() -> None:
    rec = IdempotencyRecord("usr_1", "POST /x", "k", "fp", IdempotencyState.IN_FLIGHT, T0, T0 + IDEMPOTENCY_TTL,
                            locked_until=T0 + timedelta(seconds=30))
    assert decide(rec, "fp", T0 + timedelta(seconds=5)) is Decision.IN_PROGRESS
    assert decide(rec, "other", T0 + timedelta(seconds=5)) is Decision.REUSED
    assert decide(rec, "fp", T0 + timedelta(seconds=31)) is Decision.PROCEED


parts = st.tuples(st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]), st.text(max_size=20),
                  st.text(max_size=20), st.binary(max_size=50))


@given(a=parts, b=parts)
def test_fingerprint_is_deterministic_and_separates_requests(a: tuple, b: tuple) -> None:  # type: ignore[type-arg]
    assert body_fingerprint(*a) == body_fingerprint(*a)
    clean = all("\0" not in str(x) for x in (*a[:3], *b[:3]))
    if a != b and clean:
        assert body_fingerprint(*a) != body_fingerprint(*b)
