"""Continuous backup of each tenant's database: WAL archiving and scheduled base backups (issue 13).

The objects, as plain dicts (like :mod:`epj.infra.manifests`), for CloudNativePG
:data:`CNPG_VERSION` with the **Barman Cloud plugin** (CNPG-I, :data:`BARMAN_PLUGIN`).
Why the plugin and not the in-tree ``spec.backup.barmanObjectStore``: from CloudNativePG
1.26 the in-tree object-store support is deprecated in favour of the plugin and is being
removed; a platform meant to run patient records for years should not start on an API with
an announced end. The plugin uses the same barman-cloud tools and bucket layout
(``<destinationPath>/<serverName>/{base,wals}``), so backups stay readable by
``barman-cloud-restore`` outside the cluster (what ``tests/backup`` exercises for real).

Per tenant:

- ``ObjectStore`` ``epj-db-backup``: the bucket prefix ``s3://<bucket>/kommune-<nr>/``,
  server-side encryption at rest for WAL and base backups (``backupEncryption``, default
  ``AES256``), gzip, and the PITR window as retention (``backupRetention``, default ``30d``).
- The Cluster archives WAL through the plugin (``isWALArchiver``) under server name ``epj-db``.
- ``ScheduledBackup`` ``epj-db-daily`` (``backupSchedule``): base backups through the plugin.
- Long-term monthly copies are the backups the monthly restore drill proved restorable
  (``runbooks/process/monthly-restore-drill.md``): the drill marks that backup
  ``barman-cloud-backup-keep --target full``, which exempts it and the WAL it needs from the
  retention policy. A copy nobody restored is not kept for years on trust.
- Secret ``epj-db-backup-s3``: that tenant's own object-store key (from the Pulumi secret
  ``backupCredentials``), readable only in its namespace; the key should be limited by the
  bucket policy to ``kommune-<nr>/`` so a tenant can never read another tenant's backups.
- NetworkPolicy ``allow-postgres-egress-to-object-store``: only the database pods may reach
  the object store's addresses and port.
"""

from __future__ import annotations

from typing import Any

from epj.infra.config import InfraConfig
from epj.tenants.model import Tenant

Manifest = dict[str, Any]

#: CloudNativePG version the Cluster and plugin fields are written for (the operator in `cnpg-system`).
CNPG_VERSION = "1.27"
#: The Barman Cloud plugin (https://github.com/cloudnative-pg/plugin-barman-cloud), installed next to the operator.
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
OBJECT_STORE = "epj-db-backup"
CREDENTIALS_SECRET = "epj-db-backup-s3"
ACCESS_KEY_ID = "ACCESS_KEY_ID"
ACCESS_SECRET_KEY = "ACCESS_SECRET_KEY"
#: barman server name of the live cluster in the bucket (a recovery cluster archives under its own).
SERVER_NAME = "epj-db"
DAILY = "epj-db-daily"
EGRESS_POLICY = "allow-postgres-egress-to-object-store"


def destination_path(config: InfraConfig, tenant: Tenant) -> str:
    """``s3://<bucket>/kommune-<nr>/``: each tenant's own prefix in the backup bucket."""
    return f"s3://{config.backup_bucket}/{tenant.namespace}/"


def _meta(tenant: Tenant, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": tenant.namespace, "labels": dict(labels)}


def credentials_secret(tenant: Tenant, labels: dict[str, str], access_key_id: object, secret_key: object) -> Manifest:
    """The tenant's object-store key (values are Pulumi secret Outputs at deploy time, placeholders in a render)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(tenant, CREDENTIALS_SECRET, labels),
        "type": "Opaque",
        "stringData": {ACCESS_KEY_ID: access_key_id, ACCESS_SECRET_KEY: secret_key},
    }


def object_store(tenant: Tenant, config: InfraConfig, labels: dict[str, str]) -> Manifest:
    """Where WAL and base backups go, encrypted at rest, kept for the PITR window."""
    encryption = config.backup_encryption
    configuration: dict[str, Any] = {
        "destinationPath": destination_path(config, tenant),
        "endpointURL": config.backup_endpoint_url,
        "s3Credentials": {
            "accessKeyId": {"name": CREDENTIALS_SECRET, "key": ACCESS_KEY_ID},
            "secretAccessKey": {"name": CREDENTIALS_SECRET, "key": ACCESS_SECRET_KEY},
        },
        "wal": {"compression": "gzip", "encryption": encryption, "maxParallel": 2},
        "data": {"compression": "gzip", "encryption": encryption, "jobs": 2},
    }
    return {
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": _meta(tenant, OBJECT_STORE, labels),
        "spec": {"configuration": configuration, "retentionPolicy": config.backup_retention},
    }


def cluster_plugins() -> list[dict[str, Any]]:
    """The Cluster's ``spec.plugins``: WAL archiving through the Barman Cloud plugin to the tenant's store."""
    return [
        {
            "name": BARMAN_PLUGIN,
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": OBJECT_STORE, "serverName": SERVER_NAME},
        }
    ]


def scheduled_backup(tenant: Tenant, config: InfraConfig, cluster: str, labels: dict[str, str]) -> Manifest:
    """Daily base backups: the starting points of the PITR window (WAL is archived continuously)."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": _meta(tenant, DAILY, labels),
        "spec": {
            "schedule": config.backup_schedule,
            "immediate": True,
            "backupOwnerReference": "self",
            "cluster": {"name": cluster},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_PLUGIN},
        },
    }


def egress_policy(tenant: Tenant, config: InfraConfig, db_pods: dict[str, Any], labels: dict[str, str]) -> Manifest:
    """Only the database pods may reach the object store (its addresses and port), nothing else."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            **_meta(tenant, EGRESS_POLICY, labels),
            "annotations": {"epj.no/justification": "CloudNativePG archives WAL and base backups to the object store"},
        },
        "spec": {
            "podSelector": db_pods,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": cidr}} for cidr in config.backup_endpoint_cidrs],
                    "ports": [{"protocol": "TCP", "port": config.backup_endpoint_port}],
                }
            ],
        },
    }


def backup_manifests(
    tenant: Tenant,
    config: InfraConfig,
    *,
    cluster: str,
    db_pods: dict[str, Any],
    labels: dict[str, str],
    credentials: tuple[object, object],
) -> list[Manifest]:
    """Everything a tenant's continuous backup needs besides the Cluster's own ``plugins`` entry."""
    return [
        egress_policy(tenant, config, db_pods, labels),
        credentials_secret(tenant, labels, *credentials),
        object_store(tenant, config, labels),
        scheduled_backup(tenant, config, cluster, labels),
    ]
