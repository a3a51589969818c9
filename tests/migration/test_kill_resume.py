"""kill -9 at a random point while loading, then rerun: the target and report end exactly as after an
uninterrupted run, and while the killed run lay dead the target still held the previous load."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from epj.migration.pipeline import run_migration

from .test_sample_targets import _ndjson_snapshot, _pg_snapshot


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A generated extract big enough (~60k records) that a run lasts a couple of seconds, and the
    reconciliation its generator says a correct migration must produce."""
    from epj.migration.generate import generate_extract

    out = tmp_path_factory.mktemp("medium") / "extract"
    summary = generate_extract(out, "5035", scale=0.05, seed=7)
    return out, summary.expected_reconciliation


@pytest.fixture(scope="module")
def medium_extract(medium: tuple[Path, dict[str, Any]]) -> Path:
    return medium[0]


def test_generated_extract_reconciles_as_its_generator_expects(
    medium: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    extract, expected = medium
    assert run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path) == expected


def _start(extract: Path, target: str, report: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "epj.cli", "migrate", "run", str(extract), "--target", target]
    cmd += ["--out", str(report), "--synthetic-ids"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_then_kill(proc: subprocess.Popen[bytes], started_writing: Any, rng: random.Random) -> None:
    deadline = time.monotonic() + 60
    while not started_writing():
        assert proc.poll() is None, "the run ended before it started writing"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.8))
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before the kill: make the extract bigger"


@pytest.mark.postgres
def test_postgres_kill_minus_nine_then_rerun(medium_extract: Path, tmp_path: Path, pg_dsn: str) -> None:
    import psycopg

    reference = run_migration(medium_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "ref")
    assert reference["complete"] is True
    loaded = _pg_snapshot(pg_dsn)
    ref_quarantine = (tmp_path / "ref" / "quarantine.ndjson").read_bytes()
    dbname = pg_dsn.rsplit("/", 1)[1]

    def copying() -> bool:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'COPY%%'", (dbname,)
            ).fetchone()
        return bool(row and row[0])

    proc = _start(medium_extract, pg_dsn, tmp_path / "killed")
    _wait_then_kill(proc, copying, random.Random())
    assert _pg_snapshot(pg_dsn) == loaded  # the dead run changed nothing visible
    again = run_migration(medium_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "killed")
    assert again == reference
    assert _pg_snapshot(pg_dsn) == loaded
    assert (tmp_path / "killed" / "quarantine.ndjson").read_bytes() == ref_quarantine
    with psycopg.connect(pg_dsn) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'kommune_5035'")}
        states = [r[0] for r in conn.execute("SELECT state FROM kommune_5035.migration_run ORDER BY started_at")]
    # the dead run's staging table is gone; the ledger knows it died
    assert tables == {
        "fhir_resource",
        "fhir_resource_migrated",
        "fhir_resource_others",
        "migration_reconciliation",
        "migration_run",
    }
    assert states == ["published", "interrupted", "published"]


def test_ndjson_kill_minus_nine_then_rerun(medium_extract: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    reference = run_migration(medium_extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "ref")
    loaded = _ndjson_snapshot(out)

    def writing() -> bool:
        return any(p.name.endswith(".partial") for p in tmp_path.iterdir())

    proc = _start(medium_extract, f"ndjson:{out}", tmp_path / "killed")
    _wait_then_kill(proc, writing, random.Random())
    assert _ndjson_snapshot(out) == loaded
    assert (
        run_migration(medium_extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "killed") == reference
    )
    assert _ndjson_snapshot(out) == loaded
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())  # the dead run's leftovers are gone
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == sorted(
        p.name for p in (tmp_path / "ref").iterdir()
    )
