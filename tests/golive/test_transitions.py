"""Every allowed and every forbidden phase transition, stated independently of the implementation."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from epj.golive import (
    GoLiveSpec,
    GoLiveState,
    InvalidTransition,
    Observations,
    Phase,
    ResumeRequest,
    decide,
    is_allowed,
)

P = Phase
EXPECTED_ALLOWED = {
    # the main line
    (P.PLANNED, P.PREPARING), (P.PREPARING, P.TRAINING), (P.TRAINING, P.REHEARSAL), (P.REHEARSAL, P.FREEZE),
    (P.FREEZE, P.CUTOVER), (P.CUTOVER, P.LIVE), (P.LIVE, P.HYPERCARE), (P.HYPERCARE, P.STABLE),
    # holds (failed or timed-out gate) and resumes back into the held phase
    *((p, P.ON_HOLD) for p in (P.PLANNED, P.PREPARING, P.TRAINING, P.REHEARSAL, P.FREEZE, P.HYPERCARE)),
    *((P.ON_HOLD, p) for p in (P.PLANNED, P.PREPARING, P.TRAINING, P.REHEARSAL, P.FREEZE, P.HYPERCARE)),
    # rollback only from the cutover; resume after a rollback restarts at the freeze
    (P.CUTOVER, P.ROLLED_BACK), (P.ROLLED_BACK, P.FREEZE),
    # abort / withdrawal before serving, or from a hold
    *((p, P.ABORTED) for p in (P.PLANNED, P.PREPARING, P.TRAINING, P.REHEARSAL, P.FREEZE, P.ON_HOLD, P.ROLLED_BACK)),
}  # fmt: skip

ALL_PAIRS = list(itertools.product(Phase, Phase))


@pytest.mark.parametrize(("source", "target"), sorted(EXPECTED_ALLOWED))
def test_allowed_transition(source: Phase, target: Phase) -> None:
    assert is_allowed(source, target)


@pytest.mark.parametrize(("source", "target"), [p for p in ALL_PAIRS if p not in EXPECTED_ALLOWED])
def test_forbidden_transition(source: Phase, target: Phase) -> None:
    assert not is_allowed(source, target)


def test_terminal_phases_have_no_way_out() -> None:
    for source, target in ALL_PAIRS:
        if source in (P.STABLE, P.ABORTED):
            assert not is_allowed(source, target)


def test_machine_refuses_a_forbidden_transition_from_a_tampered_status() -> None:
    now = dt.datetime(2027, 9, 10, tzinfo=dt.UTC)
    spec = GoLiveSpec(
        kommunenummer="5035",
        wave="w",
        go_live_date=dt.date(2027, 9, 6),
        resume=ResumeRequest(by="project-lead", at=now, reason="go on"),
    )
    # A hand-edited status claiming the hold started in Live (Live → OnHold → Live is not a way the machine goes).
    state = GoLiveState.initial(now - dt.timedelta(days=1)).model_copy(
        update={"phase": P.ON_HOLD, "held_from": P.LIVE, "held_at": now - dt.timedelta(hours=1)}
    )
    with pytest.raises(InvalidTransition, match="OnHold → Live"):
        decide(spec, state, Observations(), now)


def test_terminal_state_is_left_alone() -> None:
    now = dt.datetime(2027, 12, 1, tzinfo=dt.UTC)
    spec = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6), aborted=True)
    state = GoLiveState.initial(now).model_copy(update={"phase": P.STABLE})
    decision = decide(spec, state, Observations(), now)
    assert decision.phase == P.STABLE and decision.transition is None and decision.wake_at is None
