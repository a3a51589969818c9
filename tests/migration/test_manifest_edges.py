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
