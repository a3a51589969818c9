"""promtool unit tests of the database backup alerts (issue 13), with the scenarios and the
expected alerts written out here: when each fires, with which severity and labels, and when not.

Annotations are compared too (promtool needs them); they are read from the rendered rule file and
filled in with the expected labels, so a changed text does not need two edits.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def _rules(rendered: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((rendered / "rules" / "databases.yml").read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def _expect(rules: list[dict[str, Any]], alert: str, labels: dict[str, str]) -> dict[str, Any]:
    rule = next(r for r in rules if r["alert"] == alert and r["labels"]["severity"] == labels["severity"])
    annotations = {
        k: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], v) for k, v in rule["annotations"].items()
    }
    return {"exp_labels": labels, "exp_annotations": annotations}


def _check(rendered: Path, tmp_path: Path, tests: list[dict[str, Any]], evaluation_interval: str = "1m") -> None:
    doc = {
        "rule_files": [str(rendered / "rules" / "databases.yml")],
        "evaluation_interval": evaluation_interval,
        "tests": tests,
    }
    path = tmp_path / "databases.test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _platform(severity: str, **labels: str) -> dict[str, str]:
    return {"severity": severity, "scope": "platform", **labels}


def test_backup_age_warns_after_one_missed_backup_and_pages_after_two(rendered: Path, tmp_path: Path) -> None:
    rules = _rules(rendered)
    name = "EpjDatabaseBackupTooOld"
    warn = _expect(rules, name, _platform("warning", tenant="5035"))
    page = _expect(rules, name, _platform("critical", tenant="5035"))
    series = [
        # 5035: last backup at t=0 and never again. 5059: a backup every minute.
        {"series": 'barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{tenant="5035", pod="epj-db-1"}',
         "values": "0x3100"},
        {"series": 'barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{tenant="5059", pod="epj-db-1"}',
         "values": "0+60x3100"},
    ]  # fmt: skip
    checks = [
        {"eval_time": "1500m", "alertname": name, "exp_alerts": []},  # 25 h: within a day's schedule
        {"eval_time": "1600m", "alertname": name, "exp_alerts": [warn]},  # 26 h 40 min
        {"eval_time": "3100m", "alertname": name, "exp_alerts": [warn, page]},  # 51 h 40 min
    ]
    _check(rendered, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}])


def test_wal_archiving_failures_page(rendered: Path, tmp_path: Path) -> None:
    name = "EpjDatabaseWalArchivingFailing"
    series = [
        {"series": 'cnpg_pg_stat_archiver_failed_count{tenant="5035", pod="epj-db-1"}', "values": "0x10 1+1x40"},
        {"series": 'cnpg_pg_stat_archiver_failed_count{tenant="5059", pod="epj-db-1"}', "values": "3x50"},
    ]
    checks = [
        {"eval_time": "8m", "alertname": name, "exp_alerts": []},
        {"eval_time": "35m", "alertname": name, "exp_alerts": [_expect(_rules(rendered), name, _platform(
            "critical", tenant="5035"))]},
    ]  # fmt: skip
    _check(rendered, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}])


def test_wal_archiving_lag_counts_only_the_primary(rendered: Path, tmp_path: Path) -> None:
    name = "EpjDatabaseWalArchivingLagging"
    since = "cnpg_pg_stat_archiver_seconds_since_last_archival"
    recovery = "cnpg_pg_replication_in_recovery"
    series = [
        # 5035: the primary stops archiving at t=0.
        {"series": f'{since}{{tenant="5035", namespace="kommune-5035", pod="epj-db-1"}}', "values": "0+60x40"},
        {"series": f'{recovery}{{tenant="5035", namespace="kommune-5035", pod="epj-db-1"}}', "values": "0x40"},
        # 5059: the primary archives fine; its standby never archives (normal: it is in recovery).
        {"series": f'{since}{{tenant="5059", namespace="kommune-5059", pod="epj-db-1"}}', "values": "30x40"},
        {"series": f'{recovery}{{tenant="5059", namespace="kommune-5059", pod="epj-db-1"}}', "values": "0x40"},
        {"series": f'{since}{{tenant="5059", namespace="kommune-5059", pod="epj-db-2"}}', "values": "0+60x40"},
        {"series": f'{recovery}{{tenant="5059", namespace="kommune-5059", pod="epj-db-2"}}', "values": "1x40"},
    ]
    checks = [
        {"eval_time": "14m", "alertname": name, "exp_alerts": []},
        {"eval_time": "30m", "alertname": name, "exp_alerts": [_expect(_rules(rendered), name, _platform(
            "warning", tenant="5035"))]},
    ]  # fmt: skip
    _check(rendered, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}])


def test_a_first_recoverability_point_older_than_the_window_warns(rendered: Path, tmp_path: Path) -> None:
    name = "EpjDatabaseRecoverabilityPointStale"
    metric = "barman_cloud_cloudnative_pg_io_first_recoverability_point"
    series = [
        {"series": f'{metric}{{tenant="5035", pod="epj-db-1"}}', "values": "0x800"},  # stuck at t=0
        {"series": f'{metric}{{tenant="5059", pod="epj-db-1"}}', "values": "0+3600x800"},  # moves with time
    ]
    checks = [
        {"eval_time": "780h", "alertname": name, "exp_alerts": []},  # 32.5 days
        {"eval_time": "800h", "alertname": name, "exp_alerts": [_expect(_rules(rendered), name, _platform(
            "warning", tenant="5035"))]},  # 33.3 days
    ]  # fmt: skip
    _check(rendered, tmp_path, [{"interval": "1h", "input_series": series, "alert_rule_test": checks}], "1h")


def test_volumes_filling_up_warn_at_15_and_page_at_5_percent_free(rendered: Path, tmp_path: Path) -> None:
    rules = _rules(rendered)
    name = "EpjDatabaseVolumeFillingUp"
    pvc = {"namespace": "kommune-5035", "persistentvolumeclaim": "epj-db-1", "tenant": "5035"}
    sel = 'namespace="kommune-5035", persistentvolumeclaim="epj-db-1", node="n1"'
    other = 'namespace="monitoring", persistentvolumeclaim="prometheus-db", node="n1"'
    series = [
        {"series": f"kubelet_volume_stats_available_bytes{{{sel}}}", "values": "20x10 10x30 3x30"},
        {"series": f"kubelet_volume_stats_capacity_bytes{{{sel}}}", "values": "100x70"},
        # A volume outside the tenant namespaces is not the platform's to page about.
        {"series": f"kubelet_volume_stats_available_bytes{{{other}}}", "values": "1x70"},
        {"series": f"kubelet_volume_stats_capacity_bytes{{{other}}}", "values": "100x70"},
    ]
    checks = [
        {"eval_time": "5m", "alertname": name, "exp_alerts": []},
        {"eval_time": "30m", "alertname": name, "exp_alerts": [_expect(rules, name, _platform("warning", **pvc))]},
        {"eval_time": "60m", "alertname": name, "exp_alerts": [
            _expect(rules, name, _platform("warning", **pvc)), _expect(rules, name, _platform("critical", **pvc))]},
    ]  # fmt: skip
    _check(rendered, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}])


def test_replication_lag_names_the_standby(rendered: Path, tmp_path: Path) -> None:
    name = "EpjDatabaseReplicationLag"
    series = [
        {"series": 'cnpg_pg_replication_lag{tenant="5035", pod="epj-db-2"}', "values": "0x5 400x30"},
        {"series": 'cnpg_pg_replication_lag{tenant="5035", pod="epj-db-3"}', "values": "2x35"},
    ]
    checks = [
        {"eval_time": "3m", "alertname": name, "exp_alerts": []},
        {"eval_time": "25m", "alertname": name, "exp_alerts": [_expect(_rules(rendered), name, _platform(
            "warning", tenant="5035", pod="epj-db-2"))]},
    ]  # fmt: skip
    _check(rendered, tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": checks}])
