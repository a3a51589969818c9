"""Typed inputs and state of the go-live core, serialisable to and from the CRDs' camelCase dicts.

* :class:`GoLiveSpec` — what people and the wave declare (the GoLive ``spec``).
* :class:`Observations` — what adapters see in the world right now (jobs, training, alerts, dependencies).
* :class:`GoLiveState` — what the core remembers between calls (the GoLive ``status``; the rehearsal's
  local JSON file). ``GoLiveState.from_status(state.to_status()) == state`` always holds.

All models are frozen pydantic models with camelCase aliases; datetimes are aware UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from epj.golive.clock import ensure_utc
from epj.golive.phases import (
    ApprovalDecision,
    ApproverRole,
    ConditionType,
    GateName,
    GateOutcome,
    JobState,
    MigrationPurpose,
    Phase,
)
from epj.golive.schedule import Offsets

KOMMUNENR_PATTERN = r"^[0-9]{4}$"

#: Default gate timeouts in hours, counted from the moment the guarded transition is due.
DEFAULT_TIMEOUT_HOURS: dict[GateName, int] = {
    GateName.REHEARSAL_RECONCILED: 48,
    GateName.TRAINING: 48,
    GateName.NO_CRITICAL_ALERTS: 6,
    GateName.DEPENDENCIES: 24,
    GateName.GO_NO_GO: 12,
    GateName.CUTOVER_WINDOW: 4,
    GateName.EXTRACT_DELIVERED: 3,
    GateName.CUTOVER_RECONCILED: 10,
    GateName.SMOKE_CHECKS: 2,
    GateName.HYPERCARE_EXIT: 168,
}
DEFAULT_TRAINING_THRESHOLD = 0.9
DEFAULT_HYPERCARE_DAYS = 21
HISTORY_LIMIT = 300


class CoreModel(BaseModel):
    """Frozen, camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore", use_enum_values=False
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready camelCase dict without unset optional fields (what goes into a CR or a file)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


#: An aware datetime, normalised to UTC (naive values are refused).
UtcDatetime = Annotated[dt.datetime, AfterValidator(ensure_utc)]


# ------------------------------------------------------------------------------------------------ spec


class GateConfig(CoreModel):
    """Gate settings: the training threshold and per-gate timeouts in hours."""

    training_threshold: float = Field(default=DEFAULT_TRAINING_THRESHOLD, ge=0, le=1)
    #: The night waits for a recorded ``extract-delivered`` before the final migration starts (the runbook's night).
    require_extract_delivered: bool = False
    timeout_hours: dict[GateName, int] = Field(default_factory=dict)

    def timeout(self, gate: GateName) -> dt.timedelta:
        return dt.timedelta(hours=self.timeout_hours.get(gate, DEFAULT_TIMEOUT_HOURS[gate]))


class ScheduleSpec(CoreModel):
    """How far before go-live each time-driven milestone lies: ONE set of offsets for every part.

    The planner's scenario (``preparation``) writes it into each RolloutWave, the wave copies it into
    each GoLive, and the operator, the plan outputs (ICS, Gantt, summary) and the council report
    compute their dates from it through :class:`epj.golive.schedule.Schedule` — so a milestone has
    one date everywhere. Defaults are DESIGN §2's facts (18/13/12 months) and the runbook's night.
    """

    pre_project_months: int = Field(default=18, ge=1, le=60)
    withdrawal_lock_months: int = Field(default=13, ge=1, le=60)
    main_project_months: int = Field(default=12, ge=1, le=60)
    rehearsal_days: int = Field(default=42, ge=2, le=365)
    freeze_days: int = Field(default=3, ge=1, le=60)

    @model_validator(mode="after")
    def _in_order(self) -> ScheduleSpec:
        self.offsets()
        return self

    def offsets(self, hypercare_days: int = DEFAULT_HYPERCARE_DAYS) -> Offsets:
        """The core's :class:`Offsets` (raises ValueError when the milestones would be out of order)."""
        return Offsets(
            pre_project_months=self.pre_project_months,
            withdrawal_lock_months=self.withdrawal_lock_months,
            main_project_months=self.main_project_months,
            rehearsal_days=self.rehearsal_days,
            freeze_days=self.freeze_days,
            hypercare_days=hypercare_days,
        )


class Approval(CoreModel):
    """A recorded go/no-go decision: gate, ROLE (never a person's name), when, why, approve or reject.

    In the cluster every decision is a ``GoLiveApproval`` object whose ``at`` (the API server's time) and
    ``user`` (the authenticated Kubernetes user) the admission webhook writes — never the client; its ``by``
    is checked against the user's groups there (:mod:`epj.golive.approvals`). Scenarios and the rehearsal
    leave ``user`` empty.
    """

    gate: GateName
    by: ApproverRole
    at: UtcDatetime
    reason: str = Field(min_length=3, max_length=500)
    decision: ApprovalDecision
    #: The authenticated Kubernetes user who decided (from the admission request), kept on the Approval object only.
    user: str | None = None


class ResumeRequest(CoreModel):
    """A person's request to resume after OnHold or RolledBack (acted on once, when newer than the hold)."""

    by: ApproverRole
    #: Server time of the request: written by the operator's admission webhook, never by the client.
    at: UtcDatetime
    reason: str = Field(min_length=3, max_length=500)
    #: The authenticated Kubernetes user who resumed (the webhook's stamp); None before the webhook ran.
    user: str | None = None


class GoLiveSpec(CoreModel):
    """One tenant's go-live as declared: the GoLive spec, with the wave's levers already folded in."""

    kommunenummer: str = Field(pattern=KOMMUNENR_PATTERN)
    wave: str = Field(min_length=1)
    go_live_date: dt.date
    depends_on: tuple[str, ...] = ()
    hypercare_days: int = Field(default=DEFAULT_HYPERCARE_DAYS, ge=1)
    soak_days: int = Field(default=0, ge=0)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    gates: GateConfig = Field(default_factory=GateConfig)
    paused: bool = False
    aborted: bool = False
    withdraw: bool = False
    approvals: tuple[Approval, ...] = ()
    resume: ResumeRequest | None = None


# ------------------------------------------------------------------------------------------------ observations


class Reconciliation(CoreModel):
    """A migration's reconciliation summary: complete means nothing is unaccounted for."""

    complete: bool
    counts: dict[str, int] = Field(default_factory=dict)
    message: str | None = None


class MigrationObservation(CoreModel):
    """A migration job as the adapter sees it now (Kubernetes Job + MigrationJob status, or a local process)."""

    job_name: str
    state: JobState
    reconciliation: Reconciliation | None = None
    message: str | None = None


class SmokeResult(CoreModel):
    """Outcome of the post-cutover smoke checks requested for ``job_name``."""

    job_name: str
    passed: bool
    reason: str = ""


class Alert(CoreModel):
    """A firing alert concerning the tenant (only ``name`` and ``severity`` matter to the gate)."""

    name: str
    severity: str = "critical"
    summary: str | None = None


class DependencyStatus(CoreModel):
    """What a tenant this one depends on looks like now (from its own GoLive)."""

    phase: Phase
    serving_since: UtcDatetime | None = None


class Observations(CoreModel):
    """Everything the core may look at besides spec and state. ``None`` means 'not known / source unavailable'."""

    training_completion: float | None = Field(default=None, ge=0, le=1)
    alerts: tuple[Alert, ...] | None = ()
    migration: MigrationObservation | None = None
    smoke: SmokeResult | None = None
    dependencies: Mapping[str, DependencyStatus] = Field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ state


class GateRecord(CoreModel):
    """A gate's last outcome with time and reason, and its timing window."""

    name: GateName
    outcome: GateOutcome
    at: UtcDatetime
    reason: str = ""
    opened_at: UtcDatetime | None = None
    deadline: UtcDatetime | None = None


class MigrationRecord(CoreModel):
    """The migration job the tenant currently waits for (or last waited for)."""

    job_name: str
    purpose: MigrationPurpose
    attempt: int = Field(ge=1)
    state: JobState = JobState.PENDING
    requested_at: UtcDatetime
    reconciliation: Reconciliation | None = None
    #: The job's own message when it failed (e.g. exit reason), if the adapter saw one.
    message: str | None = None


class HistoryEntry(CoreModel):
    """One line of the audit trail."""

    at: UtcDatetime
    kind: Literal["Transition", "Approval", "Resume", "Gate", "Event"]
    from_phase: Phase | None = None
    to_phase: Phase | None = None
    gate: GateName | None = None
    outcome: GateOutcome | None = None
    by: str | None = None
    decision: ApprovalDecision | None = None
    reason: str = ""


class Condition(CoreModel):
    """A Kubernetes-style condition."""

    type: ConditionType
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: UtcDatetime
    #: The object's ``metadata.generation`` this condition was computed for (set by the adapter).
    observed_generation: int | None = None


class Pending(CoreModel):
    """Requests deferred to the next safe point, and one-shot notices already given."""

    pause: bool = False
    abort: bool = False
    abort_ignored: bool = False
    withdrawal_refused: bool = False
    #: Critical alerts firing while the tenant serves that a Warning event was given for (again when they refire).
    alerts_notified: tuple[str, ...] = ()
    timing_deferred: bool = False


class GoLiveState(CoreModel):
    """What the core remembers about one tenant's go-live (the GoLive status)."""

    phase: Phase = Phase.PLANNED
    phase_reason: str = ""
    #: The wave this go-live was last decided in (a move to another wave is recorded in the history).
    wave: str | None = None
    #: From Freeze until Hypercare the night's timing is pinned: edits of goLiveDate or the schedule offsets
    #: are deferred (with an event) and apply once the tenant is past the night or held.
    pinned_go_live_date: dt.date | None = None
    pinned_schedule: ScheduleSpec | None = None
    phase_since: UtcDatetime
    #: From when gate timeouts count in this phase: phase entry, resume or unpause.
    window_start: UtcDatetime
    held_from: Phase | None = None
    held_at: UtcDatetime | None = None
    #: Approvals recorded before this instant no longer count (set at every hold and rollback).
    approvals_since: UtcDatetime | None = None
    #: When the current round of each approval gate opened (entry into the phase it decides, ``GATE_PHASE``):
    #: a decision recorded before its round opened does not count.
    decision_windows: dict[GateName, UtcDatetime] = Field(default_factory=dict)
    paused: bool = False
    hypercare_started_at: UtcDatetime | None = None
    serving_since: UtcDatetime | None = None
    smoke_requested_for: str | None = None
    #: What the latest rollback rolled back, naming its rollback Job: the night's final migration Job, or
    #: ``golive-<k>-night-<UTC time>`` for a night that ended before its final migration (no extract, a NO-GO):
    #: every night gets its own rollback Job, never an earlier night's finished one. None in older statuses
    #: (the migration record's job then names it).
    rollback_of: str | None = None
    gates: tuple[GateRecord, ...] = ()
    migration: MigrationRecord | None = None
    attempts: dict[MigrationPurpose, int] = Field(default_factory=dict)
    #: Every migration job's final result, by job name (purpose and attempt): recorded once, never run again,
    #: whatever happens to the Job or the MigrationJob object afterwards.
    results: dict[str, JobState] = Field(default_factory=dict)
    pending: Pending = Field(default_factory=Pending)
    history: tuple[HistoryEntry, ...] = ()
    conditions: tuple[Condition, ...] = ()
    next_action: str = ""
    next_wake_at: UtcDatetime | None = None
    observed_generation: int | None = None

    @classmethod
    def initial(cls, now: dt.datetime) -> GoLiveState:
        now = ensure_utc(now)
        created = HistoryEntry(at=now, kind="Event", to_phase=Phase.PLANNED, reason="Created")
        return cls(phase_since=now, window_start=now, phase_reason="Created", history=(created,))

    def to_status(self) -> dict[str, Any]:
        """The GoLive ``status`` dict (camelCase, JSON types). Also the rehearsal's state file entry."""
        return self.to_dict()

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> GoLiveState:
        """Read a status written by :meth:`to_status` (unknown keys such as kopf's own are ignored)."""
        return cls.model_validate(dict(status))

    def gate(self, name: GateName) -> GateRecord | None:
        return next((record for record in self.gates if record.name == name), None)

    def condition(self, kind: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def phase_trail(self) -> list[Phase]:
        """Every phase this go-live has been in, in order (from the audit trail)."""
        trail = [Phase.PLANNED]
        trail += [e.to_phase for e in self.history if e.kind == "Transition" and e.to_phase is not None]
        return trail

    def gate_trail(self) -> list[tuple[GateName, GateOutcome]]:
        """Every decisive gate outcome (Passed, Failed, TimedOut), in order."""
        return [(e.gate, e.outcome) for e in self.history if e.kind == "Gate" and e.gate and e.outcome]

    def phase_spans(self) -> list[tuple[Phase, dt.datetime, dt.datetime | None]]:
        """(phase, start, end) for every phase visited; the current phase has no end."""
        spans: list[tuple[Phase, dt.datetime, dt.datetime | None]] = []
        start: dt.datetime | None = None
        current = Phase.PLANNED
        for entry in self.history:
            if entry.kind != "Transition" or entry.to_phase is None:
                continue
            spans.append((current, start or self.history[0].at, entry.at))
            current, start = entry.to_phase, entry.at
        spans.append((current, start or (self.history[0].at if self.history else self.phase_since), None))
        return spans
