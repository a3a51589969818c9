"""`epj runbook …`: show by alert name, list (table and the stable --json shape), generate --check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.monitoring.rules import alert_names

from .conftest import REPO_ROOT

runner = CliRunner()


def test_list_json_is_the_stable_interface() -> None:
    result = runner.invoke(app, ["runbook", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["alerts", "runbooks", "missing", "orphans"]
    assert data["alerts"] == sorted(alert_names())
    assert data["missing"] == [] and data["orphans"] == []
    assert set(data["runbooks"]) == set(data["alerts"])
    assert all((REPO_ROOT / path).is_file() for path in data["runbooks"].values())
    assert data["runbooks"]["EpjOperatorDown"] == "runbooks/alerts/EpjOperatorDown.md"


def test_list_table_flags_nothing_when_complete() -> None:
    result = runner.invoke(app, ["runbook", "list"])
    assert result.exit_code == 0, result.output
    assert f"{len(alert_names())} alerts" in result.output and "0 missing, 0 orphans" in result.output
    assert "cutover-night" in result.output


def test_list_flags_a_missing_runbook_and_an_orphan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runbooks"
    shutil.copytree(REPO_ROOT / "runbooks" / "alerts", root / "alerts")
    (root / "alerts" / "EpjOperatorDown.md").unlink()
    (root / "alerts" / "EpjRetiredAlert.md").write_text("# EpjRetiredAlert\n")
    monkeypatch.setenv("EPJ_RUNBOOKS_DIR", str(root))
    result = runner.invoke(app, ["runbook", "list", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["missing"] == ["EpjOperatorDown"] and data["orphans"] == ["EpjRetiredAlert"]
    table = runner.invoke(app, ["runbook", "list"])
    assert table.exit_code == 1
    assert "MISSING" in table.output and "ORPHAN" in table.output


@pytest.mark.parametrize(
    "args",
    [
        ["runbook", "EpjMedicationAdministrationErrorBudgetBurn"],
        ["runbook", "show", "EpjMedicationAdministrationErrorBudgetBurn", "--plain"],
    ],
)
def test_show_prints_the_runbook_by_alert_name(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# EpjMedicationAdministrationErrorBudgetBurn\n")
    assert "## Impact" in result.output


def test_show_renders_markdown_on_a_terminal() -> None:
    result = runner.invoke(app, ["runbook", "EpjOperatorDown"], env={"FORCE_COLOR": "1", "COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Meaning" in result.output and "## Meaning" not in result.output  # rendered, not raw


def test_show_process_runbook() -> None:
    result = runner.invoke(app, ["runbook", "cutover-night"])
    assert result.exit_code == 0 and result.output.startswith("# Cutover night")


def test_show_unknown_name_suggests_and_fails() -> None:
    result = runner.invoke(app, ["runbook", "EpjOperatorDwn"])
    assert result.exit_code == 2
    assert "neither an alert nor a runbook" in result.output and "EpjOperatorDown" in result.output


def test_generate_check_passes_on_the_committed_runbooks_and_fails_when_stale(tmp_path: Path) -> None:
    assert runner.invoke(app, ["runbook", "generate", "--check"]).exit_code == 0
    out = tmp_path / "alerts"
    shutil.copytree(REPO_ROOT / "runbooks" / "alerts", out)
    (out / "EpjOperatorDown.md").write_text("# EpjOperatorDown\nedited by hand\n")
    stale = runner.invoke(app, ["runbook", "generate", "--check", "--out", str(out)])
    assert stale.exit_code == 1 and "EpjOperatorDown.md" in stale.output
    written = runner.invoke(app, ["runbook", "generate", "--out", str(out)])
    assert written.exit_code == 0 and "1 written" in written.output


def test_check_playbooks_command() -> None:
    assert runner.invoke(app, ["runbook", "check-playbooks"]).exit_code == 0


def test_show_with_tenant_fills_in_that_municipality() -> None:
    result = runner.invoke(app, ["runbook", "EpjJournalLatencyBudgetBurn", "--tenant", "5031", "--plain"])
    assert result.exit_code == 0, result.output
    assert "Filled in for **Malvik (5031)**" in result.output
    assert "kubectl -n kommune-5031 rollout undo deploy/journal" in result.output
    assert "epj golive status --tenant 5031" in result.output
    assert "<KOMMUNENR>" not in result.output and "5035" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["EpjJournalLatencyBudgetBurn", "--tenant", "9999"], "--tenant 9999: no municipality"),
        (["EpjJournalLatencyBudgetBurn", "--tenant", "abc"], "is not a kommunenummer"),
        (["cutover-night", "--tenant", "5035"], "process runbook"),
    ],
)
def test_show_with_a_bad_tenant_is_one_plain_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["runbook", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
