"""The smoke-check and rollback Jobs' commands: ``epj golive smoke`` and ``epj golive rollback``."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.operator import resources
from epj.operator.emulator import emulator_thread

runner = CliRunner()


def _last_json(output: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def test_job_manifests_call_commands_that_exist() -> None:
    smoke = resources.smoke_job("5035", "golive-5035-cutover-1", "golive-5035", "img:1")
    script = smoke["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "exec epj golive smoke --tenant 5035" in script and "PGPASSWORD" in script
    rollback = resources.rollback_job("5035", "golive-5035-cutover-1", "golive-5035", "img:1")
    args = rollback["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:5] == ["epj", "golive", "rollback", "--tenant", "5035"]
    for command in (["golive", "smoke", "--help"], ["golive", "rollback", "--help"]):
        assert runner.invoke(app, command).exit_code == 0


@pytest.fixture()
def migrated(sample_extract: Path, pg_dsn: str, tmp_path: Path) -> str:
    from epj.migration.pipeline import run_migration

    # Completeness is what the smoke check itself reads back (migration_reconciliation.complete).
    run_migration(sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "report")
    return pg_dsn


def test_smoke_check_passes_on_a_migrated_tenant_from_the_pg_environment(
    migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in the Job: no --target, libpq reads PG* variables.
    url = urllib.parse.urlsplit(migrated)
    for key, value in {
        "PGHOST": url.hostname,
        "PGPORT": str(url.port or 5432),
        "PGDATABASE": url.path.lstrip("/"),
        "PGUSER": url.username or "postgres",
    }.items():
        monkeypatch.setenv(key, str(value))
    result = runner.invoke(app, ["golive", "smoke", "--tenant", "5035"])
    assert result.exit_code == 0, result.output
    summary = _last_json(result.stdout)
    assert summary["passed"] is True and summary["tenant"] == "5035"
    assert summary["resources"] == summary["expected"] > 0


def test_smoke_check_fails_when_rows_are_missing(migrated: str) -> None:
    with psycopg.connect(migrated, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM kommune_5035.fhir_resource WHERE ctid IN "
            "(SELECT ctid FROM kommune_5035.fhir_resource WHERE resource_type = 'Observation' LIMIT 3)"
        )
    result = runner.invoke(app, ["golive", "smoke", "--tenant", "5035", "--dsn", migrated])
    assert result.exit_code == 1
    summary = _last_json(result.stdout)
    assert summary["passed"] is False and summary["expected"] - summary["resources"] == 3
    assert "Observation" in summary["message"] and "disagrees with the reconciliation" in summary["message"]


def test_smoke_check_fails_clearly_without_a_migration(pg_dsn: str) -> None:
    result = runner.invoke(app, ["golive", "smoke", "--tenant", "5035", "--dsn", pg_dsn])
    assert result.exit_code == 1
    assert "no migrated data in schema kommune_5035" in _last_json(result.stdout)["message"]


def _post(url: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _deployment(name: str, component: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"epj.no/component": component}},
        "spec": {"replicas": replicas},
    }


@pytest.fixture()
def tenant_cluster() -> Iterator[str]:
    with emulator_thread() as (_, url):
        path = "/apis/apps/v1/namespaces/kommune-5035/deployments"
        _post(url, path, _deployment("journal", "app", 3))
        _post(url, path, _deployment("medication", "app", 2))
        _post(url, path, _deployment("ingress-helper", "platform", 1))
        yield url


def _replicas(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/apis/apps/v1/namespaces/kommune-5035/deployments", timeout=10) as answer:
        items = json.loads(answer.read())["items"]
    return {d["metadata"]["name"]: d["spec"]["replicas"] for d in items}


def test_rollback_turns_tenant_traffic_off_idempotently_and_names_the_manual_step(tenant_cluster: str) -> None:
    first = runner.invoke(app, ["golive", "rollback", "--tenant", "5035", "--server", tenant_cluster])
    assert first.exit_code == 0, first.output
    assert _last_json(first.stdout)["scaled_to_zero"] == ["journal", "medication"]
    assert _last_json(first.stdout)["replicas_before"] == {"journal": 3, "medication": 2}
    assert "set the legacy record system of kommune 5035 back to read-write" in first.stderr
    assert _replicas(tenant_cluster) == {"journal": 0, "medication": 0, "ingress-helper": 1}
    second = runner.invoke(app, ["golive", "rollback", "--tenant", "5035", "--server", tenant_cluster])
    assert second.exit_code == 0, second.output
    summary = _last_json(second.stdout)
    assert summary["scaled_to_zero"] == [] and summary["already_off"] == ["journal", "medication"]
    assert _replicas(tenant_cluster) == {"journal": 0, "medication": 0, "ingress-helper": 1}
