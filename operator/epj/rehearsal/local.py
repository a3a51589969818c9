"""The rehearsal's local executor: migration jobs and smoke checks run on this machine.

It plays the part the Kubernetes Job controller and the cluster play for the operator:
``CreateMigrationJob`` takes a frozen copy of the tenant's extract (the "final extract")
and runs ``epj.migration.run_migration`` on it (the rehearsal-phase job as a dry run,
the cutover job into the target); ``RunSmokeChecks`` checks that the target holds what
the reconciliation says was migrated. Real seconds are measured for every step and, on a
simulated clock, the clock advances by them, so the simulated cutover night lasts as long
as the real work did. Scenario faults (truncated extract, failed job, failed smoke checks,
a job that never finishes) are applied here, to real files where that is possible.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from epj.golive import (
    Action,
    Clock,
    CreateMigrationJob,
    EmitEvent,
    Fault,
    JobState,
    MigrationObservation,
    MigrationPurpose,
    Reconciliation,
    RollBack,
    RunSmokeChecks,
    Scenario,
    SimulatedClock,
    SmokeResult,
)

ProgressCallback = Callable[[int, int | None], None]

#: How a rehearsal names its migration runs in the store's ledger (a store whose published run lacks
#: it holds a real migration, which a rehearsal must not replace).
REHEARSAL_RUN_PREFIX = "rehearsal-"


class Display(Protocol):
    """Where the executor reports what it does (the CLI's live progress)."""

    def event(self, kommunenummer: str, event: EmitEvent, now: dt.datetime) -> None: ...

    def job_progress(self, kommunenummer: str, job_name: str) -> tuple[ProgressCallback, Callable[[], None]]: ...

    def note(self, message: str) -> None: ...


class SilentDisplay:
    """A display that shows nothing (library use and tests)."""

    def event(self, kommunenummer: str, event: EmitEvent, now: dt.datetime) -> None:
        return None

    def job_progress(self, kommunenummer: str, job_name: str) -> tuple[ProgressCallback, Callable[[], None]]:
        return (lambda done, total: None), (lambda: None)

    def note(self, message: str) -> None:
        return None


@dataclass
class JobRecord:
    """One local migration job: what ran, how it ended, and how long each step took (real seconds)."""

    job_name: str
    kommunenummer: str
    purpose: MigrationPurpose
    attempt: int
    fault: Fault
    started_at: dt.datetime
    state: JobState = JobState.PENDING
    report: dict[str, Any] | None = None
    reconciliation: Reconciliation | None = None
    message: str | None = None
    report_dir: str | None = None
    target: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobName": self.job_name,
            "kommunenummer": self.kommunenummer,
            "purpose": str(self.purpose),
            "attempt": self.attempt,
            "fault": str(self.fault),
            "startedAt": self.started_at.isoformat(),
            "state": str(self.state),
            "message": self.message,
            "reportDir": self.report_dir,
            "target": self.target,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "reconciliation": self.reconciliation.to_dict() if self.reconciliation else None,
        }


@dataclass
class SmokeRecord:
    job_name: str
    result: SmokeResult | None
    seconds: float
    at: dt.datetime


@dataclass
class RollbackRecord:
    kommunenummer: str
    at: dt.datetime
    reason: str


class ExtractSource:
    """Where each tenant's legacy data comes from: a given folder, or the project's own generator."""

    def __init__(
        self,
        work_dir: Path,
        *,
        extract: Path | None = None,
        scale: float = 0.05,
        seed: int = 0,
        display: Display | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.extract = extract
        self.scale = scale
        self.seed = seed
        self.display = display or SilentDisplay()
        self._sources: dict[str, Path] = {}
        self.generated: dict[str, dict[str, int]] = {}

    @property
    def generated_mode(self) -> bool:
        return self.extract is None

    def source(self, kommunenummer: str, *, several: bool) -> Path:
        """The tenant's extract folder (generated once on first use)."""
        if kommunenummer in self._sources:
            return self._sources[kommunenummer]
        if self.extract is not None:
            path = self._given(kommunenummer, several=several)
        else:
            from epj.migration.generate import generate_extract

            path = self.work_dir / f"legacy-{kommunenummer}"
            self.display.note(f"{kommunenummer}: generating a synthetic extract (scale {self.scale}, seed {self.seed})")
            summary = generate_extract(path, kommunenummer, scale=self.scale, seed=self.seed)
            self.generated[kommunenummer] = dict(summary.manifest_counts)
        self._sources[kommunenummer] = path
        return path

    def _given(self, kommunenummer: str, *, several: bool) -> Path:
        assert self.extract is not None
        if (self.extract / "UTTREKK.txt").is_file():
            if several:
                raise ValueError(
                    f"--extract {self.extract} is one extract, but several tenants are rehearsed; give a folder "
                    "holding one <kommunenr>-… subfolder per tenant"
                )
            return self.extract
        matches = sorted(p for p in self.extract.glob(f"{kommunenummer}*") if (p / "UTTREKK.txt").is_file())
        if not matches:
            raise ValueError(f"--extract {self.extract}: no UTTREKK.txt there nor in a {kommunenummer}-… subfolder")
        return matches[0]

    def snapshot(self, kommunenummer: str, destination: Path, *, several: bool) -> Path:
        """Freeze a copy of the tenant's extract for one job (faults then damage only the copy)."""
        source = self.source(kommunenummer, several=several)
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(source, destination)
        return destination


def core_reconciliation(report: dict[str, Any]) -> Reconciliation:
    """The core's summary of an ``epj.migration`` reconciliation report (SPEC §6)."""
    sources = report.get("sources", {})
    read = sum(s.get("read", 0) for s in sources.values())
    migrated = sum(s.get("migrated", 0) for s in sources.values())
    quarantined = sum(s.get("quarantined", 0) for s in sources.values())
    mismatch = report.get("manifest_mismatch") or {}
    missing = sum(max((m.get("manifest") or 0) - (m.get("read") or 0), 0) for m in mismatch.values())
    unaccounted = read - migrated - quarantined + missing
    message = None
    if report.get("error"):
        detail = ", ".join(f"{src} manifest {m.get('manifest')}, read {m.get('read')}" for src, m in mismatch.items())
        message = f"{report['error']}: {detail}" if detail else str(report["error"])
    counts = {"read": read, "migrated": migrated, "quarantined": quarantined, "unaccounted": unaccounted}
    return Reconciliation(complete=bool(report.get("complete")), counts=counts, message=message)


def _truncate(extract: Path) -> str:
    """Cut the extract short the way a broken transfer does: the last tenth of JOURNAL.csv (or the CGM file)."""
    from epj.migration.generate import truncate_extract

    journal = extract / "profil" / "JOURNAL.csv"
    if journal.is_file():
        lines = sum(1 for _ in journal.open("rb"))
        dropped = truncate_extract(extract, "JOURNAL", max(1, lines // 10))
        return f"profil/JOURNAL.csv lost its last {dropped} records"
    dropped = truncate_extract(extract, "cgm", 1)
    return f"cgm/helsestasjon.xml lost its last {dropped} <Barn>"


def target_for(target: str, kommunenummer: str) -> str:
    """Each tenant gets its own NDJSON folder (``ndjson:DIR/<kommunenr>``); PostgreSQL has a schema per tenant."""
    if target.startswith("ndjson:"):
        return f"ndjson:{Path(target.removeprefix('ndjson:')) / kommunenummer}"
    return target


def smoke_check_target(target: str, kommunenummer: str, expected: dict[str, int]) -> tuple[bool, str]:
    """Post-cutover smoke check: the target answers and holds exactly the resources the reconciliation reports."""
    found: dict[str, int] = {}
    if target.startswith("ndjson:"):
        folder = Path(target.removeprefix("ndjson:"))
        if not folder.is_dir():
            return False, f"target {folder} is missing"
        for path in folder.glob("*.ndjson"):
            with path.open("rb") as handle:
                found[path.stem] = sum(1 for _ in handle)
    else:
        import psycopg

        from epj.migration.targets import tenant_schema

        schema = tenant_schema(kommunenummer)
        from epj.migration.store import migrated_counts

        try:
            with psycopg.connect(target, connect_timeout=10) as conn:
                found = migrated_counts(conn, schema)
        except psycopg.Error as error:
            return False, f"database check failed: {type(error).__name__}"
    wrong = sorted(k for k in set(found) | set(expected) if found.get(k, 0) != expected.get(k, 0))
    if wrong:
        detail = ", ".join(f"{k} {found.get(k, 0)}≠{expected.get(k, 0)}" for k in wrong)
        return False, f"target disagrees with the reconciliation: {detail}"
    total = sum(found.values())
    return True, f"target answers with {total} resources of {len(found)} types, as reconciled"


class LocalExecutor:
    """Runs the core's actions on this machine (an :class:`epj.golive.Executor`)."""

    def __init__(
        self,
        scenario: Scenario,
        extracts: ExtractSource,
        *,
        target: str,
        work_dir: Path,
        report_dir: Path,
        synthetic_ids: bool,
        display: Display | None = None,
        several: bool = False,
    ) -> None:
        self.scenario = scenario
        self.extracts = extracts
        self.target = target
        self.work_dir = work_dir
        self.report_dir = report_dir
        self.synthetic_ids = synthetic_ids
        self.display = display or SilentDisplay()
        self.several = several
        self.jobs: dict[str, JobRecord] = {}
        self.smokes: dict[str, SmokeRecord] = {}
        self.rollbacks: list[RollbackRecord] = []
        self.events: list[tuple[dt.datetime, str, EmitEvent]] = []
        self.seals: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- Executor protocol

    def perform(self, kommunenummer: str, action: Action, clock: Clock) -> None:
        if isinstance(action, CreateMigrationJob):
            if action.job_name not in self.jobs:
                self._run_job(kommunenummer, action, clock)
        elif isinstance(action, RunSmokeChecks):
            if action.job_name not in self.smokes:
                self._smoke(kommunenummer, action, clock)
        elif isinstance(action, RollBack):
            # Locally there is no legacy system to reopen: record it; the target keeps the failed attempt
            # for inspection (an EXTRACT_INCOMPLETE run never touched it).
            self.rollbacks.append(RollbackRecord(kommunenummer, clock.now(), action.reason))
        else:
            self.events.append((clock.now(), kommunenummer, action))
            self.display.event(kommunenummer, action, clock.now())

    def migration(self, kommunenummer: str, job_name: str, now: dt.datetime) -> MigrationObservation | None:
        job = self.jobs.get(job_name)
        if job is None:
            return None
        return MigrationObservation(
            job_name=job_name, state=job.state, reconciliation=job.reconciliation, message=job.message
        )

    def smoke(self, kommunenummer: str, job_name: str, now: dt.datetime) -> SmokeResult | None:
        record = self.smokes.get(job_name)
        return record.result if record is not None else None

    def next_event_after(self, now: dt.datetime) -> dt.datetime | None:
        return None  # local work finishes inside perform()

    # ---------------------------------------------------------------- go-live

    def went_live(self, kommunenummer: str, job_name: str) -> None:
        """Cutover → Live: seal the tenant's store, as the operator's seal Job does in a cluster.

        Only a PostgreSQL target is a tenant store; an NDJSON folder is an export and has no seal. From
        now on every migration run into this store is refused (``TENANT_LIVE``), also a later rehearsal.
        """
        job = self.jobs.get(job_name)
        target = job.target if job is not None else None
        if target is None or not target.startswith(("postgresql://", "postgres://")):
            return
        import psycopg

        from epj.migration.store import seal_tenant

        try:
            seal, created = seal_tenant(
                target, kommunenummer, sealed_by=f"rehearsal go-live of {kommunenummer} (Cutover → Live)",
                notice=self.display.note,
            )  # fmt: skip
        except psycopg.Error as error:
            self.seals[kommunenummer] = {"error": type(error).__name__}
            self.display.note(f"{kommunenummer}: could not seal the store at go-live ({type(error).__name__})")
            return
        self.seals[kommunenummer] = {**seal.to_dict(), "created": created}
        self.display.note(f"{kommunenummer}: store sealed — {seal.describe()}")

    # ---------------------------------------------------------------- work

    def _advance(self, clock: Clock, seconds: float) -> None:
        if isinstance(clock, SimulatedClock):
            clock.advance(dt.timedelta(seconds=seconds))

    def _run_job(self, kommunenummer: str, action: CreateMigrationJob, clock: Clock) -> None:
        from epj.migration.pipeline import MigrationError, run_migration

        fault = self.scenario.faults(kommunenummer).for_attempt(action.purpose, action.attempt)
        job = JobRecord(
            action.job_name, kommunenummer, action.purpose, action.attempt, fault, clock.now(), JobState.RUNNING
        )
        self.jobs[action.job_name] = job
        if fault == Fault.NEVER_FINISHES:
            job.message = "scenario fault never-finishes: the job hangs"
            return
        started = time.perf_counter()
        job_dir = self.work_dir / action.job_name
        extract = self.extracts.snapshot(kommunenummer, job_dir / "extract", several=self.several)
        if fault == Fault.TRUNCATED_EXTRACT:
            job.message = f"scenario fault truncated-extract: {_truncate(extract)}"
        extracted = time.perf_counter()
        job.seconds["final extract"] = extracted - started
        dry_run = action.purpose == MigrationPurpose.REHEARSAL
        job.target = None if dry_run else target_for(self.target, kommunenummer)
        report_dir = self.report_dir / "jobs" / action.job_name
        job.report_dir = str(report_dir)
        if fault == Fault.JOB_FAILED:
            job.state, job.message = JobState.FAILED, "scenario fault job-failed: the migration process crashed"
        else:
            progress, close = self.display.job_progress(kommunenummer, action.job_name)
            try:
                report = run_migration(
                    extract,
                    job.target,
                    kommunenr=kommunenummer,
                    synthetic_ids=self.synthetic_ids,
                    dry_run=dry_run,
                    report_dir=report_dir,
                    progress=progress,
                    run_id=f"{REHEARSAL_RUN_PREFIX}{action.job_name}-{clock.now():%Y%m%dT%H%M%S}",
                    notice=lambda message: self.display.note(f"{kommunenummer}: {message}"),
                )
            except (MigrationError, ValueError, OSError) as error:
                job.state, job.message = JobState.FAILED, f"migration refused: {error}"
            else:
                job.report = report
                job.reconciliation = core_reconciliation(report)
                # Like the Job's exit status: an incomplete reconciliation fails the job.
                job.state = JobState.SUCCEEDED if report.get("complete") else JobState.FAILED
                if fault == Fault.RECONCILIATION_INCOMPLETE:
                    job.state = JobState.SUCCEEDED
                    counts = {**job.reconciliation.counts, "unaccounted": 3}
                    job.reconciliation = Reconciliation(
                        complete=False, counts=counts, message="scenario fault: 3 records unaccounted for"
                    )
            finally:
                close()
        job.seconds["migration"] = time.perf_counter() - extracted
        shutil.rmtree(job_dir / "extract", ignore_errors=True)
        self._advance(clock, time.perf_counter() - started)

    def _smoke(self, kommunenummer: str, action: RunSmokeChecks, clock: Clock) -> None:
        job = self.jobs.get(action.job_name)
        fault = self.scenario.faults(kommunenummer).for_attempt("smoke", job.attempt if job else 1)
        started = time.perf_counter()
        result: SmokeResult | None
        if fault == Fault.NEVER_FINISHES:
            result = None
        elif fault == Fault.FAILED:
            result = SmokeResult(job_name=action.job_name, passed=False, reason="scenario fault: login probe failed")
        elif job is None or job.target is None or job.report is None:
            result = SmokeResult(job_name=action.job_name, passed=False, reason="no cutover target to check")
        else:
            passed, reason = smoke_check_target(job.target, kommunenummer, dict(job.report.get("resources", {})))
            result = SmokeResult(job_name=action.job_name, passed=passed, reason=reason)
        seconds = time.perf_counter() - started
        self.smokes[action.job_name] = SmokeRecord(action.job_name, result, seconds, clock.now())
        self._advance(clock, seconds)
