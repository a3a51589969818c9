"""Point-in-time recovery of one tenant's database into a **new** CloudNativePG Cluster (issue 13).

:func:`recovery_manifests` writes what the on-call applies (``epj backup restore-manifest``,
``runbooks/process/restore-point-in-time.md``): a Cluster bootstrapped with
``bootstrap.recovery`` from the tenant's object store (Barman Cloud plugin, server name
``epj-db``) up to ``recoveryTarget.targetTime``, plus the NetworkPolicy its pods need. It is
never the live cluster: the name must differ from ``epj-db``, and the new cluster archives its
own WAL under its own server name, so it can never write into the live cluster's WAL stream.
Nothing points the clinical services at it; switching over is a separate, deliberate step.

Pure: no Pulumi, no Kubernetes client.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from epj.infra import backup, manifests
from epj.infra.config import InfraConfig
from epj.tenants.model import Tenant
from epj.tenants.sizing import TenantSizing

Manifest = dict[str, Any]
RESTORE_OF_LABEL = "epj.no/restore-of"
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,48}[a-z0-9])?$")
_UNITS = {"d": 1, "w": 7, "m": 30}


class RestoreRefused(ValueError):
    """The request would touch the live cluster or cannot be satisfied; the message says what to do."""


def retention_window(config: InfraConfig) -> dt.timedelta:
    """The PITR window from ``backupRetention`` (``30d``, ``6w``, ``3m`` = 90 days)."""
    value, unit = int(config.backup_retention[:-1]), config.backup_retention[-1]
    return dt.timedelta(days=value * _UNITS[unit])


def default_name(target: dt.datetime) -> str:
    """``epj-db-pitr-20261204t1130z``: the target time in the name, so two restores never collide."""
    return "epj-db-pitr-" + target.astimezone(dt.UTC).strftime("%Y%m%dt%H%Mz")


def check_target(target: dt.datetime, config: InfraConfig, now: dt.datetime) -> None:
    """Refuse a target without a time zone, in the future, or older than the PITR window."""
    if target.tzinfo is None:
        raise RestoreRefused(
            f"target time {target.isoformat()} has no time zone; give it with one, e.g. 2026-12-04T11:30:00+01:00"
        )
    if target > now:
        raise RestoreRefused(f"target time {target.isoformat()} is in the future; recovery can only go back")
    earliest = now - retention_window(config)
    if target < earliest:
        raise RestoreRefused(
            f"target time {target.isoformat()} is older than the PITR window ({config.backup_retention}, earliest "
            f"{earliest.isoformat(timespec='minutes')}); for older data use a kept monthly backup "
            "(runbooks/process/monthly-restore-drill.md)"
        )


def recovery_manifests(
    tenant: Tenant,
    sizing: TenantSizing,
    config: InfraConfig,
    target: dt.datetime,
    *,
    now: dt.datetime,
    name: str | None = None,
) -> list[Manifest]:
    """The NetworkPolicy and the recovery Cluster for ``tenant`` at ``target`` (checked first)."""
    check_target(target, config, now)
    cluster = name or default_name(target)
    if cluster == manifests.DB_CLUSTER:
        raise RestoreRefused(
            f"{cluster} is the live database cluster; a restore always goes into a new cluster (leave --name out)"
        )
    if not _NAME.match(cluster):
        raise RestoreRefused(f"cluster name {cluster!r} is not a DNS label of at most 50 characters")
    ns = tenant.namespace
    labels = {**manifests.tenant_labels(tenant), RESTORE_OF_LABEL: manifests.DB_CLUSTER}
    db = sizing.database
    storage: dict[str, Any] = {"size": f"{db.storage_gib}Gi"}
    if config.storage_class:
        storage["storageClass"] = config.storage_class
    pods = {"matchLabels": {"cnpg.io/cluster": cluster}}
    target_text = target.astimezone(dt.UTC).isoformat(sep=" ")
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"allow-{cluster}", "namespace": ns, "labels": labels},
        "spec": {
            "podSelector": pods,
            "policyTypes": ["Ingress", "Egress"],
            # The CloudNativePG operator talks to the instance manager; nothing else may connect.
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": config.cnpg_operator_namespace}
                            }
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": manifests.DB_STATUS_PORT}],
                }
            ],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": cidr}} for cidr in config.backup_endpoint_cidrs],
                    "ports": [{"protocol": "TCP", "port": config.backup_endpoint_port}],
                },
                {
                    "to": [{"ipBlock": {"cidr": cidr}} for cidr in config.api_server_cidrs],
                    "ports": [{"protocol": "TCP", "port": config.api_server_port}],
                },
            ],
        },
    }
    recovery = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {
            "name": cluster,
            "namespace": ns,
            "labels": labels,
            "annotations": {"epj.no/recovery-target-time": target_text},
        },
        "spec": {
            "instances": 1,
            "imageName": config.postgres_image,
            "enableSuperuserAccess": False,
            "storage": storage,
            "resources": {
                "requests": {"cpu": f"{db.cpu_request_millicores}m", "memory": f"{db.memory_mib}Mi"},
                "limits": {"cpu": f"{db.cpu_limit_millicores}m", "memory": f"{db.memory_mib}Mi"},
            },
            "bootstrap": {
                "recovery": {
                    "source": "origin",
                    "database": manifests.DB_NAME,
                    "owner": manifests.DB_OWNER,
                    "recoveryTarget": {"targetTime": target_text},
                }
            },
            "externalClusters": [
                {
                    "name": "origin",
                    "plugin": {
                        "name": backup.BARMAN_PLUGIN,
                        "parameters": {"barmanObjectName": backup.OBJECT_STORE, "serverName": backup.SERVER_NAME},
                    },
                }
            ],
            # Its own WAL goes under its own server name: never into the live cluster's stream.
            "plugins": [
                {
                    "name": backup.BARMAN_PLUGIN,
                    "isWALArchiver": True,
                    "parameters": {"barmanObjectName": backup.OBJECT_STORE, "serverName": cluster},
                }
            ],
            "inheritedMetadata": {
                "labels": {
                    manifests.TENANT_LABEL: tenant.kommunenummer,
                    manifests.COMPONENT: "database-restore",
                }
            },
        },
    }
    return [policy, recovery]
