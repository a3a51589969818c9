"""Drive a whole wave through the core under a scenario: the loop every local adapter shares.

``run_wave`` evaluates members in the wave's deterministic order, performs the core's
actions through an :class:`Executor`, and moves the clock to the next instant anything can
change (a wake-up, a scripted event, a job finishing). On a :class:`SimulatedClock` a
wave's 20 months take a fraction of a second; the rehearsal's executor does real migration
work and advances the simulated clock by the real time it took.

:class:`ScriptedExecutor` fakes jobs and smoke checks from the scenario's faults and
durations; core tests use it, and the kopf e2e tests use the same fault semantics when they
play the Job controller, so both adapters reach the same phases and gate outcomes
(:func:`trace` / :class:`Trace`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from epj.golive.actions import Action, CreateMigrationJob, Decision, RunSmokeChecks
from epj.golive.clock import Clock, SimulatedClock
from epj.golive.machine import decide
from epj.golive.model import GoLiveState, MigrationObservation, Reconciliation, SmokeResult
from epj.golive.phases import TERMINAL, GateName, GateOutcome, JobState, MigrationPurpose, Phase
from epj.golive.scenario import Fault, Outcome, Scenario, outcome_of
from epj.golive.wave import dependency_status


class Executor(Protocol):
    """Performs the core's actions for a wave run and reports what came of them."""

    def perform(self, kommunenummer: str, action: Action, clock: Clock) -> None:
        """Carry out one action (start a job, run smoke checks, roll back, log an event)."""

    def migration(self, kommunenummer: str, job_name: str, now: dt.datetime) -> MigrationObservation | None:
        """The job's state as seen at ``now`` (None: not known)."""

    def smoke(self, kommunenummer: str, job_name: str, now: dt.datetime) -> SmokeResult | None:
        """The smoke-check result for ``job_name`` as seen at ``now`` (None: not finished)."""

    def next_event_after(self, now: dt.datetime) -> dt.datetime | None:
        """When something the executor runs will next change (a job finishing), if known."""


@dataclass
class _FakeJob:
    purpose: MigrationPurpose
    attempt: int
    started: dt.datetime
    done: dt.datetime
    fault: Fault


def scripted_migration(job_name: str, fault: Fault, finished: bool) -> MigrationObservation:
    """What a job with ``fault`` looks like: the mapping both adapters' fake Job controllers use."""
    if not finished or fault == Fault.NEVER_FINISHES:
        return MigrationObservation(job_name=job_name, state=JobState.RUNNING)
    counts = {"read": 1000, "migrated": 960, "quarantined": 40, "unaccounted": 0}
    if fault == Fault.TRUNCATED_EXTRACT:
        rec = Reconciliation(
            complete=False,
            counts={**counts, "unaccounted": 25},
            message="EXTRACT_INCOMPLETE: profil/JOURNAL.csv manifest 1025, read 1000",
        )
        return MigrationObservation(job_name=job_name, state=JobState.FAILED, reconciliation=rec)
    if fault == Fault.JOB_FAILED:
        return MigrationObservation(job_name=job_name, state=JobState.FAILED, message="job process failed")
    if fault == Fault.RECONCILIATION_INCOMPLETE:
        rec = Reconciliation(complete=False, counts={**counts, "unaccounted": 3}, message="3 records unaccounted for")
        return MigrationObservation(job_name=job_name, state=JobState.SUCCEEDED, reconciliation=rec)
    return MigrationObservation(
        job_name=job_name, state=JobState.SUCCEEDED, reconciliation=Reconciliation(complete=True, counts=counts)
    )


def scripted_smoke(job_name: str, fault: Fault) -> SmokeResult | None:
    if fault == Fault.NEVER_FINISHES:
        return None
    if fault == Fault.FAILED:
        return SmokeResult(job_name=job_name, passed=False, reason="login and medication-list probes failed")
    return SmokeResult(job_name=job_name, passed=True, reason="login, patient list and medication list respond")


class ScriptedExecutor:
    """Fake jobs and smoke checks that finish after the scenario's durations with the scenario's faults."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.jobs: dict[str, _FakeJob] = {}
        self.smokes: dict[str, tuple[dt.datetime, Fault]] = {}
        self.performed: list[tuple[dt.datetime, str, Action]] = []

    def perform(self, kommunenummer: str, action: Action, clock: Clock) -> None:
        now = clock.now()
        self.performed.append((now, kommunenummer, action))
        faults = self.scenario.faults(kommunenummer)
        if isinstance(action, CreateMigrationJob) and action.job_name not in self.jobs:
            duration = self.scenario.job_duration(kommunenummer, str(action.purpose))
            fault = faults.for_attempt(action.purpose, action.attempt)
            self.jobs[action.job_name] = _FakeJob(action.purpose, action.attempt, now, now + duration, fault)
        elif isinstance(action, RunSmokeChecks) and action.job_name not in self.smokes:
            attempt = self.jobs[action.job_name].attempt if action.job_name in self.jobs else 1
            done = now + self.scenario.job_duration(kommunenummer, "smoke")
            self.smokes[action.job_name] = (done, faults.for_attempt("smoke", attempt))

    def migration(self, kommunenummer: str, job_name: str, now: dt.datetime) -> MigrationObservation | None:
        job = self.jobs.get(job_name)
        if job is None:
            return None
        return scripted_migration(job_name, job.fault, now >= job.done)

    def smoke(self, kommunenummer: str, job_name: str, now: dt.datetime) -> SmokeResult | None:
        entry = self.smokes.get(job_name)
        if entry is None or now < entry[0]:
            return None
        return scripted_smoke(job_name, entry[1])

    def next_event_after(self, now: dt.datetime) -> dt.datetime | None:
        times = [j.done for j in self.jobs.values() if j.done > now and j.fault != Fault.NEVER_FINISHES]
        times += [done for done, fault in self.smokes.values() if done > now and fault != Fault.NEVER_FINISHES]
        return min(times) if times else None


@dataclass(frozen=True)
class Trace:
    """What must be equal when two adapters run the same scenario."""

    phases: tuple[Phase, ...]
    gates: tuple[tuple[GateName, GateOutcome], ...]
    outcome: Outcome


def trace(state: GoLiveState) -> Trace:
    return Trace(tuple(state.phase_trail()), tuple(state.gate_trail()), outcome_of(state.phase))


@dataclass
class WaveRun:
    """The result of :func:`run_wave`: final states per tenant, in processing order."""

    scenario: Scenario
    order: list[str]
    states: dict[str, GoLiveState]
    steps: int = 0
    decisions: list[tuple[dt.datetime, str, Decision]] = field(default_factory=list)

    def trace(self, kommunenummer: str) -> Trace:
        return trace(self.states[kommunenummer])

    def outcomes(self) -> dict[str, Outcome]:
        return {k: outcome_of(self.states[k].phase) for k in self.order}


OnDecision = Callable[[str, Decision, dt.datetime], None]


def _significant(decision: Decision) -> bool:
    return decision.transition is not None or any(a.kind != "EmitEvent" for a in decision.actions)


def run_wave(
    scenario: Scenario,
    executor: Executor | None = None,
    *,
    clock: Clock | None = None,
    states: dict[str, GoLiveState] | None = None,
    on_decision: OnDecision | None = None,
    keep_decisions: bool = False,
    max_steps: int = 100_000,
    sleep: Callable[[float], None] = time.sleep,
) -> WaveRun:
    """Play ``scenario``'s wave through the core until nothing can change before ``scenario.until_at``.

    ``clock`` defaults to a :class:`SimulatedClock` at ``scenario.start_at``; with any other
    clock the loop sleeps (real time) until the next instant. ``on_decision`` sees every
    decision (the rehearsal persists state and shows progress there).
    """
    executor = executor or ScriptedExecutor(scenario)
    clock = clock or SimulatedClock(scenario.start_at)
    run = WaveRun(scenario, scenario.wave.order(), dict(states or {}))
    until = scenario.until_at
    while True:
        progressed = False
        for tenant in run.order:
            while True:
                now = clock.now()
                state = run.states.get(tenant)
                if state is not None and state.phase in TERMINAL:
                    break
                spec = scenario.spec_for(tenant, now)
                job = state.migration if state is not None else None
                smoke_for = state.smoke_requested_for if state is not None else None
                observations = scenario.observations(
                    tenant,
                    now,
                    migration=executor.migration(tenant, job.job_name, now) if job else None,
                    smoke=executor.smoke(tenant, smoke_for, now) if smoke_for else None,
                    dependencies={
                        **scenario.wave.gp_office_statuses(tenant),
                        **{d: dependency_status(run.states[d]) for d in spec.depends_on if d in run.states},
                    },
                )
                decision = decide(spec, state, observations, now)
                run.states[tenant] = decision.state
                run.steps += 1
                if keep_decisions:
                    run.decisions.append((now, tenant, decision))
                if on_decision is not None:
                    on_decision(tenant, decision, now)
                for action in decision.actions:
                    executor.perform(tenant, action, clock)
                if run.steps >= max_steps:
                    raise RuntimeError(f"wave {scenario.wave.name}: no end after {max_steps} decisions")
                if not _significant(decision):
                    break
                progressed = True
        if progressed:
            continue
        now = clock.now()
        candidates: list[dt.datetime | None] = [s.next_wake_at for s in run.states.values()]
        candidates += [scenario.next_event_after(now), executor.next_event_after(now)]
        future = [c for c in candidates if c is not None and c > now]
        if not future or min(future) > until:
            return run
        target = min(future)
        if isinstance(clock, SimulatedClock):
            clock.advance_to(target)
        else:
            sleep(max(0.0, (target - now).total_seconds()))
