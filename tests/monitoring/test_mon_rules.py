"""The generated rules: naming, labels, annotations, the one runbook pattern, and promtool's own checks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from epj.catalog import load_catalog
from epj.cli import app
from epj.monitoring.naming import RUNBOOK_PATH_PATTERN, runbook_url
from epj.monitoring.rules import (
    BURN_WINDOWS,
    alert_names,
    alert_runbook_path,
    all_alerts,
    prometheus_rule_objects,
    rule_files,
    rule_groups,
    usable_windows,
)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def test_every_alert_is_named_with_the_prefix_in_camel_case() -> None:
    names = alert_names()
    assert len(names) >= 40
    for name in names:
        assert re.fullmatch(r"Epj[A-Z][a-zA-Z0-9]+", name), name
    assert "EpjMedicationAdministrationErrorBudgetBurn" in names
    assert "EpjOperatorDown" in names and "EpjMigrationQuarantineSpike" in names


def test_every_alert_has_severity_summary_description_and_one_runbook_pattern() -> None:
    for group in rule_files(base_url="https://rb.example.test").values():
        for rule in group["groups"][0]["rules"]:
            if "alert" not in rule:
                continue
            name = rule["alert"]
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
            assert rule["labels"]["scope"] in {"clinical", "platform", "project"}, name
            ann = rule["annotations"]
            assert ann["summary"] and ann["description"], name
            assert ann["runbook_url"] == f"https://rb.example.test/runbooks/alerts/{name}.md"


def test_runbook_path_and_url_come_from_one_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    assert alert_runbook_path("EpjOperatorDown") == "runbooks/alerts/EpjOperatorDown.md"
    assert RUNBOOK_PATH_PATTERN.format(name="X") == "runbooks/alerts/X.md"
    monkeypatch.setenv("EPJ_RUNBOOK_BASE_URL", "https://git.example.test/epj/-/blob/main/")
    assert (
        runbook_url("EpjOperatorDown") == "https://git.example.test/epj/-/blob/main/runbooks/alerts/EpjOperatorDown.md"
    )
    with pytest.raises(ValueError):
        alert_runbook_path("../../etc/passwd")


def test_tenant_alerts_name_the_municipality_and_platform_alerts_do_not_pretend_to() -> None:
    for alert in all_alerts():
        text = alert.summary + alert.description
        if alert.tenant_scoped and alert.scope in {"clinical", "project"}:
            assert "{{ $labels.tenant }}" in text, alert.name
        if not alert.tenant_scoped:
            assert "{{ $labels.tenant }}" not in text, alert.name


def test_burn_rate_alerts_follow_the_sre_workbook_windows() -> None:
    catalog = load_catalog()
    med = catalog.services["medication-administration"]
    rules = [a for a in all_alerts() if a.name == "EpjMedicationAdministrationErrorBudgetBurn"]
    assert {(a.labels["long"], a.labels["short"], a.severity, a.for_) for a in rules} == {
        ("1h", "5m", "critical", "2m"),
        ("6h", "30m", "critical", "15m"),
        ("3d", "6h", "warning", "1h"),
    }
    page = next(a for a in rules if a.labels["long"] == "1h")
    assert "(14.4 * 0.0005)" in page.expr  # 99.95 % availability
    assert f">= {med.slo.min_requests_per_hour} / 3600" in page.expr  # the low-traffic guard


def test_low_traffic_tenants_are_pooled_not_ignored() -> None:
    pooled = [a for a in all_alerts() if a.name == "EpjJournalErrorBudgetBurnLowTraffic"]
    assert len(pooled) == 3
    for a in pooled:
        assert "sum by (service)" in a.expr and "< 300 / 3600" in a.expr
        assert not a.tenant_scoped and a.scope == "platform"


def test_windows_that_could_never_fire_are_not_generated() -> None:
    assert [bw.long for bw in usable_windows(0.1)] == ["6h", "3d"]  # 14.4 x 10 % > 100 %
    assert usable_windows(0.001) == BURN_WINDOWS
    kpr = [a for a in all_alerts() if a.name == "EpjKprReportingLatencyBudgetBurn"]
    assert {a.labels["long"] for a in kpr} == {"6h", "3d"}


def test_recording_rules_cover_every_window_by_tenant() -> None:
    group = next(g for g in rule_groups() if g.name == "epj-slo-medication-administration")
    records = {r.record for r in group.recordings}
    for w in ("5m", "30m", "1h", "6h", "3d"):
        assert {f"epj:sli_error:ratio_rate{w}", f"epj:sli_slow:ratio_rate{w}", f"epj:sli_requests:rate{w}"} <= records
    for r in group.recordings:
        assert r.labels == {"service": "medication-administration"}
        assert "by (tenant)" in r.expr or "epj:sli_" in r.expr


def test_prometheus_rule_objects_mirror_the_rule_files() -> None:
    objects = prometheus_rule_objects(namespace="epj-monitoring")
    files = rule_files()
    assert len(objects) == len(files)
    for obj in objects:
        assert obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["kind"] == "PrometheusRule"
        assert re.fullmatch(r"[a-z0-9-]+", obj["metadata"]["name"])
        stem = obj["metadata"]["name"].removeprefix("epj-")
        assert obj["spec"] == files[f"{stem}.yml"]


def test_promtool_accepts_every_rule_file(rendered: Path) -> None:
    files = sorted((rendered / "rules").glob("*.yml"))
    assert len(files) == len(rule_files())
    result = subprocess.run([PROMTOOL, "check", "rules", *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_prints_alert_names_one_per_line() -> None:
    result = CliRunner().invoke(app, ["monitoring", "alerts"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == alert_names()
    with_paths = CliRunner().invoke(app, ["monitoring", "alerts", "--paths"])
    assert "EpjOperatorDown\trunbooks/alerts/EpjOperatorDown.md" in with_paths.output


def test_render_writes_the_stable_layout(rendered: Path) -> None:
    assert (rendered / "alertmanager.yml").is_file()
    assert sorted(p.name for p in (rendered / "dashboards").glob("*.json")) == [
        "golive-waves.json",
        "migration-progress.json",
        "platform-overview.json",
        "tenant-clinical.json",
    ]
    tests = sorted((rendered / "tests").glob("*.yml"))
    for path in tests:
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        for rule_file in doc["rule_files"]:
            assert (path.parent / rule_file).resolve().is_file()


def test_render_cli_replaces_stale_generated_files(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "slo-retired-service.yml").write_text("groups: []\n")
    result = CliRunner().invoke(
        app, ["monitoring", "render", "--out", str(tmp_path), "--runbook-base", "https://x.test"]
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "rules" / "slo-retired-service.yml").exists()
    assert (
        "runbook_url: https://x.test/runbooks/alerts/EpjOperatorDown.md"
        in (tmp_path / "rules" / "platform.yml").read_text()
    )
