"""The shared scenario format: one YAML file drives the rehearsal, the kopf e2e tests and core tests alike.

A scenario scripts what the world does during a wave — training completion over time,
approvals (including rejections), injected alerts, faults in migrations and smoke checks,
operator levers (pause, abort, withdraw, resume) — and what outcome to expect. Times are
written relative to the go-live instant (``-2d``, ``+21d``, ``-6h``, ``-19mo``) or as
ISO 8601 timestamps. Example (``scenarios/default.yaml`` is the built-in one)::

    name: default
    wave:                              # a RolloutWave spec (camelCase, as in the CRD)
      name: wave-2027-q3
      goLiveDate: "2027-09-06"
      productionWindow: {label: 2027-Q3, start: "2027-08-16", end: "2027-10-29"}
      members: [{kommunenummer: "5035"}, {kommunenummer: "5036", dependsOn: ["5035"]}]
    start: -19mo                       # simulated clock start (default -19mo)
    until: +35d                        # stop here at the latest (default hypercare end + 14 days)
    defaults:                          # every member, unless overridden under tenants
      training: [{at: -60d, share: 0.5}, {at: -7d, share: 0.93}]
      approvals:
        - {gate: go-no-go, by: project-lead, at: -2d, decision: approve, reason: Rehearsal reconciled}
        - {gate: hypercare-exit, by: command-centre-lead, at: +20d, decision: approve, reason: Calm}
    tenants:
      "5036":
        faults: {cutover: [truncated-extract, ok], smoke: ok}
        alerts: [{name: MedicationAdministrationDown, severity: critical, from: -1d, until: -20h}]
        levers: [{at: +1d, resume: {by: project-lead, reason: Extract re-delivered}}]
    expect:
      "5035": {outcome: stable, phases: [Planned, Preparing, ...], gates: [[go-no-go, Passed], ...]}

Faults (per attempt: a list's n-th item applies to attempt n, the last item repeats):
``ok``; ``truncated-extract`` (the extract loses rows, the manifest disagrees, the migration
reports EXTRACT_INCOMPLETE); ``job-failed`` (the job process fails); ``reconciliation-incomplete``
(the job succeeds but something is unaccounted for); ``never-finishes`` (no result: the gate times
out). Smoke faults: ``ok``, ``failed``, ``never-finishes``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from epj.golive.model import (
    Alert,
    Approval,
    CoreModel,
    DependencyStatus,
    GoLiveSpec,
    MigrationObservation,
    Observations,
    ResumeRequest,
    SmokeResult,
)
from epj.golive.phases import (
    RESUME_ROLES,
    ApprovalDecision,
    ApproverRole,
    GateName,
    GateOutcome,
    MigrationPurpose,
    Phase,
)
from epj.golive.schedule import Schedule
from epj.golive.wave import WaveSpec

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class Fault(StrEnum):
    OK = "ok"
    TRUNCATED_EXTRACT = "truncated-extract"
    JOB_FAILED = "job-failed"
    RECONCILIATION_INCOMPLETE = "reconciliation-incomplete"
    FAILED = "failed"
    NEVER_FINISHES = "never-finishes"


class Outcome(StrEnum):
    """How a tenant's rehearsal or wave run ended (the rehearsal report's ``outcome``)."""

    STABLE = "stable"
    LIVE = "live"
    ROLLED_BACK = "rolled_back"
    HELD = "held"
    ABORTED = "aborted"
    NOT_LIVE = "not_live"


def outcome_of(phase: Phase) -> Outcome:
    """Map a final phase to a report outcome (Live and Hypercare are 'live'; OnHold is 'held')."""
    if phase == Phase.STABLE:
        return Outcome.STABLE
    if phase in (Phase.LIVE, Phase.HYPERCARE):
        return Outcome.LIVE
    return {
        Phase.ROLLED_BACK: Outcome.ROLLED_BACK,
        Phase.ON_HOLD: Outcome.HELD,
        Phase.ABORTED: Outcome.ABORTED,
    }.get(phase, Outcome.NOT_LIVE)


def _faults(value: Any) -> tuple[Fault, ...]:
    if value is None:
        return (Fault.OK,)
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(Fault(str(item)) for item in items) or (Fault.OK,)


FaultList = Annotated[tuple[Fault, ...], BeforeValidator(_faults)]


class Faults(CoreModel):
    """Faults per attempt of the rehearsal migration, the cutover migration and the smoke checks."""

    rehearsal: FaultList = (Fault.OK,)
    cutover: FaultList = (Fault.OK,)
    smoke: FaultList = (Fault.OK,)

    def for_attempt(self, kind: MigrationPurpose | str, attempt: int) -> Fault:
        """The fault of attempt ``attempt`` (1-based) of ``kind`` (rehearsal, cutover or smoke)."""
        faults: tuple[Fault, ...] = getattr(self, str(kind))
        return faults[min(attempt, len(faults)) - 1]


class TrainingPoint(CoreModel):
    at: str
    share: float = Field(ge=0, le=1)


class ScriptedApproval(CoreModel):
    gate: GateName
    by: ApproverRole
    at: str
    decision: ApprovalDecision
    reason: str = Field(min_length=3)


class ScriptedAlert(CoreModel):
    name: str
    severity: str = "critical"
    from_: str = Field(alias="from")
    until: str | None = None


class ScriptedResume(CoreModel):
    by: ApproverRole
    reason: str = Field(min_length=3)

    @field_validator("by")
    @classmethod
    def _resumes(cls, by: ApproverRole) -> ApproverRole:
        """Only a role the operator's webhook lets resume (both adapters must play the same night)."""
        if by not in RESUME_ROLES:
            may = ", ".join(sorted(r.value for r in RESUME_ROLES))
            raise ValueError(f"{by} does not resume a go-live; roles that do: {may}")
        return by


class Lever(CoreModel):
    """A change a person makes to the GoLive spec at ``at`` (unset fields keep their value)."""

    at: str
    paused: bool | None = None
    aborted: bool | None = None
    withdraw: bool | None = None
    resume: ScriptedResume | None = None
    #: Re-plan: the member's go-live date from now on (e.g. after a rolled-back night).
    go_live_date: dt.date | None = None


class TenantScript(CoreModel):
    training: tuple[TrainingPoint, ...] | None = None
    approvals: tuple[ScriptedApproval, ...] | None = None
    alerts: tuple[ScriptedAlert, ...] | None = None
    faults: Faults | None = None
    levers: tuple[Lever, ...] | None = None
    #: Simulated duration of jobs and smoke checks for adapters that do not do real work (kopf e2e, core tests).
    job_minutes: dict[str, int] | None = None

    def merged(self, base: TenantScript) -> TenantScript:
        """This script with unset keys taken from ``base``."""
        return TenantScript.model_validate({**base.model_dump(exclude_none=True), **self.model_dump(exclude_none=True)})


class Expectation(CoreModel):
    """What a scenario expects of one tenant at the end; unset fields are not checked."""

    outcome: Outcome | None = None
    phases: tuple[Phase, ...] | None = None
    gates: tuple[tuple[GateName, GateOutcome], ...] | None = None
    reason_contains: str | None = None

    def mismatches(
        self,
        phases: list[Phase] | tuple[Phase, ...],
        gates: list[tuple[GateName, GateOutcome]] | tuple[tuple[GateName, GateOutcome], ...],
        final_phase: Phase,
        phase_reason: str,
    ) -> list[str]:
        """Differences between this expectation and what an adapter observed (empty: as expected)."""
        problems = []
        if self.outcome is not None and outcome_of(final_phase) != self.outcome:
            problems.append(f"outcome {outcome_of(final_phase)} != expected {self.outcome}")
        if self.phases is not None and tuple(phases) != self.phases:
            problems.append(f"phases {[str(p) for p in phases]} != expected {[str(p) for p in self.phases]}")
        if self.gates is not None and tuple(gates) != self.gates:
            problems.append(f"gates {[(str(g), str(o)) for g, o in gates]} != expected")
        if self.reason_contains is not None and self.reason_contains not in phase_reason:
            problems.append(f"phase reason {phase_reason!r} lacks {self.reason_contains!r}")
        return problems


class Scenario(CoreModel):
    """A parsed scenario (see the module docstring for the YAML shape)."""

    name: str
    description: str = ""
    wave: WaveSpec
    start: str = "-19mo"
    until: str | None = None
    defaults: TenantScript = Field(default_factory=TenantScript)
    tenants: dict[str, TenantScript] = Field(default_factory=dict)
    expect: dict[str, Expectation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_tenants(self) -> Scenario:
        members = {m.kommunenummer for m in self.wave.members}
        unknown = (set(self.tenants) | set(self.expect)) - members
        if unknown:
            raise ValueError(f"scenario {self.name}: tenants {sorted(unknown)} are not wave members")
        for number in members:
            script = self.script(number)
            times = [p.at for p in script.training or ()] + [a.at for a in script.approvals or ()]
            times += [lever.at for lever in script.levers or ()]
            times += [t for a in script.alerts or () for t in (a.from_, a.until) if t]
            for text in times:
                self.at(text)  # fail early on unreadable times
        return self

    # ---------------------------------------------------------------- time

    @property
    def schedule(self) -> Schedule:
        return Schedule.for_date(self.wave.go_live_date)

    def at(self, text: str) -> dt.datetime:
        return self.schedule.resolve(text)

    @property
    def start_at(self) -> dt.datetime:
        return self.at(self.start)

    @property
    def until_at(self) -> dt.datetime:
        if self.until is not None:
            return self.at(self.until)
        return self.schedule.go_live_at + dt.timedelta(days=self.wave.hypercare_days + 14)

    # ---------------------------------------------------------------- per tenant

    def script(self, kommunenummer: str) -> TenantScript:
        own = self.tenants.get(kommunenummer)
        return own.merged(self.defaults) if own is not None else self.defaults

    def faults(self, kommunenummer: str) -> Faults:
        return self.script(kommunenummer).faults or Faults()

    def job_duration(self, kommunenummer: str, kind: str) -> dt.timedelta:
        """Simulated duration of a job or smoke check (``rehearsal``, ``cutover``, ``smoke``) for fake runners."""
        defaults = {"rehearsal": 90, "cutover": 180, "smoke": 20}
        minutes = (self.script(kommunenummer).job_minutes or {}).get(kind, defaults.get(kind, 30))
        return dt.timedelta(minutes=minutes)

    def approvals(self, kommunenummer: str, now: dt.datetime) -> tuple[Approval, ...]:
        """Approvals recorded by ``now`` (people write them into the spec at their time)."""
        result = []
        for item in self.script(kommunenummer).approvals or ():
            at = self.at(item.at)
            if at <= now:
                result.append(Approval(gate=item.gate, by=item.by, at=at, decision=item.decision, reason=item.reason))
        return tuple(sorted(result, key=lambda a: a.at))

    def levers(self, kommunenummer: str, now: dt.datetime) -> dict[str, Any]:
        """The spec levers as they stand at ``now``: paused, aborted, withdraw and the latest resume."""
        state: dict[str, Any] = {"paused": False, "aborted": False, "withdraw": False, "resume": None}
        replanned: dt.date | None = None
        for lever in sorted(self.script(kommunenummer).levers or (), key=lambda item: self.at(item.at)):
            at = self.at(lever.at)
            if at > now:
                break
            for key in ("paused", "aborted", "withdraw"):
                value = getattr(lever, key)
                if value is not None:
                    state[key] = value
            if lever.resume is not None:
                state["resume"] = ResumeRequest(by=lever.resume.by, at=at, reason=lever.resume.reason)
            if lever.go_live_date is not None:
                replanned = lever.go_live_date
        if replanned is not None:
            state["go_live_date"] = replanned
        return state

    def spec_for(self, kommunenummer: str, now: dt.datetime) -> GoLiveSpec:
        """The member's GoLive spec as people will have written it by ``now``."""
        levers = self.levers(kommunenummer, now)
        replanned = levers.pop("go_live_date", None)
        spec = self.wave.golive_spec(kommunenummer, approvals=self.approvals(kommunenummer, now), **levers)
        return spec if replanned is None else spec.model_copy(update={"go_live_date": replanned})

    def training(self, kommunenummer: str, now: dt.datetime) -> float | None:
        """Training completion share at ``now`` (a step function; None before the first report)."""
        share = None
        for point in sorted(self.script(kommunenummer).training or (), key=lambda p: self.at(p.at)):
            if self.at(point.at) <= now:
                share = point.share
        return share

    def alerts(self, kommunenummer: str, now: dt.datetime) -> tuple[Alert, ...]:
        """Alerts injected for the tenant and firing at ``now`` (the rehearsal's Alertmanager)."""
        firing = []
        for alert in self.script(kommunenummer).alerts or ():
            start = self.at(alert.from_)
            end = self.at(alert.until) if alert.until else None
            if start <= now and (end is None or now < end):
                firing.append(Alert(name=alert.name, severity=alert.severity))
        return tuple(firing)

    def observations(
        self,
        kommunenummer: str,
        now: dt.datetime,
        *,
        migration: MigrationObservation | None = None,
        smoke: SmokeResult | None = None,
        dependencies: Mapping[str, DependencyStatus] | None = None,
    ) -> Observations:
        """Scripted observations (training, alerts) plus what the adapter itself saw (jobs, smoke, dependencies)."""
        return Observations(
            training_completion=self.training(kommunenummer, now),
            alerts=self.alerts(kommunenummer, now),
            migration=migration,
            smoke=smoke,
            dependencies=dependencies or {},
        )

    def event_times(self, kommunenummer: str) -> list[dt.datetime]:
        """Every instant at which this tenant's scripted spec or observations change."""
        script = self.script(kommunenummer)
        times = [self.at(p.at) for p in script.training or ()]
        times += [self.at(a.at) for a in script.approvals or ()]
        times += [self.at(lever.at) for lever in script.levers or ()]
        for alert in script.alerts or ():
            times.append(self.at(alert.from_))
            if alert.until:
                times.append(self.at(alert.until))
        return sorted(times)

    def next_event_after(self, now: dt.datetime) -> dt.datetime | None:
        """The first scripted change after ``now`` for any member."""
        later = [t for m in self.wave.members for t in self.event_times(m.kommunenummer) if t > now]
        return min(later) if later else None


def parse_scenario(data: Mapping[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Validate a scenario mapping; errors name the source and the field."""
    from pydantic import ValidationError

    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"] for e in error.errors()
        )
        raise ValueError(f"{source}: invalid scenario: {problems}") from None


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario from a YAML file, or a built-in one by name (``default``, ``faults``, ...)."""
    import yaml

    path = Path(path_or_name)
    if not path.is_file():
        builtin = SCENARIO_DIR / f"{path_or_name}.yaml"
        if not builtin.is_file():
            names = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
            raise FileNotFoundError(f"scenario {path_or_name!r} not found (a YAML file, or one of: {names})")
        path = builtin
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a scenario must be a YAML mapping")
    return parse_scenario(data, source=str(path))


def builtin_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
