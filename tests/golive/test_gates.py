"""Each gate passing, failing and timing out, with its recorded outcome, time and reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from epj.golive import (
    ConditionType,
    CreateMigrationJob,
    DependencyStatus,
    GateName,
    GateOutcome,
    GoLiveSpec,
    GoLiveState,
    Observations,
    Phase,
    RollBack,
    Schedule,
    ScriptedExecutor,
    WaveRun,
    decide,
    run_wave,
)
from epj.golive.scenario import Scenario

G, OUT = GateName, GateOutcome
Play = Callable[..., WaveRun]
Build = Callable[..., Scenario]
SCHEDULE = Schedule.for_date(dt.date(2027, 9, 6))
REJECT = {"gate": "go-no-go", "by": "municipality-director", "at": "-2d", "decision": "reject", "reason": "not ready"}
EXIT = {"gate": "hypercare-exit", "by": "command-centre-lead", "at": "+20d", "decision": "approve", "reason": "calm"}
GO = {"gate": "go-no-go", "by": "project-lead", "at": "-2d", "decision": "approve", "reason": "all green"}


def _last(run: WaveRun, gate: GateName, tenant: str = "5035") -> tuple[GateOutcome, str]:
    trail = [o for g, o in run.states[tenant].gate_trail() if g == gate]
    record = run.states[tenant].gate(gate)
    assert record is not None
    return trail[-1] if trail else record.outcome, record.reason


def test_all_gates_pass_on_the_happy_path(wave_run: Play) -> None:
    run = wave_run()
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    # cutover-window is a guard that records only a miss (the night could not start in its window);
    # extract-delivered is evaluated only when the wave requires it (tested below).
    optional = {GateName.CUTOVER_WINDOW, GateName.EXTRACT_DELIVERED}
    assert {g for g, o in state.gate_trail() if o == OUT.PASSED} == set(GateName) - optional
    for record in state.gates:
        assert record.outcome == OUT.PASSED and record.reason and record.at is not None


# ----------------------------------------------------------------------------------- training-completion


def test_training_below_threshold_at_deadline_fails_and_holds(wave_run: Play) -> None:
    run = wave_run(defaults={"training": [{"at": "-43d", "share": 0.8}]})
    state = run.states["5035"]
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.REHEARSAL
    outcome, reason = _last(run, G.TRAINING)
    assert outcome == OUT.FAILED and "80% < 90%" in reason
    record = state.gate(G.TRAINING)
    assert record is not None and record.deadline == SCHEDULE.freeze_at + dt.timedelta(hours=48)
    assert state.phase_since == record.deadline


def test_training_reaching_threshold_before_deadline_passes_late(wave_run: Play) -> None:
    run = wave_run(defaults={"training": [{"at": "-43d", "share": 0.8}, {"at": "-60h", "share": 0.91}]})
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    freeze_entry = next(e for e in state.history if e.kind == "Transition" and e.to_phase == Phase.FREEZE)
    assert freeze_entry.at == SCHEDULE.resolve("-60h")  # waited past the due time, passed before the deadline


def test_training_never_reported_times_out(wave_run: Play) -> None:
    run = wave_run(defaults={"training": []})
    assert run.states["5035"].phase == Phase.ON_HOLD
    assert _last(run, G.TRAINING)[0] == OUT.TIMED_OUT


def test_training_threshold_is_configurable(wave_run: Play) -> None:
    run = wave_run(defaults={"training": [{"at": "-43d", "share": 0.8}]}, wave={"gates": {"trainingThreshold": 0.75}})
    assert run.states["5035"].phase == Phase.STABLE


# ----------------------------------------------------------------------------------- rehearsal-reconciled


@pytest.mark.parametrize("fault", ["reconciliation-incomplete", "job-failed", "truncated-extract"])
def test_failed_rehearsal_holds_at_once(wave_run: Play, fault: str) -> None:
    run = wave_run(defaults={"faults": {"rehearsal": fault}})
    state = run.states["5035"]
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.REHEARSAL
    assert _last(run, G.REHEARSAL_RECONCILED)[0] == OUT.FAILED
    assert state.phase_since < SCHEDULE.freeze_at  # no waiting for the deadline: the evidence says no


def test_rehearsal_that_never_finishes_times_out(wave_run: Play) -> None:
    run = wave_run(defaults={"faults": {"rehearsal": "never-finishes"}})
    assert _last(run, G.REHEARSAL_RECONCILED)[0] == OUT.TIMED_OUT
    assert run.states["5035"].phase_since == SCHEDULE.freeze_at + dt.timedelta(hours=48)


# ----------------------------------------------------------------------------------- no-critical-alerts


def test_alert_firing_through_the_deadline_fails(wave_run: Play) -> None:
    alert = {"name": "MedicationAdministrationDown", "severity": "critical", "from": "-3d"}
    run = wave_run(defaults={"alerts": [alert]})
    state = run.states["5035"]
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.FREEZE
    outcome, reason = _last(run, G.NO_CRITICAL_ALERTS)
    assert outcome == OUT.FAILED and "MedicationAdministrationDown" in reason


def test_alert_clearing_before_the_deadline_delays_the_cutover(wave_run: Play) -> None:
    alert = {"name": "EMessagingBacklog", "severity": "critical", "from": "-3d", "until": "-13h"}
    warning = {"name": "SlowCitizenPortal", "severity": "warning", "from": "-3d"}
    run = wave_run(defaults={"alerts": [alert, warning]})
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    cutover = next(e for e in state.history if e.kind == "Transition" and e.to_phase == Phase.CUTOVER)
    assert cutover.at == SCHEDULE.resolve("-13h")


def test_alert_source_unavailable_times_out() -> None:
    spec = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
    state = GoLiveState.initial(SCHEDULE.freeze_at).model_copy(update={"phase": Phase.FREEZE})
    deadline = SCHEDULE.cutover_at + dt.timedelta(hours=6)
    before = decide(spec, state, Observations(alerts=None), deadline - dt.timedelta(minutes=1))
    assert before.state.gate(G.NO_CRITICAL_ALERTS).outcome == OUT.PENDING  # type: ignore[union-attr]
    blocked = before.state.condition(ConditionType.BLOCKED)
    assert blocked is not None and blocked.status == "True" and "alert source unavailable" in blocked.message
    after = decide(spec, before.state, Observations(alerts=None), deadline)
    assert after.phase == Phase.ON_HOLD
    assert after.state.gate_trail()[-1] == (G.NO_CRITICAL_ALERTS, OUT.TIMED_OUT)


# ----------------------------------------------------------------------------------- go-no-go


def test_rejected_go_no_go_holds_with_the_reason(wave_run: Play) -> None:
    run = wave_run(defaults={"approvals": [REJECT]})
    state = run.states["5035"]
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.FREEZE
    outcome, reason = _last(run, G.GO_NO_GO)
    assert outcome == OUT.FAILED and "rejected by municipality-director" in reason and "not ready" in reason
    approvals = [e for e in state.history if e.kind == "Approval"]
    assert [(e.gate, e.by, str(e.decision)) for e in approvals] == [(G.GO_NO_GO, "municipality-director", "reject")]
    assert "epj golive resume --tenant 5035" in state.next_action


def test_missing_go_no_go_times_out(wave_run: Play) -> None:
    run = wave_run(defaults={"approvals": []})
    assert _last(run, G.GO_NO_GO)[0] == OUT.TIMED_OUT
    assert run.states["5035"].phase_since == SCHEDULE.cutover_at + dt.timedelta(hours=12)


def test_latest_decision_wins_and_future_approvals_do_not_count(wave_run: Play) -> None:
    late_approve = {**GO, "at": "-20h"}
    run = wave_run(defaults={"approvals": [{**REJECT, "at": "-70h"}, {**GO, "at": "-71h"}, late_approve, EXIT]})
    # -70h reject is the latest decision at -70h: held at once, before the late approval exists.
    assert run.states["5035"].phase == Phase.ON_HOLD


# ----------------------------------------------------------------------------------- dependencies-live


def test_dependency_outside_the_wave_unknown_times_out(wave_run: Play) -> None:
    run = wave_run(members=[{"kommunenummer": "5035", "dependsOn": ["5006"]}])
    outcome, reason = _last(run, G.DEPENDENCIES)
    assert outcome == OUT.TIMED_OUT and "5006" in reason


def test_dependency_failure_fails_once_cutover_is_due() -> None:
    spec = GoLiveSpec(kommunenummer="5036", wave="w", go_live_date=dt.date(2027, 9, 6), depends_on=("5035",))
    state = GoLiveState.initial(SCHEDULE.freeze_at).model_copy(update={"phase": Phase.FREEZE})
    failed = {"5035": DependencyStatus(phase=Phase.ROLLED_BACK)}
    early = decide(spec, state, Observations(training_completion=1, dependencies=failed), SCHEDULE.freeze_at)
    assert early.phase == Phase.FREEZE
    blocked = early.state.condition(ConditionType.BLOCKED)
    assert blocked is not None and blocked.reason == "DependencyFailed" and "5035 is RolledBack" in blocked.message
    due = decide(spec, early.state, Observations(dependencies=failed), SCHEDULE.cutover_at)
    assert due.phase == Phase.ON_HOLD and due.state.gate_trail()[-1] == (G.DEPENDENCIES, OUT.FAILED)


def test_soak_days_delay_a_dependent(wave_run: Play) -> None:
    run = wave_run(
        members=[{"kommunenummer": "5035"}, {"kommunenummer": "5036", "dependsOn": ["5035"]}],
        wave={"soakDays": 1},
    )
    # 5035 goes live at ~-12h; 5036 must wait a day of soak, beyond its 24 h gate timeout from -15h → held.
    assert run.states["5035"].phase == Phase.STABLE
    assert _last(run, G.DEPENDENCIES, "5036")[0] == OUT.FAILED


# ----------------------------------------------------------------------------------- cutover-reconciled


@pytest.mark.parametrize("fault", ["truncated-extract", "job-failed", "reconciliation-incomplete"])
def test_failed_cutover_migration_rolls_back(wave_run: Play, fault: str) -> None:
    run = wave_run(defaults={"faults": {"cutover": fault}})
    state = run.states["5035"]
    assert state.phase == Phase.ROLLED_BACK and state.serving_since is None
    assert _last(run, G.CUTOVER_RECONCILED)[0] == OUT.FAILED
    ready = state.condition(ConditionType.READY)
    assert ready is not None and ready.status == "False"


def test_cutover_migration_that_never_finishes_times_out_and_rolls_back(wave_run: Play) -> None:
    run = wave_run(defaults={"faults": {"cutover": "never-finishes"}})
    assert run.states["5035"].phase == Phase.ROLLED_BACK
    assert _last(run, G.CUTOVER_RECONCILED)[0] == OUT.TIMED_OUT
    assert run.states["5035"].phase_since == SCHEDULE.cutover_at + dt.timedelta(hours=10)


# ----------------------------------------------------------------------------------- smoke-checks


def test_failed_smoke_checks_roll_back(wave_run: Play) -> None:
    run = wave_run(defaults={"faults": {"smoke": "failed"}})
    assert run.states["5035"].phase == Phase.ROLLED_BACK
    assert _last(run, G.SMOKE_CHECKS) == (OUT.FAILED, "smoke checks failed: login and medication-list probes failed")


def test_smoke_checks_that_never_answer_time_out(wave_run: Play) -> None:
    run = wave_run(defaults={"faults": {"smoke": "never-finishes"}})
    assert run.states["5035"].phase == Phase.ROLLED_BACK
    assert _last(run, G.SMOKE_CHECKS)[0] == OUT.TIMED_OUT


# ----------------------------------------------------------------------------------- hypercare-exit


def test_rejected_hypercare_exit_holds_but_tenant_stays_serving(wave_run: Play) -> None:
    reject = {**EXIT, "decision": "reject", "reason": "too many medication incidents"}
    run = wave_run(defaults={"approvals": [GO, reject]})
    state = run.states["5035"]
    assert state.phase == Phase.ON_HOLD and state.held_from == Phase.HYPERCARE
    assert _last(run, G.HYPERCARE_EXIT)[0] == OUT.FAILED
    ready = state.condition(ConditionType.READY)
    assert ready is not None and ready.status == "True"


def test_missing_hypercare_exit_times_out(wave_run: Play) -> None:
    run = wave_run(defaults={"approvals": [GO]})
    assert _last(run, G.HYPERCARE_EXIT)[0] == OUT.TIMED_OUT
    assert run.states["5035"].held_from == Phase.HYPERCARE


def test_hypercare_length_follows_the_wave(wave_run: Play) -> None:
    run = wave_run(wave={"hypercareDays": 10}, defaults={"approvals": [GO, {**EXIT, "at": "+5d"}]})
    state = run.states["5035"]
    stable = next(e for e in state.history if e.kind == "Transition" and e.to_phase == Phase.STABLE)
    assert stable.at == SCHEDULE.go_live_at + dt.timedelta(days=10)


def test_alert_sources() -> None:
    from epj.golive import NoAlerts, ScenarioAlerts, alerts_from_alertmanager, load_scenario

    payload = [
        {"labels": {"alertname": "MedicationAdministrationDown", "severity": "critical", "tenant": "5035"},
         "status": {"state": "active"}, "annotations": {"summary": "medication list unavailable"}},
        {"labels": {"alertname": "SlowPortal", "severity": "warning", "tenant": "5035"}, "status": {"state": "active"}},
        {"labels": {"alertname": "Muted", "severity": "critical", "tenant": "5035"}, "status": {"state": "suppressed"}},
        {"labels": {"alertname": "Other", "severity": "critical", "tenant": "5031"}, "status": {"state": "active"}},
    ]  # fmt: skip
    alerts = alerts_from_alertmanager(payload, "5035")
    assert [(a.name, a.severity) for a in alerts] == [
        ("MedicationAdministrationDown", "critical"),
        ("SlowPortal", "warning"),
    ]
    assert NoAlerts().firing("5035", SCHEDULE.go_live_at) == ()
    assert ScenarioAlerts(load_scenario("default")).firing("5035", SCHEDULE.go_live_at) == ()


# ----------------------------------------------------------------------------------- extract-delivered

EXTRACT = {"gate": "extract-delivered", "by": "cutover-lead", "at": "-14h", "decision": "approve",
           "reason": "UTTREKK.txt counts match the frozen systems"}  # fmt: skip
NIGHT = {"gates": {"requireExtractDelivered": True}}


def test_the_final_migration_waits_for_the_delivered_extract(scenario: Build) -> None:
    built = scenario(wave=NIGHT, defaults={"approvals": [GO, EXTRACT, EXIT]})
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    requested = [(at, a.job_name) for at, _, a in executor.performed if isinstance(a, CreateMigrationJob)]
    # 16:00 the night starts (legacy read-only); 17:00 the extract is recorded; only then the final migration.
    assert requested[-1] == (SCHEDULE.resolve("-14h"), "golive-5035-cutover-1")
    trail = state.gate_trail()
    assert trail.index((GateName.GO_NO_GO, OUT.PASSED)) < trail.index((GateName.EXTRACT_DELIVERED, OUT.PASSED))
    assert trail.index((GateName.EXTRACT_DELIVERED, OUT.PASSED)) < trail.index(
        (GateName.CUTOVER_RECONCILED, OUT.PASSED)
    )


def test_no_extract_by_its_timeout_rolls_the_night_back_without_migrating(scenario: Build) -> None:
    early = {**EXTRACT, "at": "-2d"}  # recorded before the night: it cannot be the frozen systems' extract
    built = scenario(wave=NIGHT, defaults={"approvals": [GO, early, EXIT]})
    executor = ScriptedExecutor(built)
    run = run_wave(built, executor)
    state = run.states["5035"]
    assert state.phase == Phase.ROLLED_BACK
    assert state.gate_trail()[-1] == (GateName.EXTRACT_DELIVERED, OUT.TIMED_OUT)
    rolled = [e.at for e in state.history if e.to_phase == Phase.ROLLED_BACK]
    assert rolled == [SCHEDULE.cutover_at + dt.timedelta(hours=3)]
    jobs = [a.job_name for _, _, a in executor.performed if isinstance(a, CreateMigrationJob)]
    assert jobs == ["golive-5035-rehearsal-1"]  # the final migration never started
    rollbacks = [a for _, _, a in executor.performed if isinstance(a, RollBack)]
    assert len(rollbacks) == 1 and rollbacks[0].stop_job is None
