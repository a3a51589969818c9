"""Each gate check on its own: the verdict, the reason a person reads in `epj golive status`, and whether the
evidence says "not yet" (Failed at the deadline) or nothing at all (TimedOut at the deadline).

Expected values are written out by hand from the gate rules (DESIGN §gates, the cutover-night runbook): the
reason texts are what the status shows, the times are literal UTC instants.
"""

from __future__ import annotations

import datetime as dt

import pytest

from epj.golive.gates import (
    Check,
    check,
    check_alerts,
    check_approval,
    check_dependencies,
    check_migration,
    check_smoke,
    check_training,
    counts,
    decision_window,
    settle,
)
from epj.golive.model import (
    Alert,
    Approval,
    DependencyStatus,
    GateConfig,
    GateRecord,
    GoLiveSpec,
    GoLiveState,
    MigrationRecord,
    Observations,
    Reconciliation,
    SmokeResult,
)
from epj.golive.phases import (
    ApprovalDecision,
    ApproverRole,
    GateName,
    GateOutcome,
    JobState,
    MigrationPurpose,
    Phase,
)

G, OUT = GateName, GateOutcome
REHEARSAL, CUTOVER = MigrationPurpose.REHEARSAL, MigrationPurpose.CUTOVER
UTC = dt.UTC
#: 17:00 on the cutover night's eve (GO/NO-GO 1 in the runbook).
NOW = dt.datetime(2027, 9, 5, 17, 0, tzinfo=UTC)
#: Entry into Freeze: the go-no-go round opens.
FREEZE_AT = dt.datetime(2027, 9, 2, 16, 0, tzinfo=UTC)
SPEC = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))


def _pending(reason: str, *, evidence: bool) -> Check:
    return Check(OUT.PENDING, reason, evidence)


def _state(**update: object) -> GoLiveState:
    return GoLiveState.initial(FREEZE_AT).model_copy(update=update)


def _job(
    purpose: MigrationPurpose,
    state: JobState,
    rec: Reconciliation | None = None,
    message: str | None = None,
) -> GoLiveState:
    job = MigrationRecord(
        job_name=f"golive-5035-{purpose}-1",
        purpose=purpose,
        attempt=1,
        state=state,
        requested_at=NOW,
        reconciliation=rec,
        message=message,
    )
    return _state(migration=job)


# ----------------------------------------------------------------------------------- migrations


def test_no_migration_of_that_purpose_is_no_evidence_yet() -> None:
    assert check_migration(_state(), REHEARSAL) == _pending("no rehearsal migration requested yet", evidence=False)
    # A rehearsal job says nothing about the cutover, and the cutover job nothing about the rehearsal.
    rehearsal_done = _job(REHEARSAL, JobState.SUCCEEDED, Reconciliation(complete=True))
    assert check_migration(rehearsal_done, CUTOVER) == _pending("no cutover migration requested yet", evidence=False)
    cutover_done = _job(CUTOVER, JobState.SUCCEEDED, Reconciliation(complete=True))
    assert check_migration(cutover_done, REHEARSAL) == _pending("no rehearsal migration requested yet", evidence=False)


@pytest.mark.parametrize("running", [JobState.PENDING, JobState.RUNNING])
def test_a_running_migration_is_no_evidence_yet(running: JobState) -> None:
    assert check_migration(_job(CUTOVER, running), CUTOVER) == _pending(
        f"cutover migration golive-5035-cutover-1 is {running.value}", evidence=False
    )


@pytest.mark.parametrize(
    ("rec", "message", "reason"),
    [
        (
            Reconciliation(complete=False, counts={"unaccounted": 12, "migrated": 88}, message="3 files missing"),
            "exit code 1",
            "rehearsal migration golive-5035-rehearsal-1 failed: 12 records unaccounted for (3 files missing)",
        ),
        (
            Reconciliation(complete=False, counts={"unaccounted": 12}),
            None,
            "rehearsal migration golive-5035-rehearsal-1 failed: 12 records unaccounted for",
        ),
        (
            Reconciliation(complete=False, counts={"unaccounted": 0}, message="UTTREKK.txt truncated"),
            None,
            "rehearsal migration golive-5035-rehearsal-1 failed: reconciliation incomplete (UTTREKK.txt truncated)",
        ),
        (
            Reconciliation(complete=True, message="source database went away"),
            None,
            "rehearsal migration golive-5035-rehearsal-1 failed: source database went away",
        ),
        (None, "exit code 137", "rehearsal migration golive-5035-rehearsal-1 failed: exit code 137"),
        (
            Reconciliation(complete=True),
            "exit code 2",
            "rehearsal migration golive-5035-rehearsal-1 failed: exit code 2",
        ),
        (None, None, "rehearsal migration golive-5035-rehearsal-1 failed"),
    ],
)
def test_a_failed_migration_fails_at_once_with_what_it_left(
    rec: Reconciliation | None, message: str | None, reason: str
) -> None:
    state = _job(REHEARSAL, JobState.FAILED, rec, message)
    assert check_migration(state, REHEARSAL) == Check(OUT.FAILED, reason)


@pytest.mark.parametrize(
    ("rec", "reason"),
    [
        (None, "cutover migration golive-5035-cutover-1 succeeded but left no readable reconciliation result"),
        (
            Reconciliation(complete=False, counts={"unaccounted": 7}),
            "cutover migration golive-5035-cutover-1: 7 records unaccounted for",
        ),
        (Reconciliation(complete=False), "cutover migration golive-5035-cutover-1: reconciliation incomplete"),
        (
            Reconciliation(complete=False, message="counts per file differ"),
            "cutover migration golive-5035-cutover-1: reconciliation incomplete (counts per file differ)",
        ),
    ],
)
def test_a_succeeded_migration_that_did_not_reconcile_fails(rec: Reconciliation | None, reason: str) -> None:
    assert check_migration(_job(CUTOVER, JobState.SUCCEEDED, rec), CUTOVER) == Check(OUT.FAILED, reason)


def test_a_migration_reconciled_complete_passes() -> None:
    state = _job(CUTOVER, JobState.SUCCEEDED, Reconciliation(complete=True, counts={"migrated": 100}))
    passed = Check(OUT.PASSED, "cutover migration golive-5035-cutover-1 reconciled complete")
    assert check_migration(state, CUTOVER) == passed


# ----------------------------------------------------------------------------------- training, alerts


def test_training_at_exactly_the_threshold_passes() -> None:
    assert check_training(SPEC, Observations(training_completion=0.9)) == Check(
        OUT.PASSED, "training completion 90% ≥ 90%"
    )
    assert check_training(SPEC, Observations(training_completion=0.89)) == _pending(
        "training completion 89% < 90%", evidence=True
    )
    lowered = SPEC.model_copy(update={"gates": GateConfig(training_threshold=0.75)})
    assert check_training(lowered, Observations(training_completion=0.8)).outcome == OUT.PASSED
    assert check_training(SPEC, Observations()) == _pending("no training completion reported", evidence=False)


def test_only_critical_alerts_block_also_when_read_from_alertmanager_json() -> None:
    # The alert list arrives as JSON (Alertmanager); an alert without a severity label is not critical.
    firing = Observations.model_validate_json(
        '{"alerts": [{"name": "MedicationAdministrationDown", "severity": "critical"},'
        ' {"name": "Unlabelled", "severity": ""}, {"name": "SlowPortal", "severity": "warning"},'
        ' {"name": "EMessagingBacklog", "severity": "critical"}]}'
    )
    assert check_alerts(firing) == _pending(
        "critical alert firing: EMessagingBacklog, MedicationAdministrationDown", evidence=True
    )
    calm = Observations(alerts=(Alert(name="Unlabelled", severity=""), Alert(name="Slow", severity="warning")))
    assert check_alerts(calm) == Check(OUT.PASSED, "no critical alert firing")
    assert check_alerts(Observations(alerts=None)) == _pending("alert source unavailable", evidence=False)


# ----------------------------------------------------------------------------------- dependencies


def test_a_live_dependency_soaks_until_serving_since_plus_soak_days() -> None:
    spec = SPEC.model_copy(update={"depends_on": ("5006",), "soak_days": 2})
    serving = {"5006": DependencyStatus(phase=Phase.HYPERCARE, serving_since=dt.datetime(2027, 9, 4, 6, tzinfo=UTC))}
    obs = Observations(dependencies=serving)
    assert check_dependencies(spec, obs, NOW, is_open=False) == _pending(
        "waiting for 5006 soaking until 2027-09-06T06:00:00+00:00", evidence=True
    )
    soaked = dt.datetime(2027, 9, 6, 6, tzinfo=UTC)
    assert check_dependencies(spec, obs, soaked, is_open=True) == Check(OUT.PASSED, "all dependencies live")


def test_dependencies_not_live_failed_or_unknown() -> None:
    spec = SPEC.model_copy(update={"depends_on": ("5006", "5001")})
    rolled_back = {"5006": DependencyStatus(phase=Phase.ROLLED_BACK), "5001": DependencyStatus(phase=Phase.FREEZE)}
    # Before the cutover is due a failed dependency is evidence "not yet" (it may resume); once due, Failed.
    reason = "dependency failed: 5006 is RolledBack"
    assert check_dependencies(spec, Observations(dependencies=rolled_back), NOW, is_open=False) == _pending(
        reason, evidence=True
    )
    assert check_dependencies(spec, Observations(dependencies=rolled_back), NOW, is_open=True) == Check(
        OUT.FAILED, reason
    )
    freezing = {"5006": DependencyStatus(phase=Phase.FREEZE)}
    assert check_dependencies(spec, Observations(dependencies=freezing), NOW, is_open=True) == _pending(
        "waiting for 5006 not live yet (Freeze)", evidence=True
    )
    assert check_dependencies(spec, Observations(), NOW, is_open=True) == _pending(
        "state of 5001, 5006 unknown", evidence=False
    )
    assert check_dependencies(SPEC, Observations(), NOW, is_open=True) == Check(OUT.PASSED, "no dependencies")


# ----------------------------------------------------------------------------------- approvals


def _approval(gate: GateName, by: ApproverRole, at: dt.datetime, decision: str = "approve") -> Approval:
    return Approval(gate=gate, by=by, at=at, reason="all green", decision=ApprovalDecision(decision))


def test_the_decision_round_opens_on_entering_the_phase_the_gate_decides() -> None:
    recorded = _state(phase=Phase.CUTOVER, decision_windows={G.GO_NO_GO: FREEZE_AT})
    assert decision_window(recorded, G.GO_NO_GO) == FREEZE_AT
    # A status written before rounds were recorded: the round is the current phase's, if it is the gate's phase.
    in_freeze = _state(phase=Phase.FREEZE, phase_since=dt.datetime(2027, 9, 2, 18, tzinfo=UTC))
    assert decision_window(in_freeze, G.GO_NO_GO) == dt.datetime(2027, 9, 2, 18, tzinfo=UTC)
    for phase in (Phase.PLANNED, Phase.REHEARSAL, Phase.CUTOVER, Phase.HYPERCARE, Phase.ON_HOLD):
        assert decision_window(_state(phase=phase), G.GO_NO_GO) is None, phase
    assert decision_window(_state(phase=Phase.STABLE), G.HYPERCARE_EXIT) is None
    assert decision_window(_state(phase=Phase.HYPERCARE), G.HYPERCARE_EXIT) == FREEZE_AT


def test_a_decision_counts_from_the_round_opening_to_now_and_after_the_last_hold() -> None:
    state = _state(phase=Phase.FREEZE, decision_windows={G.GO_NO_GO: FREEZE_AT})
    lead = ApproverRole.PROJECT_LEAD
    assert counts(_approval(G.GO_NO_GO, lead, FREEZE_AT), state, NOW)  # recorded the instant the round opened
    assert counts(_approval(G.GO_NO_GO, lead, NOW), state, NOW)
    assert not counts(_approval(G.GO_NO_GO, lead, FREEZE_AT - dt.timedelta(seconds=1)), state, NOW)
    assert not counts(_approval(G.GO_NO_GO, lead, NOW + dt.timedelta(seconds=1)), state, NOW)  # not recorded yet
    assert not counts(_approval(G.GO_NO_GO, ApproverRole.SERVICE_OWNER, NOW), state, NOW)  # role not allowed
    # The hold at 20:00 on 3 September was caused by the decision recorded at that instant: it no longer counts.
    held = dt.datetime(2027, 9, 3, 20, tzinfo=UTC)
    after_hold = state.model_copy(update={"approvals_since": held})
    assert not counts(_approval(G.GO_NO_GO, lead, held), after_hold, NOW)
    assert counts(_approval(G.GO_NO_GO, lead, held + dt.timedelta(seconds=1)), after_hold, NOW)


def test_the_latest_counting_decision_wins() -> None:
    state = _state(phase=Phase.FREEZE, decision_windows={G.GO_NO_GO: FREEZE_AT})
    director = ApproverRole.MUNICIPALITY_DIRECTOR
    approve = _approval(G.GO_NO_GO, ApproverRole.PROJECT_LEAD, dt.datetime(2027, 9, 5, 9, tzinfo=UTC))
    reject = _approval(G.GO_NO_GO, director, dt.datetime(2027, 9, 5, 10, tzinfo=UTC), "reject")
    late = _approval(G.GO_NO_GO, ApproverRole.PROJECT_LEAD, dt.datetime(2027, 9, 5, 18, tzinfo=UTC))
    exit_ = _approval(G.HYPERCARE_EXIT, ApproverRole.PROJECT_LEAD, dt.datetime(2027, 9, 5, 11, tzinfo=UTC))
    spec = SPEC.model_copy(update={"approvals": (approve, reject, late, exit_)})
    assert check_approval(spec, state, G.GO_NO_GO, NOW) == Check(
        OUT.FAILED, "rejected by municipality-director at 2027-09-05T10:00:00+00:00: all green"
    )
    approved = SPEC.model_copy(update={"approvals": (reject, approve.model_copy(update={"at": NOW}))})
    assert check_approval(approved, state, G.GO_NO_GO, NOW) == Check(
        OUT.PASSED, "approved by project-lead at 2027-09-05T17:00:00+00:00: all green"
    )
    assert check_approval(SPEC, state, G.GO_NO_GO, NOW) == _pending("no go-no-go decision recorded", evidence=False)


# ----------------------------------------------------------------------------------- smoke checks


def test_smoke_checks_of_the_current_cutover_job_only() -> None:
    assert check_smoke(_state(), Observations()) == _pending(
        "smoke checks not started (cutover migration not reconciled yet)", evidence=False
    )
    attempt = 2
    requested = _state(smoke_requested_for=f"golive-5035-cutover-{attempt}")
    running = _pending("smoke checks running", evidence=False)
    assert check_smoke(requested, Observations()) == running
    for stale in ("golive-5035-cutover-1", "golive-5035-cutover-3"):
        old = Observations(smoke=SmokeResult(job_name=stale, passed=True))
        assert check_smoke(requested, old) == running, stale
    # The result names the job as the adapter read it (a different string object with the same name).
    current = Observations.model_validate_json(
        '{"smoke": {"jobName": "golive-5035-cutover-2", "passed": true, "reason": "login and medication-list ok"}}'
    )
    assert check_smoke(requested, current) == Check(OUT.PASSED, "smoke checks passed: login and medication-list ok")
    silent = Observations(smoke=SmokeResult(job_name="golive-5035-cutover-2", passed=True))
    assert check_smoke(requested, silent) == Check(OUT.PASSED, "smoke checks passed")
    failed = Observations(smoke=SmokeResult(job_name="golive-5035-cutover-2", passed=False))
    assert check_smoke(requested, failed) == Check(OUT.FAILED, "smoke checks failed: no reason given")


# ----------------------------------------------------------------------------------- dispatch and deadline


def test_each_gate_is_decided_by_its_own_evidence() -> None:
    state = _job(CUTOVER, JobState.SUCCEEDED, Reconciliation(complete=True)).model_copy(update={"phase": Phase.FREEZE})
    obs = Observations(training_completion=0.95, alerts=(Alert(name="MedicationAdministrationDown"),))
    expected = {
        G.REHEARSAL_RECONCILED: _pending("no rehearsal migration requested yet", evidence=False),
        G.CUTOVER_RECONCILED: Check(OUT.PASSED, "cutover migration golive-5035-cutover-1 reconciled complete"),
        G.TRAINING: Check(OUT.PASSED, "training completion 95% ≥ 90%"),
        G.NO_CRITICAL_ALERTS: _pending("critical alert firing: MedicationAdministrationDown", evidence=True),
        G.DEPENDENCIES: Check(OUT.PASSED, "no dependencies"),
        G.SMOKE_CHECKS: _pending("smoke checks not started (cutover migration not reconciled yet)", evidence=False),
        G.GO_NO_GO: _pending("no go-no-go decision recorded", evidence=False),
        G.EXTRACT_DELIVERED: _pending("no extract-delivered decision recorded", evidence=False),
        G.HYPERCARE_EXIT: _pending("no hypercare-exit decision recorded", evidence=False),
    }
    for gate, verdict in expected.items():
        assert check(gate, SPEC, state, obs, NOW, False) == verdict, gate
    failed_dep = SPEC.model_copy(update={"depends_on": ("5006",)})
    rolled_back = Observations(dependencies={"5006": DependencyStatus(phase=Phase.ROLLED_BACK)})
    assert check(G.DEPENDENCIES, failed_dep, state, rolled_back, NOW, True) == Check(
        OUT.FAILED, "dependency failed: 5006 is RolledBack"
    )


def test_the_deadline_turns_pending_into_failed_or_timed_out() -> None:
    opened, deadline = dt.datetime(2027, 9, 5, 17, tzinfo=UTC), dt.datetime(2027, 9, 5, 23, tzinfo=UTC)
    late = dt.datetime(2027, 9, 5, 23, 5, tzinfo=UTC)
    alert = _pending("critical alert firing: X", evidence=True)
    assert settle(G.NO_CRITICAL_ALERTS, alert, opened, deadline, late) == GateRecord(
        name=G.NO_CRITICAL_ALERTS,
        outcome=OUT.FAILED,
        at=late,
        reason="critical alert firing: X at the deadline 2027-09-05T23:00:00+00:00",
        opened_at=opened,
        deadline=deadline,
    )
    silent = _pending("alert source unavailable", evidence=False)
    assert settle(G.NO_CRITICAL_ALERTS, silent, opened, deadline, deadline) == GateRecord(
        name=G.NO_CRITICAL_ALERTS,
        outcome=OUT.TIMED_OUT,
        at=deadline,
        reason="alert source unavailable at the deadline 2027-09-05T23:00:00+00:00",
        opened_at=opened,
        deadline=deadline,
    )
    early = dt.datetime(2027, 9, 5, 22, 59, tzinfo=UTC)
    record = settle(G.NO_CRITICAL_ALERTS, alert, opened, deadline, early)
    assert (record.outcome, record.reason, record.at) == (OUT.PENDING, "critical alert firing: X", early)
    passed = settle(G.NO_CRITICAL_ALERTS, Check(OUT.PASSED, "no critical alert firing"), opened, deadline, late)
    assert (passed.outcome, passed.reason) == (OUT.PASSED, "no critical alert firing")
