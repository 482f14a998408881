"""Publishing status machine and tenancy policy: pure, property-based."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gharart_core.identity.model import Principal, Role
from gharart_core.publisher.model import (
    TRANSITIONS,
    InvalidTransition,
    PublishingRecord,
    PublishStatus,
    can_transition,
    transition,
    validate_sector,
)
from gharart_core.publisher.tenancy import list_scope, matches
from gharart_core.shared.errors import Forbidden, ValidationFailed

T0 = datetime(2026, 1, 1, tzinfo=UTC)
statuses = st.sampled_from(list(PublishStatus))


def make(status: PublishStatus = PublishStatus.PENDING) -> PublishingRecord:
    return PublishingRecord(id="pub_1", account_id="acc_1", site_id="acme", sector_id="default",
                            content_id="42", destination="webhook", title="t", status=status,
                            created_at=T0, updated_at=T0)


def test_table_matches_the_spec() -> None:
    S = PublishStatus
    assert {S.PENDING: {S.PUBLISHING}, S.PUBLISHING: {S.PUBLISHED, S.FAILED},
                           S.FAILED: {S.PUBLISHING}, S.PUBLISHED: set()} == TRANSITIONS


@given(statuses, statuses)
def test_transition_follows_the_table(current: PublishStatus, target: PublishStatus) -> None:
    record = make(current)
    if can_transition(current, target):
        out = transition(record, target, T0 + timedelta(seconds=1))
        assert out.status is target and out.version == record.version + 1
        assert out.updated_at == T0 + timedelta(seconds=1)
    else:
        with pytest.raises(InvalidTransition) as err:
            transition(record, target, T0)
        assert [e.field for e in err.value.errors] == ["status"]
        assert err.value.code == "invalid_transition"


class PublishLifecycle(RuleBasedStateMachine):
    """Random walks over the table: attempts count entries into ``publishing``, ``published`` is
    final and stamped once, and an error is present exactly when the record failed."""

    def __init__(self) -> None:
        super().__init__()
        self.record = make()
        self.now = T0
        self.entered_publishing = 0
        self.published_stamp: datetime | None = None

    def _tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    @rule(to=statuses, error=st.text(min_size=1, max_size=10))
    def move(self, to: PublishStatus, error: str) -> None:
        before = self.record
        try:
            self.record = transition(before, to, self._tick(), error=error, external_url="https://x.test/p")
        except InvalidTransition:
            assert not can_transition(before.status, to)
            assert self.record == before
            return
        if to is PublishStatus.PUBLISHING:
            self.entered_publishing += 1
        if to is PublishStatus.PUBLISHED:
            assert self.published_stamp is None
            self.published_stamp = self.record.published_at

    @precondition(lambda self: self.record.status is PublishStatus.PUBLISHED)
    @rule(to=statuses)
    def published_is_final(self, to: PublishStatus) -> None:
        with pytest.raises(InvalidTransition):
            transition(self.record, to, self._tick())

    @invariant()
    def bookkeeping(self) -> None:
        assert self.record.attempts == self.entered_publishing
        assert (self.record.error is not None) == (self.record.status is PublishStatus.FAILED)
        assert self.record.published_at == self.published_stamp
        assert (self.record.published_at is not None) == (self.record.status is PublishStatus.PUBLISHED)


TestPublishLifecycle = PublishLifecycle.TestCase


@given(st.text(max_size=80))
def test_sector_ids_are_safe_strings(value: str) -> None:
    try:
        out = validate_sector(value)
    except ValidationFailed as exc:
        assert exc.errors[0].field == "sector_id"
    else:
        assert out == value and 1 <= len(value) <= 64 and "/" not in value


def principal(*, operator: bool = False, scopes: str = "sites:read sites:write",
              restriction: str | None = None) -> Principal:
    s = frozenset(scopes.split()) | ({"operator"} if operator else set())
    return Principal("usr_1", "a@x.test", s, "pat_1", is_operator_flag=operator, handle_restriction=restriction)


handles = st.frozensets(st.sampled_from(["acme", "beta", "gamma", "delta"]), max_size=4)


@given(handles, st.one_of(st.none(), st.sampled_from(["acme", "beta", "zeta"])))
def test_members_see_only_their_handles(mine: frozenset[str], site: str | None) -> None:
    scope = list_scope(principal(), {h: Role.VIEWER for h in mine}, scope="sites:read", site_id=site)
    assert scope.handles is not None and scope.handles <= mine
    for h in ["acme", "beta", "gamma", "delta", "zeta"]:
        visible = matches(scope, site_id=h, sector_id="default", account_id="acc_x")
        assert visible == (h in mine and (site is None or h == site))


def test_operators_bypass_scoping_but_filters_still_apply() -> None:
    scope = list_scope(principal(operator=True, scopes=""), {}, scope="sites:read")
    assert scope.handles is None
    assert matches(scope, site_id="anyone", sector_id="s", account_id="acc_9")
    narrowed = list_scope(principal(operator=True), {}, scope="sites:read", site_id="beta", sector_id="news")
    assert matches(narrowed, site_id="beta", sector_id="news", account_id="acc_9")
    assert not matches(narrowed, site_id="beta", sector_id="default", account_id="acc_9")
    assert not matches(narrowed, site_id="acme", sector_id="news", account_id="acc_9")


def test_restricted_tokens_and_missing_scope() -> None:
    scope = list_scope(principal(restriction="acme"), {"acme": Role.OWNER, "beta": Role.OWNER},
                       scope="sites:read")
    assert scope.handles == {"acme"}
    with pytest.raises(Forbidden):
        list_scope(principal(scopes="links:read"), {"acme": Role.OWNER}, scope="sites:read")
