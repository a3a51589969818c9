"""The shared Stjørdal sample migrates to exactly its expected reconciliation, on every target,
and reruns leave the target identical (SPEC §6, issue 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from epj.migration.pipeline import MigrationError, run_migration
from epj.migration.targets import tenant_schema

from .extract_kit import bruker, write_extract


def _ndjson_snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _pg_snapshot(dsn: str, kommunenr: str = "5035") -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        table = f"{tenant_schema(kommunenr)}.fhir_resource"
        rows = conn.execute(
            f"SELECT resource_type, id, patient_id, resource::text, source FROM {table} ORDER BY resource_type, id"
        ).fetchall()
    return rows


def test_sample_dry_run_matches_expected(reference_extract: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    sample_extract, expected_sample = reference_extract
    report = run_migration(sample_extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path)
    assert report == expected_sample
    assert json.loads((tmp_path / "reconciliation.json").read_text()) == expected_sample
    assert "COMPLETE" in (tmp_path / "reconciliation.md").read_text()
    lines = (tmp_path / "quarantine.ndjson").read_text().splitlines()
    assert len(lines) == sum(expected_sample["quarantine"].values())
    assert {tuple(sorted(json.loads(line))) for line in lines} == {
        ("field", "key", "reason", "record", "rule", "source")
    }
    assert all(json.loads(line)["field"] and json.loads(line)["rule"] for line in lines)


def test_sample_in_production_mode_rejects_synthetic_ids(
    reference_extract: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    sample_extract, expected_sample = reference_extract
    report = run_migration(sample_extract, None, dry_run=True, synthetic_ids=False, report_dir=tmp_path)
    assert report["complete"] is True
    assert report["warnings"]["INVALID_NATIONAL_ID"] > expected_sample["warnings"]["INVALID_NATIONAL_ID"]
    assert report["patients_merged"] == 0


def test_sample_to_ndjson_and_rerun_identical(reference_extract: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    sample_extract, expected_sample = reference_extract
    out = tmp_path / "out"
    report = run_migration(sample_extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "r1")
    assert report == expected_sample
    files = _ndjson_snapshot(out)
    assert {name.removesuffix(".ndjson"): len(data.splitlines()) for name, data in files.items()} == dict(
        expected_sample["resources"]
    )
    run_migration(sample_extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "r2")
    assert _ndjson_snapshot(out) == files
    assert (tmp_path / "r1" / "quarantine.ndjson").read_bytes() == (tmp_path / "r2" / "quarantine.ndjson").read_bytes()
    versions = [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    assert len(versions) == 1  # older versions are cleaned up


@pytest.mark.postgres
def test_sample_to_postgres_and_rerun_identical(
    reference_extract: tuple[Path, dict[str, Any]], tmp_path: Path, pg_dsn: str
) -> None:
    import psycopg

    sample_extract, expected_sample = reference_extract

    report = run_migration(sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r1")
    assert report == expected_sample
    first = _pg_snapshot(pg_dsn)
    by_type: dict[str, int] = {}
    for row in first:
        by_type[row[0]] = by_type.get(row[0], 0) + 1
    assert by_type == expected_sample["resources"]
    assert all(row[2] for row in first)  # every row knows its patient
    run_migration(sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r2")
    assert _pg_snapshot(pg_dsn) == first
    with psycopg.connect(pg_dsn) as conn:
        stored = conn.execute("SELECT reconciliation FROM kommune_5035.migration_reconciliation").fetchone()
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'kommune_5035'")}
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'kommune_5035'")}
    assert stored is not None and stored[0] == expected_sample
    assert {"fhir_resource_pkey", "fhir_resource_patient_idx"} <= indexes
    assert "fhir_resource_staging" not in tables


@pytest.mark.postgres
def test_truncated_extract_writes_nothing(tmp_path: Path, pg_dsn: str) -> None:
    good = write_extract(tmp_path / "good", profil={"BRUKER": [bruker(bid="1")]})
    run_migration(good, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r0")
    run_migration(good, f"ndjson:{tmp_path / 'out'}", synthetic_ids=True, report_dir=tmp_path / "r0")
    before_pg, before_nd = _pg_snapshot(pg_dsn), _ndjson_snapshot(tmp_path / "out")
    truncated = write_extract(
        tmp_path / "bad", profil={"BRUKER": [bruker(bid="1"), bruker(bid="2", fnr="")]}, count_override={"BRUKER": 3}
    )
    for target in (pg_dsn, f"ndjson:{tmp_path / 'out'}"):
        report = run_migration(truncated, target, synthetic_ids=True, report_dir=tmp_path / "r1")
        assert report["complete"] is False
        assert report["error"] == "EXTRACT_INCOMPLETE"
        assert report["manifest_mismatch"] == {"profil/BRUKER.csv": {"manifest": 3, "read": 2}}
        assert report["resources"] == {}
        assert report["sources"]["profil/BRUKER.csv"]["read"] == 2
    assert _pg_snapshot(pg_dsn) == before_pg
    assert _ndjson_snapshot(tmp_path / "out") == before_nd


def test_missing_file_announced_in_manifest_is_incomplete(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker()]}, count_override={"VEDTAK": 4})
    report = run_migration(extract, f"ndjson:{tmp_path / 'out'}", synthetic_ids=True, report_dir=tmp_path / "r")
    assert report["error"] == "EXTRACT_INCOMPLETE"
    assert report["manifest_mismatch"] == {"profil/VEDTAK.csv": {"manifest": 4, "read": 0}}
    assert not (tmp_path / "out").exists()


def test_kommunenr_mismatch_refuses_before_reading(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker()]})
    with pytest.raises(MigrationError) as info:
        run_migration(extract, f"ndjson:{tmp_path / 'out'}", kommunenr="5031", report_dir=tmp_path / "r")
    assert info.value.code == "KOMMUNENR_MISMATCH"
    assert not (tmp_path / "out").exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda x: (x / "UTTREKK.txt").unlink(), "MANIFEST_MISSING"),
        (lambda x: (x / "profil" / "BRUKER.csv").write_bytes(b"BrukerID;Fnr\r\n1;2\r\n"), "HEADER_MISMATCH"),
        (lambda x: (x / "profil" / "BRUKER.csv").write_bytes(b"\x81\x8d"), "ENCODING_ERROR"),
    ],
)
def test_unreadable_extract_is_refused_clearly(tmp_path: Path, mutate: Any, code: str) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker()]})
    mutate(extract)
    with pytest.raises(MigrationError) as info:
        run_migration(extract, f"ndjson:{tmp_path / 'out'}", report_dir=tmp_path / "r")
    assert info.value.code == code
    assert not (tmp_path / "out").exists()
