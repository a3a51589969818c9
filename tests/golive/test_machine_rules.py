"""The phase machine's bookkeeping, one rule at a time, on hand-built states of tenant 5035 (go-live 6 Sep 2027).

Expected values are written out by hand: the night's instants come from the runbook (Oslo summer time is UTC+2:
the freeze starts 3 Sep 00:00 = 2 Sep 22:00 UTC, the night 5 Sep 16:00 = 14:00 UTC, the latest start 20:00 =
18:00 UTC, the clinical morning 6 Sep 07:00 = 05:00 UTC, hypercare 21 days), the texts from what
`epj golive status` shows. Each status is read back from JSON between calls, as the operator reads it from
the API server: nothing may depend on the core still holding the very objects it wrote.
"""

from __future__ import annotations

import datetime as dt
import json

from epj.golive import (
    Approval,
    CreateMigrationJob,
    Decision,
    EmitEvent,
    GateName,
    GateOutcome,
    GoLiveSpec,
    GoLiveState,
    HistoryEntry,
    JobState,
    MigrationObservation,
    MigrationRecord,
    Observations,
    Phase,
    Reconciliation,
    ResumeRequest,
    RollBack,
    RunSmokeChecks,
    decide,
    set_condition,
)
from epj.golive.model import Alert, DependencyStatus, GateConfig, GateRecord, SmokeResult
from epj.golive.phases import ApprovalDecision, ApproverRole, ConditionType, MigrationPurpose

UTC = dt.UTC
SPEC = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
FREEZE_AT = dt.datetime(2027, 9, 2, 22, tzinfo=UTC)
CUTOVER_AT = dt.datetime(2027, 9, 5, 14, tzinfo=UTC)
GO_LIVE_AT = dt.datetime(2027, 9, 6, 5, tzinfo=UTC)
PLANNING = dt.datetime(2026, 1, 10, 12, tzinfo=UTC)  # before the pre-project (Mar 2026): nothing is due
GO = Approval(
    gate=GateName.GO_NO_GO, by=ApproverRole.PROJECT_LEAD, at=dt.datetime(2027, 9, 4, 9, tzinfo=UTC),
    reason="all green", decision=ApprovalDecision.APPROVE,
)  # fmt: skip


def _reread(state: GoLiveState) -> GoLiveState:
    """The status as the next reconcile reads it from the API server (a JSON document)."""
    return GoLiveState.from_status(json.loads(json.dumps(state.to_status())))


def _events(decision: Decision) -> list[tuple[str, str, str]]:
    return [(a.type, a.reason, a.message) for a in decision.actions if isinstance(a, EmitEvent)]


def _in(phase: Phase, since: dt.datetime, **update: object) -> GoLiveState:
    state = GoLiveState.initial(since).model_copy(update={"phase": phase, "window_start": since, "wave": "w"})
    return _reread(state.model_copy(update=update))


# ----------------------------------------------------------------------------------- wave and audit trail


def test_the_first_decision_notes_the_wave_and_a_later_change_is_a_move() -> None:
    first = decide(SPEC, None, Observations(), PLANNING)
    assert first.state.wave == "w"
    assert [(e.kind, e.reason) for e in first.state.history] == [("Event", "Created")]
    assert _events(first) == []
    again = decide(SPEC, _reread(first.state), Observations(), PLANNING + dt.timedelta(hours=1))
    assert [(e.kind, e.reason) for e in again.state.history] == [("Event", "Created")]
    assert _events(again) == []
    later = PLANNING + dt.timedelta(hours=2)
    moved = decide(SPEC.model_copy(update={"wave": "2027-q3-b"}), _reread(again.state), Observations(), later)
    assert moved.state.wave == "2027-q3-b"
    assert moved.state.history[-1] == HistoryEntry(at=later, kind="Event", reason="moved from wave w to wave 2027-q3-b")
    assert _events(moved) == [("Normal", "WaveChanged", "moved from wave w to wave 2027-q3-b")]


def test_the_audit_trail_keeps_its_first_entry_and_the_latest_300() -> None:
    created = HistoryEntry(at=PLANNING - dt.timedelta(days=30), kind="Event", reason="Created")
    older = tuple(
        HistoryEntry(at=PLANNING - dt.timedelta(hours=300 - i), kind="Event", reason=f"note {i}") for i in range(1, 300)
    )
    state = _in(Phase.PLANNED, PLANNING - dt.timedelta(days=30), wave="w-old", history=(created, *older))
    assert len(state.history) == 300
    decision = decide(SPEC, state, Observations(), PLANNING)
    history = decision.state.history
    assert len(history) == 300
    assert [e.reason for e in history[:3]] == ["Created", "note 2", "note 3"]
    assert history[-1].reason == "moved from wave w-old to wave w"


# ----------------------------------------------------------------------------------- conditions, next action


def test_ready_only_while_serving() -> None:
    freeze = decide(SPEC, _in(Phase.FREEZE, FREEZE_AT), Observations(), dt.datetime(2027, 9, 4, 10, tzinfo=UTC))
    ready = freeze.state.condition(ConditionType.READY)
    assert ready is not None and (ready.status, ready.reason, ready.message) == ("False", "NotServing", "phase Freeze")
    hypercare = _in(Phase.HYPERCARE, GO_LIVE_AT, serving_since=dt.datetime(2027, 9, 5, 20, tzinfo=UTC))
    serving = decide(SPEC, hypercare, Observations(), dt.datetime(2027, 9, 8, 10, tzinfo=UTC))
    ready = serving.state.condition(ConditionType.READY)
    assert ready is not None and (ready.status, ready.reason, ready.message) == ("True", "Serving", "phase Hypercare")
    blocked = serving.state.condition(ConditionType.BLOCKED)
    assert blocked is not None and (blocked.status, blocked.reason) == ("False", "NotBlocked")


def test_a_finished_go_live_is_neither_progressing_nor_blocked() -> None:
    stable = _in(Phase.STABLE, dt.datetime(2027, 9, 27, 5, tzinfo=UTC), serving_since=GO_LIVE_AT)
    done = decide(SPEC, stable, Observations(), dt.datetime(2027, 10, 1, tzinfo=UTC))
    assert done.next_action == "None: ordinary operations" and done.wake_at is None
    conditions = {c.type: (c.status, c.reason) for c in done.state.conditions}
    assert conditions == {
        ConditionType.READY: ("True", "Serving"),
        ConditionType.PROGRESSING: ("False", "Completed"),
        ConditionType.BLOCKED: ("False", "Completed"),
    }
    aborted = decide(SPEC, _in(Phase.ABORTED, PLANNING), Observations(), PLANNING + dt.timedelta(days=1))
    assert aborted.next_action == "None: go-live ended" and aborted.wake_at is None
    conditions = {c.type: (c.status, c.reason) for c in aborted.state.conditions}
    assert conditions == {
        ConditionType.READY: ("False", "NotServing"),
        ConditionType.PROGRESSING: ("False", "Aborted"),
        ConditionType.BLOCKED: ("False", "Aborted"),
    }


def test_in_freeze_before_the_night_the_next_step_is_the_cutover_at_16_oslo() -> None:
    rehearsed = MigrationRecord(
        job_name="golive-5035-rehearsal-1", purpose=MigrationPurpose.REHEARSAL, attempt=1,
        requested_at=dt.datetime(2027, 7, 25, 22, tzinfo=UTC), state=JobState.SUCCEEDED,
        reconciliation=Reconciliation(complete=True),
    )  # fmt: skip
    # A record left by an earlier, rolled-back night: the extract gate belongs to the night, not to the freeze.
    leftover = GateRecord(
        name=GateName.EXTRACT_DELIVERED, outcome=GateOutcome.PENDING, at=dt.datetime(2027, 9, 3, 14, tzinfo=UTC),
        opened_at=dt.datetime(2027, 9, 3, 14, tzinfo=UTC), deadline=dt.datetime(2027, 9, 3, 17, tzinfo=UTC),
    )  # fmt: skip
    state = _in(Phase.FREEZE, FREEZE_AT, migration=rehearsed, gates=(leftover,))
    decision = decide(SPEC, state, Observations(), dt.datetime(2027, 9, 4, 10, tzinfo=UTC))
    progressing = decision.state.condition(ConditionType.PROGRESSING)
    assert progressing is not None
    assert (progressing.status, progressing.reason, progressing.message) == ("True", "WaitingForSchedule", "in Freeze")
    assert decision.phase == Phase.FREEZE
    assert decision.next_action == (
        "Cutover at 2027-09-05T14:00:00+00:00 if gates pass: no-critical-alerts, dependencies-live, go-no-go"
    )
    assert decision.wake_at == CUTOVER_AT


def test_in_hypercare_the_next_step_is_stable_21_days_after_it_started() -> None:
    state = _in(Phase.HYPERCARE, GO_LIVE_AT, serving_since=GO_LIVE_AT, hypercare_started_at=GO_LIVE_AT)
    decision = decide(SPEC, state, Observations(), dt.datetime(2027, 9, 10, 9, tzinfo=UTC))
    assert decision.next_action == (
        "Stable at 2027-09-27T05:00:00+00:00 if gates pass: no-critical-alerts, hypercare-exit"
    )
    assert decision.wake_at == dt.datetime(2027, 9, 27, 5, tzinfo=UTC)
    # Hypercare that began an hour late (08:00 Oslo) ends an hour late; a status without the start uses 07:00.
    late = dt.datetime(2027, 9, 6, 6, tzinfo=UTC)
    decision = decide(SPEC, state.model_copy(update={"hypercare_started_at": late}), Observations(), late)
    assert decision.next_action.startswith("Stable at 2027-09-27T06:00:00+00:00 if")
    unknown = decide(SPEC, state.model_copy(update={"hypercare_started_at": None}), Observations(), late)
    assert unknown.next_action.startswith("Stable at 2027-09-27T05:00:00+00:00 if")


def test_hypercare_ends_when_its_days_are_over_and_the_exit_is_approved() -> None:
    late = dt.datetime(2027, 9, 6, 6, tzinfo=UTC)
    exit_ = Approval(
        gate=GateName.HYPERCARE_EXIT, by=ApproverRole.CLINICAL_LEAD, at=dt.datetime(2027, 9, 20, 9, tzinfo=UTC),
        reason="calm", decision=ApprovalDecision.APPROVE,
    )  # fmt: skip
    spec = SPEC.model_copy(update={"approvals": (exit_,), "hypercare_days": 21})
    state = _in(
        Phase.HYPERCARE, late, serving_since=GO_LIVE_AT, hypercare_started_at=late,
        decision_windows={GateName.HYPERCARE_EXIT: late},
    )  # fmt: skip
    assert decide(spec, state, Observations(), dt.datetime(2027, 9, 27, 5, 30, tzinfo=UTC)).phase == Phase.HYPERCARE
    assert decide(spec, state, Observations(), dt.datetime(2027, 9, 27, 6, tzinfo=UTC)).phase == Phase.STABLE
    unknown = state.model_copy(update={"hypercare_started_at": None})
    assert decide(spec, unknown, Observations(), dt.datetime(2027, 9, 27, 5, tzinfo=UTC)).phase == Phase.STABLE


def test_waiting_for_training_gives_no_approval_hint() -> None:
    rehearsal = MigrationRecord(
        job_name="golive-5035-rehearsal-1", purpose=MigrationPurpose.REHEARSAL, attempt=1,
        requested_at=dt.datetime(2027, 7, 25, 22, tzinfo=UTC), state=JobState.SUCCEEDED,
        reconciliation=Reconciliation(complete=True),
    )  # fmt: skip
    state = _in(Phase.REHEARSAL, dt.datetime(2027, 7, 25, 22, tzinfo=UTC), migration=rehearsal)
    decision = decide(SPEC, state, Observations(), dt.datetime(2027, 9, 3, 8, tzinfo=UTC))
    assert decision.phase == Phase.REHEARSAL
    assert decision.next_action == (
        "Waiting for training-completion: no training completion reported by 2027-09-04T22:00:00+00:00"
    )
    progressing = decision.state.condition(ConditionType.PROGRESSING)
    assert progressing is not None and (progressing.status, progressing.reason, progressing.message) == (
        "True",
        "GatesPending",
        "training-completion: no training completion reported",
    )


# ----------------------------------------------------------------------------------- approvals and resume


def test_a_decision_given_before_the_round_opened_is_recorded_as_not_counted() -> None:
    early = GO.model_copy(update={"at": dt.datetime(2027, 9, 2, 21, tzinfo=UTC)})
    spec = SPEC.model_copy(update={"approvals": (early,)})
    state = _in(Phase.FREEZE, FREEZE_AT, decision_windows={GateName.GO_NO_GO: FREEZE_AT})
    decision = decide(spec, state, Observations(), dt.datetime(2027, 9, 3, 9, tzinfo=UTC))
    assert decision.state.history[-1] == HistoryEntry(
        at=dt.datetime(2027, 9, 2, 21, tzinfo=UTC), kind="Approval", gate=GateName.GO_NO_GO, by="project-lead",
        decision=ApprovalDecision.APPROVE, reason="not counted (given before Freeze began for this round): all green",
    )  # fmt: skip
    assert _events(decision) == [
        (
            "Warning",
            "ApprovalNotCounted",
            "go-no-go approve by project-lead does not count: given before Freeze began for this round",
        )
    ]


def test_resuming_into_the_rehearsal_reruns_the_migration_only_if_it_did_not_pass() -> None:
    held_at = dt.datetime(2027, 9, 4, 22, tzinfo=UTC)
    resume = ResumeRequest(by=ApproverRole.PROJECT_LEAD, at=held_at + dt.timedelta(hours=1), reason="trained")
    spec = SPEC.model_copy(update={"resume": resume})
    passed = MigrationRecord(
        job_name="golive-5035-rehearsal-1", purpose=MigrationPurpose.REHEARSAL, attempt=1,
        requested_at=dt.datetime(2027, 7, 25, 22, tzinfo=UTC), state=JobState.SUCCEEDED,
        reconciliation=Reconciliation(complete=True),
    )  # fmt: skip
    common = {"held_from": Phase.REHEARSAL, "held_at": held_at, "attempts": {MigrationPurpose.REHEARSAL: 1}}
    now = held_at + dt.timedelta(hours=2)
    kept = decide(spec, _in(Phase.ON_HOLD, held_at, migration=passed, **common), Observations(), now)
    assert kept.phase == Phase.REHEARSAL
    assert [a for a in kept.actions if isinstance(a, CreateMigrationJob)] == []
    failed = passed.model_copy(update={"state": JobState.FAILED})
    rerun = decide(spec, _in(Phase.ON_HOLD, held_at, migration=failed, **common), Observations(), now)
    assert rerun.phase == Phase.REHEARSAL
    assert [a.job_name for a in rerun.actions if isinstance(a, CreateMigrationJob)] == ["golive-5035-rehearsal-2"]


# ----------------------------------------------------------------------------------- the night


def _freeze_with_go() -> tuple[GoLiveSpec, GoLiveState]:
    spec = SPEC.model_copy(update={"approvals": (GO,)})
    return spec, _in(Phase.FREEZE, FREEZE_AT, decision_windows={GateName.GO_NO_GO: FREEZE_AT})


def test_smoke_checks_are_requested_once_per_final_migration() -> None:
    spec, state = _freeze_with_go()
    night = decide(spec, state, Observations(), CUTOVER_AT)
    assert night.phase == Phase.CUTOVER
    assert [a.job_name for a in night.actions if isinstance(a, CreateMigrationJob)] == ["golive-5035-cutover-1"]
    done = MigrationObservation(
        job_name="golive-5035-cutover-1", state=JobState.SUCCEEDED, reconciliation=Reconciliation(complete=True)
    )
    at_21 = dt.datetime(2027, 9, 5, 19, tzinfo=UTC)
    reconciled = decide(spec, _reread(night.state), Observations(migration=done), at_21)
    smoke = [a.job_name for a in reconciled.actions if isinstance(a, RunSmokeChecks)]
    assert smoke == ["golive-5035-cutover-1"]
    again = decide(spec, _reread(reconciled.state), Observations(migration=done), at_21 + dt.timedelta(minutes=5))
    assert [a for a in again.actions if isinstance(a, RunSmokeChecks)] == []
    assert again.state.gate_trail() == reconciled.state.gate_trail()
    assert again.phase == Phase.CUTOVER


def test_a_gates_deadline_is_frozen_once_it_opened() -> None:
    spec, state = _freeze_with_go()
    firing = Observations(alerts=(Alert(name="EMessagingBacklog"),))
    first = decide(spec, state, firing, dt.datetime(2027, 9, 5, 15, tzinfo=UTC))
    record = first.state.gate(GateName.NO_CRITICAL_ALERTS)
    assert record is not None and record.outcome == GateOutcome.PENDING
    assert (record.opened_at, record.deadline) == (CUTOVER_AT, dt.datetime(2027, 9, 5, 20, tzinfo=UTC))
    # Someone shortens the gate's timeout to 1 h during the night: the running gate keeps its deadline (20:00 UTC).
    shorter = spec.model_copy(update={"gates": GateConfig(timeout_hours={GateName.NO_CRITICAL_ALERTS: 1})})
    later = decide(shorter, _reread(first.state), firing, dt.datetime(2027, 9, 5, 16, tzinfo=UTC))
    assert later.phase == Phase.FREEZE
    record = later.state.gate(GateName.NO_CRITICAL_ALERTS)
    assert record is not None and record.outcome == GateOutcome.PENDING
    assert record.deadline == dt.datetime(2027, 9, 5, 20, tzinfo=UTC)


def test_a_critical_alert_is_announced_when_it_starts_and_again_when_it_refires() -> None:
    state = _in(Phase.HYPERCARE, GO_LIVE_AT, serving_since=GO_LIVE_AT, hypercare_started_at=GO_LIVE_AT)
    day = dt.datetime(2027, 9, 8, 9, tzinfo=UTC)
    messages = []
    for hour, names in enumerate([("A",), ("A",), ("B",), ("A",)]):
        obs = Observations(alerts=tuple(Alert(name=n) for n in names))
        decision = decide(SPEC, state, obs, day + dt.timedelta(hours=hour))
        messages.append([m for t, r, m in _events(decision) if r == "CriticalAlert" and t == "Warning"])
        assert decision.state.pending.alerts_notified == names
        blocked = decision.state.condition(ConditionType.BLOCKED)
        assert blocked is not None
        assert (blocked.status, blocked.reason, blocked.message) == (
            "True",
            "CriticalAlert",
            f"critical alert firing: {names[0]}",
        )
        state = _reread(decision.state)
    assert messages == [
        ["critical alert firing in Hypercare: A (see its runbook)"],
        [],
        ["critical alert firing in Hypercare: B (see its runbook)"],
        ["critical alert firing in Hypercare: A (see its runbook)"],
    ]


def test_a_timeout_edited_at_the_instant_the_gate_opened_no_longer_moves_it() -> None:
    spec, state = _freeze_with_go()
    firing = Observations(alerts=(Alert(name="EMessagingBacklog"),))
    opened = decide(spec, state, firing, CUTOVER_AT)
    shorter = spec.model_copy(update={"gates": GateConfig(timeout_hours={GateName.NO_CRITICAL_ALERTS: 1})})
    same_instant = decide(shorter, _reread(opened.state), firing, CUTOVER_AT)
    record = same_instant.state.gate(GateName.NO_CRITICAL_ALERTS)
    assert record is not None and record.deadline == dt.datetime(2027, 9, 5, 20, tzinfo=UTC)


def test_a_timeout_edited_before_the_gate_opens_applies() -> None:
    spec, state = _freeze_with_go()
    before = decide(spec, state, Observations(), dt.datetime(2027, 9, 4, 10, tzinfo=UTC))
    record = before.state.gate(GateName.NO_CRITICAL_ALERTS)
    assert record is not None and (record.opened_at, record.deadline) == (
        CUTOVER_AT,
        dt.datetime(2027, 9, 5, 20, tzinfo=UTC),
    )
    shorter = spec.model_copy(update={"gates": GateConfig(timeout_hours={GateName.NO_CRITICAL_ALERTS: 2})})
    edited = decide(shorter, _reread(before.state), Observations(), dt.datetime(2027, 9, 4, 11, tzinfo=UTC))
    record = edited.state.gate(GateName.NO_CRITICAL_ALERTS)
    assert record is not None and record.deadline == dt.datetime(2027, 9, 5, 16, tzinfo=UTC)


def test_a_date_edit_during_the_night_is_announced_once() -> None:
    spec, state = _freeze_with_go()
    state = state.model_copy(update={"pinned_go_live_date": dt.date(2027, 9, 6), "pinned_schedule": spec.schedule})
    edited = spec.model_copy(update={"go_live_date": dt.date(2027, 9, 13)})
    deferred = (
        "Warning",
        "TimingChangeDeferred",
        "goLiveDate/schedule edit deferred: the night runs on goLiveDate 2027-09-06 until the tenant is in "
        "Hypercare or held",
    )
    first = decide(edited, state, Observations(), dt.datetime(2027, 9, 5, 11, tzinfo=UTC))
    assert [e for e in _events(first) if e[1] == "TimingChangeDeferred"] == [deferred]
    night = decide(edited, _reread(first.state), Observations(), CUTOVER_AT)  # still the 6 September night
    assert night.phase == Phase.CUTOVER
    assert [e for e in _events(night) if e[1] == "TimingChangeDeferred"] == []
    later = decide(edited, _reread(night.state), Observations(), CUTOVER_AT + dt.timedelta(minutes=10))
    assert later.phase == Phase.CUTOVER
    assert [e for e in _events(later) if e[1] == "TimingChangeDeferred"] == []
    done = MigrationObservation(
        job_name="golive-5035-cutover-1", state=JobState.SUCCEEDED, reconciliation=Reconciliation(complete=True)
    )
    smoke = SmokeResult(job_name="golive-5035-cutover-1", passed=True)
    state, phases = _reread(later.state), []
    for hour, minute in ((19, 0), (19, 5), (21, 0), (21, 5)):
        at = dt.datetime(2027, 9, 5, hour, minute, tzinfo=UTC)
        decision = decide(edited, state, Observations(migration=done, smoke=smoke), at)
        assert [e for e in _events(decision) if e[1] == "TimingChangeDeferred"] == []
        state, phases = _reread(decision.state), [*phases, decision.phase]
    assert phases[-1] == Phase.LIVE  # the night ran on its pinned date; the edit waits for Hypercare
    morning = decide(edited, state, Observations(migration=done, smoke=smoke), GO_LIVE_AT)
    assert morning.phase == Phase.HYPERCARE
    assert (morning.state.pinned_go_live_date, morning.state.pinned_schedule) == (None, None)
    assert not morning.state.pending.timing_deferred


def test_an_observation_of_another_job_changes_nothing() -> None:
    stale = MigrationObservation(job_name="golive-5035-rehearsal-1", state=JobState.FAILED)
    planned = decide(SPEC, _in(Phase.PLANNED, PLANNING), Observations(migration=stale), PLANNING)
    assert planned.state.migration is None and planned.state.results == {}
    second = MigrationRecord(
        job_name="golive-5035-rehearsal-2", purpose=MigrationPurpose.REHEARSAL, attempt=2,
        requested_at=dt.datetime(2027, 8, 1, tzinfo=UTC),
    )  # fmt: skip
    state = _in(Phase.REHEARSAL, dt.datetime(2027, 7, 25, 22, tzinfo=UTC), migration=second)
    decision = decide(SPEC, state, Observations(migration=stale), dt.datetime(2027, 8, 2, tzinfo=UTC))
    assert decision.state.migration == second and decision.state.results == {}


def test_a_rehearsal_status_without_a_migration_requests_one() -> None:
    state = _in(Phase.REHEARSAL, dt.datetime(2027, 7, 25, 22, tzinfo=UTC))
    decision = decide(SPEC, state, Observations(), dt.datetime(2027, 8, 2, tzinfo=UTC))
    jobs = [a.job_name for a in decision.actions if isinstance(a, CreateMigrationJob)]
    assert jobs == ["golive-5035-rehearsal-1"]


def test_a_paused_go_live_sleeps_until_something_changes() -> None:
    spec, state = _freeze_with_go()
    paused = decide(
        spec.model_copy(update={"paused": True}), state, Observations(), dt.datetime(2027, 9, 4, 10, tzinfo=UTC)
    )
    assert paused.state.paused
    assert paused.next_action.startswith("Paused: set spec.paused to false on the GoLive or on its RolloutWave ")
    assert spec.wave in paused.next_action
    assert paused.wake_at is None


def test_ready_turns_true_at_go_live_with_that_moment_as_its_transition_time() -> None:
    spec, state = _freeze_with_go()
    night = decide(spec, state, Observations(), CUTOVER_AT)
    done = MigrationObservation(
        job_name="golive-5035-cutover-1", state=JobState.SUCCEEDED, reconciliation=Reconciliation(complete=True)
    )
    at_21 = dt.datetime(2027, 9, 5, 19, tzinfo=UTC)
    reconciled = decide(spec, _reread(night.state), Observations(migration=done), at_21)
    at_23 = dt.datetime(2027, 9, 5, 21, tzinfo=UTC)
    smoke = SmokeResult(job_name="golive-5035-cutover-1", passed=True)
    live = decide(spec, _reread(reconciled.state), Observations(migration=done, smoke=smoke), at_23)
    assert live.phase == Phase.LIVE and live.state.serving_since == at_23
    ready = live.state.condition(ConditionType.READY)
    assert ready is not None and (ready.status, ready.last_transition_time) == ("True", at_23)
    blocked = live.state.condition(ConditionType.BLOCKED)
    assert blocked is not None and (blocked.status, blocked.last_transition_time) == ("False", at_23)


# ----------------------------------------------------------------------------------- levers


LOCK = dt.datetime(2026, 8, 5, 22, tzinfo=UTC)  # 6 Aug 2026 00:00 Oslo: 13 months before the go-live


def test_withdrawal_until_the_lock_and_refused_once_after_it_naming_the_oslo_day() -> None:
    withdraw = SPEC.model_copy(update={"withdraw": True})
    state = _in(Phase.PREPARING, dt.datetime(2026, 3, 5, 23, tzinfo=UTC))
    left = decide(withdraw, state, Observations(), LOCK - dt.timedelta(minutes=1))
    assert (
        left.phase == Phase.ABORTED and left.state.phase_reason == "withdrawn from the wave before the withdrawal lock"
    )
    assert [r for _, r, _ in _events(left)] == ["Withdrawn"]
    refused = decide(withdraw, state, Observations(), LOCK)
    assert refused.phase == Phase.PREPARING
    # The place was locked on 6 August (Oslo), not on the UTC date of that local midnight.
    assert _events(refused) == [
        ("Warning", "WithdrawalRefused", "withdrawal lock passed on 2026-08-06: place is locked")
    ]
    again = decide(withdraw, _reread(refused.state), Observations(), LOCK + dt.timedelta(days=1))
    assert again.phase == Phase.PREPARING and _events(again) == []


def test_abort_ends_a_go_live_that_does_not_serve_and_is_refused_once_when_it_does() -> None:
    abort = SPEC.model_copy(update={"aborted": True})
    now = dt.datetime(2027, 9, 4, 10, tzinfo=UTC)
    ended = decide(abort, _in(Phase.FREEZE, FREEZE_AT), Observations(), now)
    assert ended.phase == Phase.ABORTED and ended.state.phase_reason == "aborted by spec.aborted"
    held = _in(Phase.ON_HOLD, FREEZE_AT, held_from=Phase.FREEZE, held_at=FREEZE_AT)
    assert decide(abort, held, Observations(), now).phase == Phase.ABORTED
    serving = _in(Phase.ON_HOLD, GO_LIVE_AT, held_from=Phase.HYPERCARE, held_at=GO_LIVE_AT, serving_since=GO_LIVE_AT)
    refused = decide(abort, serving, Observations(), now + dt.timedelta(days=3))
    assert refused.phase == Phase.ON_HOLD
    assert _events(refused) == [
        ("Warning", "AbortIgnoredAfterGoLive", "tenant is live: abort ignored; use the rollback runbook")
    ]
    again = decide(abort, _reread(refused.state), Observations(), now + dt.timedelta(days=4))
    assert _events(again) == []


def test_pause_and_unpause_before_the_night() -> None:
    spec, state = _freeze_with_go()
    t1, t2 = dt.datetime(2027, 9, 4, 10, tzinfo=UTC), dt.datetime(2027, 9, 4, 12, tzinfo=UTC)
    paused = decide(spec.model_copy(update={"paused": True}), state, Observations(), t1)
    assert paused.phase == Phase.FREEZE and paused.state.paused
    assert [e for e in _events(paused) if e[1] == "Paused"] == [("Normal", "Paused", "paused in Freeze")]
    conditions = {c.type: (c.status, c.reason, c.message) for c in paused.state.conditions}
    assert conditions[ConditionType.PROGRESSING] == ("False", "Paused", "paused in Freeze")
    assert conditions[ConditionType.BLOCKED] == ("True", "Paused", "spec.paused is true")
    still = decide(spec.model_copy(update={"paused": True}), _reread(paused.state), Observations(), t1)
    assert _events(still) == []
    unpaused = decide(spec, _reread(paused.state), Observations(), t2)
    assert not unpaused.state.paused and unpaused.state.window_start == t2
    assert ("Normal", "Resumed", "unpaused in Freeze; gate timeouts restart now") in _events(unpaused)


def test_a_lever_during_the_night_is_a_no_go_that_stops_the_running_final_migration() -> None:
    spec, state = _freeze_with_go()
    night = decide(spec, state, Observations(), CUTOVER_AT)
    running = Observations(migration=MigrationObservation(job_name="golive-5035-cutover-1", state=JobState.RUNNING))
    at_19 = dt.datetime(2027, 9, 5, 17, tzinfo=UTC)
    for lever, text in (("paused", "spec.paused"), ("aborted", "spec.aborted")):
        decision = decide(spec.model_copy(update={lever: True}), _reread(night.state), running, at_19)
        assert decision.phase == Phase.ROLLED_BACK
        record = decision.state.gate(GateName.GO_NO_GO)
        assert record is not None and record.outcome == GateOutcome.FAILED
        assert record.reason == f"NO-GO: {text} set during the cutover night"
        rollbacks = [a for a in decision.actions if isinstance(a, RollBack)]
        assert rollbacks == [
            RollBack(
                kommunenummer="5035",
                reason=f"gate go-no-go Failed: NO-GO: {text} set during the cutover night",
                stop_job="golive-5035-cutover-1",
            )
        ]
        assert decision.state.held_from == Phase.CUTOVER and decision.state.approvals_since == at_19
        message = f"Cutover → RolledBack: gate go-no-go Failed: NO-GO: {text} set during the cutover night"
        assert ("Warning", "RolledBack", message) in _events(decision)


# ----------------------------------------------------------------------------------- holds and resume


def test_a_held_go_live_says_how_to_resume_and_sleeps() -> None:
    reason = "gate go-no-go TimedOut: no go-no-go decision recorded at the deadline 2027-09-06T02:00:00+00:00"
    held_at = dt.datetime(2027, 9, 6, 2, tzinfo=UTC)
    state = _in(Phase.ON_HOLD, held_at, held_from=Phase.FREEZE, held_at=held_at, phase_reason=reason)
    decision = decide(SPEC, state, Observations(), held_at + dt.timedelta(hours=1))
    assert decision.next_action == (
        f"Fix the cause ({reason}), then `epj golive resume --tenant 5035 --by ROLE --reason ...`"
    )
    assert decision.wake_at is None
    conditions = {c.type: (c.status, c.reason, c.message) for c in decision.state.conditions}
    assert conditions[ConditionType.PROGRESSING] == ("False", "Held", reason)
    assert conditions[ConditionType.BLOCKED] == ("True", "Held", reason)
    rolled = state.model_copy(update={"phase": Phase.ROLLED_BACK, "held_from": Phase.CUTOVER})
    decision = decide(SPEC, rolled, Observations(), held_at + dt.timedelta(hours=1))
    conditions = {c.type: (c.status, c.reason) for c in decision.state.conditions}
    assert conditions[ConditionType.BLOCKED] == ("True", "RolledBack")


def test_only_a_resume_after_the_hold_and_not_in_the_future_acts() -> None:
    held_at = dt.datetime(2027, 9, 6, 2, tzinfo=UTC)
    state = _in(Phase.ON_HOLD, held_at, held_from=Phase.FREEZE, held_at=held_at, approvals_since=held_at)
    now = held_at + dt.timedelta(hours=3)

    def resumed_at(at: dt.datetime) -> Decision:
        resume = ResumeRequest(by=ApproverRole.CUTOVER_LEAD, at=at, reason="re-planned")
        return decide(SPEC.model_copy(update={"resume": resume}), state, Observations(), now)

    assert resumed_at(held_at).phase == Phase.ON_HOLD  # given at the hold's instant: before it, not after
    assert resumed_at(now + dt.timedelta(seconds=1)).phase == Phase.ON_HOLD  # not given yet
    decision = resumed_at(now)
    assert decision.phase == Phase.FREEZE
    assert decision.state.phase_reason == "resumed by cutover-lead: re-planned"
    assert (decision.state.held_from, decision.state.held_at) == (None, None)
    assert decision.state.history[-2] == HistoryEntry(at=now, kind="Resume", by="cutover-lead", reason="re-planned")
    rolled = state.model_copy(update={"phase": Phase.ROLLED_BACK, "held_from": Phase.CUTOVER})
    resume = ResumeRequest(by=ApproverRole.CUTOVER_LEAD, at=now, reason="re-planned")
    again = decide(SPEC.model_copy(update={"resume": resume}), rolled, Observations(), now)
    assert again.phase == Phase.FREEZE  # after a rollback the night starts again from the freeze


def test_past_the_latest_start_the_night_does_not_begin() -> None:
    spec, state = _freeze_with_go()
    on_time = decide(spec, state, Observations(), dt.datetime(2027, 9, 5, 18, tzinfo=UTC))  # 20:00 Oslo sharp
    assert on_time.phase == Phase.CUTOVER
    late = dt.datetime(2027, 9, 5, 18, 30, tzinfo=UTC)
    missed = decide(spec, state, Observations(), late)
    assert missed.phase == Phase.ON_HOLD and missed.state.held_from == Phase.FREEZE
    reason = (
        "cutover window missed: latest start 2027-09-05 20:00 (Oslo) has passed; the night must not run into the "
        "clinical day. Re-plan the go-live (a later goLiveDate or wave), then resume"
    )
    record = missed.state.gate(GateName.CUTOVER_WINDOW)
    assert record is not None and (record.outcome, record.reason, record.at) == (GateOutcome.FAILED, reason, late)
    assert ("Warning", "CutoverWindowMissed", reason) in _events(missed)
    assert missed.state.phase_reason == f"gate cutover-window Failed: {reason}"
    assert ("Warning", "Held", f"Freeze → OnHold: gate cutover-window Failed: {reason}") in _events(missed)


# ----------------------------------------------------------------------------------- progress


def test_progressing_says_what_the_go_live_waits_for() -> None:
    planned = decide(SPEC, _in(Phase.PLANNED, PLANNING), Observations(), PLANNING)
    conditions = {c.type: (c.status, c.reason, c.message) for c in planned.state.conditions}
    assert conditions[ConditionType.PROGRESSING] == ("True", "WaitingForSchedule", "in Planned")
    assert conditions[ConditionType.BLOCKED] == ("False", "NotBlocked", "")
    job = MigrationRecord(
        job_name="golive-5035-rehearsal-1", purpose=MigrationPurpose.REHEARSAL, attempt=1,
        requested_at=dt.datetime(2027, 7, 25, 22, tzinfo=UTC), state=JobState.RUNNING,
    )  # fmt: skip
    rehearsal = _in(Phase.REHEARSAL, dt.datetime(2027, 7, 25, 22, tzinfo=UTC), migration=job)
    running = decide(SPEC, rehearsal, Observations(training_completion=0.8), dt.datetime(2027, 8, 1, tzinfo=UTC))
    conditions = {c.type: (c.status, c.reason, c.message) for c in running.state.conditions}
    assert conditions[ConditionType.PROGRESSING] == ("True", "MigrationRunning", "golive-5035-rehearsal-1")
    assert running.next_action == "Waiting for rehearsal migration golive-5035-rehearsal-1"
    assert running.wake_at == FREEZE_AT
    overdue = decide(SPEC, rehearsal, Observations(training_completion=0.8), dt.datetime(2027, 9, 3, 6, tzinfo=UTC))
    conditions = {c.type: (c.status, c.reason, c.message) for c in overdue.state.conditions}
    summary = (
        "rehearsal-reconciled: rehearsal migration golive-5035-rehearsal-1 is Running; "
        "training-completion: training completion 80% < 90%"
    )
    assert conditions[ConditionType.PROGRESSING] == ("True", "MigrationRunning", "golive-5035-rehearsal-1")
    assert conditions[ConditionType.BLOCKED] == ("True", "GatesPending", summary)
    assert overdue.wake_at == dt.datetime(2027, 9, 4, 22, tzinfo=UTC)  # both gates' deadline: freeze + 48 h


EXTRACT = Approval(
    gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD, at=CUTOVER_AT,
    reason="UTTREKK.txt counts match", decision=ApprovalDecision.APPROVE,
)  # fmt: skip


def test_the_final_migration_is_requested_once_when_the_extract_is_recorded_as_the_night_starts() -> None:
    spec, state = _freeze_with_go()
    night_spec = spec.model_copy(
        update={"approvals": (GO, EXTRACT), "gates": GateConfig(require_extract_delivered=True)}
    )
    jobs: list[str] = []
    for minutes in (0, 0, 0, 5, 10):
        decision = decide(night_spec, state, Observations(), CUTOVER_AT + dt.timedelta(minutes=minutes))
        jobs += [a.job_name for a in decision.actions if isinstance(a, CreateMigrationJob)]
        state = _reread(decision.state)
    assert state.phase == Phase.CUTOVER
    assert jobs == ["golive-5035-cutover-1"]


def test_abort_and_withdrawal_win_over_a_pause_set_with_them() -> None:
    both = SPEC.model_copy(update={"aborted": True, "paused": True})
    decision = decide(both, _in(Phase.FREEZE, FREEZE_AT), Observations(), dt.datetime(2027, 9, 4, 10, tzinfo=UTC))
    assert decision.phase == Phase.ABORTED and not decision.state.paused
    assert [r for _, r, _ in _events(decision)] == ["Aborted"]
    leaving = SPEC.model_copy(update={"withdraw": True, "paused": True})
    decision = decide(leaving, _in(Phase.PREPARING, PLANNING), Observations(), LOCK - dt.timedelta(days=1))
    assert decision.phase == Phase.ABORTED and not decision.state.paused
    assert [r for _, r, _ in _events(decision)] == ["Withdrawn"]


def test_an_adapter_condition_set_twice_is_one_condition() -> None:
    first = decide(SPEC, None, Observations(), PLANNING)
    t1, t2 = PLANNING + dt.timedelta(minutes=1), PLANNING + dt.timedelta(minutes=2)
    once = set_condition(first.state.conditions, ConditionType.STALLED, True, "ApiErrors", "5 failures", t1)
    twice = set_condition(once, ConditionType.STALLED, False, "Recovered", "", t2)
    assert [(c.type, c.status, c.reason) for c in twice] == [
        (ConditionType.STALLED, "False", "Recovered"),
        (ConditionType.READY, "False", "NotServing"),
        (ConditionType.PROGRESSING, "True", "WaitingForSchedule"),
        (ConditionType.BLOCKED, "False", "NotBlocked"),
    ]
    assert [c.last_transition_time for c in twice] == [t2, PLANNING, PLANNING, PLANNING]


def test_a_decision_enters_the_audit_trail_when_it_is_given_not_before() -> None:
    spec, state = _freeze_with_go()
    later_go = GO.model_copy(update={"at": dt.datetime(2027, 9, 4, 12, tzinfo=UTC)})
    spec = spec.model_copy(update={"approvals": (later_go,)})
    before = decide(spec, state, Observations(), dt.datetime(2027, 9, 4, 11, tzinfo=UTC))
    assert [e for e in before.state.history if e.kind == "Approval"] == []
    given = decide(spec, _reread(before.state), Observations(), dt.datetime(2027, 9, 4, 12, 30, tzinfo=UTC))
    assert [(e.at, e.by, e.reason) for e in given.state.history if e.kind == "Approval"] == [
        (dt.datetime(2027, 9, 4, 12, tzinfo=UTC), "project-lead", "all green")
    ]


def test_an_earlier_date_or_a_schedule_edit_during_the_night_is_deferred_too() -> None:
    spec, state = _freeze_with_go()
    state = state.model_copy(update={"pinned_go_live_date": dt.date(2027, 9, 6), "pinned_schedule": spec.schedule})
    now = dt.datetime(2027, 9, 5, 11, tzinfo=UTC)
    earlier = spec.model_copy(update={"go_live_date": dt.date(2027, 8, 30)})
    offsets = spec.model_copy(update={"schedule": spec.schedule.model_copy(update={"freeze_days": 4})})
    for edited in (earlier, offsets):
        decision = decide(edited, state, Observations(), now)
        assert decision.phase == Phase.FREEZE
        assert [r for _, r, _ in _events(decision) if r == "TimingChangeDeferred"] == ["TimingChangeDeferred"]
        assert decision.state.pending.timing_deferred


def test_the_morning_call_moves_live_into_hypercare_even_when_late() -> None:
    live = _in(
        Phase.LIVE, dt.datetime(2027, 9, 5, 21, tzinfo=UTC), serving_since=dt.datetime(2027, 9, 5, 21, tzinfo=UTC)
    )
    night = decide(SPEC, live, Observations(), dt.datetime(2027, 9, 6, 4, 59, tzinfo=UTC))
    assert night.phase == Phase.LIVE and night.wake_at == GO_LIVE_AT
    late = dt.datetime(2027, 9, 6, 5, 30, tzinfo=UTC)
    morning = decide(SPEC, live, Observations(), late)
    assert morning.phase == Phase.HYPERCARE and morning.state.hypercare_started_at == late
    assert morning.state.phase_reason == "go-live morning: command-centre period starts"
    assert _events(morning) == [
        ("Normal", "Scheduled", "Live → Hypercare: go-live morning: command-centre period starts")
    ]
    # Hypercare's exit gates start afresh, pending, when it begins.
    assert [(g.name, g.outcome) for g in morning.state.gates] == [
        (GateName.NO_CRITICAL_ALERTS, GateOutcome.PENDING),
        (GateName.HYPERCARE_EXIT, GateOutcome.PENDING),
    ]


def test_in_training_the_next_step_is_the_rehearsal_six_weeks_before() -> None:
    training = _in(Phase.TRAINING, dt.datetime(2026, 9, 5, 22, tzinfo=UTC))
    decision = decide(SPEC, training, Observations(), dt.datetime(2027, 1, 4, 8, tzinfo=UTC))
    assert decision.phase == Phase.TRAINING
    assert decision.next_action == "Rehearsal at 2027-07-25T22:00:00+00:00"
    assert decision.wake_at == dt.datetime(2027, 7, 25, 22, tzinfo=UTC)


def test_a_missing_go_no_go_says_how_to_record_it() -> None:
    decision = decide(SPEC, _in(Phase.FREEZE, FREEZE_AT), Observations(), dt.datetime(2027, 9, 5, 15, tzinfo=UTC))
    assert decision.next_action == (
        "Waiting for go-no-go: no go-no-go decision recorded "
        "(`epj golive approve --tenant 5035 --gate go-no-go --by ROLE --reason ...`) by 2027-09-06T02:00:00+00:00"
    )


def test_a_critical_alert_before_the_night_is_a_pending_gate_not_a_serving_alert() -> None:
    spec, state = _freeze_with_go()
    firing = Observations(alerts=(Alert(name="EMessagingBacklog"),))
    decision = decide(spec, state, firing, dt.datetime(2027, 9, 5, 15, tzinfo=UTC))
    blocked = decision.state.condition(ConditionType.BLOCKED)
    assert blocked is not None and (blocked.status, blocked.reason, blocked.message) == (
        "True",
        "GatesPending",
        "no-critical-alerts: critical alert firing: EMessagingBacklog",
    )


def test_an_unchanged_gate_keeps_the_time_of_its_last_change() -> None:
    spec, state = _freeze_with_go()
    firing = Observations(alerts=(Alert(name="EMessagingBacklog"),))
    first = decide(spec, state, firing, dt.datetime(2027, 9, 5, 15, tzinfo=UTC))
    again = decide(spec, _reread(first.state), firing, dt.datetime(2027, 9, 5, 16, tzinfo=UTC))
    record = again.state.gate(GateName.NO_CRITICAL_ALERTS)
    assert record is not None and record.at == dt.datetime(2027, 9, 5, 15, tzinfo=UTC)


def test_a_critical_alert_read_from_alertmanager_json_is_announced_while_serving() -> None:
    state = _in(Phase.HYPERCARE, GO_LIVE_AT, serving_since=GO_LIVE_AT, hypercare_started_at=GO_LIVE_AT)
    obs = Observations.model_validate_json(
        '{"alerts": [{"name": "MedicationAdministrationDown", "severity": "critical"},'
        ' {"name": "SlowPortal", "severity": "warning"}]}'
    )
    decision = decide(SPEC, state, obs, dt.datetime(2027, 9, 8, 9, tzinfo=UTC))
    assert decision.state.pending.alerts_notified == ("MedicationAdministrationDown",)
    assert (
        "Warning",
        "CriticalAlert",
        "critical alert firing in Hypercare: MedicationAdministrationDown (see its runbook)",
    ) in _events(decision)


def test_a_failed_dependency_blocks_before_the_night() -> None:
    spec = SPEC.model_copy(update={"depends_on": ("5006",)})
    failed = Observations(dependencies={"5006": DependencyStatus(phase=Phase.ROLLED_BACK)})
    decision = decide(spec, _in(Phase.FREEZE, FREEZE_AT), failed, dt.datetime(2027, 9, 4, 10, tzinfo=UTC))
    assert decision.phase == Phase.FREEZE
    blocked = decision.state.condition(ConditionType.BLOCKED)
    assert blocked is not None and (blocked.status, blocked.reason, blocked.message) == (
        "True",
        "DependencyFailed",
        "dependency failed: 5006 is RolledBack",
    )


def test_a_night_without_edits_announces_nothing() -> None:
    spec, state = _freeze_with_go()
    pinned = state.model_copy(update={"pinned_go_live_date": dt.date(2027, 9, 6), "pinned_schedule": spec.schedule})
    decision = decide(spec, _reread(pinned), Observations(), dt.datetime(2027, 9, 5, 11, tzinfo=UTC))
    assert [r for _, r, _ in _events(decision) if r == "TimingChangeDeferred"] == []
    assert not decision.state.pending.timing_deferred
