"""The escalation state machine: only open -> acknowledged -> resolved, checked against a model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gharart_core.shared.errors import Conflict
from gharart_core.support.model import (
    ESCALATION_TRANSITIONS,
    Escalation,
    Priority,
    Queue,
    Status,
    transition_escalation,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ORDER = [Status.OPEN, Status.ACKNOWLEDGED, Status.RESOLVED]


def new_escalation() -> Escalation:
    return Escalation(
        "esc_1", ("rpt_1",), None, Priority.HIGH, Queue.SITES, Status.OPEN, (), "usr_op", T0, T0
    )


def test_table_is_the_documented_chain() -> None:
    assert {s: set(t) for s, t in ESCALATION_TRANSITIONS.items()} == {
        Status.OPEN: {Status.ACKNOWLEDGED},
        Status.ACKNOWLEDGED: {Status.RESOLVED},
        Status.RESOLVED: set(),
    }


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.OPEN, Status.RESOLVED),
        (Status.OPEN, Status.OPEN),
        (Status.ACKNOWLEDGED, Status.OPEN),
        (Status.RESOLVED, Status.ACKNOWLEDGED),
        (Status.RESOLVED, Status.OPEN),
        (Status.RESOLVED, Status.RESOLVED),
    ],
)
def test_other_moves_are_invalid_transition(start: Status, target: Status) -> None:
    import attrs

    esc = attrs.evolve(new_escalation(), status=start)
    with pytest.raises(Conflict) as exc:
        transition_escalation(esc, target, T0)
    assert exc.value.code == "invalid_transition"
    assert exc.value.extra["currentStatus"] == start.value


class EscalationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.esc = new_escalation()
        self.model_index = 0  # position in ORDER
        self.steps = 0
        self.now = T0

    @rule(goal=st.sampled_from(list(Status)))
    def move(self, goal: Status) -> None:
        self.now += timedelta(minutes=1)
        allowed = self.model_index + 1 < len(ORDER) and ORDER[self.model_index + 1] is goal
        if allowed:
            before = self.esc.version
            self.esc = transition_escalation(self.esc, goal, self.now)
            self.model_index += 1
            assert self.esc.version == before + 1
            assert self.esc.updated_at == self.now
        else:
            snapshot = self.esc
            with pytest.raises(Conflict):
                transition_escalation(self.esc, goal, self.now)
            assert self.esc == snapshot  # a refused move changes nothing

    @invariant()
    def status_matches_model(self) -> None:
        assert self.esc.status is ORDER[self.model_index]
        assert self.esc.version == self.model_index + 1


TestEscalationMachine = EscalationMachine.TestCase
