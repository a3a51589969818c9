"""Gate checks: what the evidence says about each gate right now, before deadlines are applied.

A check says Passed, Failed (the evidence says no, definitively: a rejected approval,
a failed or incomplete migration), or Pending. A Pending check carries ``evidence``:
True when there is evidence saying "not yet" (training below threshold, an alert
firing, a dependency not live) — at the deadline that becomes Failed; False when there is
no decisive evidence at all (no decision recorded, job still running, source unavailable)
— at the deadline that becomes TimedOut.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from epj.golive.model import Approval, GateRecord, GoLiveSpec, GoLiveState, Observations, Reconciliation
from epj.golive.phases import (
    GATE_PHASE,
    GATE_ROLES,
    MAIN_LINE,
    ApprovalDecision,
    GateName,
    GateOutcome,
    JobState,
    MigrationPurpose,
    Phase,
)

FAILED_PHASES = frozenset({Phase.ABORTED, Phase.ROLLED_BACK, Phase.ON_HOLD})


@dataclass(frozen=True)
class Check:
    outcome: GateOutcome
    reason: str
    evidence: bool = True


def _passed(reason: str) -> Check:
    return Check(GateOutcome.PASSED, reason)


def _failed(reason: str) -> Check:
    return Check(GateOutcome.FAILED, reason)


def _pending(reason: str, *, evidence: bool) -> Check:
    return Check(GateOutcome.PENDING, reason, evidence)


def _detail(rec: Reconciliation | None, prefix: str = "") -> str:
    """'N records unaccounted for (message)' from a reconciliation, or '' when it says nothing."""
    if rec is None:
        return ""
    parts = []
    unaccounted = rec.counts.get("unaccounted")
    if unaccounted:
        parts.append(f"{unaccounted} records unaccounted for")
    elif not rec.complete:
        parts.append("reconciliation incomplete")
    if rec.message:
        parts.append(f"({rec.message})" if parts else rec.message)
    return prefix + " ".join(parts) if parts else ""


def check_migration(state: GoLiveState, purpose: MigrationPurpose) -> Check:
    """The current migration of ``purpose`` reconciled complete (nothing unaccounted for)."""
    job = state.migration
    if job is None or job.purpose != purpose:
        return _pending(f"no {purpose} migration requested yet", evidence=False)
    rec = job.reconciliation
    if job.state == JobState.FAILED:
        detail = _detail(rec, prefix=": ") or (f": {job.message}" if job.message else "")
        return _failed(f"{purpose} migration {job.job_name} failed{detail}")
    if job.state != JobState.SUCCEEDED:
        return _pending(f"{purpose} migration {job.job_name} is {job.state}", evidence=False)
    if rec is None:
        # The result is read with the final state, in one write: a finished job without one never gets one.
        return _failed(f"{purpose} migration {job.job_name} succeeded but left no readable reconciliation result")
    if not rec.complete:
        return _failed(f"{purpose} migration {job.job_name}: {_detail(rec) or 'reconciliation incomplete'}")
    return _passed(f"{purpose} migration {job.job_name} reconciled complete")


def check_training(spec: GoLiveSpec, observations: Observations) -> Check:
    """Training completion share ≥ the configured threshold."""
    share, threshold = observations.training_completion, spec.gates.training_threshold
    if share is None:
        return _pending("no training completion reported", evidence=False)
    if share >= threshold:
        return _passed(f"training completion {share:.0%} ≥ {threshold:.0%}")
    return _pending(f"training completion {share:.0%} < {threshold:.0%}", evidence=True)


def check_alerts(observations: Observations) -> Check:
    """No critical clinical alert firing for the tenant."""
    if observations.alerts is None:
        return _pending("alert source unavailable", evidence=False)
    critical = sorted({alert.name for alert in observations.alerts if alert.severity == "critical"})
    if critical:
        return _pending(f"critical alert firing: {', '.join(critical)}", evidence=True)
    return _passed("no critical alert firing")


def check_dependencies(spec: GoLiveSpec, observations: Observations, now: dt.datetime, *, is_open: bool) -> Check:
    """Every dependency is live (and soaked); a failed one fails the gate once the cutover is due."""
    waiting: list[str] = []
    unknown: list[str] = []
    failed: list[str] = []
    soak = dt.timedelta(days=spec.soak_days)
    for dep in sorted(spec.depends_on):
        status = observations.dependencies.get(dep)
        if status is None:
            unknown.append(dep)
        elif status.serving_since is not None:
            if now < status.serving_since + soak:
                waiting.append(f"{dep} soaking until {(status.serving_since + soak).isoformat()}")
        elif status.phase in FAILED_PHASES:
            failed.append(f"{dep} is {status.phase}")
        else:
            waiting.append(f"{dep} not live yet ({status.phase})")
    if failed:
        reason = f"dependency failed: {', '.join(failed)}"
        return _failed(reason) if is_open else _pending(reason, evidence=True)
    if waiting:
        return _pending(f"waiting for {', '.join(waiting)}", evidence=True)
    if unknown:
        return _pending(f"state of {', '.join(unknown)} unknown", evidence=False)
    return _passed("all dependencies live" if spec.depends_on else "no dependencies")


def decision_window(state: GoLiveState, gate: GateName) -> dt.datetime | None:
    """When the current round of ``gate`` opened; None while the phase it decides has not been reached."""
    opened = state.decision_windows.get(gate)
    if opened is None and state.phase == GATE_PHASE[gate]:
        opened = state.phase_since  # a status written before rounds were recorded
    return opened


#: The phases a round of each approval gate spans, from entering the phase it decides (``GATE_PHASE``) until the
#: main line leaves it: a go-no-go is decided in Freeze and can still say NO-GO during the night; extract-delivered
#: belongs to one night (the next night's round opens when it enters Cutover); hypercare-exit to Hypercare.
ROUND_PHASES: dict[GateName, frozenset[Phase]] = {
    GateName.GO_NO_GO: frozenset({Phase.FREEZE, Phase.CUTOVER}),
    GateName.EXTRACT_DELIVERED: frozenset({Phase.CUTOVER}),
    GateName.HYPERCARE_EXIT: frozenset({Phase.HYPERCARE}),
}


def round_position(phase: Phase | None, held_from: Phase | None, gate: GateName) -> str:
    """Where the tenant stands to ``gate``'s round: "before", "in" or "after" it.

    Held, it stands where a resume takes it without opening a new round (OnHold: the phase it was held in;
    RolledBack: Freeze). A decision given before the round opens the next time never counts in it.
    """
    if phase == Phase.ROLLED_BACK:
        phase = Phase.FREEZE
    elif phase == Phase.ON_HOLD:
        phase = held_from
    phases = ROUND_PHASES[gate]
    if phase in phases:
        return "in"
    if phase == Phase.ABORTED or (
        phase in MAIN_LINE and MAIN_LINE.index(phase) > max(MAIN_LINE.index(p) for p in phases)
    ):
        return "after"
    return "before"


def counts(approval: Approval, state: GoLiveState, now: dt.datetime) -> bool:
    """Whether ``approval`` decides its gate now: an allowed role, in the gate's current round, after the last hold."""
    opened, since = decision_window(state, approval.gate), state.approvals_since
    return (
        approval.by in GATE_ROLES[approval.gate]
        and opened is not None
        and opened <= approval.at <= now
        and (since is None or approval.at > since)
    )


def check_approval(spec: GoLiveSpec, state: GoLiveState, gate: GateName, now: dt.datetime) -> Check:
    """The latest decision for ``gate`` that counts (:func:`counts`) is an approval."""
    valid = [a for a in spec.approvals if a.gate == gate and counts(a, state, now)]
    if not valid:
        return _pending(f"no {gate} decision recorded", evidence=False)
    latest = max(valid, key=lambda a: a.at)
    if latest.decision == ApprovalDecision.REJECT:
        return _failed(f"rejected by {latest.by} at {latest.at.isoformat()}: {latest.reason}")
    return _passed(f"approved by {latest.by} at {latest.at.isoformat()}: {latest.reason}")


def check_smoke(state: GoLiveState, observations: Observations) -> Check:
    """Post-cutover smoke checks passed for the current cutover job."""
    job = state.smoke_requested_for
    if job is None:
        return _pending("smoke checks not started (cutover migration not reconciled yet)", evidence=False)
    smoke = observations.smoke
    if smoke is None or smoke.job_name != job:
        return _pending("smoke checks running", evidence=False)
    if smoke.passed:
        return _passed(f"smoke checks passed{': ' + smoke.reason if smoke.reason else ''}")
    return _failed(f"smoke checks failed: {smoke.reason or 'no reason given'}")


def check(
    gate: GateName, spec: GoLiveSpec, state: GoLiveState, observations: Observations, now: dt.datetime, is_open: bool
) -> Check:
    """Dispatch to the check of ``gate``."""
    if gate == GateName.REHEARSAL_RECONCILED:
        return check_migration(state, MigrationPurpose.REHEARSAL)
    if gate == GateName.CUTOVER_RECONCILED:
        return check_migration(state, MigrationPurpose.CUTOVER)
    if gate == GateName.TRAINING:
        return check_training(spec, observations)
    if gate == GateName.NO_CRITICAL_ALERTS:
        return check_alerts(observations)
    if gate == GateName.DEPENDENCIES:
        return check_dependencies(spec, observations, now, is_open=is_open)
    if gate == GateName.SMOKE_CHECKS:
        return check_smoke(state, observations)
    return check_approval(spec, state, gate, now)


def settle(
    gate: GateName, result: Check, opened_at: dt.datetime, deadline: dt.datetime, now: dt.datetime
) -> GateRecord:
    """Apply the deadline: a Pending check past it becomes Failed (evidence says no) or TimedOut (no evidence)."""
    outcome, reason = result.outcome, result.reason
    if outcome == GateOutcome.PENDING and now >= deadline:
        outcome = GateOutcome.FAILED if result.evidence else GateOutcome.TIMED_OUT
        reason = f"{reason} at the deadline {deadline.isoformat()}"
    return GateRecord(name=gate, outcome=outcome, at=now, reason=reason, opened_at=opened_at, deadline=deadline)
