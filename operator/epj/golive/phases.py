"""The names of the go-live vocabulary: phases, gates, outcomes, conditions and reasons.

One name per concept across code, CRDs, CLI and docs: these string values are
what `kubectl get golives` shows and what the rehearsal report prints, so they
are defined once here and imported by the CRD schema, the core and adapters.
"""

from __future__ import annotations

import itertools
from enum import StrEnum


class Phase(StrEnum):
    """A tenant's go-live phase. The first nine form the main line; the last three are exits."""

    PLANNED = "Planned"
    PREPARING = "Preparing"
    TRAINING = "Training"
    REHEARSAL = "Rehearsal"
    FREEZE = "Freeze"
    CUTOVER = "Cutover"
    LIVE = "Live"
    HYPERCARE = "Hypercare"
    STABLE = "Stable"
    ON_HOLD = "OnHold"
    ABORTED = "Aborted"
    ROLLED_BACK = "RolledBack"


MAIN_LINE: tuple[Phase, ...] = (
    Phase.PLANNED,
    Phase.PREPARING,
    Phase.TRAINING,
    Phase.REHEARSAL,
    Phase.FREEZE,
    Phase.CUTOVER,
    Phase.LIVE,
    Phase.HYPERCARE,
    Phase.STABLE,
)

#: Phases before the tenant serves on the new EPJ: abort and withdrawal may apply here.
PRE_LIVE: frozenset[Phase] = frozenset(MAIN_LINE[:5])
#: The tenant works on the new EPJ (condition Ready=True).
SERVING: frozenset[Phase] = frozenset({Phase.LIVE, Phase.HYPERCARE, Phase.STABLE})
#: Nothing ever leaves these phases.
TERMINAL: frozenset[Phase] = frozenset({Phase.STABLE, Phase.ABORTED})
#: Held phases: nothing advances until a person records a resume.
HELD: frozenset[Phase] = frozenset({Phase.ON_HOLD, Phase.ROLLED_BACK})
#: The cutover night: here a pause, an abort or a go-no-go rejection is a NO-GO that rolls back (until Live).
UNSAFE: frozenset[Phase] = frozenset({Phase.CUTOVER})


def _allowed() -> frozenset[tuple[Phase, Phase]]:
    pairs: set[tuple[Phase, Phase]] = set(itertools.pairwise(MAIN_LINE))
    # A failed or timed-out gate holds the tenant where it is (also in Hypercare: it stays live, held).
    holdable = (*PRE_LIVE, Phase.HYPERCARE)
    pairs |= {(phase, Phase.ON_HOLD) for phase in holdable}
    # Resume returns to the phase that was held.
    pairs |= {(Phase.ON_HOLD, phase) for phase in holdable}
    # Only the cutover night rolls back; a resume after a rollback starts again from the freeze.
    pairs |= {(Phase.CUTOVER, Phase.ROLLED_BACK), (Phase.ROLLED_BACK, Phase.FREEZE)}
    # Abort (and withdrawal) end the go-live from any phase before the tenant serves, or from a hold.
    pairs |= {(phase, Phase.ABORTED) for phase in (*PRE_LIVE, *HELD)}
    return frozenset(pairs)


#: Every (from, to) pair the phase machine may take. Anything else is a bug or a tampered status.
ALLOWED_TRANSITIONS: frozenset[tuple[Phase, Phase]] = _allowed()


def is_allowed(source: Phase, target: Phase) -> bool:
    """Whether the phase machine may move a tenant from ``source`` to ``target``."""
    return (source, target) in ALLOWED_TRANSITIONS


class GateName(StrEnum):
    """Gates guard transitions; each has a timeout and a recorded outcome."""

    #: Rehearsal → Freeze: the rehearsal migration reconciled with nothing unaccounted for.
    REHEARSAL_RECONCILED = "rehearsal-reconciled"
    #: Rehearsal → Freeze: share of end users who completed training ≥ the configured threshold.
    TRAINING = "training-completion"
    #: Freeze → Cutover and Hypercare → Stable: no critical clinical alert firing for the tenant.
    NO_CRITICAL_ALERTS = "no-critical-alerts"
    #: Freeze → Cutover: every tenant this one depends on is live (and soaked), none failed.
    DEPENDENCIES = "dependencies-live"
    #: Freeze → Cutover: a recorded go/no-go approval.
    GO_NO_GO = "go-no-go"
    #: Freeze → Cutover: the night can still start in its window (not after the latest start time).
    CUTOVER_WINDOW = "cutover-window"
    #: Inside Cutover, before the final migration starts: the final extract (UTTREKK.txt with counts per file)
    #: was taken from the read-only legacy systems and delivered — recorded by the cutover lead. Required when
    #: the wave's ``gates.requireExtractDelivered`` is true (the runbook's night); otherwise the migration
    #: starts with the night.
    EXTRACT_DELIVERED = "extract-delivered"
    #: Cutover → Live: the final migration job reconciled complete.
    CUTOVER_RECONCILED = "cutover-reconciled"
    #: Cutover → Live: post-cutover smoke checks passed.
    SMOKE_CHECKS = "smoke-checks"
    #: Hypercare → Stable: a recorded approval to leave hypercare.
    HYPERCARE_EXIT = "hypercare-exit"


#: Gates a person decides with an approval record (`epj golive approve --tenant TENANT --gate G ...`).
APPROVAL_GATES: frozenset[GateName] = frozenset(
    {GateName.GO_NO_GO, GateName.EXTRACT_DELIVERED, GateName.HYPERCARE_EXIT}
)


class GateOutcome(StrEnum):
    """Passed; Failed = the evidence says no; TimedOut = no decisive evidence by the deadline; Pending = not yet."""

    PASSED = "Passed"
    FAILED = "Failed"
    PENDING = "Pending"
    TIMED_OUT = "TimedOut"


class ApprovalDecision(StrEnum):
    """A go/no-go decision in an approval record."""

    APPROVE = "approve"
    REJECT = "reject"


class ApproverRole(StrEnum):
    """Who decides, as a ROLE: people change jobs, and no personal name goes into a status or log."""

    PROJECT_LEAD = "project-lead"
    MUNICIPALITY_DIRECTOR = "municipality-director"
    HEALTH_AND_CARE_DIRECTOR = "health-and-care-director"
    CLINICAL_LEAD = "clinical-lead"
    IT_OPERATIONS_LEAD = "it-operations-lead"
    COMMAND_CENTRE_LEAD = "command-centre-lead"
    SERVICE_OWNER = "service-owner"
    #: Owns every go/no-go of the cutover night (runbooks/process/cutover-night.md).
    CUTOVER_LEAD = "cutover-lead"


#: Who may decide each approval gate. ``service-owner`` takes over ordinary operations after hypercare: it may
#: close hypercare, never say go for a cutover night.
GATE_ROLES: dict[GateName, frozenset[ApproverRole]] = {
    GateName.GO_NO_GO: frozenset(ApproverRole) - {ApproverRole.SERVICE_OWNER},
    GateName.HYPERCARE_EXIT: frozenset(ApproverRole) - {ApproverRole.CUTOVER_LEAD},
    GateName.EXTRACT_DELIVERED: frozenset({ApproverRole.CUTOVER_LEAD, ApproverRole.PROJECT_LEAD}),
}

#: Who may resume a held or rolled-back go-live: the project lead (the runbooks' "a person runs
#: ``epj golive resume``" after a re-plan) and the cutover lead (who owns the night's go/no-go). The operator's
#: webhook refuses any other role; the machine does not act on one that reached the spec anyway.
RESUME_ROLES: frozenset[ApproverRole] = frozenset({ApproverRole.PROJECT_LEAD, ApproverRole.CUTOVER_LEAD})

#: The phase whose exit each approval gate decides: a decision counts only when recorded in the current round of
#: that phase (go-no-go: from entering Freeze, through the cutover night; hypercare-exit: from entering Hypercare).
#: A decision given earlier — a hypercare-exit before the cutover, a go-no-go of a rolled-back night — never counts.
GATE_PHASE: dict[GateName, Phase] = {
    GateName.GO_NO_GO: Phase.FREEZE,
    GateName.EXTRACT_DELIVERED: Phase.CUTOVER,
    GateName.HYPERCARE_EXIT: Phase.HYPERCARE,
}


class MigrationPurpose(StrEnum):
    REHEARSAL = "rehearsal"
    CUTOVER = "cutover"


class JobState(StrEnum):
    """A migration job's state as the adapter observes it (Kubernetes Job or local process)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class ConditionType(StrEnum):
    READY = "Ready"
    PROGRESSING = "Progressing"
    BLOCKED = "Blocked"
    #: Set by adapters only, after repeated reconcile errors (the core never fails to decide).
    STALLED = "Stalled"
    #: Set by adapters after a rollback: True only once the rollback Job they ordered succeeded.
    ROLLBACK_COMPLETE = "RollbackComplete"
    #: RolloutWave only: a member is claimed by another wave, which keeps it (set by the wave adapter).
    CONTESTED = "Contested"


class Reason(StrEnum):
    """Machine-readable reasons for conditions, phases and events (CamelCase, as Kubernetes does)."""

    SCHEDULED = "Scheduled"
    WAITING_FOR_SCHEDULE = "WaitingForSchedule"
    GATES_PENDING = "GatesPending"
    GATES_PASSED = "GatesPassed"
    GATE_FAILED = "GateFailed"
    GATE_TIMED_OUT = "GateTimedOut"
    MIGRATION_REQUESTED = "MigrationRequested"
    MIGRATION_RUNNING = "MigrationRunning"
    SMOKE_CHECKS_RUNNING = "SmokeChecksRunning"
    ROLLED_BACK = "RolledBack"
    HELD = "Held"
    RESUMED = "Resumed"
    PAUSED = "Paused"
    PAUSE_DEFERRED = "PauseDeferred"
    ABORTED = "Aborted"
    ABORT_DEFERRED = "AbortDeferred"
    ABORT_IGNORED = "AbortIgnoredAfterGoLive"
    WITHDRAWN = "Withdrawn"
    WITHDRAWAL_REFUSED = "WithdrawalRefused"
    DEPENDENCY_FAILED = "DependencyFailed"
    NOT_BLOCKED = "NotBlocked"
    SERVING = "Serving"
    NOT_SERVING = "NotServing"
    COMPLETED = "Completed"
    APPROVAL_RECORDED = "ApprovalRecorded"
    APPROVAL_NOT_COUNTED = "ApprovalNotCounted"
    RESUME_NOT_COUNTED = "ResumeNotCounted"
    CRITICAL_ALERT = "CriticalAlert"
    INVALID_STATUS = "InvalidStatus"
    WAVE_CHANGED = "WaveChanged"
    TIMING_CHANGE_DEFERRED = "TimingChangeDeferred"
    CUTOVER_WINDOW_MISSED = "CutoverWindowMissed"
