"""Approvals count only from a role that decides the gate, inside the round they decide; a repeat changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from epj.golive import ConditionType, GateName, GateOutcome, Phase, WaveRun

Play = Callable[..., WaveRun]
GO = {"gate": "go-no-go", "by": "project-lead", "at": "-2d", "decision": "approve", "reason": "all green"}
EXIT = {"gate": "hypercare-exit", "by": "command-centre-lead", "at": "+20d", "decision": "approve", "reason": "calm"}


def test_service_owner_does_not_decide_go_no_go(wave_run: Play) -> None:
    run = wave_run(defaults={"approvals": [{**GO, "by": "service-owner"}, EXIT]})
    state = run.states["5035"]
    # No counted decision: the gate times out at its deadline and the tenant holds in Freeze, never cuts over.
    assert Phase.CUTOVER not in state.phase_trail()
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.FREEZE
    assert (GateName.GO_NO_GO, GateOutcome.TIMED_OUT) in state.gate_trail()
    noted = [e for e in state.history if e.kind == "Approval" and e.gate == GateName.GO_NO_GO]
    assert len(noted) == 1 and noted[0].reason.startswith("not counted (service-owner does not decide go-no-go")


def test_cutover_lead_named_by_the_runbook_decides_go_no_go(wave_run: Play) -> None:
    run = wave_run(defaults={"approvals": [{**GO, "by": "cutover-lead"}, EXIT]})
    assert run.states["5035"].phase == Phase.STABLE


def test_role_table() -> None:
    from epj.golive.phases import GATE_ROLES, ApproverRole

    assert ApproverRole.SERVICE_OWNER not in GATE_ROLES[GateName.GO_NO_GO]
    assert ApproverRole.CUTOVER_LEAD in GATE_ROLES[GateName.GO_NO_GO]
    assert ApproverRole.SERVICE_OWNER in GATE_ROLES[GateName.HYPERCARE_EXIT]


def test_hypercare_exit_given_before_cutover_does_not_reach_stable(wave_run: Play) -> None:
    early_exit = {**EXIT, "at": "-5d"}  # during Rehearsal, before the cutover night
    run = wave_run(defaults={"approvals": [GO, early_exit]})
    state = run.states["5035"]
    assert Phase.HYPERCARE in state.phase_trail()
    assert Phase.STABLE not in state.phase_trail()
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.HYPERCARE
    assert (GateName.HYPERCARE_EXIT, GateOutcome.TIMED_OUT) in state.gate_trail()


def test_go_no_go_given_before_freeze_does_not_count(wave_run: Play) -> None:
    run = wave_run(defaults={"approvals": [{**GO, "at": "-10d"}, EXIT]})
    state = run.states["5035"]
    assert Phase.CUTOVER not in state.phase_trail()
    assert state.phase == Phase.ON_HOLD


def test_a_repeated_decision_is_recorded_once(wave_run: Play) -> None:
    again = {**GO, "at": "-47h", "reason": "all green, said twice"}
    run = wave_run(defaults={"approvals": [GO, again, EXIT]})
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    recorded = [(e.gate, e.by, str(e.decision)) for e in state.history if e.kind == "Approval"]
    assert recorded == [
        (GateName.GO_NO_GO, "project-lead", "approve"),
        (GateName.HYPERCARE_EXIT, "command-centre-lead", "approve"),
    ]


def test_a_changed_decision_is_recorded(wave_run: Play) -> None:
    reject = {**GO, "at": "-47h", "decision": "reject", "reason": "night staff short"}
    run = wave_run(defaults={"approvals": [GO, reject, EXIT]})
    state = run.states["5035"]
    decisions = [str(e.decision) for e in state.history if e.kind == "Approval" and e.gate == GateName.GO_NO_GO]
    assert decisions == ["approve", "reject"]
    assert state.phase == Phase.ON_HOLD


# ----------------------------------------------------------------------------------- a result that never comes


def test_a_succeeded_job_without_a_readable_result_fails_its_gate_at_once(wave_run: Play) -> None:
    import datetime as dt

    from epj.golive import JobState, MigrationObservation, Observations, Schedule, decide

    run = wave_run(defaults={"faults": {"cutover": ["never-finishes"]}}, until="-6h")
    state = run.states["5035"]
    assert state.phase == Phase.CUTOVER and state.migration is not None
    cutover_at = Schedule.for_date(dt.date(2027, 9, 6)).cutover_at
    now = cutover_at + dt.timedelta(hours=8)  # before the gate's 10 h deadline
    seen = MigrationObservation(job_name=state.migration.job_name, state=JobState.SUCCEEDED)
    spec = run.scenario.spec_for("5035", now)
    decision = decide(spec, state, Observations(migration=seen, alerts=()), now)
    assert decision.state.phase == Phase.ROLLED_BACK
    record = decision.state.gate(GateName.CUTOVER_RECONCILED)
    assert record is not None and record.outcome == GateOutcome.FAILED
    assert "no readable reconciliation result" in record.reason


# ----------------------------------------------------------------------------------- alerts while serving


def test_a_critical_alert_during_hypercare_blocks_with_a_warning_when_it_happens(wave_run: Play) -> None:
    import datetime as dt

    from epj.golive import EmitEvent, Schedule, run_wave

    from .conftest import build

    alert = {"name": "MedicationAdministrationDown", "severity": "critical", "from": "+3d", "until": "+4d"}
    run = run_wave(build(defaults={"alerts": [alert]}), keep_decisions=True)
    go_live = Schedule.for_date(dt.date(2027, 9, 6))
    fired = go_live.go_live_at + dt.timedelta(days=3)  # scenario times count from the go-live morning
    warnings = [
        (at, action)
        for at, tenant, decision in run.decisions
        for action in decision.actions
        if isinstance(action, EmitEvent) and action.reason == "CriticalAlert"
    ]
    assert len(warnings) == 1
    at, action = warnings[0]
    assert action.type == "Warning" and "MedicationAdministrationDown" in action.message
    assert at == fired  # when it happens, not at day 21
    during = [d.state for at, _, d in run.decisions if fired <= at < fired + dt.timedelta(hours=12)]
    assert during
    blocked = during[0].condition(ConditionType.BLOCKED)
    assert blocked is not None and blocked.status == "True" and blocked.reason == "CriticalAlert"
    # Cleared at +4d: the tenant still reaches Stable with its hypercare exit.
    assert run.states["5035"].phase == Phase.STABLE
