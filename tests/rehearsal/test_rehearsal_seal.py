"""The rehearsal's PostgreSQL target follows the same rules as every migration (issue 12): its go-live
seals the tenant's store; a later rehearsal (or any run) into that store is refused before any work,
and the store stays byte-identical."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from epj.migration.pipeline import MigrationError, run_migration

from .test_rehearse import _invoke, _load

pytestmark = pytest.mark.postgres


def _dump(dsn: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'kommune_5035'")]
        for table in sorted(tables):
            data = bytearray()
            with conn.cursor().copy(f"COPY (SELECT * FROM kommune_5035.{table} ORDER BY 1, 2) TO STDOUT") as copy:
                for chunk in copy:
                    data += chunk
            out[table] = bytes(data)
    return out


def test_rehearsal_go_live_seals_and_a_second_rehearsal_is_refused_up_front(
    tmp_path: Path, pg_dsn: str, sample_extract: Path
) -> None:
    first = _invoke("--scale", "0.01", "--target", pg_dsn, "--report", str(tmp_path / "one"))
    assert first.exit_code == 0, first.output
    assert _load(tmp_path / "one")["tenants"]["5035"]["final_phase"] == "Stable"
    with psycopg.connect(pg_dsn) as conn:
        seal = conn.execute("SELECT sealed_by, live_run FROM kommune_5035.migration_seal").fetchall()
        published = conn.execute(
            "SELECT run_id FROM kommune_5035.migration_run WHERE state = 'published' ORDER BY finished_at DESC"
        ).fetchall()
    assert seal == [("rehearsal go-live of 5035 (Cutover → Live)", published[0][0])]
    assert "cutover" in published[0][0]
    reported = _load(tmp_path / "one")["tenants"]["5035"]["seal"]
    assert (reported["sealed_by"], reported["live_run"], reported["created"]) == (seal[0][0], seal[0][1], True)
    assert "Store sealed at go-live" in (tmp_path / "one" / "rehearsal.md").read_text(encoding="utf-8")
    before = _dump(pg_dsn)

    second = _invoke("--scale", "0.01", "--target", pg_dsn, "--report", str(tmp_path / "two"))
    assert second.exit_code == 2
    assert "went live" in second.output and "rehearse into another database" in second.output
    assert "Traceback" not in second.output
    with pytest.raises(MigrationError) as info:  # and the library path the Job takes, with the shared sample
        run_migration(sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r")
    assert info.value.code == "TENANT_LIVE"
    assert _dump(pg_dsn) == before


def test_rehearsal_into_a_database_that_does_not_exist_is_refused_before_any_work(tmp_path: Path, pg_dsn: str) -> None:
    missing = pg_dsn.rsplit("/", 1)[0] + "/epj_no_such_db_rehearsal"
    result = _invoke("--scale", "0.01", "--target", missing, "--report", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "cannot connect" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_rehearsal_into_a_store_holding_a_real_migration_is_refused_up_front(
    tmp_path: Path, pg_dsn: str, sample_extract: Path
) -> None:
    # The tenant's real store before go-live: a rehearsal would replace its migrated rows with synthetic
    # ones and then seal them as live, so the real cutover migration is refused afterwards.
    run_migration(sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r", run_id="migrate-5035-cutover")
    before = _dump(pg_dsn)
    result = _invoke("--scale", "0.01", "--target", pg_dsn, "--report", str(tmp_path / "rep"))
    assert result.exit_code == 2, result.output
    assert "migrate-5035-cutover" in result.output and "rehearse into another database" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "rep").exists()
    assert _dump(pg_dsn) == before
