"""Migration publishes once (issue 12): staging → publish before go-live, a durable seal at go-live,
every later run refused with the store byte-identical; pre-live re-runs replace only what migrations
wrote. Against the real PostgreSQL (a private database per test)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.migration.pipeline import MigrationError, run_migration
from epj.migration.store import seal_tenant
from epj.migration.targets import PostgresTarget

from .extract_kit import FNR_A, bruker, write_extract

pytestmark = pytest.mark.postgres
runner = CliRunner()
SCHEMA = "kommune_5035"


def _vedtak(vid: str, bid: str) -> list[str]:
    return [vid, bid, "HJSPL", "01.01.2024", "", "3,5", "AKTIV"]


def _extract(root: Path, n: int) -> Path:
    """n patients (BRUKER 1..n), each with one VEDTAK: 2n resources."""
    brukere = [bruker(bid=str(i), fnr=FNR_A if i == 1 else "") for i in range(1, n + 1)]
    return write_extract(root, profil={"BRUKER": brukere, "VEDTAK": [_vedtak(str(i), str(i)) for i in range(1, n + 1)]})


def _dump(dsn: str) -> dict[str, Any]:
    """Every table of the tenant's schema, byte for byte (COPY text), plus its index names."""
    out: dict[str, Any] = {}
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (SCHEMA,))]
        for table in sorted(tables):
            data = bytearray()
            with conn.cursor().copy(f"COPY (SELECT * FROM {SCHEMA}.{table} ORDER BY 1, 2) TO STDOUT") as copy:
                for chunk in copy:
                    data += chunk
            out[table] = bytes(data)
        out["indexes"] = sorted(
            r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (SCHEMA,))
        )
    return out


def test_go_live_seal_refuses_every_later_run_and_the_store_stays_byte_identical(tmp_path: Path, pg_dsn: str) -> None:
    extract = _extract(tmp_path / "x", 3)
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r1", run_id="cutover-run-1")
    seal, created = seal_tenant(pg_dsn, "5035", sealed_by="operator GoLive golive-5035 (Cutover → Live)")
    assert created is True
    assert (seal.kommunenr, seal.live_run, seal.sealed_by) == (
        "5035",
        "cutover-run-1",
        "operator GoLive golive-5035 (Cutover → Live)",
    )
    with psycopg.connect(pg_dsn) as conn:  # the durable record, in the tenant's own database
        row = conn.execute(f"SELECT kommunenr, live_run, sealed_at IS NOT NULL FROM {SCHEMA}.migration_seal").fetchall()
    assert row == [("5035", "cutover-run-1", True)]
    before = _dump(pg_dsn)

    # library (what the Job and the rehearsal call)
    with pytest.raises(MigrationError) as info:
        run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r2")
    assert info.value.code == "TENANT_LIVE"
    assert "went live" in info.value.message and "cutover-run-1" in info.value.message
    assert "nothing was written" in info.value.message
    assert not (tmp_path / "r2").exists()
    # a different, bigger extract: still refused
    with pytest.raises(MigrationError):
        run_migration(_extract(tmp_path / "y", 5), pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r3")
    # the command line (what the operator's Job runs, and what shell history repeats)
    result = runner.invoke(
        app, ["migrate", "run", str(extract), "--target", pg_dsn, "--out", str(tmp_path / "r4"), "--synthetic-ids"]
    )
    assert result.exit_code == 2
    assert "TENANT_LIVE" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r4").exists()
    assert _dump(pg_dsn) == before

    # sealing again keeps the first record
    again = runner.invoke(app, ["migrate", "seal", "--tenant", "5035", "--dsn", pg_dsn])
    assert again.exit_code == 0, again.output
    assert "already sealed" in again.output and "cutover-run-1" in again.output
    assert _dump(pg_dsn) == before


def test_a_run_that_waited_while_the_tenant_went_live_is_refused(tmp_path: Path, pg_dsn: str) -> None:
    extract = _extract(tmp_path / "x", 2)
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r1", run_id="run-a")
    holder = PostgresTarget(pg_dsn, "5035", run_id="run-b")
    holder.open()  # run-b holds the tenant's lock (as a long run would)
    notices: list[str] = []
    waiting = threading.Event()
    outcome: dict[str, Any] = {}

    def notice(message: str) -> None:
        notices.append(message)
        waiting.set()

    def second() -> None:
        try:
            run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r2", notice=notice)
        except MigrationError as error:
            outcome["code"] = error.code

    thread = threading.Thread(target=second)
    thread.start()
    assert waiting.wait(timeout=60)
    assert notices[0].startswith("migration run ") and "waits for migration run run-b (started " in notices[0]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the tenant goes live while the run waits
        conn.execute(
            f"CREATE TABLE {SCHEMA}.migration_seal (kommunenr text PRIMARY KEY, sealed_at timestamptz NOT NULL, "
            "sealed_by text NOT NULL, live_run text, live_run_published_at timestamptz)"
        )
        conn.execute(f"INSERT INTO {SCHEMA}.migration_seal VALUES ('5035', now(), 'by hand', 'run-a', now())")
    holder.abort()  # run-b ends; the waiting run gets the lock and must find the seal
    thread.join(timeout=60)
    assert outcome.get("code") == "TENANT_LIVE"
    with psycopg.connect(pg_dsn) as conn:
        states = dict(conn.execute(f"SELECT run_id, state FROM {SCHEMA}.migration_run").fetchall())
    assert states == {"run-a": "published", "run-b": "aborted"}  # the refused run wrote nothing, not even its row
    with pytest.raises(MigrationError):  # once sealed, always refused
        run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r3")


def test_pre_live_rerun_replaces_only_what_migrations_wrote_and_says_so(tmp_path: Path, pg_dsn: str) -> None:
    run_migration(_extract(tmp_path / "x", 3), pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r1", run_id="run-1")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # Others write too: a row in the same table (positional, as other tools do) and a table of their own.
        conn.execute(
            f"INSERT INTO {SCHEMA}.fhir_resource VALUES ('written-by-others', 'Flag', NULL, '{{}}'::jsonb, 'ops')"
        )
        conn.execute(f"CREATE TABLE {SCHEMA}.staff_notes (id int PRIMARY KEY, body text)")
        conn.execute(f"INSERT INTO {SCHEMA}.staff_notes VALUES (1, 'kept')")
    notices: list[str] = []
    report = run_migration(
        _extract(tmp_path / "y", 2), pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r2", run_id="run-2",
        notice=notices.append,
    )  # fmt: skip
    assert report["resources"] == {"Patient": 2, "EpisodeOfCare": 2}
    assert any("will replace the 6 resources migration run run-1 loaded at " in n for n in notices), notices
    assert any("replaced the 6 resources migration run run-1 loaded at " in n for n in notices), notices
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            f"SELECT resource_type, migrated, count(*) FROM {SCHEMA}.fhir_resource GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        notes = conn.execute(f"SELECT body FROM {SCHEMA}.staff_notes").fetchall()
        ledger = conn.execute(f"SELECT run_id, state, resources, replaced_run FROM {SCHEMA}.migration_run").fetchall()
    assert rows == [("EpisodeOfCare", True, 2), ("Flag", False, 1), ("Patient", True, 2)]
    assert notes == [("kept",)]
    assert sorted(ledger) == [("run-1", "published", 6, None), ("run-2", "published", 4, "run-1")]


def test_same_extract_twice_before_go_live_gives_the_identical_store(tmp_path: Path, pg_dsn: str) -> None:
    extract = _extract(tmp_path / "x", 4)
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r1", run_id="same")
    first = _dump(pg_dsn)
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r2", run_id="same")
    second = _dump(pg_dsn)
    for table in ("fhir_resource", "migration_reconciliation"):
        assert second[table] == first[table]
    assert second["indexes"] == first["indexes"]
    assert {"fhir_resource_pkey", "fhir_resource_patient_idx"} <= set(first["indexes"])


def test_a_row_of_others_with_a_migrated_id_stops_the_publish_cleanly(tmp_path: Path, pg_dsn: str) -> None:
    extract = _extract(tmp_path / "x", 1)
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r1")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"UPDATE {SCHEMA}.fhir_resource SET migrated = false WHERE resource_type = 'Patient'")
    before = _dump(pg_dsn)
    with pytest.raises(MigrationError) as info:
        run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r2")
    assert info.value.code == "ID_CONFLICT" and "nothing was published" in info.value.message
    after = _dump(pg_dsn)
    assert after["fhir_resource"] == before["fhir_resource"]
    assert after["migration_reconciliation"] == before["migration_reconciliation"]


def test_connection_problems_are_one_plain_message_and_leave_no_report_folder(tmp_path: Path, pg_dsn: str) -> None:
    extract = _extract(tmp_path / "x", 1)
    base = pg_dsn.rsplit("/", 1)[0]
    missing_db = f"{base}/epj_no_such_db_mig"
    result = runner.invoke(app, ["migrate", "run", str(extract), "--target", missing_db, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Nothing was written" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()
    with_at = "postgresql://epj:p@ss@127.0.0.1:5432/x"
    result = runner.invoke(app, ["migrate", "run", str(extract), "--target", with_at, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "%40" in result.output and "p@ss" not in result.output
    assert not (tmp_path / "r").exists()


def test_smoke_checks_count_what_the_migration_wrote_not_rows_of_others(tmp_path: Path, pg_dsn: str) -> None:
    from epj.operator.smoke import smoke_check
    from epj.rehearsal.local import smoke_check_target

    report = run_migration(_extract(tmp_path / "x", 2), pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {SCHEMA}.fhir_resource VALUES ('by-others', 'Patient', NULL, '{{}}'::jsonb, 'ops')")
    assert smoke_check(pg_dsn, "5035").passed is True
    assert smoke_check_target(pg_dsn, "5035", report["resources"])[0] is True
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # a migrated row lost: both checks notice
        conn.execute(f"DELETE FROM {SCHEMA}.fhir_resource WHERE migrated AND resource_type = 'EpisodeOfCare'")
    outcome = smoke_check(pg_dsn, "5035")
    assert outcome.passed is False and "EpisodeOfCare 0≠2" in outcome.message
    assert smoke_check_target(pg_dsn, "5035", report["resources"])[0] is False


def test_a_store_from_before_partitions_is_published_row_by_row_and_keeps_others_rows(
    tmp_path: Path, pg_dsn: str
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the old layout: a plain table, no migrated column
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(
            f"CREATE TABLE {SCHEMA}.fhir_resource (id text NOT NULL, resource_type text NOT NULL, patient_id text, "
            "resource jsonb NOT NULL, source text NOT NULL, PRIMARY KEY (resource_type, id))"
        )
        conn.execute(f"INSERT INTO {SCHEMA}.fhir_resource VALUES ('old', 'Patient', NULL, '{{}}', 'profil/BRUKER.csv')")
        conn.execute(f"INSERT INTO {SCHEMA}.fhir_resource VALUES ('mine', 'Flag', NULL, '{{}}', 'ops')")
    run_migration(_extract(tmp_path / "x", 2), pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r")
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            f"SELECT resource_type, migrated, count(*) FROM {SCHEMA}.fhir_resource GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        ids = {r[0] for r in conn.execute(f"SELECT id FROM {SCHEMA}.fhir_resource")}
    assert rows == [("EpisodeOfCare", True, 2), ("Flag", False, 1), ("Patient", True, 2)]
    assert "mine" in ids and "old" not in ids


def test_a_retry_under_the_same_run_name_keeps_the_ledger_true(tmp_path: Path, pg_dsn: str) -> None:
    # A Job's pod retried (backoffLimit) runs again under the same $EPJ_MIGRATION_RUN (the Job's name).
    # The first attempt published; the retry stops before publishing. The store holds the first
    # attempt's rows, so the seal must name that run, and the retry must say it would replace it.
    extract = _extract(tmp_path / "x", 3)
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r1", run_id="rehearsal-run")
    run_migration(extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r2", run_id="cutover-job")
    broken = _extract(tmp_path / "y", 3)
    manifest = broken / "UTTREKK.txt"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("antall.BRUKER=3", "antall.BRUKER=4"), "utf-8")
    said: list[str] = []
    result = run_migration(
        broken, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "r3", run_id="cutover-job", notice=said.append
    )
    assert result["error"] == "EXTRACT_INCOMPLETE"
    assert any("migration run cutover-job loaded" in line for line in said), said
    seal, _ = seal_tenant(pg_dsn, "5035", sealed_by="test")
    assert seal.live_run == "cutover-job"


def test_sealing_a_store_no_migration_published_into_warns_to_check_the_address(pg_dsn: str) -> None:
    # `epj migrate seal` without --dsn (or a typo) seals whatever libpq's defaults reach: say so
    result = runner.invoke(app, ["migrate", "seal", "--tenant", "5035", "--dsn", pg_dsn])
    assert result.exit_code == 0, result.output
    assert "no migration run has published" in result.output and "check --dsn" in result.output
