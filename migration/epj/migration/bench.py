"""`epj migrate bench`: the whole pipeline against the raw COPY rate of the same rows, on this machine.

Why both in one run: absolute rates drift between machines and with load (PERFORMANCE-NOTES), so
the pipeline's rate only means something next to PostgreSQL's own COPY rate for the same rows,
measured minutes apart on the same server. Steps:

1. generate a synthetic extract of the tenant's size (``epj.migration.generate``), unless given one;
2. run ``epj migrate run`` into a scratch database in a child process (wall time includes the
   interpreter start, the final primary key and index build, and the commit — i.e. conservative);
   its peak RSS is the child's ``ru_maxrss``;
3. dump the loaded rows with COPY TO, then time one plain COPY FROM stream of exactly those rows into
   a fresh table defined like the target (same columns, same primary key): the raw COPY rate that
   ``ratio`` uses; for context also the same COPY into a bare heap (no index: ``ratio_heap``) and that
   heap's build of the target's two indexes (``ratio_same_end_state``). All are reported;
4. run the same extract once more into the now loaded store (``rerun_*``): a pre-live re-run, which
   publishes by replacing the rows earlier migration runs wrote inside one transaction (no index
   build on the staging table, no drop of the target) — the price of never dropping a tenant's table;
5. drop the scratch database.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from epj.migration.targets import COLUMNS_DDL, tenant_schema


def run_bench(
    *,
    scale: float,
    kommunenr: str,
    admin_dsn: str,
    extract: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure and return the figures (see module docstring)."""
    import orjson
    import psycopg

    db = f"epj_bench_{uuid.uuid4().hex[:10]}"
    base = admin_dsn.rsplit("/", 1)[0]
    dsn = f"{base}/{db}"
    with tempfile.TemporaryDirectory(prefix="epj-bench-") as tmp_s:
        tmp = Path(tmp_s)
        if extract is None:
            from epj.migration.generate import generate_extract  # type: ignore[import-not-found,unused-ignore]

            extract = tmp / "extract"
            t0 = time.perf_counter()
            summary = generate_extract(extract, kommunenr, scale=scale, seed=0)
            log(f"generated {summary.records} source records in {time.perf_counter() - t0:.1f} s")
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        try:
            report = tmp / "report"
            cmd = [sys.executable, "-m", "epj.cli", "migrate", "run", str(extract), "--target", dsn]
            cmd += ["--out", str(report), "--synthetic-ids", "--tenant", kommunenr]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"pipeline run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
            peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            recon = orjson.loads((report / "reconciliation.json").read_bytes())
            rows = sum(recon["resources"].values())
            source_records = sum(s["read"] for s in recon["sources"].values())
            log(f"pipeline: {rows} rows in {seconds:.1f} s")
            phases = [line.split(" phase ", 1)[1] for line in proc.stderr.splitlines() if " phase " in line]
            log("pipeline phases: " + "; ".join(phases))
            t0 = time.perf_counter()
            again = subprocess.run(cmd, capture_output=True, text=True, check=False)
            rerun_seconds = time.perf_counter() - t0
            if again.returncode != 0:
                raise RuntimeError(f"pipeline re-run failed (exit {again.returncode}): {again.stderr[-2000:]}")
            log(f"pipeline re-run (publish replaces the earlier run's rows): {rows} rows in {rerun_seconds:.1f} s")
            phases = [line.split(" phase ", 1)[1] for line in again.stderr.splitlines() if " phase " in line]
            log("re-run phases: " + "; ".join(phases))
            dump = tmp / "rows.copy"
            schema = tenant_schema(kommunenr)
            cols = "id, resource_type, patient_id, resource, source"
            with (
                psycopg.connect(dsn) as conn,
                dump.open("wb") as out,
                conn.cursor().copy(f"COPY (SELECT {cols} FROM {schema}.fhir_resource) TO STDOUT") as cp,
            ):
                for chunk in cp:
                    out.write(chunk)
            # Raw COPY into a table defined like the target (same columns, same primary key): the rate
            # the target compares with. Then the same rows into a bare heap (no index), and
            # that heap's index build, for context: both reported, neither replaces the other.
            copy_seconds = _time_copy(dsn, dump, "bench_raw_keyed", f"{COLUMNS_DDL}, PRIMARY KEY (resource_type, id)")
            log(f"raw COPY into a table with the target's primary key: {rows} rows in {copy_seconds:.1f} s")
            heap_seconds = _time_copy(dsn, dump, "bench_raw", COLUMNS_DDL)
            log(f"raw COPY into a bare table (no index): {rows} rows in {heap_seconds:.1f} s")
            index_seconds = _build_indexes_like_the_target(dsn)
            log(f"same indexes as the target on the raw table: {index_seconds:.1f} s")
        finally:
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    records_per_s = rows / seconds
    copy_rate = rows / copy_seconds
    return {
        "kommunenr": kommunenr,
        "scale": scale,
        "records": rows,
        "source_records": source_records,
        "seconds": round(seconds, 2),
        "records_per_s": round(records_per_s, 1),
        "copy_seconds": round(copy_seconds, 2),
        "copy_records_per_s": round(copy_rate, 1),
        "ratio": round(records_per_s / copy_rate, 3),
        "peak_rss_mb": round(peak_rss_mb, 1),
        # For context: one COPY stream into a bare heap (no index at all), and that heap then given the
        # target's primary key and patient index (the pipeline's own end state).
        "copy_heap_seconds": round(heap_seconds, 2),
        "copy_heap_records_per_s": round(rows / heap_seconds, 1),
        "ratio_heap": round(records_per_s / (rows / heap_seconds), 3),
        "copy_and_index_records_per_s": round(rows / (heap_seconds + index_seconds), 1),
        "ratio_same_end_state": round(records_per_s / (rows / (heap_seconds + index_seconds)), 3),
        "rerun_seconds": round(rerun_seconds, 2),
        "rerun_records_per_s": round(rows / rerun_seconds, 1),
        "ratio_rerun": round(rows / rerun_seconds / copy_rate, 3),
        "complete": recon["complete"],
    }


def _time_copy(dsn: str, dump: Path, table: str, ddl: str) -> float:
    """Seconds for one COPY FROM stream of the dumped rows into a fresh ``public.<table>`` (created first)."""
    import psycopg

    cols = "id, resource_type, patient_id, resource, source"
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE public.{table} ({ddl})")
        conn.commit()
        t0 = time.perf_counter()
        with dump.open("rb") as src, conn.cursor().copy(f"COPY public.{table} ({cols}) FROM STDIN") as cp:
            while chunk := src.read(1 << 20):
                cp.write(chunk)
        conn.commit()
        return time.perf_counter() - t0


def _build_indexes_like_the_target(dsn: str) -> float:
    """Build the target's two indexes on the raw table, in parallel as the pipeline does; seconds taken."""
    import threading

    import psycopg

    statements = [
        "CREATE UNIQUE INDEX bench_raw_pk ON public.bench_raw (resource_type, id)",
        "CREATE INDEX bench_raw_patient ON public.bench_raw (patient_id)",
    ]

    def build(sql: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            conn.execute(sql)

    threads = [threading.Thread(target=build, args=(sql,)) for sql in statements]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t0
