"""kill -9 at a fixed point while loading, then rerun: the target and report end exactly as after an
uninterrupted run, and while the killed run lay dead the target still held the previous load.

The fault point is deterministic: the run is started through a small wrapper that SIGKILLs its own
process when the rules emit the N-th resource (half of what the extract yields), so every run dies
at the same record, mid-load, with no timing or randomness involved."""

from __future__ import annotations

import signal
import subprocess
import sys
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


# Runs `epj migrate run …` and kills itself (SIGKILL, like kill -9) when the N-th resource is emitted.
_KILL_AT_RECORD = """
import os, signal, sys
from epj.migration import rules

kill_at = int(sys.argv.pop(1))
emitted = 0
original = rules.ExtractRules._emit


def _emit(self, resource, patient_id, source):
    global emitted
    emitted += 1
    if emitted == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    original(self, resource, patient_id, source)


rules.ExtractRules._emit = _emit
from epj.cli import main

sys.argv[0] = "epj"
main()
"""


def _run_killed_at(extract: Path, target: str, report: Path, kill_at: int) -> None:
    """Run the migration CLI in a subprocess that dies (SIGKILL) at the `kill_at`-th emitted resource."""
    cmd = [sys.executable, "-c", _KILL_AT_RECORD, str(kill_at), "migrate", "run", str(extract), "--target", target]
    cmd += ["--out", str(report), "--synthetic-ids"]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600, check=False)
    assert proc.returncode == -signal.SIGKILL, "the run was not killed at its fault point"


def _midpoint(reconciliation: dict[str, Any]) -> int:
    """Half the resources the extract yields (non-Patient resources stream while Profil is read)."""
    return sum(reconciliation["resources"].values()) // 2


@pytest.mark.postgres
def test_postgres_kill_minus_nine_then_rerun(medium_extract: Path, tmp_path: Path, pg_dsn: str) -> None:
    import psycopg

    reference = run_migration(medium_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "ref")
    assert reference["complete"] is True
    loaded = _pg_snapshot(pg_dsn)
    ref_quarantine = (tmp_path / "ref" / "quarantine.ndjson").read_bytes()
    _run_killed_at(medium_extract, pg_dsn, tmp_path / "killed", _midpoint(reference))
    with psycopg.connect(pg_dsn) as conn:
        staged = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'kommune_5035' AND tablename LIKE '%staging%'"
        ).fetchone()
    assert staged is not None and staged[0] >= 1  # died mid-load: its staging table is left behind
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

    _run_killed_at(medium_extract, f"ndjson:{out}", tmp_path / "killed", _midpoint(reference))
    assert any(p.name.endswith(".partial") for p in tmp_path.iterdir())  # died mid-write
    assert _ndjson_snapshot(out) == loaded
    assert (
        run_migration(medium_extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "killed") == reference
    )
    assert _ndjson_snapshot(out) == loaded
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())  # the dead run's leftovers are gone
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == sorted(
        p.name for p in (tmp_path / "ref").iterdir()
    )
