"""One rehearsal: the go-live core driven locally through a scenario, with real migrations, timed.

``rehearse(options)`` prepares the scenario (restricted to the requested tenants), runs
:func:`epj.golive.run_wave` with a :class:`~epj.rehearsal.local.LocalExecutor`, keeps the
state of every tenant in ``<report>/rehearsal-state.json`` after each decision, measures
each cutover's downtime in real seconds (legacy frozen → Live, or → RolledBack), and
writes the report (``rehearsal.json``, ``rehearsal.md``, ``downtime.png``).
No second state machine: every phase, gate and hold comes from :func:`epj.golive.decide`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epj.golive import (
    Clock,
    CreateMigrationJob,
    Decision,
    GoLiveState,
    Member,
    Phase,
    Scenario,
    SimulatedClock,
    SystemClock,
    load_scenario,
    run_wave,
)
from epj.rehearsal.local import REHEARSAL_RUN_PREFIX, Display, ExtractSource, LocalExecutor, SilentDisplay

#: A real-clock rehearsal must end within this; months of waiting are what the simulated clock is for.
REAL_CLOCK_HORIZON = dt.timedelta(hours=48)


@dataclass
class Options:
    """What ``epj rehearse`` was asked to do."""

    report_dir: Path
    tenants: list[str] = field(default_factory=list)
    extract: Path | None = None
    target: str | None = None
    clock: str = "simulated"
    scenario: str = "default"
    scale: float = 0.05
    seed: int = 0
    synthetic_ids: bool | None = None


@dataclass
class CutoverTiming:
    """Real seconds of one cutover attempt, from the legacy freeze to Live or RolledBack."""

    kommunenummer: str
    #: The final migration Job; empty until it is created (on a night that waits for ``extract-delivered``
    #: the Job comes after the legacy freeze, and its wait is part of the downtime).
    job_name: str
    started: float
    ended: float | None = None
    end_phase: Phase | None = None
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.ended or time.perf_counter()) - self.started


@dataclass
class RehearsalResult:
    scenario: Scenario
    options: Options
    states: dict[str, GoLiveState]
    executor: LocalExecutor
    cutovers: list[CutoverTiming]
    started_at: dt.datetime
    wall_seconds: float
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def all_live(self) -> bool:
        return all(s.serving_since is not None and s.phase != Phase.ROLLED_BACK for s in self.states.values())


def prepare_scenario(options: Options) -> Scenario:
    """The scenario to play, restricted to ``options.tenants`` when given (each must be a known tenant)."""
    scenario = load_scenario(options.scenario)
    if not options.tenants:
        return scenario
    from epj.tenants import load_tenants

    known = {t.kommunenummer for t in load_tenants().tenants}
    unknown = [t for t in options.tenants if t not in known]
    if unknown:
        raise ValueError(f"--tenant {', '.join(unknown)}: not a tenant (see tenants/*.yaml)")
    wanted = list(dict.fromkeys(options.tenants))
    declared = {m.kommunenummer: m for m in scenario.wave.members}
    members = [
        Member(
            kommunenummer=k,
            depends_on=tuple(d for d in declared[k].depends_on if d in wanted) if k in declared else (),
        )
        for k in wanted
    ]
    data = scenario.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["wave"]["members"] = [m.model_dump(by_alias=True, mode="json", exclude_none=True) for m in members]
    data["tenants"] = {k: v for k, v in data.get("tenants", {}).items() if k in wanted}
    data["expect"] = {k: v for k, v in data.get("expect", {}).items() if k in wanted}
    return Scenario.model_validate(data)


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)


def rehearse(options: Options, display: Display | None = None) -> RehearsalResult:
    """Run the rehearsal described by ``options`` and write its report; see the module docstring."""
    from epj.rehearsal.report import write_reports

    display = display or SilentDisplay()
    scenario = prepare_scenario(options)
    if options.clock == "real":
        horizon = dt.datetime.now(dt.UTC) + REAL_CLOCK_HORIZON
        if scenario.until_at > horizon:
            raise ValueError(
                f"--clock real waits in real time, but scenario {scenario.name} runs until "
                f"{scenario.until_at.isoformat()} (go-live {scenario.wave.go_live_date}); use --clock simulated, "
                f"or a scenario with absolute dates ending within {REAL_CLOCK_HORIZON.total_seconds() / 3600:.0f} h"
            )
    if options.target is not None and options.target.startswith(("postgresql://", "postgres://")):
        check_postgres_target(options.target, [m.kommunenummer for m in scenario.wave.members])
    report_dir = options.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    work_dir = report_dir / "work"
    work_dir.mkdir(exist_ok=True)
    several = len(scenario.wave.members) > 1
    extracts = ExtractSource(work_dir, extract=options.extract, scale=options.scale, seed=options.seed, display=display)
    synthetic = options.synthetic_ids if options.synthetic_ids is not None else extracts.generated_mode
    target = options.target or f"ndjson:{(report_dir / 'target').absolute()}"
    executor = LocalExecutor(
        scenario,
        extracts,
        target=target,
        work_dir=work_dir,
        report_dir=report_dir,
        synthetic_ids=synthetic,
        display=display,
        several=several,
    )
    # Check every extract (and generate) before the wave starts: a missing folder is a usage error, not a hold.
    for member in scenario.wave.members:
        extracts.source(member.kommunenummer, several=several)

    clock: Clock = SimulatedClock(scenario.start_at) if options.clock == "simulated" else SystemClock()
    cutovers: list[CutoverTiming] = []
    open_cutover: dict[str, CutoverTiming] = {}
    states: dict[str, GoLiveState] = {}
    state_file = report_dir / "rehearsal-state.json"

    def on_decision(tenant: str, decision: Decision, now: dt.datetime) -> None:
        states[tenant] = decision.state
        transition = decision.transition
        if transition is not None:
            if transition.to_phase == Phase.CUTOVER:
                timing = CutoverTiming(tenant, "", time.perf_counter())
                open_cutover[tenant] = timing
                cutovers.append(timing)
            elif transition.from_phase == Phase.CUTOVER and tenant in open_cutover:
                timing = open_cutover.pop(tenant)
                timing.ended, timing.end_phase = time.perf_counter(), transition.to_phase
                if transition.to_phase == Phase.LIVE:
                    executor.went_live(tenant, timing.job_name)
        night = open_cutover.get(tenant)
        created = [a.job_name for a in decision.actions if isinstance(a, CreateMigrationJob)]
        if night is not None and created and not night.job_name:
            night.job_name = created[0]
        _write_json_atomic(
            state_file,
            {
                "scenario": scenario.name,
                "clock": options.clock,
                "now": now.isoformat(),
                "tenants": {k: s.to_status() for k, s in states.items()},
                "jobs": {name: job.to_dict() for name, job in executor.jobs.items()},
            },
        )

    started_at = dt.datetime.now(dt.UTC)
    wall = time.perf_counter()
    run = run_wave(scenario, executor, clock=clock, on_decision=on_decision)
    wall_seconds = time.perf_counter() - wall
    for timing in cutovers:
        _breakdown(timing, executor)
    result = RehearsalResult(scenario, options, run.states, executor, cutovers, started_at, wall_seconds)
    result.report = write_reports(result)
    return result


def check_postgres_target(target: str, tenants: list[str]) -> None:
    """Before any work: the database answers, and no rehearsed tenant's store in it has gone live.

    A rehearsal that would only find out at Cutover (after simulating months) wastes the night; one
    pointed at a live tenant's store must not even start. Raises ValueError with what to do.
    """
    import psycopg

    from epj.migration.store import last_published, read_seal, stamp
    from epj.migration.targets import check_dsn, dsn_host, tenant_schema

    check_dsn(target)
    try:
        with psycopg.connect(target, connect_timeout=10) as conn:
            sealed = [seal for k in tenants if (seal := read_seal(conn, tenant_schema(k))) is not None]
            # a store holding a migration that no rehearsal made is a tenant's real store before go-live:
            # the rehearsal would replace its rows with synthetic ones and then seal them as live
            real = [
                (k, run)
                for k in tenants
                if (run := last_published(conn, tenant_schema(k))) is not None
                and not run.run_id.startswith(REHEARSAL_RUN_PREFIX)
            ]
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(
            f"--target {dsn_host(target)}: cannot connect ({first}); create the database or fix the URL "
            "(a password with @ must be percent-encoded as %40)"
        ) from None
    if sealed:
        raise ValueError(
            "; ".join(s.describe() for s in sealed)
            + ". Its store in this database is sealed and a rehearsal cannot migrate into it: "
            "rehearse into another database (--target) or into NDJSON (the default)"
        )
    if real:
        raise ValueError(
            "; ".join(
                f"kommune {k}'s store in this database holds the rows of migration run {run.run_id} "
                f"(loaded at {stamp(run.finished_at)}), which no rehearsal made"
                for k, run in real
            )
            + ". A rehearsal would replace them with synthetic data and seal the store as live: "
            "rehearse into another database (--target) or into NDJSON (the default)"
        )


def _breakdown(timing: CutoverTiming, executor: LocalExecutor) -> None:
    """Split a cutover's downtime into its steps (final extract, migration, smoke checks, the rest)."""
    name = timing.job_name
    job = executor.jobs.get(name)
    parts: dict[str, float] = {}
    if job is not None:
        parts.update(job.seconds)
    smoke = executor.smokes.get(name)
    if smoke is not None:
        parts["smoke checks"] = smoke.seconds
    parts["orchestration"] = max(timing.seconds - sum(parts.values()), 0.0)
    timing.breakdown = parts
