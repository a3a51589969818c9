"""`epj migrate run` exit codes and messages (the interface scripts rely on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from epj.cli import app

from .extract_kit import bruker, write_extract

runner = CliRunner()


def test_run_sample_exit_zero(reference_extract: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    sample_extract, expected_sample = reference_extract
    result = runner.invoke(
        app,
        [
            "migrate",
            "run",
            str(sample_extract),
            "--target",
            f"ndjson:{tmp_path / 'out'}",
            "--out",
            str(tmp_path / "r"),
            "--synthetic-ids",
            "--tenant",
            "5035",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "complete" in result.output
    assert json.loads((tmp_path / "r" / "reconciliation.json").read_text()) == expected_sample


def test_run_incomplete_exits_one(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker()]}, count_override={"BRUKER": 2})
    result = runner.invoke(app, ["migrate", "run", str(extract), "--dry-run", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "EXTRACT_INCOMPLETE" in result.output


def test_run_refused_exits_two_with_a_clear_message(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker()]})
    result = runner.invoke(
        app, ["migrate", "run", str(extract), "--dry-run", "--out", str(tmp_path / "r"), "--tenant", "5031"]
    )
    assert result.exit_code == 2
    assert "KOMMUNENR_MISMATCH" in result.output
    result = runner.invoke(app, ["migrate", "run", str(extract), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--target" in result.output
