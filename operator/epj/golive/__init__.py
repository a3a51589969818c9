"""Go-live domain core: phases, gates, transitions, the schedule and the clock. Imports no kopf.

Adapters (the kopf operator in ``epj.operator``, ``epj rehearse`` in ``epj.rehearsal``) use only
the names exported here. The contract, in one paragraph:

    decision = decide(spec, state, observations, now)

``spec`` (:class:`GoLiveSpec`) is what people and the wave declare — build it from a RolloutWave
with ``WaveSpec.model_validate(wave_body["spec"]).golive_spec(kommunenummer, approvals=..., paused=...)``
or from a GoLive body with ``GoLiveSpec.model_validate(golive_body["spec"])`` (camelCase accepted).
``state`` (:class:`GoLiveState`, None the first time) is the GoLive status:
``GoLiveState.from_status(body["status"])`` / ``decision.state.to_status()``.
``observations`` (:class:`Observations`) is what the adapter sees now: the current migration job
(``MigrationObservation`` for ``state.migration.job_name``), smoke-check result
(``SmokeResult`` for ``state.smoke_requested_for``), training share, firing alerts (None when the
alert source is unreachable) and direct dependencies' ``dependency_status(their_state)``.
``now`` comes from the adapter's :class:`Clock`.

The :class:`Decision` holds the new ``state`` to persist, the ``transition`` taken (if any; call
``decide`` again at once, one step per call), ``actions`` to perform after persisting
(:class:`CreateMigrationJob` — idempotent by its deterministic ``job_name``; :class:`RunSmokeChecks`;
:class:`RollBack` — with ``stop_job`` when the night ended while the final migration still ran: stop it
before it publishes; :class:`EmitEvent`), and ``wake_at`` — the latest time to look again.
``state.results`` holds every migration job's final result by name: an adapter never runs a job
whose result is recorded there again.
Conditions (Ready, Progressing, Blocked) and ``next_action`` are in ``state``; an adapter adds
``Stalled`` with :func:`set_condition`.

Scenarios (:func:`load_scenario`, YAML in ``scenarios/``) script training, approvals, alerts,
faults and levers over time; :func:`run_wave` plays one through the core with an
:class:`Executor` (:class:`ScriptedExecutor` fakes jobs), and :func:`trace` gives the phases and
gate outcomes two adapters must agree on (``tests/rehearsal/test_rehearse.py`` plays ``shared-wave`` through
``epj rehearse``; ``tests/rehearsal/test_shared_scenario_operator.py`` through the kopf operator on kmock).

Adapters: persist ``decision.state`` BEFORE performing ``decision.actions`` (a crash in between then
repeats idempotent actions instead of losing a transition); fill ``observed_generation`` yourself.
Approval and resume times (``at``) must come from the same clock the adapter passes as ``now``.
"""

from __future__ import annotations

from epj.golive.actions import (
    Action,
    CreateMigrationJob,
    Decision,
    EmitEvent,
    RollBack,
    RunSmokeChecks,
    Transition,
)
from epj.golive.alerts import AlertSource, NoAlerts, ScenarioAlerts, alerts_from_alertmanager
from epj.golive.clock import Clock, SimulatedClock, SystemClock, ensure_utc
from epj.golive.machine import EXIT_GATES, InvalidTransition, decide, job_name, set_condition
from epj.golive.model import (
    Alert,
    Approval,
    Condition,
    DependencyStatus,
    GateConfig,
    GateRecord,
    GoLiveSpec,
    GoLiveState,
    HistoryEntry,
    MigrationObservation,
    MigrationRecord,
    Observations,
    Reconciliation,
    ResumeRequest,
    SmokeResult,
)
from epj.golive.phases import (
    ALLOWED_TRANSITIONS,
    HELD,
    MAIN_LINE,
    PRE_LIVE,
    SERVING,
    TERMINAL,
    UNSAFE,
    ApprovalDecision,
    ApproverRole,
    ConditionType,
    GateName,
    GateOutcome,
    JobState,
    MigrationPurpose,
    Phase,
    Reason,
    is_allowed,
)
from epj.golive.scenario import Fault, Outcome, Scenario, builtin_scenarios, load_scenario, outcome_of, parse_scenario
from epj.golive.schedule import Offsets, Schedule
from epj.golive.sim import (
    Executor,
    ScriptedExecutor,
    Trace,
    WaveRun,
    run_wave,
    scripted_migration,
    scripted_smoke,
    trace,
)
from epj.golive.wave import (
    Member,
    ProductionWindow,
    WaveSpec,
    blocked_by,
    dependency_status,
    processing_order,
    tenants_by_phase,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "EXIT_GATES",
    "HELD",
    "MAIN_LINE",
    "PRE_LIVE",
    "SERVING",
    "TERMINAL",
    "UNSAFE",
    "Action",
    "Alert",
    "AlertSource",
    "Approval",
    "ApprovalDecision",
    "ApproverRole",
    "Clock",
    "Condition",
    "ConditionType",
    "CreateMigrationJob",
    "Decision",
    "DependencyStatus",
    "EmitEvent",
    "Executor",
    "Fault",
    "GateConfig",
    "GateName",
    "GateOutcome",
    "GateRecord",
    "GoLiveSpec",
    "GoLiveState",
    "HistoryEntry",
    "InvalidTransition",
    "JobState",
    "Member",
    "MigrationObservation",
    "MigrationPurpose",
    "MigrationRecord",
    "NoAlerts",
    "Observations",
    "Offsets",
    "Outcome",
    "Phase",
    "ProductionWindow",
    "Reason",
    "Reconciliation",
    "ResumeRequest",
    "RollBack",
    "RunSmokeChecks",
    "Scenario",
    "ScenarioAlerts",
    "Schedule",
    "ScriptedExecutor",
    "SimulatedClock",
    "SmokeResult",
    "SystemClock",
    "Trace",
    "Transition",
    "WaveRun",
    "WaveSpec",
    "alerts_from_alertmanager",
    "blocked_by",
    "builtin_scenarios",
    "decide",
    "dependency_status",
    "ensure_utc",
    "is_allowed",
    "job_name",
    "load_scenario",
    "outcome_of",
    "parse_scenario",
    "processing_order",
    "run_wave",
    "scripted_migration",
    "scripted_smoke",
    "set_condition",
    "tenants_by_phase",
    "trace",
]
