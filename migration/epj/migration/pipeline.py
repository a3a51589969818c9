"""One migration run: extract folder → rules → target, with reconciliation, metrics and spans.

Library contract (the rehearsal and the operator's Job call this; keep it stable)::

    run_migration(extract_dir, target, *, kommunenr=None, synthetic_ids=False, dry_run=False,
                  report_dir, progress=None, validate_fhir=False, run_id=None, notice=None) -> Reconciliation

- ``target``: ``"ndjson:DIR"`` or ``"postgresql://…"`` (ignored, may be None, when ``dry_run``).
- ``kommunenr``: the tenant being migrated; when given and the manifest names another municipality the
  run refuses before reading any record (:class:`MigrationError` with code ``KOMMUNENR_MISMATCH``).
- ``synthetic_ids``: test/rehearsal run — synthetic national ids (month + 80) count as valid.
- ``report_dir``: receives ``reconciliation.json`` (SPEC §6 shape), ``reconciliation.md`` (summary)
  and ``quarantine.ndjson`` (one line per quarantined record: source, record number, source id/key,
  reason — no personal data). Each file is replaced atomically.
- ``progress(done, total)``: called now and then with source records processed so far and the total
  the manifest announces (Profil records + CGM ``<Barn>`` elements).
- ``run_id``: the run's name in the store's ``migration_run`` ledger (default ``$EPJ_MIGRATION_RUN`` or
  ``<nr>-<UTC time>-<random>``). ``notice(message)``: things a person should read now — which run this
  one waits for, what a re-run replaces (loaded when, by which run).
- A tenant that has gone live has a sealed store: a run into it raises :class:`MigrationError` with code
  ``TENANT_LIVE`` before anything is written (see :mod:`epj.migration.store`).
- A file whose bytes are not in its declared encoding (Profil: Windows-1252; CGM: its XML declaration)
  raises ``ENCODING_MISMATCH`` after writing a reconciliation with that ``error`` and an
  ``encoding_mismatch`` object; nothing is written to the target.
- Ctrl-C raises :class:`MigrationInterrupted` (a ``KeyboardInterrupt``) saying whether the target changed.
- Returns the reconciliation dict. ``complete`` is True only when every source balances and the
  manifest agrees. An ``EXTRACT_INCOMPLETE`` run returns (and writes) its report with
  ``complete: false`` and leaves the target untouched. Unreadable extracts (missing manifest, wrong
  header, broken XML, wrong encoding) raise :class:`MigrationError` naming file and reason; the target
  is left untouched then too.

Order of work: manifest → encodings of every file → target opened (seal, lock) → Profil files in
dependency order → CGM → manifest counts compared → only then Patients are emitted and the target
published (one transaction) → reports written.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from epj.migration import observe
from epj.migration.codes import PROFIL_FILES, cgm_source, profil_source
from epj.migration.readers import (
    CGM_FILE,
    ENCODING_MISMATCH,
    PROFIL_ENCODING,
    ExtractError,
    Manifest,
    check_encoding,
    declared_xml_encoding,
    iter_cgm_barn,
    iter_profil,
    peek_cgm_root,
    read_manifest,
)
from epj.migration.reconciliation import (
    QuarantineEntry,
    Reconciliation,
    Tally,
    encoding_report,
    incomplete_report,
    render_markdown,
)
from epj.migration.rules import ExtractRules, Resource
from epj.migration.targets import open_target
from epj.migration.values import parse_extract_time

__all__ = ["MigrationError", "MigrationInterrupted", "Progress", "Reconciliation", "run_migration"]

log = logging.getLogger("epj.migration")

MigrationError = ExtractError
Progress = Callable[[int, int | None], None]
Notice = Callable[[str], None]


class MigrationInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during a run: says how far it got and whether the target changed."""

    def __init__(self, *, records: int, published: bool, target: str) -> None:
        super().__init__()
        self.records = records
        self.published = published
        self.target = target

    def explain(self) -> str:
        if self.published:
            return (
                f"interrupted (Ctrl-C) after the target {self.target} was published; the reports may be missing: "
                "run the same command again to write them (the rerun leaves the target identical)"
            )
        return (
            f"interrupted (Ctrl-C) after {self.records} source records: nothing was published, the target "
            f"{self.target} is unchanged and the report folder holds no new report"
        )


BATCH = 50_000  # source records per batch span
_PROGRESS_EVERY = 2_000


@contextmanager
def _phase(tenant: str, phase: str, **attrs: Any) -> Iterator[Any]:
    start = time.perf_counter()
    with observe.TRACER.start_as_current_span(f"migration.{phase}", attributes={"tenant": tenant, **attrs}) as span:
        yield span
    seconds = time.perf_counter() - start
    observe.PHASE_SECONDS.labels(tenant=tenant, phase=phase).observe(seconds)
    log.info(
        "kommune %s phase %s%s: %.2f s", tenant, phase, f" {attrs['source']}" if "source" in attrs else "", seconds
    )


def _fhir_validator() -> Callable[[Resource], None]:
    """Validate a resource dict against the fhir.resources R4B model of its type (slow: ~300 µs)."""
    from importlib import import_module

    models: dict[str, Any] = {}

    def validate(resource: Resource) -> None:
        rtype = resource["resourceType"]
        model = models.get(rtype)
        if model is None:
            model = models[rtype] = getattr(import_module(f"fhir.resources.R4B.{rtype.lower()}"), rtype)
        model.model_validate(resource)

    return validate


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _encoding_mismatches(extract_dir: Path, profil_present: list[str], cgm: Path | None) -> dict[str, Any]:
    """Every file whose bytes disagree with its declared encoding (SPEC §2: Profil is Windows-1252)."""
    found: dict[str, Any] = {}
    for name in profil_present:
        rel = profil_source(name)
        problem = check_encoding(extract_dir / "profil" / f"{name}.csv", rel, PROFIL_ENCODING)
        if problem is not None:
            found[rel] = problem
    if cgm is not None:
        rel = CGM_FILE.as_posix()
        problem = check_encoding(cgm, rel, declared_xml_encoding(cgm))
        if problem is not None:
            found[rel] = problem
    return found


def _manifest_mismatch(
    manifest: Manifest, tally: Tally, profil_present: list[str], cgm_present: bool
) -> dict[str, Any]:
    """Sources whose manifest count disagrees with what was read (SPEC §1.1, §7)."""
    mismatch: dict[str, Any] = {}
    checks: list[tuple[str, str, bool]] = [(n, profil_source(n), n in profil_present) for n in PROFIL_FILES]
    checks.append(("cgm.Barn", cgm_source("Barn"), cgm_present))
    for key, source, present in checks:
        announced = manifest.count(key)
        read = tally.sources[source].read if source in tally.sources else 0
        if announced is None and not present:
            continue  # neither announced nor delivered: that system is not in this extract
        if announced != read:
            mismatch[source] = {"manifest": announced, "read": read}
    # rows announced for anything the migration does not read (a misspelt or unknown file) were never
    # read: the extract is not what its manifest says
    known = {f"antall.{key}" for key, _, _ in checks}
    for name in sorted(k for k in manifest.values if k.startswith("antall.") and k not in known):
        key = name.removeprefix("antall.")
        source = cgm_source(key.removeprefix("cgm.")) if key.startswith("cgm.") else profil_source(key)
        announced = manifest.count(key)
        read = tally.sources[source].read if source in tally.sources else 0
        if announced != read:
            mismatch[source] = {"manifest": announced, "read": read}
    return mismatch


def run_migration(
    extract_dir: Path | str,
    target: str | None,
    *,
    kommunenr: str | None = None,
    synthetic_ids: bool = False,
    dry_run: bool = False,
    report_dir: Path | str,
    progress: Progress | None = None,
    validate_fhir: bool = False,
    run_id: str | None = None,
    notice: Notice | None = None,
) -> Reconciliation:
    """Migrate one extract folder into ``target``; see the module docstring for the full contract."""
    extract_dir, report_dir = Path(extract_dir), Path(report_dir)
    if target is None and not dry_run:
        raise ValueError("a target (ndjson:DIR or postgresql://…) is required unless dry_run")
    started = time.perf_counter()
    manifest = read_manifest(extract_dir)
    tenant = kommunenr or manifest.kommunenr
    if manifest.kommunenr != tenant:
        raise MigrationError(
            "KOMMUNENR_MISMATCH", f"UTTREKK.txt is for kommunenr {manifest.kommunenr}, the run is for {tenant}"
        )
    cgm_path = extract_dir / CGM_FILE
    cgm_present = cgm_path.is_file()
    extract_time = parse_extract_time(manifest.uttrekkstidspunkt)
    if extract_time is None:
        raise MigrationError("MANIFEST_INVALID", "UTTREKK.txt: uttrekkstidspunkt is not an ISO 8601 time")
    profil_present = [n for n in PROFIL_FILES if (extract_dir / "profil" / f"{n}.csv").is_file()]
    mismatched = _encoding_mismatches(extract_dir, profil_present, cgm_path if cgm_present else None)
    if mismatched:
        _write_reports(report_dir, encoding_report(tenant, mismatched), None)
        log.error("kommune %s: %s in %s", tenant, ENCODING_MISMATCH, ", ".join(mismatched))
        raise MigrationError(
            ENCODING_MISMATCH,
            " | ".join(str(m["message"]) for m in mismatched.values()) + ". Nothing was written to the target.",
        )
    if cgm_present:
        root_nr = peek_cgm_root(cgm_path).get("kommunenr")
        if root_nr is not None and root_nr != tenant:
            raise MigrationError(
                "KOMMUNENR_MISMATCH", f"cgm/helsestasjon.xml is for kommunenr {root_nr}, the run is for {tenant}"
            )
    total = sum(manifest.count(n) or 0 for n in PROFIL_FILES) + (manifest.count("cgm.Barn") or 0)

    # The target first: a sealed store, a wrong password or an unreachable server is refused before a
    # report folder exists (none is left behind) and before a record is read.
    sink = open_target(target, tenant, dry_run=dry_run, run_id=run_id, notice=notice)
    try:
        sink.open()
    except BaseException as error:
        sink.abort()
        if isinstance(error, KeyboardInterrupt):  # e.g. while waiting for another run of this tenant
            raise MigrationInterrupted(records=0, published=False, target=sink.description) from None
        raise
    made_report_dir = not report_dir.exists()
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        for stale in report_dir.glob(".*.tmp-*"):  # left by a killed run: the report folder ends up identical
            stale.unlink(missing_ok=True)
        quarantine_tmp = report_dir / f".quarantine.ndjson.tmp-{os.getpid()}"
        qfile = quarantine_tmp.open("wb")
    except BaseException:
        sink.abort()
        raise

    def on_quarantine(entry: QuarantineEntry) -> None:
        log.debug(
            "quarantined %s record %d key %s: %s", entry["source"], entry["record"], entry["key"], entry["reason"]
        )
        qfile.write(orjson.dumps(entry) + b"\n")

    tally = Tally(kommunenr=tenant, on_quarantine=on_quarantine)
    validator = _fhir_validator() if validate_fhir else None
    dumps = orjson.dumps
    write = sink.write

    def emit(resource: Resource, patient_id: str, source: str) -> None:
        if validator is not None:
            validator(resource)
        write(resource["resourceType"], resource["id"], patient_id, dumps(resource), source)

    rules = ExtractRules(
        kommunenr=tenant,
        extract_date=extract_time.date(),
        allow_synthetic=synthetic_ids,
        tally=tally,
        emit=emit,
    )
    done = 0

    def tick(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(done, total)

    log.info("migration of kommune %s started: target %s", tenant, sink.description)
    published = False
    try:
        with _phase(tenant, "migrate", target=sink.description.split(" ")[0]):
            for name in profil_present:
                source = profil_source(name)
                with _phase(tenant, "source", source=source) as span:
                    batch = observe.TRACER.start_span(
                        "migration.batch", attributes={"tenant": tenant, "source": source}
                    )
                    record = 0
                    handle = rules.profil_handler(name)
                    for record, row in enumerate(iter_profil(extract_dir / "profil" / f"{name}.csv", name), start=1):
                        handle(record, row)
                        tick()
                        if record % BATCH == 0:
                            batch.set_attribute("records", BATCH)
                            batch.end()
                            batch = observe.TRACER.start_span(
                                "migration.batch", attributes={"tenant": tenant, "source": source}
                            )
                    batch.set_attribute("records", record % BATCH)
                    batch.end()
                    _record_source(span, tenant, tally, source)
            if cgm_present:
                with _phase(tenant, "source", source="cgm/helsestasjon.xml") as span:
                    batch = observe.TRACER.start_span(
                        "migration.batch", attributes={"tenant": tenant, "source": "cgm/helsestasjon.xml"}
                    )
                    record = 0
                    for record, barn in enumerate(iter_cgm_barn(cgm_path), start=1):
                        rules.barn(record, barn)
                        tick()
                        if record % (BATCH // 50) == 0:
                            batch.set_attribute("barn", BATCH // 50)
                            batch.end()
                            batch = observe.TRACER.start_span(
                                "migration.batch", attributes={"tenant": tenant, "source": "cgm/helsestasjon.xml"}
                            )
                    batch.set_attribute("barn", record % (BATCH // 50))
                    batch.end()
                    for element in ("Barn", "Foresatt", "Konsultasjon", "Maaling", "Vaksinasjon"):
                        _record_source(span, tenant, tally, cgm_source(element))
            if progress is not None:
                progress(done, total)
            mismatch = _manifest_mismatch(manifest, tally, profil_present, cgm_present)
            if mismatch:
                sink.abort()
                report = incomplete_report(tally, mismatch)
                log.error(
                    "kommune %s: EXTRACT_INCOMPLETE (%d sources disagree with UTTREKK.txt)", tenant, len(mismatch)
                )
            else:
                rules.finish()
                report = tally.report()
        if not mismatch:
            with _phase(tenant, "commit"):
                sink.commit(orjson.dumps(report))
            published = True
            if sink.replaced and notice is not None:
                notice(f"kommune {tenant}: {sink.replaced}")
        with _phase(tenant, "report"):
            qfile.close()
            _write_reports(report_dir, report, quarantine_tmp)
    except BaseException as error:
        if not published:
            sink.abort()
        qfile.close()
        quarantine_tmp.unlink(missing_ok=True)
        if made_report_dir and report_dir.is_dir() and not any(report_dir.iterdir()):
            report_dir.rmdir()
        if isinstance(error, KeyboardInterrupt) and not isinstance(error, MigrationInterrupted):
            raise MigrationInterrupted(records=done, published=published, target=sink.description) from None
        raise
    elapsed = time.perf_counter() - started
    for rtype, count in report["resources"].items():
        observe.RESOURCES_STAGED.labels(tenant=tenant, resource_type=rtype).inc(count)
    observe.ROWS_PER_SECOND.labels(tenant=tenant).set(done / elapsed if elapsed > 0 else 0.0)
    observe.RUN_COMPLETE.labels(tenant=tenant).set(1 if report["complete"] else 0)
    log.info(
        "migration of kommune %s finished: complete=%s, %d records in %.1f s", tenant, report["complete"], done, elapsed
    )
    return report


def _write_reports(report_dir: Path, report: Reconciliation, quarantine_tmp: Path | None) -> None:
    """reconciliation.json/.md and quarantine.ndjson (each replaced atomically)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    if quarantine_tmp is not None:
        os.replace(quarantine_tmp, report_dir / "quarantine.ndjson")
    else:
        _atomic_write(report_dir / "quarantine.ndjson", b"")
    _atomic_write(report_dir / "reconciliation.json", orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    _atomic_write(report_dir / "reconciliation.md", render_markdown(report).encode())


def _record_source(span: Any, tenant: str, tally: Tally, source: str) -> None:
    """Counts of one finished source onto its span, the metrics and the log."""
    counts = tally.sources.get(source)
    if counts is None:
        return
    span.set_attribute(f"{source}.read", counts.read)
    span.set_attribute(f"{source}.migrated", counts.migrated)
    span.set_attribute(f"{source}.quarantined", counts.quarantined)
    observe.RECORDS_READ.labels(tenant=tenant, source=source).inc(counts.read)
    observe.RECORDS_MIGRATED.labels(tenant=tenant, source=source).inc(counts.migrated)
    for (src, reason), n in tally.by_source_reason.items():
        if src == source:
            observe.RECORDS_QUARANTINED.labels(tenant=tenant, source=source, reason=reason).inc(n)
    log.info(
        "kommune %s %s: read %d, migrated %d, quarantined %d",
        tenant,
        source,
        counts.read,
        counts.migrated,
        counts.quarantined,
    )
