"""The extract-delivered gate under edits of ``gates.requireExtractDelivered`` during the night.

The API server's CEL rules refuse ``gates`` edits from Freeze through Cutover; where they are bypassed (an
older CRD, a direct write) the night still runs as it began: one that started waiting for the extract keeps
waiting for it (it neither skips the record nor waits 10 h for a migration nobody requests). Tenant 5035,
the night of 5 Sep 2027 (16:00 Oslo = 14:00 UTC); expectations written by hand.
"""

from __future__ import annotations

import datetime as dt
import json

from epj.golive import Approval, CreateMigrationJob, GateName, GoLiveSpec, GoLiveState, Observations, Phase, decide
from epj.golive.model import GateConfig
from epj.golive.phases import ApprovalDecision, ApproverRole, GateOutcome

UTC = dt.UTC
FREEZE_AT = dt.datetime(2027, 9, 2, 22, tzinfo=UTC)
CUTOVER_AT = dt.datetime(2027, 9, 5, 14, tzinfo=UTC)
GO = Approval(gate=GateName.GO_NO_GO, by=ApproverRole.CUTOVER_LEAD, at=dt.datetime(2027, 9, 4, 9, tzinfo=UTC),
              reason="all green", decision=ApprovalDecision.APPROVE)  # fmt: skip
NIGHT = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6), approvals=(GO,),
                   gates=GateConfig(require_extract_delivered=True))  # fmt: skip


def _reread(state: GoLiveState) -> GoLiveState:
    return GoLiveState.from_status(json.loads(json.dumps(state.to_status())))


def _waiting_for_the_extract() -> GoLiveState:
    freeze = GoLiveState.initial(FREEZE_AT).model_copy(
        update={"phase": Phase.FREEZE, "window_start": FREEZE_AT, "wave": "w",
                "decision_windows": {GateName.GO_NO_GO: FREEZE_AT}}
    )  # fmt: skip
    night = decide(NIGHT, _reread(freeze), Observations(), CUTOVER_AT)
    assert night.phase == Phase.CUTOVER
    assert [a for a in night.actions if isinstance(a, CreateMigrationJob)] == []
    return _reread(night.state)


def test_removing_the_requirement_mid_night_keeps_the_night_waiting_for_the_extract() -> None:
    state = _waiting_for_the_extract()
    edited = NIGHT.model_copy(update={"gates": GateConfig()})
    later = decide(edited, state, Observations(), CUTOVER_AT + dt.timedelta(minutes=30))
    assert [a for a in later.actions if isinstance(a, CreateMigrationJob)] == []
    record = later.state.gate(GateName.EXTRACT_DELIVERED)
    assert record is not None and record.outcome == GateOutcome.PENDING
    assert record.deadline == CUTOVER_AT + dt.timedelta(hours=3)
    assert "extract-delivered" in later.state.next_action
    # Recorded: the final migration starts, as the night began it.
    extract = Approval(gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD,
                       at=CUTOVER_AT + dt.timedelta(hours=1), reason="UTTREKK.txt counts match",
                       decision=ApprovalDecision.APPROVE)  # fmt: skip
    recorded = edited.model_copy(update={"approvals": (GO, extract)})
    started = decide(recorded, _reread(later.state), Observations(), CUTOVER_AT + dt.timedelta(hours=1))
    assert [a.job_name for a in started.actions if isinstance(a, CreateMigrationJob)] == ["golive-5035-cutover-1"]


def test_without_the_extract_by_its_deadline_the_edited_night_rolls_back_then_not_ten_hours_later() -> None:
    state = _waiting_for_the_extract()
    edited = NIGHT.model_copy(update={"gates": GateConfig()})
    deadline = CUTOVER_AT + dt.timedelta(hours=3)
    waiting = decide(edited, state, Observations(), CUTOVER_AT + dt.timedelta(minutes=30))
    assert waiting.state.next_wake_at == deadline
    rolled = decide(edited, _reread(waiting.state), Observations(), deadline)
    assert rolled.phase == Phase.ROLLED_BACK
    assert rolled.state.gate_trail()[-1] == (GateName.EXTRACT_DELIVERED, GateOutcome.TIMED_OUT)


def test_an_extract_rejected_after_the_final_migration_started_is_a_no_go() -> None:
    """The cutover lead recorded the extract, then finds its counts wrong while the migration runs: roll back."""
    from epj.golive import RollBack

    state = _waiting_for_the_extract()
    delivered = Approval(gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD,
                         at=CUTOVER_AT + dt.timedelta(hours=1), reason="UTTREKK.txt counts match",
                         decision=ApprovalDecision.APPROVE)  # fmt: skip
    spec = NIGHT.model_copy(update={"approvals": (GO, delivered)})
    started = decide(spec, state, Observations(), CUTOVER_AT + dt.timedelta(hours=1))
    assert [a.job_name for a in started.actions if isinstance(a, CreateMigrationJob)] == ["golive-5035-cutover-1"]
    withdrawn = Approval(gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD,
                         at=CUTOVER_AT + dt.timedelta(hours=1, minutes=20), reason="CGM counts were from Tuesday",
                         decision=ApprovalDecision.REJECT)  # fmt: skip
    rejected = spec.model_copy(update={"approvals": (GO, delivered, withdrawn)})
    now = CUTOVER_AT + dt.timedelta(hours=1, minutes=20)
    ended = decide(rejected, _reread(started.state), Observations(), now)
    assert ended.phase == Phase.ROLLED_BACK
    (rollback,) = [a for a in ended.actions if isinstance(a, RollBack)]
    assert rollback.stop_job == "golive-5035-cutover-1"  # stopped before it publishes
    assert ended.state.gate_trail()[-1] == (GateName.EXTRACT_DELIVERED, GateOutcome.FAILED)
    assert "CGM counts were from Tuesday" in ended.state.phase_reason


def test_an_extract_recorded_before_the_second_night_starts_is_said_not_to_count() -> None:
    """After a rolled-back night and a resume, an extract recorded in Freeze belongs to no night: say so at once.

    The next night's round opens when it enters Cutover; a record given before never counts there, so the audit
    trail and the events must not call it recorded (the cutover lead would wait for a migration that never starts).
    """
    from epj.golive import EmitEvent, ResumeRequest

    state = _waiting_for_the_extract()
    rejected = Approval(gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD,
                        at=CUTOVER_AT + dt.timedelta(hours=1), reason="counts short",
                        decision=ApprovalDecision.REJECT)  # fmt: skip
    spec = NIGHT.model_copy(update={"approvals": (GO, rejected)})
    rolled = decide(spec, state, Observations(), CUTOVER_AT + dt.timedelta(hours=1))
    assert rolled.phase == Phase.ROLLED_BACK
    resume = ResumeRequest(by=ApproverRole.PROJECT_LEAD, at=CUTOVER_AT + dt.timedelta(hours=2), reason="re-run")
    spec = spec.model_copy(update={"resume": resume})
    frozen = decide(spec, _reread(rolled.state), Observations(), CUTOVER_AT + dt.timedelta(hours=2))
    assert frozen.phase == Phase.FREEZE
    early = Approval(gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD,
                     at=CUTOVER_AT + dt.timedelta(hours=2, minutes=10), reason="UTTREKK.txt counts match",
                     decision=ApprovalDecision.APPROVE)  # fmt: skip
    spec = spec.model_copy(update={"approvals": (GO, rejected, early)})
    noted = decide(spec, _reread(frozen.state), Observations(), CUTOVER_AT + dt.timedelta(hours=2, minutes=10))
    events = [(a.type, a.reason, a.message) for a in noted.actions if isinstance(a, EmitEvent)]
    assert events == [
        (
            "Warning",
            "ApprovalNotCounted",
            "extract-delivered approve by cutover-lead does not count: given before Cutover began for this round",
        )
    ]


def test_each_nights_extract_record_enters_the_audit_trail() -> None:
    """The same words by the same role on a second night are that night's decision, not a repeat of the first."""
    from epj.golive import ResumeRequest

    state = _waiting_for_the_extract()
    first = Approval(gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD,
                     at=CUTOVER_AT + dt.timedelta(minutes=30), reason="UTTREKK.txt counts match",
                     decision=ApprovalDecision.APPROVE)  # fmt: skip
    spec = NIGHT.model_copy(update={"approvals": (GO, first), "aborted": False})
    night1 = decide(spec, state, Observations(), CUTOVER_AT + dt.timedelta(minutes=30))
    no_go = Approval(gate=GateName.GO_NO_GO, by=ApproverRole.CUTOVER_LEAD, at=CUTOVER_AT + dt.timedelta(hours=1),
                     reason="vendor not on the bridge", decision=ApprovalDecision.REJECT)  # fmt: skip
    spec = spec.model_copy(update={"approvals": (GO, first, no_go)})
    rolled = decide(spec, _reread(night1.state), Observations(), CUTOVER_AT + dt.timedelta(hours=1))
    assert rolled.phase == Phase.ROLLED_BACK
    resumed_at = CUTOVER_AT + dt.timedelta(hours=1, minutes=10)
    go2 = Approval(gate=GateName.GO_NO_GO, by=ApproverRole.CUTOVER_LEAD, at=resumed_at + dt.timedelta(minutes=1),
                   reason="vendor back", decision=ApprovalDecision.APPROVE)  # fmt: skip
    spec = spec.model_copy(update={
        "approvals": (GO, first, no_go, go2),
        "resume": ResumeRequest(by=ApproverRole.CUTOVER_LEAD, at=resumed_at, reason="vendor back"),
    })  # fmt: skip
    state = _reread(rolled.state)
    for minutes in (10, 11):
        state = _reread(decide(spec, state, Observations(), CUTOVER_AT + dt.timedelta(hours=1, minutes=minutes)).state)
    assert state.phase == Phase.CUTOVER
    second = first.model_copy(update={"at": CUTOVER_AT + dt.timedelta(hours=1, minutes=30)})
    spec = spec.model_copy(update={"approvals": (GO, first, no_go, go2, second)})
    night2 = decide(spec, state, Observations(), CUTOVER_AT + dt.timedelta(hours=1, minutes=30))
    assert [a.job_name for a in night2.actions if isinstance(a, CreateMigrationJob)] == ["golive-5035-cutover-2"]
    extracts = [e.at for e in night2.state.history if e.kind == "Approval" and e.gate == GateName.EXTRACT_DELIVERED]
    assert extracts == [first.at, second.at]


def test_a_go_no_go_given_after_the_night_is_said_not_to_count() -> None:
    """In Hypercare the night's go/no-go round has ended: a NO-GO there changes nothing, and the trail says so."""
    from epj.golive import EmitEvent

    since = dt.datetime(2027, 9, 6, 5, tzinfo=UTC)
    state = GoLiveState.initial(FREEZE_AT).model_copy(
        update={"phase": Phase.HYPERCARE, "phase_since": since, "window_start": since, "wave": "w",
                "hypercare_started_at": since, "serving_since": dt.datetime(2027, 9, 5, 17, tzinfo=UTC),
                "decision_windows": {GateName.GO_NO_GO: FREEZE_AT, GateName.HYPERCARE_EXIT: since}}
    )  # fmt: skip
    late = Approval(gate=GateName.GO_NO_GO, by=ApproverRole.CUTOVER_LEAD, at=since + dt.timedelta(hours=2),
                    reason="users report slowness", decision=ApprovalDecision.REJECT)  # fmt: skip
    spec = NIGHT.model_copy(update={"approvals": (GO, late)})
    decision = decide(spec, _reread(state), Observations(), since + dt.timedelta(hours=2))
    assert decision.phase == Phase.HYPERCARE
    warnings = [a.message for a in decision.actions if isinstance(a, EmitEvent) and a.type == "Warning"]
    assert warnings == ["go-no-go reject by cutover-lead does not count: given in Hypercare, after its round ended"]


def test_an_extract_rejection_is_a_no_go_also_on_a_night_that_did_not_wait_for_it() -> None:
    """A hand-written wave without the gate: the cutover lead's recorded rejection still ends the night."""
    from epj.golive import RollBack

    spec = NIGHT.model_copy(update={"gates": GateConfig()})
    freeze = GoLiveState.initial(FREEZE_AT).model_copy(
        update={"phase": Phase.FREEZE, "window_start": FREEZE_AT, "wave": "w",
                "decision_windows": {GateName.GO_NO_GO: FREEZE_AT}}
    )  # fmt: skip
    night = decide(spec, _reread(freeze), Observations(), CUTOVER_AT)
    assert [a.job_name for a in night.actions if isinstance(a, CreateMigrationJob)] == ["golive-5035-cutover-1"]
    rejected = Approval(gate=GateName.EXTRACT_DELIVERED, by=ApproverRole.CUTOVER_LEAD,
                        at=CUTOVER_AT + dt.timedelta(minutes=40), reason="CGM extract is from Tuesday",
                        decision=ApprovalDecision.REJECT)  # fmt: skip
    spec = spec.model_copy(update={"approvals": (GO, rejected)})
    ended = decide(spec, _reread(night.state), Observations(), CUTOVER_AT + dt.timedelta(minutes=40))
    assert ended.phase == Phase.ROLLED_BACK
    (rollback,) = [a for a in ended.actions if isinstance(a, RollBack)]
    assert rollback.stop_job == "golive-5035-cutover-1"
