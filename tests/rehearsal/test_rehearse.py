"""epj rehearse: default run, the shared sample's exact reconciliation, faults → rollback/hold, shared scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from epj.golive import Phase, load_scenario, run_wave, trace
from epj.rehearsal.report import mask_target
from epj.rehearsal.run import Options, rehearse


def _invoke(*args: str) -> Any:
    # Through the real root command (its one-line error handling), on a terminal wide enough to never wrap.
    from epj.cli import app

    return CliRunner().invoke(app, ["rehearse", *args], env={"COLUMNS": "200"})


def _load(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report / "rehearsal.json").read_text(encoding="utf-8"))
    return data


def test_default_rehearsal_with_no_arguments_goes_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke()
    assert result.exit_code == 0, result.output
    report = tmp_path / "rehearsal-report"
    data = _load(report)
    assert data["outcome"] == "live" and list(data["tenants"]) == ["5035"]
    phases = [p["phase"] for p in data["phases"]["5035"]]
    assert phases == [
        "Planned",
        "Preparing",
        "Training",
        "Rehearsal",
        "Freeze",
        "Cutover",
        "Live",
        "Hypercare",
        "Stable",
    ]
    assert all(p["start"] for p in data["phases"]["5035"]) and data["phases"]["5035"][-1]["end"] is None
    assert data["downtime_s"] > 0 and data["tenants"]["5035"]["downtime_s"] == data["downtime_s"]
    breakdown = data["tenants"]["5035"]["downtime_breakdown_s"]
    assert {"final extract", "migration", "smoke checks"} <= set(breakdown)
    rec = data["reconciliation"]["5035"]
    assert rec["complete"] is True and rec["kommunenr"] == "5035" and rec["resources"]["Patient"] > 0
    assert all(g["outcome"] == "Passed" for g in data["tenants"]["5035"]["gate_trail"])
    markdown = (report / "rehearsal.md").read_text(encoding="utf-8")
    for heading in ("Time per phase", "Cutover downtime", "Reconciliation", "Gates", "What to fix"):
        assert heading in markdown
    assert (report / "downtime.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = json.loads((report / "rehearsal-state.json").read_text(encoding="utf-8"))
    assert state["tenants"]["5035"]["phase"] == "Stable"
    assert "Cutover → Live" in result.output and "records" in result.output  # live progress lines


def test_reference_extract_reports_exactly_its_expected_reconciliation(
    tmp_path: Path, reference_extract: tuple[Path, dict[str, Any]]
) -> None:
    sample_extract, expected = reference_extract
    result = _invoke("--extract", str(sample_extract), "--synthetic-ids", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    data = _load(tmp_path)
    assert data["reconciliation"]["5035"] == expected
    assert data["tenants"]["5035"]["rehearsal_reconciliation"] == expected
    assert data["synthetic_ids"] is True and data["extract"] == str(sample_extract)


@pytest.mark.parametrize(
    ("scenario", "outcome", "final_phase", "reason"),
    [
        ("truncated-extract", "rolled_back", "RolledBack", "EXTRACT_INCOMPLETE: profil/JOURNAL.csv manifest"),
        ("rejected-approval", "held", "OnHold", "Medication module not signed off"),
        ("failing-gate", "held", "OnHold", "training completion 71% < 90%"),
        ("smoke-failed", "rolled_back", "RolledBack", "smoke checks failed"),
    ],
)
def test_injected_faults_roll_back_or_hold_with_the_reason(
    tmp_path: Path, scenario: str, outcome: str, final_phase: str, reason: str
) -> None:
    result = _invoke("--scenario", scenario, "--scale", "0.01", "--out", str(tmp_path))
    assert result.exit_code == 1, result.output
    data = _load(tmp_path)
    tenant = data["tenants"]["5035"]
    assert data["outcome"] == outcome and tenant["outcome"] == outcome and tenant["final_phase"] == final_phase
    assert reason in tenant["phase_reason"]
    assert any(reason in fix for fix in tenant["fix_before_real_night"])
    assert reason in (tmp_path / "rehearsal.md").read_text(encoding="utf-8")
    if outcome == "rolled_back":
        assert tenant["rollbacks"] and reason in tenant["rollbacks"][0]["reason"]
        assert tenant["cutover_attempts"][0]["ended_in"] == "RolledBack"
    assert "epj golive resume --tenant 5035" in tenant["next_action"]


def test_truncated_extract_really_truncates_the_cutover_copy_only(tmp_path: Path) -> None:
    result = rehearse(Options(report_dir=tmp_path, scenario="truncated-extract", scale=0.01))
    jobs = {j.job_name: j for j in result.executor.jobs.values()}
    assert jobs["golive-5035-rehearsal-1"].reconciliation.complete  # type: ignore[union-attr]
    cutover = jobs["golive-5035-cutover-1"]
    assert cutover.report is not None and cutover.report["error"] == "EXTRACT_INCOMPLETE"
    assert "profil/JOURNAL.csv" in cutover.report["manifest_mismatch"]
    source = tmp_path / "work" / "legacy-5035" / "profil" / "JOURNAL.csv"
    assert source.is_file()  # the generated legacy data itself is untouched


def test_shared_scenario_reaches_the_same_phases_and_gates_as_the_core_alone(tmp_path: Path) -> None:
    scenario = load_scenario("shared-wave")
    scripted = run_wave(scenario)  # the core with fake jobs: what the operator's e2e test also plays
    result = rehearse(Options(report_dir=tmp_path, scenario="shared-wave", scale=0.01))
    for tenant, expectation in scenario.expect.items():
        state = result.states[tenant]
        assert trace(state) == scripted.trace(tenant)
        assert expectation.mismatches(state.phase_trail(), state.gate_trail(), state.phase, state.phase_reason) == []
    data = result.report
    assert data["outcome"] == "rolled_back"
    assert {k: t["outcome"] for k, t in data["tenants"].items()} == {
        "5035": "live",
        "5031": "rolled_back",
        "5036": "live",
    }
    assert [a["decision"] for a in data["tenants"]["5036"]["approvals"]][:2] == ["reject", "approve"]
    assert data["tenants"]["5036"]["resumes"][0]["by"] == "project-lead"


def test_tenant_selection_and_ndjson_target_per_tenant(tmp_path: Path) -> None:
    target = tmp_path / "out"
    result = _invoke(
        "--tenant", "5036", "--tenant", "5034", "--scale", "0.01", "--target", f"ndjson:{target}",
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = _load(tmp_path / "r")
    assert sorted(data["tenants"]) == ["5034", "5036"]
    for number in ("5034", "5036"):
        assert (target / number / "Patient.ndjson").is_file()
        assert data["tenants"][number]["final_phase"] == str(Phase.STABLE)


@pytest.mark.postgres
def test_rehearsal_into_postgresql(tmp_path: Path, pg_dsn: str) -> None:
    result = _invoke("--scale", "0.01", "--target", pg_dsn, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    data = _load(tmp_path)
    smoke = next(g for g in data["tenants"]["5035"]["gate_trail"] if g["gate"] == "smoke-checks")
    assert smoke["outcome"] == "Passed" and "as reconciled" in smoke["reason"]
    assert data["target"] == pg_dsn  # no password in the test DSN; a password would be masked:
    assert mask_target("postgresql://epj:secret@db:5432/x") == "postgresql://epj:***@db:5432/x"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--extract", "/nonexistent/extract"], "no such extract folder"),
        (["--tenant", "9999"], "--tenant 9999: no municipality"),
        (["--generate", "--extract", "."], "either --extract or --generate"),
        (["--clock", "fast"], "not one of simulated, real"),
        (["--scenario", "nope"], "scenario 'nope' not found"),
        (["--target", "mysql://x"], "ndjson:DIR or postgresql"),
        (["--clock", "real"], "--clock real waits in real time"),
    ],
)
def test_usage_errors_exit_2_and_name_the_problem(tmp_path: Path, args: list[str], message: str) -> None:
    result = _invoke(*args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output


def test_folder_of_extracts_needs_one_per_tenant(tmp_path: Path, sample_extract: Path) -> None:
    import shutil

    extracts = tmp_path / "extracts"
    shutil.copytree(sample_extract, extracts / "5035-stjordal")
    result = _invoke(
        "--extract", str(extracts), "--tenant", "5035", "--tenant", "5036", "--out", str(tmp_path / "r")
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no UTTREKK.txt there nor in a 5036-… subfolder" in result.output


def test_a_night_without_the_extract_is_reported_as_an_attempt_without_a_final_migration(tmp_path: Path) -> None:
    """The built-in night waits for extract-delivered; none recorded: rolled back at its deadline, nothing migrated."""
    import yaml

    from epj.golive.scenario import SCENARIO_DIR

    data = yaml.safe_load((SCENARIO_DIR / "default.yaml").read_text(encoding="utf-8"))
    data["name"] = "no-extract"
    data["defaults"]["approvals"] = [a for a in data["defaults"]["approvals"] if a["gate"] != "extract-delivered"]
    data["expect"] = {"5035": {"outcome": "rolled_back"}}
    path = tmp_path / "no-extract.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = rehearse(Options(report_dir=tmp_path / "out", scenario=str(path), scale=0.01))
    assert [j for j in result.executor.jobs] == ["golive-5035-rehearsal-1"]
    report = _load(tmp_path / "out")
    (attempt,) = report["tenants"]["5035"]["cutover_attempts"]
    assert attempt["ended_in"] == "RolledBack" and attempt["job"] is None
    markdown = (tmp_path / "out" / "rehearsal.md").read_text(encoding="utf-8")
    assert "| no final migration (the night ended before it) | RolledBack |" in markdown
    fixes = report["tenants"]["5035"]["fix_before_real_night"]
    assert any(f.startswith("Gate extract-delivered TimedOut") and "record extract-delivered" in f for f in fixes)
    assert (tmp_path / "out" / "downtime.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
