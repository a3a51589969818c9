"""The Kubernetes Job that runs one tenant's migration (issue 3 item 7), as a plain dict.

The operator creates this Job in the tenant's namespace for a rehearsal or the cutover; the
function is pure (no Kubernetes client) so the same object can be rendered, schema-validated and
reviewed. Choices, and why:

- **Names from the tenant baseline.** Database cluster, owner Secret, database name, the
  non-root uid and the ``epj.no/component: migration`` label come from
  :mod:`epj.infra.manifests`, whose NetworkPolicy lets exactly that component reach the tenant's
  PostgreSQL. The Secret is referenced by name only, so it is always the one in the Job's own
  namespace: no cross-tenant credentials are possible.
- **No credential in the pod spec or on the command line.** The owner Secret is mounted as files
  (as the clinical services get it, and as the IaC scanner prefers over ``secretKeyRef`` env
  vars); the entry script exports them as ``PGUSER``/``PGPASSWORD`` for libpq, and the target URL
  names host and database only.
- **Retries only where they can help.** The migration is idempotent and all-or-nothing, so a
  pod lost to a node drain is retried without counting (``DisruptionTarget`` → Ignore); a
  refused extract (exit 2: wrong tenant, unreadable files) fails the Job at once; anything else
  gets ``backoff_limit`` retries (1 by default).
- **Result readable from the API.** The reconciliation (SPEC §6, a few KiB) is copied to the
  container's termination message, so the operator reads it from the pod status without a
  shared volume; the full report (with ``quarantine.ndjson``) stays on the report volume.
- **Resources within the tenant quota** (:mod:`epj.tenants.sizing` reserves room for one
  migration Job): small extracts ask for less.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Final, Literal

from epj.contract import ENV_MIGRATION_RUN
from epj.infra.manifests import (
    COMPONENT,
    DB_CA_DIR,
    DB_CLUSTER,
    DB_CREDENTIALS_DIR,
    DB_NAME,
    DB_PORT,
    DB_SECRET,
    DB_SSLMODE,
    KOMMUNENR_LABEL,
    PART_OF,
    SKIP_IMAGE_DIGEST,
    TENANT_LABEL,
    db_ca_mount,
    db_ca_volume,
    restricted_container_security,
    restricted_pod_security,
)
from epj.tenants.model import Tenant
from epj.tenants.sizing import (
    MIGRATION_CPU_LIMIT_MILLICORES,
    MIGRATION_CPU_REQUEST_MILLICORES,
    MIGRATION_MEMORY_LIMIT_MIB,
    MIGRATION_MEMORY_REQUEST_MIB,
    cpu_quantity,
    memory_quantity,
)

Purpose = Literal["rehearsal", "cutover"]

PURPOSE_LABEL: Final = "epj.no/migration-purpose"
RUN_LABEL: Final = "epj.no/migration-run"
RECORDS_ANNOTATION: Final = "epj.no/extract-records"
CONTAINER_NAME: Final = "migrate"
EXTRACT_MOUNT: Final = "/extract"
REPORT_MOUNT: Final = "/report"
EXIT_REFUSED: Final = 2  # `epj migrate run`: extract refused or unreadable; retrying cannot help
SMALL_EXTRACT_RECORDS: Final = 200_000
# Throughput assumed for the deadline: a tenth of the 10,000 records/s the pipeline is built for.
DEADLINE_RECORDS_PER_SECOND: Final = 1_000
DEADLINE_FLOOR_SECONDS: Final = 15 * 60
TTL_AFTER_FINISHED_SECONDS: Final = 7 * 24 * 3600  # keep the finished Job a week for the go/no-go review

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def job_name(purpose: Purpose, run_id: str) -> str:
    """``migrate-<purpose>-<run_id>``; a DNS label of at most 63 characters (the Job sets it as a pod label)."""
    name = f"migrate-{purpose}-{run_id}"
    if not _DNS_LABEL.match(run_id) or len(name) > 63:
        raise ValueError(
            f"run_id {run_id!r} must be lowercase letters, digits and '-' (not at the ends), "
            f"and make a Job name of at most 63 characters"
        )
    return name


def target_url(tenant: Tenant) -> str:
    """The tenant database as a libpq URL without credentials (those come from the Secret via PG* variables)."""
    return (
        f"postgresql://{DB_CLUSTER}-rw.{tenant.namespace}.svc:{DB_PORT}/{DB_NAME}"
        f"?sslmode={DB_SSLMODE}&sslrootcert={DB_CA_DIR}/ca.crt"
    )


def migrate_args(tenant: Tenant, purpose: Purpose) -> list[str]:
    """The ``epj migrate run`` command line of the Job (synthetic ids only in a rehearsal)."""
    args = ["epj", "migrate", "run", EXTRACT_MOUNT, "--target", target_url(tenant), "--out", REPORT_MOUNT]
    args += ["--tenant", tenant.kommunenummer]
    if purpose == "rehearsal":
        args.append("--synthetic-ids")
    return args


def entry_script(tenant: Tenant, purpose: Purpose) -> str:
    """The container's shell script: credentials from the mounted Secret, the migration, its result.

    After the run, the reconciliation goes to the termination message (at most 4 KiB, which the
    SPEC §6 report fits) so the operator reads it from the pod status; the exit code is the
    migration's.
    """
    creds = DB_CREDENTIALS_DIR
    return (
        f'PGUSER="$(cat {creds}/username)" && PGPASSWORD="$(cat {creds}/password)" && export PGUSER PGPASSWORD'
        f" || exit {EXIT_REFUSED}; "
        f"rm -f {REPORT_MOUNT}/reconciliation.json; {shlex.join(migrate_args(tenant, purpose))}; rc=$?; "
        f"head -c 4096 {REPORT_MOUNT}/reconciliation.json > /dev/termination-log 2>/dev/null; exit $rc"
    )


def _resources(records: int | None) -> dict[str, dict[str, str]]:
    small = records is not None and records <= SMALL_EXTRACT_RECORDS
    cpu_req = MIGRATION_CPU_REQUEST_MILLICORES // 2 if small else MIGRATION_CPU_REQUEST_MILLICORES
    cpu_lim = MIGRATION_CPU_LIMIT_MILLICORES // 2 if small else MIGRATION_CPU_LIMIT_MILLICORES
    mem_req = MIGRATION_MEMORY_REQUEST_MIB // 2 if small else MIGRATION_MEMORY_REQUEST_MIB
    mem_lim = MIGRATION_MEMORY_LIMIT_MIB // 2 if small else MIGRATION_MEMORY_LIMIT_MIB
    return {
        "requests": {"cpu": cpu_quantity(cpu_req), "memory": memory_quantity(mem_req), "ephemeral-storage": "1Gi"},
        "limits": {"cpu": cpu_quantity(cpu_lim), "memory": memory_quantity(mem_lim), "ephemeral-storage": "4Gi"},
    }


def default_deadline_seconds(records: int | None) -> int:
    """Generous wall-clock bound: 15 minutes, plus records at a tenth of the designed throughput."""
    if records is None:
        return 4 * 3600
    return DEADLINE_FLOOR_SECONDS + -(-records // DEADLINE_RECORDS_PER_SECOND)


def migration_job_manifest(
    tenant: Tenant,
    *,
    purpose: Purpose,
    run_id: str,
    image: str,
    extract_pvc: str,
    extract_records: int | None = None,
    extract_subpath: str | None = None,
    report_pvc: str | None = None,
    backoff_limit: int = 1,
    deadline_seconds: int | None = None,
    ttl_seconds_after_finished: int = TTL_AFTER_FINISHED_SECONDS,
    image_pull_secret: str | None = None,
) -> dict[str, Any]:
    """The batch/v1 Job migrating `tenant`'s extract (on PVC `extract_pvc`) into the tenant database.

    `extract_records` (the manifest's record count) sizes resources and the default deadline.
    `report_pvc` keeps the full report; without it the report folder is an emptyDir and the
    reconciliation reaches the operator through the termination message only. A report PVC counts
    against the tenant quota's PVCs (sized for one migration scratch volume: the extract's).
    `image_pull_secret` names a registry Secret in the tenant namespace, if the registry needs one.
    """
    if purpose not in ("rehearsal", "cutover"):
        raise ValueError(f"purpose must be 'rehearsal' or 'cutover', got {purpose!r}")
    if backoff_limit < 0 or backoff_limit > 3:
        raise ValueError("backoff_limit must be 0-3 (a migration is retried at most a few times)")
    name = job_name(purpose, run_id)
    for what, ref in (
        ("extract_pvc", extract_pvc),
        ("report_pvc", report_pvc),
        ("image_pull_secret", image_pull_secret),
    ):
        if ref is not None and not _DNS_LABEL.match(ref):
            raise ValueError(f"{what} {ref!r} is not a valid object name")
    labels = {
        **PART_OF,
        KOMMUNENR_LABEL: tenant.kommunenummer,
        TENANT_LABEL: tenant.kommunenummer,
        COMPONENT: "migration",
        PURPOSE_LABEL: purpose,
        RUN_LABEL: run_id,
        "app.kubernetes.io/name": "epj-migration",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "migration",
        "app.kubernetes.io/managed-by": "epj-operator",
    }
    annotations: dict[str, str] = {} if "@sha256:" in image else {"checkov.io/skip1": SKIP_IMAGE_DIGEST}
    if extract_records is not None:
        annotations[RECORDS_ANNOTATION] = str(extract_records)
    script = entry_script(tenant, purpose)
    extract_mount: dict[str, Any] = {"name": "extract", "mountPath": EXTRACT_MOUNT, "readOnly": True}
    if extract_subpath:
        extract_mount["subPath"] = extract_subpath
    report_volume: dict[str, Any] = (
        {"name": "report", "persistentVolumeClaim": {"claimName": report_pvc}}
        if report_pvc
        else {"name": "report", "emptyDir": {"sizeLimit": "2Gi"}}
    )
    container = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": "Always",
        "command": ["/bin/sh", "-c", script],
        "env": [
            {"name": "EPJ_TENANT", "value": tenant.kommunenummer},
            {"name": "EPJ_MIGRATION_PURPOSE", "value": purpose},
            {"name": ENV_MIGRATION_RUN, "value": name},  # the run's name in the store's ledger
            {"name": "EPJ_DB_CREDENTIALS_DIR", "value": DB_CREDENTIALS_DIR},
            {"name": "PGAPPNAME", "value": "epj-migration"},
            {"name": "PGCONNECT_TIMEOUT", "value": "10"},
            {"name": "HOME", "value": "/tmp"},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "resources": _resources(extract_records),
        "securityContext": restricted_container_security(),
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            extract_mount,
            {"name": "report", "mountPath": REPORT_MOUNT},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "db-credentials", "mountPath": DB_CREDENTIALS_DIR, "readOnly": True},
            db_ca_mount(),
        ],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": restricted_pod_security(),
        "containers": [container],
        "volumes": [
            {"name": "extract", "persistentVolumeClaim": {"claimName": extract_pvc, "readOnly": True}},
            report_volume,
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "db-credentials", "secret": {"secretName": DB_SECRET, "defaultMode": 0o440}},
            db_ca_volume(),
        ],
    }
    if image_pull_secret:
        pod_spec["imagePullSecrets"] = [{"name": image_pull_secret}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": tenant.namespace, "labels": labels, "annotations": annotations},
        "spec": {
            "backoffLimit": backoff_limit,
            "activeDeadlineSeconds": deadline_seconds or default_deadline_seconds(extract_records),
            "ttlSecondsAfterFinished": ttl_seconds_after_finished,
            "completions": 1,
            "parallelism": 1,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": CONTAINER_NAME, "operator": "In", "values": [EXIT_REFUSED]},
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]
            },
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec},
        },
    }
