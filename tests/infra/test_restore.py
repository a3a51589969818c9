"""The on-call's point-in-time recovery path: the recovery Cluster manifest (never the live cluster)
and the check of the restored database."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from epj.catalog import load_catalog
from epj.cli import app
from epj.infra.config import load_stack_config
from epj.infra.restore import RestoreRefused, recovery_manifests
from epj.infra.validate import validate_objects
from epj.tenants import load_tenants
from epj.tenants.sizing import tenant_sizing

runner = CliRunner()
NOW = dt.datetime(2026, 12, 4, 14, 0, tzinfo=dt.UTC)
OSLO = dt.timezone(dt.timedelta(hours=1))


def _manifests(target: dt.datetime, name: str | None = None) -> list[dict[str, object]]:
    tenant = load_tenants().get("5035")
    sizing = tenant_sizing(tenant, load_catalog(), 35)
    return recovery_manifests(tenant, sizing, load_stack_config("prod"), target, now=NOW, name=name)


def test_the_recovery_cluster_is_new_and_recovers_from_the_live_clusters_backups() -> None:
    policy, cluster = _manifests(dt.datetime(2026, 12, 4, 11, 30, tzinfo=OSLO))
    assert cluster["kind"] == "Cluster"
    assert cluster["metadata"]["name"] == "epj-db-pitr-20261204t1030z"
    assert cluster["metadata"]["namespace"] == "kommune-5035"
    spec = cluster["spec"]
    assert spec["bootstrap"] == {
        "recovery": {
            "source": "origin",
            "database": "epj",
            "owner": "epj",
            "recoveryTarget": {"targetTime": "2026-12-04 10:30:00+00:00"},
        }
    }
    assert spec["externalClusters"] == [
        {
            "name": "origin",
            "plugin": {
                "name": "barman-cloud.cloudnative-pg.io",
                "parameters": {"barmanObjectName": "epj-db-backup", "serverName": "epj-db"},
            },
        }
    ]
    # It archives under its own server name, never into the live cluster's WAL stream.
    assert spec["plugins"][0]["parameters"] == {
        "barmanObjectName": "epj-db-backup",
        "serverName": "epj-db-pitr-20261204t1030z",
    }
    assert spec["storage"] == {"size": "35Gi", "storageClass": "fast-replicated"}
    # Clinical services select cnpg.io/cluster=epj-db: nothing connects to the restore by accident.
    assert policy["spec"]["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "epj-db-pitr-20261204t1030z"}}
    assert policy["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "10.40.8.0/24"}}]
    assert validate_objects([policy, cluster]) == []


@pytest.mark.parametrize(
    ("target", "name", "message"),
    [
        (dt.datetime(2026, 12, 4, 11, 0, tzinfo=dt.UTC), "epj-db", "epj-db is the live database cluster"),
        (dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC), None, "is in the future"),
        (dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC), None, "older than the PITR window (30d, earliest 2026-11-04"),
        (dt.datetime(2026, 12, 4, 11, 0), None, "has no time zone"),
        (dt.datetime(2026, 12, 4, 11, 0, tzinfo=dt.UTC), "Epj_DB", "is not a DNS label"),
    ],
)
def test_unsafe_or_impossible_restores_are_refused(target: dt.datetime, name: str | None, message: str) -> None:
    with pytest.raises(RestoreRefused, match=message.replace("(", r"\(")):
        _manifests(target, name)


def test_the_command_writes_the_manifest_and_refuses_the_live_name(tmp_path: Path) -> None:
    target = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(microsecond=0)
    out = tmp_path / "pitr.yaml"
    result = runner.invoke(
        app, ["backup", "restore-manifest", "--tenant", "5031", "--to", target.isoformat(), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(out.read_text(encoding="utf-8")))
    assert [d["kind"] for d in docs] == ["NetworkPolicy", "Cluster"]
    assert docs[1]["metadata"]["namespace"] == "kommune-5031"
    assert docs[1]["metadata"]["name"] != "epj-db"
    refused = tmp_path / "refused.yaml"
    result = runner.invoke(
        app,
        ["backup", "restore-manifest", "--tenant", "5031", "--to", target.isoformat(), "--out", str(refused),
         "--name", "epj-db"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "live database cluster" in result.output
    assert not refused.exists()


@pytest.fixture
def restored_db() -> str:
    """A stand-in for a restored database on the shared server (own database, dropped afterwards)."""
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = "epj_backup_verify_restore"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE SCHEMA kommune_5035")
        conn.execute("CREATE TABLE kommune_5035.fhir_resource (id text PRIMARY KEY)")
        conn.execute("INSERT INTO kommune_5035.fhir_resource SELECT 'r' || g FROM generate_series(1, 1234) g")
    yield dsn
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_verify_restore_reports_what_the_restored_database_holds(restored_db: str, tmp_path: Path) -> None:
    out = tmp_path / "verify.json"
    result = runner.invoke(
        app, ["backup", "verify-restore", "--tenant", "5035", "--dsn", restored_db, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == {
        "tenant": "5035",
        "schema": "kommune_5035",
        "promoted": True,
        "rows": {"fhir_resource": 1234},
    }
    empty = runner.invoke(app, ["backup", "verify-restore", "--tenant", "5031", "--dsn", restored_db])
    assert empty.exit_code != 0
    assert "no schema kommune_5031" in " ".join(empty.output.split())
