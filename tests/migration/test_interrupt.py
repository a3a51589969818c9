"""Ctrl-C during a run (issue 18): the console says what happened and that the target is unchanged,
exit 130; the store is exactly as before and the ledger records the run as aborted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from epj.migration.pipeline import run_migration

from .test_kill_resume import medium, medium_extract  # noqa: F401  (module-scoped fixtures)
from .test_sample_targets import _pg_snapshot

pytestmark = pytest.mark.postgres


def test_ctrl_c_while_loading_says_the_target_is_unchanged_and_exits_130(
    medium_extract: Path,  # noqa: F811
    tmp_path: Path,
    pg_dsn: str,
) -> None:
    run_migration(medium_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "ref", run_id="first")
    loaded = _pg_snapshot(pg_dsn)
    dbname = pg_dsn.rsplit("/", 1)[1]
    cmd = [sys.executable, "-m", "epj.cli", "migrate", "run", str(medium_extract), "--target", pg_dsn]
    cmd += ["--out", str(tmp_path / "second"), "--synthetic-ids", "--run-id", "interrupted-run"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:  # wait until the run is loading (its COPY sessions are busy)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'COPY%%'", (dbname,)
            ).fetchone()
        if row and row[0]:
            break
        assert proc.poll() is None, "the run ended before it started loading"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C) after" in err and "nothing was published" in err
    assert "is unchanged" in err and "Traceback" not in err
    assert _pg_snapshot(pg_dsn) == loaded
    with psycopg.connect(pg_dsn) as conn:
        states = dict(conn.execute("SELECT run_id, state FROM kommune_5035.migration_run").fetchall())
        staging = conn.execute("SELECT to_regclass('kommune_5035.fhir_resource_staging')").fetchone()
    assert states == {"first": "published", "interrupted-run": "aborted"}
    assert staging == (None,)


def test_ctrl_c_while_waiting_for_another_run_says_nothing_was_written(tmp_path: Path, pg_dsn: str) -> None:
    from epj.migration.targets import PostgresTarget

    from .extract_kit import bruker, write_extract

    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker(bid="1")]})
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "ref", run_id="first")
    loaded = _pg_snapshot(pg_dsn)
    holder = PostgresTarget(pg_dsn, "5035", run_id="long-run")
    holder.open()
    try:
        cmd = [sys.executable, "-m", "epj.cli", "migrate", "run", str(extract), "--target", pg_dsn]
        cmd += ["--out", str(tmp_path / "second"), "--synthetic-ids"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        line = ""
        while "waits for" not in line:  # the run says whom it waits for, then blocks on the lock
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "the run ended without waiting"
        assert "waits for migration run long-run (started " in line
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        holder.abort()
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C)" in err and "unchanged" in err and "Traceback" not in err
    assert _pg_snapshot(pg_dsn) == loaded
    assert not (tmp_path / "second").exists()
