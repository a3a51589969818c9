"""Issue 13 in the render: every prod tenant's database archives WAL and takes scheduled base
backups to its own encrypted prefix of the object store; only its database pods reach it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from epj.infra.render import render_objects
from epj.infra.validate import validate_objects

Obj = dict[str, Any]
PROD_TENANTS = ("5006", "5031", "5035", "5059")


@pytest.fixture(scope="module")
def prod_objects() -> list[Obj]:
    return render_objects("prod")


def _get(objs: list[Obj], ns: str, kind: str, name: str) -> Obj:
    found = [
        o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == ns
    ]
    assert len(found) == 1, (ns, kind, name)
    return found[0]


def test_every_prod_tenant_archives_wal_to_its_own_encrypted_prefix(prod_objects: list[Obj]) -> None:
    for nr in PROD_TENANTS:
        ns = f"kommune-{nr}"
        cluster = _get(prod_objects, ns, "Cluster", "epj-db")
        assert cluster["spec"]["plugins"] == [
            {
                "name": "barman-cloud.cloudnative-pg.io",
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": "epj-db-backup", "serverName": "epj-db"},
            }
        ]
        assert "backup" not in cluster["spec"], "the in-tree barmanObjectStore is not used"
        store = _get(prod_objects, ns, "ObjectStore", "epj-db-backup")
        assert store["apiVersion"] == "barmancloud.cnpg.io/v1"
        conf = store["spec"]["configuration"]
        assert conf["destinationPath"] == f"s3://epj-backup-prod/kommune-{nr}/"
        assert conf["endpointURL"] == "https://s3.backup.epj.example.no"
        assert conf["wal"]["encryption"] == "AES256" and conf["data"]["encryption"] == "AES256"
        assert conf["s3Credentials"]["accessKeyId"] == {"name": "epj-db-backup-s3", "key": "ACCESS_KEY_ID"}
        assert conf["s3Credentials"]["secretAccessKey"] == {"name": "epj-db-backup-s3", "key": "ACCESS_SECRET_KEY"}
        assert store["spec"]["retentionPolicy"] == "30d"
        daily = _get(prod_objects, ns, "ScheduledBackup", "epj-db-daily")
        assert daily["spec"] == {
            "schedule": "0 0 1 * * *",
            "immediate": True,
            "backupOwnerReference": "self",
            "cluster": {"name": "epj-db"},
            "method": "plugin",
            "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io"},
        }


def test_only_the_database_pods_may_reach_the_object_store(prod_objects: list[Obj]) -> None:
    for nr in PROD_TENANTS:
        ns = f"kommune-{nr}"
        policy = _get(prod_objects, ns, "NetworkPolicy", "allow-postgres-egress-to-object-store")
        assert policy["spec"] == {
            "podSelector": {"matchLabels": {"cnpg.io/cluster": "epj-db"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.40.8.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}]}],
        }
        # No other policy of the namespace opens the object store's addresses.
        others = [
            o
            for o in prod_objects
            if o["kind"] == "NetworkPolicy"
            and o["metadata"].get("namespace") == ns
            and o["metadata"]["name"] != "allow-postgres-egress-to-object-store"
        ]
        assert "10.40.8.0/24" not in str(others)


def test_the_test_stack_keeps_a_shorter_window_in_its_own_bucket() -> None:
    objs = render_objects("test")
    store = _get(objs, "kommune-5035", "ObjectStore", "epj-db-backup")
    assert store["spec"]["retentionPolicy"] == "14d"
    assert store["spec"]["configuration"]["destinationPath"] == "s3://epj-backup-test/kommune-5035/"


def test_the_schema_check_catches_a_broken_backup_setup(prod_objects: list[Obj]) -> None:
    store = copy.deepcopy(_get(prod_objects, "kommune-5035", "ObjectStore", "epj-db-backup"))
    store["spec"]["retentionPolicy"] = "30 days"
    store["spec"]["configuration"]["wal"]["encryption"] = "none"
    scheduled = copy.deepcopy(_get(prod_objects, "kommune-5035", "ScheduledBackup", "epj-db-daily"))
    scheduled["spec"]["schedule"] = "0 1 * * *"
    problems = validate_objects([store, scheduled])
    assert any("retentionPolicy" in p for p in problems)
    assert any("wal.encryption" in p for p in problems)
    assert any("spec.schedule" in p for p in problems)
    assert validate_objects([_get(prod_objects, "kommune-5035", "ObjectStore", "epj-db-backup")]) == []
