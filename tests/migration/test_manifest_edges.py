"""UTTREKK.txt that contradicts itself or announces what is not there: never a silent `complete`."""

from __future__ import annotations

from pathlib import Path

import pytest

from epj.migration.pipeline import MigrationError, run_migration

from .extract_kit import bruker, write_extract


def _extract(root: Path, extra_lines: str) -> Path:
    write_extract(root, profil={"BRUKER": [bruker(bid="1", fnr="")]})
    manifest = root / "UTTREKK.txt"
    manifest.write_text(manifest.read_text(encoding="utf-8") + extra_lines, encoding="utf-8")
    return root


def test_a_count_announced_twice_with_different_values_is_refused(tmp_path: Path) -> None:
    extract = _extract(tmp_path / "x", "antall.BRUKER=7\n")  # the kit wrote antall.BRUKER=1 above
    with pytest.raises(MigrationError) as info:
        run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert info.value.code == "MANIFEST_INVALID"
    assert "antall.BRUKER" in info.value.message


def test_the_same_count_repeated_is_accepted(tmp_path: Path) -> None:
    extract = _extract(tmp_path / "x", "antall.BRUKER=1\n")
    result = run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert result["complete"] is True


def test_rows_announced_for_a_file_that_is_not_read_make_the_extract_incomplete(tmp_path: Path) -> None:
    extract = _extract(tmp_path / "x", "antall.BRUKERE=40\n")  # a file the migration never reads
    result = run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert result["complete"] is False
    assert result["error"] == "EXTRACT_INCOMPLETE"
    assert result["manifest_mismatch"] == {"profil/BRUKERE.csv": {"manifest": 40, "read": 0}}


def test_without_tenant_an_extract_of_an_unknown_municipality_is_refused(tmp_path: Path) -> None:
    # `--tenant 9999` is refused; leaving --tenant out must not migrate 9999 into a schema of its own
    from typer.testing import CliRunner

    from epj.cli import app

    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker(bid="1", fnr="")]}, kommunenr="9999")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["migrate", "run", str(extract), "--target", f"ndjson:{out}", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "9999" in result.output
    assert "epj tenants list" in result.output
    assert not out.exists() and not (tmp_path / "r").exists()
