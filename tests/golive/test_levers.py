"""Pause, abort, withdrawal, rollback-and-hold and resume."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from epj.golive import (
    ConditionType,
    CreateMigrationJob,
    GateName,
    GateOutcome,
    Phase,
    RollBack,
    Schedule,
    ScriptedExecutor,
    WaveRun,
    run_wave,
)
from epj.golive.scenario import Scenario

Play = Callable[..., WaveRun]
Build = Callable[..., Scenario]
SCHEDULE = Schedule.for_date(dt.date(2027, 9, 6))
GO = {"gate": "go-no-go", "by": "project-lead", "at": "-2d", "decision": "approve", "reason": "all green"}
EXIT = {"gate": "hypercare-exit", "by": "command-centre-lead", "at": "+20d", "decision": "approve", "reason": "calm"}
RESUME = {"by": "project-lead", "reason": "fixed and re-delivered"}


def _transitions(run: WaveRun, tenant: str = "5035") -> list[tuple[dt.datetime, Phase]]:
    return [(e.at, e.to_phase) for e in run.states[tenant].history if e.kind == "Transition" and e.to_phase]


def _condition(run: WaveRun, kind: ConditionType, tenant: str = "5035") -> tuple[str, str]:
    condition = run.states[tenant].condition(kind)
    assert condition is not None
    return condition.status, condition.reason


# ----------------------------------------------------------------------------------- pause


def test_pause_at_a_safe_point_stops_everything_until_unpaused(wave_run: Play) -> None:
    run = wave_run(start="-19mo", defaults={"levers": [{"at": "-14mo", "paused": True}]})
    state = run.states["5035"]
    assert state.phase == Phase.PREPARING and state.paused
    assert _condition(run, ConditionType.PROGRESSING) == ("False", "Paused")
    assert _condition(run, ConditionType.BLOCKED) == ("True", "Paused")
    assert state.next_wake_at is None and "Paused" in state.next_action


def test_unpause_continues_and_restarts_gate_timeouts(wave_run: Play) -> None:
    # go/no-go times out 2 h after the cutover is due (-15h → -13h). Paused in Freeze from -75h to -14h;
    # the decision arrives at -12h30m. Without the restart the gate would have timed out at -13h; with
    # it the deadline is -12h, and the night starts at -12h30m (inside its window, latest start -11h).
    levers = [{"at": "-75h", "paused": True}, {"at": "-14h", "paused": False}]
    run = wave_run(
        wave={"gates": {"timeoutHours": {"go-no-go": 2}}},
        defaults={"levers": levers, "approvals": [{**GO, "at": "-750m"}, {**EXIT, "at": "+22d"}]},
        until="+50d",
    )
    state = run.states["5035"]
    assert state.phase == Phase.STABLE and not state.paused
    cutover = [t for t, p in _transitions(run) if p == Phase.CUTOVER]
    assert cutover == [SCHEDULE.resolve("-750m")]


def test_a_late_go_no_go_holds_instead_of_starting_the_night_in_the_morning(wave_run: Play) -> None:
    # Approved at 02:00 on go-live day (the runbook's night would end at 11:00, into the clinical day).
    run = wave_run(defaults={"approvals": [{**GO, "at": "-5h"}, EXIT]})
    state = run.states["5035"]
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.FREEZE
    assert Phase.CUTOVER not in state.phase_trail()
    assert state.gate_trail()[-1] == (GateName.CUTOVER_WINDOW, GateOutcome.FAILED)
    assert "latest start 2027-09-05 20:00 (Oslo)" in state.phase_reason
    assert "Re-plan the go-live" in state.next_action and "epj golive resume" in state.next_action


def test_the_night_runs_on_the_dates_it_started_with(wave_run: Play) -> None:
    # goLiveDate moved a week later during the cutover night: the night ends as planned, the edit is announced.
    relaxed = {"at": "-14h", "go_live_date": "2027-09-13"}
    run = wave_run(defaults={"levers": [relaxed]})
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    live = [t for t, p in _transitions(run) if p == Phase.HYPERCARE]
    assert live == [SCHEDULE.go_live_at]  # Live → Hypercare on the pinned go-live morning


def test_pause_during_cutover_is_a_no_go_that_rolls_back_and_stops_the_final_migration(scenario: Build) -> None:
    built = scenario(defaults={"levers": [{"at": "-14h", "paused": True}]})  # cutover runs from -15h for ~3h20m
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    state = run.states["5035"]
    assert state.phase == Phase.ROLLED_BACK and Phase.LIVE not in state.phase_trail()
    assert state.gate_trail()[-1] == (GateName.GO_NO_GO, GateOutcome.FAILED)
    rollbacks = [a for _, _, a in executor.performed if isinstance(a, RollBack)]
    # The final migration was still running at -14h: it is stopped before it can publish.
    assert [r.stop_job for r in rollbacks] == ["golive-5035-cutover-1"]
    assert "spec.paused" in rollbacks[0].reason
    assert _condition(run, ConditionType.BLOCKED) == ("True", "RolledBack")


def test_a_go_no_go_rejection_during_the_night_rolls_back(scenario: Build) -> None:
    reject = {**GO, "at": "-13h", "decision": "reject", "reason": "reconciliation shows missing medication lists"}
    built = scenario(defaults={"approvals": [GO, reject, EXIT]})
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    state = run.states["5035"]
    assert state.phase_trail()[-2:] == [Phase.CUTOVER, Phase.ROLLED_BACK]
    gate = state.gate(GateName.GO_NO_GO)
    assert gate is not None and gate.outcome == GateOutcome.FAILED
    assert "missing medication lists" in gate.reason
    assert [e.at for e in state.history if e.to_phase == Phase.ROLLED_BACK] == [SCHEDULE.resolve("-13h")]


# ----------------------------------------------------------------------------------- abort


def test_abort_before_go_live_ends_the_go_live(wave_run: Play) -> None:
    run = wave_run(defaults={"levers": [{"at": "-20d", "aborted": True}]})
    state = run.states["5035"]
    assert state.phase == Phase.ABORTED
    assert _transitions(run)[-1] == (SCHEDULE.resolve("-20d"), Phase.ABORTED)
    assert _condition(run, ConditionType.PROGRESSING) == ("False", "Aborted")


def test_abort_during_cutover_rolls_back_then_ends_the_go_live(scenario: Build) -> None:
    built = scenario(defaults={"levers": [{"at": "-14h", "aborted": True}]})
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    phases = [p for _, p in _transitions(run)]
    assert phases[-3:] == [Phase.CUTOVER, Phase.ROLLED_BACK, Phase.ABORTED]
    rollbacks = [a for _, _, a in executor.performed if isinstance(a, RollBack)]
    assert len(rollbacks) == 1 and rollbacks[0].stop_job == "golive-5035-cutover-1"


def test_abort_after_go_live_is_refused_with_an_event(scenario: Build) -> None:
    built = scenario(defaults={"levers": [{"at": "+2d", "aborted": True}]})
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    assert run.states["5035"].phase == Phase.STABLE
    ignored = [a for _, _, a in executor.performed if a.kind == "EmitEvent" and a.reason == "AbortIgnoredAfterGoLive"]
    assert len(ignored) == 1  # said once, not on every reconcile


def test_wave_abort_applies_to_every_member(wave_run: Play) -> None:
    run = wave_run(members=[{"kommunenummer": "5035"}, {"kommunenummer": "5031"}], wave={"aborted": True}, start="-20d")
    assert {s.phase for s in run.states.values()} == {Phase.ABORTED}


# ----------------------------------------------------------------------------------- withdrawal


def test_withdrawal_before_the_lock_leaves_the_wave(wave_run: Play) -> None:
    run = wave_run(start="-19mo", defaults={"levers": [{"at": "-14mo", "withdraw": True}]})
    state = run.states["5035"]
    assert state.phase == Phase.ABORTED and "withdrawn" in state.phase_reason


def test_withdrawal_after_the_lock_is_refused(scenario: Build) -> None:
    built = scenario(start="-19mo", defaults={"levers": [{"at": "-12mo", "withdraw": True}]})
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    assert run.states["5035"].phase == Phase.STABLE
    refused = [a for _, _, a in executor.performed if a.kind == "EmitEvent" and a.reason == "WithdrawalRefused"]
    assert len(refused) == 1 and refused[0].type == "Warning"


# ----------------------------------------------------------------------------------- rollback, hold, resume


def test_rollback_holds_and_nothing_advances_without_resume(scenario: Build) -> None:
    built = scenario(defaults={"faults": {"cutover": "truncated-extract"}}, until="+60d")
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    state = run.states["5035"]
    assert state.phase == Phase.ROLLED_BACK and state.next_wake_at is None
    assert [a for _, _, a in executor.performed if isinstance(a, RollBack)]
    assert _condition(run, ConditionType.BLOCKED) == ("True", "RolledBack")
    assert "epj golive resume --tenant 5035" in state.next_action
    jobs = [a for _, _, a in executor.performed if isinstance(a, CreateMigrationJob)]
    assert [j.job_name for j in jobs] == ["golive-5035-rehearsal-1", "golive-5035-cutover-1"]


def test_resume_after_rollback_needs_a_new_go_no_go(scenario: Build) -> None:
    # Cutover fails at about -12h; resumed at +1d, but the old approval no longer counts: held again on timeout.
    built = scenario(
        defaults={"faults": {"cutover": ["truncated-extract", "ok"]}, "levers": [{"at": "+1d", "resume": RESUME}]}
    )
    run = run_wave(built)
    state = run.states["5035"]
    phases = state.phase_trail()
    assert phases[-4:] == [Phase.CUTOVER, Phase.ROLLED_BACK, Phase.FREEZE, Phase.ON_HOLD]
    assert state.gate_trail()[-1] == (GateName.GO_NO_GO, GateOutcome.TIMED_OUT)


def test_resume_after_rollback_with_new_approval_goes_live(scenario: Build) -> None:
    # The night of 5 September rolled back; the go-live is re-planned a week later, resumed, approved again.
    again = {**GO, "at": "+25h", "reason": "extract re-delivered and checked"}
    built = scenario(
        defaults={
            "faults": {"cutover": ["truncated-extract", "ok"]},
            "levers": [{"at": "+1d", "resume": RESUME, "go_live_date": "2027-09-13"}],
            "approvals": [GO, again, {**EXIT, "at": "+22d"}],
        },
        until="+40d",
    )
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    assert state.phase_trail()[5:] == [
        Phase.CUTOVER, Phase.ROLLED_BACK, Phase.FREEZE, Phase.CUTOVER, Phase.LIVE, Phase.HYPERCARE, Phase.STABLE
    ]  # fmt: skip
    second_night = [t for t, p in _transitions(run) if p == Phase.CUTOVER][1]
    assert second_night == Schedule.for_date(dt.date(2027, 9, 13)).cutover_at
    jobs = [a.job_name for _, _, a in executor.performed if isinstance(a, CreateMigrationJob)]
    assert jobs == ["golive-5035-rehearsal-1", "golive-5035-cutover-1", "golive-5035-cutover-2"]
    resumes = [e for e in state.history if e.kind == "Resume"]
    assert [(e.by, e.reason) for e in resumes] == [("project-lead", "fixed and re-delivered")]


def test_resume_from_hold_returns_to_the_held_phase_and_reruns_a_failed_rehearsal(scenario: Build) -> None:
    built = scenario(
        defaults={"faults": {"rehearsal": ["job-failed", "ok"]}, "levers": [{"at": "-30d", "resume": RESUME}]}
    )
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    assert state.phase_trail()[3:6] == [Phase.REHEARSAL, Phase.ON_HOLD, Phase.REHEARSAL]
    jobs = [a.job_name for _, _, a in executor.performed if isinstance(a, CreateMigrationJob)]
    assert jobs[:2] == ["golive-5035-rehearsal-1", "golive-5035-rehearsal-2"]


def test_a_resume_older_than_the_hold_is_ignored(wave_run: Play) -> None:
    run = wave_run(defaults={"approvals": [{**GO, "decision": "reject"}], "levers": [{"at": "-60d", "resume": RESUME}]})
    assert run.states["5035"].phase == Phase.ON_HOLD
