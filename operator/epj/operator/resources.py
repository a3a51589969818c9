"""The objects the operator creates, as plain dicts: GoLives for wave members, MigrationJobs, batch Jobs.

Object graph (one way, so a reader can follow a go-live from the wave to the Job)::

    RolloutWave (operator namespace)
      └─ GoLive golive-<kommunenummer>            ownerReference → RolloutWave
           ├─ MigrationJob golive-<k>-<purpose>-<n> ownerReference → GoLive
           │    └─ batch/v1 Job migrate-<purpose>-<k>-<n>  in the tenant namespace kommune-<k>
           ├─ batch/v1 Job smoke-<k>-<n>             ``epj golive smoke`` (tenant namespace)
           ├─ batch/v1 Job seal-<k>-<n>              ``epj migrate seal`` at Cutover → Live (tenant namespace)
           └─ batch/v1 Job rollback-<k>-<n>          ``epj golive rollback``: traffic off (tenant namespace)

The migration Job's manifest is :func:`epj.migration.job.migration_job_manifest` (the
migration area owns it) for tenants in ``tenants/``; unknown tenants (the 400-tenant
bench) get a minimal Job with the same labels. Jobs live in the tenant's namespace, so
no ownerReference can point at them (those cannot cross namespaces): the MigrationJob
finds its Job by name and label, and its finalizer keeps it from vanishing while the
Job runs.

**Reconciliation result:** the migration Job copies ``reconciliation.json`` (SPEC §6) into
its container's termination message (see :mod:`epj.migration.job`); the operator reads it
from the Job's pod (``status.containerStatuses[].state.terminated.message``).
"""

from __future__ import annotations

import functools
import json
import shlex
from typing import Any

from epj.golive.model import Reconciliation
from epj.golive.phases import JobState, MigrationPurpose
from epj.operator.crds import API_VERSION

MANAGED_BY = "epj-golive-operator"
TENANT_LABEL = "epj.no/tenant"
WAVE_LABEL = "epj.no/wave"
GOLIVE_LABEL = "epj.no/golive"
MIGRATION_JOB_LABEL = "epj.no/migration-job"
ROLE_LABEL = "epj.no/job-role"
#: Finished smoke and rollback Jobs (and their pods' logs) are kept a week for the night's review, then collected.
#: Their outcome is recorded in the GoLive before then; a smoke Job collected early is simply run again.
FINISHED_JOB_TTL_SECONDS = 7 * 24 * 3600
#: What the tenant's NetworkPolicies select on (``epj.infra.manifests.COMPONENT``).
COMPONENT_LABEL = "epj.no/component"


def golive_name(kommunenummer: str) -> str:
    """One GoLive per tenant in the operator namespace; the CLI finds it by kommunenummer."""
    return f"golive-{kommunenummer}"


def tenant_namespace(kommunenummer: str) -> str:
    """The tenant's namespace (``kommune-<kommunenummer>``, as the tenant model names it)."""
    tenant = _tenants().get(kommunenummer)
    return tenant.namespace if tenant is not None else f"kommune-{kommunenummer}"


@functools.cache
def _tenants() -> dict[str, Any]:
    try:
        from epj.tenants import load_tenants

        return {t.kommunenummer: t for t in load_tenants().tenants}
    except Exception:  # the tenant files are optional for the operator (bench tenants are synthetic)
        return {}


def owner_reference(body: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    meta = body["metadata"]
    return {
        "apiVersion": body.get("apiVersion", API_VERSION),
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def labels(kommunenummer: str, **extra: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": "epj-platform",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        TENANT_LABEL: kommunenummer,
        **extra,
    }


def golive_manifest(wave: dict[str, Any], member: dict[str, Any], spec_fields: dict[str, Any]) -> dict[str, Any]:
    """The GoLive of one wave member (owned by the wave). ``spec_fields`` are the wave-derived spec keys."""
    kommunenummer = member["kommunenummer"]
    return {
        "apiVersion": API_VERSION,
        "kind": "GoLive",
        "metadata": {
            "name": golive_name(kommunenummer),
            "namespace": wave["metadata"]["namespace"],
            "labels": labels(kommunenummer, **{WAVE_LABEL: wave["metadata"]["name"]}),
            "ownerReferences": [owner_reference(wave)],
        },
        "spec": {"kommunenummer": kommunenummer, **spec_fields},
    }


def migration_job_cr(
    golive: dict[str, Any], *, job_name: str, purpose: MigrationPurpose, attempt: int, image: str
) -> dict[str, Any]:
    """The MigrationJob the core's ``CreateMigrationJob`` asks for (owned by the GoLive)."""
    kommunenummer = golive["spec"]["kommunenummer"]
    return {
        "apiVersion": API_VERSION,
        "kind": "MigrationJob",
        "metadata": {
            "name": job_name,
            "namespace": golive["metadata"]["namespace"],
            "labels": labels(kommunenummer, **{GOLIVE_LABEL: golive["metadata"]["name"]}),
            "ownerReferences": [owner_reference(golive)],
        },
        "spec": {
            "kommunenummer": kommunenummer,
            "purpose": str(purpose),
            "goLive": golive["metadata"]["name"],
            "attempt": attempt,
            "extract": {"location": f"/extracts/{kommunenummer}/{purpose}", "volumeClaim": f"extract-{purpose}"},
            "image": image,
            "syntheticIds": purpose == MigrationPurpose.REHEARSAL,
            "backoffLimit": 0,
        },
    }


def batch_job_name(spec: dict[str, Any]) -> str:
    """The batch Job of a MigrationJob: ``migrate-<purpose>-<kommunenummer>-<attempt>`` (migration's pattern)."""
    return f"migrate-{spec['purpose']}-{spec['kommunenummer']}-{spec.get('attempt', 1)}"


def migration_batch_job(migration_job: dict[str, Any]) -> dict[str, Any]:
    """The batch/v1 Job running ``epj migrate run`` for a MigrationJob, in the tenant's namespace."""
    spec, meta = migration_job["spec"], migration_job["metadata"]
    kommunenummer, purpose = spec["kommunenummer"], spec["purpose"]
    run_id = f"{kommunenummer}-{spec.get('attempt', 1)}"
    extra = {MIGRATION_JOB_LABEL: meta["name"], ROLE_LABEL: "migration", COMPONENT_LABEL: "migration"}
    tenant = _tenants().get(kommunenummer)
    if tenant is not None:
        from epj.migration.job import migration_job_manifest

        job = migration_job_manifest(
            tenant,
            purpose=purpose,
            run_id=run_id,
            image=spec["image"],
            extract_pvc=spec["extract"].get("volumeClaim") or f"extract-{purpose}",
            backoff_limit=min(int(spec.get("backoffLimit", 0)), 3),
        )
        job["metadata"]["labels"].update(extra)
        job["metadata"]["labels"]["app.kubernetes.io/managed-by"] = MANAGED_BY
        return job
    return _minimal_job(
        batch_job_name(spec),
        kommunenummer,
        spec["image"],
        ["epj", "migrate", "run", "/extract", "--out", "/report", "--tenant", kommunenummer],
        extra,
    )


def smoke_job(kommunenummer: str, migration_job: str, golive: str, image: str) -> dict[str, Any]:
    """Post-cutover smoke check (``epj golive smoke``) against the tenant's database (succeeds = passed).

    Labelled ``epj.no/component: smoke`` so the tenant's NetworkPolicies let it reach its own
    PostgreSQL and services (and nothing of another tenant); credentials from the owner Secret
    as files, exported to libpq by the entry script, as in the migration Job.
    """
    from epj.contract import (
        DB_CA_DIR,
        DB_CA_SECRET,
        DB_CLUSTER,
        DB_CREDENTIALS_DIR,
        DB_NAME,
        DB_PORT,
        DB_SECRET,
        DB_SSLMODE,
    )

    name = f"smoke-{migration_job.removeprefix('golive-')}"
    extra = {GOLIVE_LABEL: golive, MIGRATION_JOB_LABEL: migration_job, ROLE_LABEL: "smoke", COMPONENT_LABEL: "smoke"}
    creds = DB_CREDENTIALS_DIR
    script = (
        f'PGUSER="$(cat {creds}/username)" && PGPASSWORD="$(cat {creds}/password)" && export PGUSER PGPASSWORD'
        f" || exit 1; exec epj golive smoke --tenant {kommunenummer}"
    )
    job = _minimal_job(name, kommunenummer, image, ["/bin/sh", "-c", script], extra)
    job["spec"]["ttlSecondsAfterFinished"] = FINISHED_JOB_TTL_SECONDS
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["command"] = container.pop("args")
    container["env"] = [
        {"name": "PGHOST", "value": f"{DB_CLUSTER}-rw"},
        {"name": "PGPORT", "value": str(DB_PORT)},
        {"name": "PGDATABASE", "value": DB_NAME},
        # Verify the server against CloudNativePG's CA (verify-full), not only encrypt.
        {"name": "PGSSLMODE", "value": DB_SSLMODE},
        {"name": "PGSSLROOTCERT", "value": f"{DB_CA_DIR}/ca.crt"},
        {"name": "PGAPPNAME", "value": "epj-smoke"},
        {"name": "PGCONNECT_TIMEOUT", "value": "10"},
    ]
    container["volumeMounts"] = [
        {"name": "db-credentials", "mountPath": creds, "readOnly": True},
        {"name": "db-ca", "mountPath": DB_CA_DIR, "readOnly": True},
    ]
    job["spec"]["template"]["spec"]["volumes"] = [
        {"name": "db-credentials", "secret": {"secretName": DB_SECRET, "defaultMode": 0o440}},
        # Only ca.crt of CloudNativePG's CA, never its key.
        {
            "name": "db-ca",
            "secret": {
                "secretName": DB_CA_SECRET,
                "defaultMode": 0o444,
                "items": [{"key": "ca.crt", "path": "ca.crt"}],
            },
        },
    ]
    return job


def seal_job(kommunenummer: str, migration_job: str, golive: str, image: str) -> dict[str, Any]:
    """Seal the tenant's store at Cutover → Live (``epj migrate seal``): later migration runs are refused.

    Labelled as the migration component (the tenant's NetworkPolicies let exactly that reach its
    PostgreSQL); credentials from the owner Secret as files, as in the smoke Job. Idempotent: a store
    already sealed keeps its first record, so a repeated Job changes nothing.
    """
    job = smoke_job(kommunenummer, migration_job, golive, image)
    name = f"seal-{migration_job.removeprefix('golive-')}"
    job_labels = {**job["metadata"]["labels"], ROLE_LABEL: "seal", COMPONENT_LABEL: "migration"}
    job["metadata"].update(name=name, labels=job_labels)
    job["spec"]["template"]["metadata"]["labels"] = job_labels
    container = job["spec"]["template"]["spec"]["containers"][0]
    from epj.contract import DB_CREDENTIALS_DIR as creds

    seal = ["epj", "migrate", "seal", "--tenant", kommunenummer, "--by", f"operator: GoLive {golive} Cutover -> Live"]
    container["command"] = [
        "/bin/sh",
        "-c",
        f'PGUSER="$(cat {creds}/username)" && PGPASSWORD="$(cat {creds}/password)" && export PGUSER PGPASSWORD'
        f" || exit 1; exec {shlex.join(seal)}",
    ]
    for env in container["env"]:
        if env["name"] == "PGAPPNAME":
            env["value"] = "epj-seal"
    job["spec"]["backoffLimit"] = 3  # a database briefly away is worth a retry: the seal must happen
    return job


def rollback_job(kommunenummer: str, migration_job: str, golive: str, image: str) -> dict[str, Any]:
    """Roll back a cutover (``epj golive rollback``): tenant traffic off the new EPJ; legacy read-write is manual.

    Runs as the tenant namespace's ``epj-rollback`` ServiceAccount (infra creates it with
    :data:`epj.operator.deploy.ROLLBACK_RULES`: patch Deployments there, nothing else).
    """
    from epj.operator.deploy import ROLLBACK_ACCOUNT

    name = f"rollback-{migration_job.removeprefix('golive-')}"
    extra = {
        GOLIVE_LABEL: golive,
        MIGRATION_JOB_LABEL: migration_job,
        ROLE_LABEL: "rollback",
        COMPONENT_LABEL: "rollback",
    }
    args = [
        "epj",
        "golive",
        "rollback",
        "--tenant",
        kommunenummer,
        "--tenant-namespace",
        tenant_namespace(kommunenummer),
    ]
    job = _minimal_job(name, kommunenummer, image, args, extra)
    job["spec"]["ttlSecondsAfterFinished"] = FINISHED_JOB_TTL_SECONDS
    pod = job["spec"]["template"]["spec"]
    pod["serviceAccountName"] = ROLLBACK_ACCOUNT
    pod["automountServiceAccountToken"] = True
    return job


def _minimal_job(name: str, kommunenummer: str, image: str, args: list[str], extra: dict[str, str]) -> dict[str, Any]:
    job_labels = labels(kommunenummer, **extra)
    security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": tenant_namespace(kommunenummer), "labels": job_labels},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{"name": "main", "image": image, "args": args, "securityContext": security}],
                },
            },
        },
    }


# -------------------------------------------------------------------- reading Jobs


def job_state(job: dict[str, Any] | None) -> JobState:
    """A batch Job's state from its status, as the Job controller reports it."""
    if job is None:
        return JobState.PENDING
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return JobState.SUCCEEDED
        if condition.get("status") == "True" and condition.get("type") in ("Failed", "FailureTarget"):
            return JobState.FAILED
    if status.get("succeeded"):
        return JobState.SUCCEEDED
    if status.get("failed") and not status.get("active"):
        return JobState.FAILED
    if status.get("active") or status.get("startTime"):
        return JobState.RUNNING
    return JobState.PENDING


def job_message(job: dict[str, Any] | None) -> str:
    for condition in ((job or {}).get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("message"):
            return str(condition["message"])[:300]
    return ""


def termination_message(pods: list[dict[str, Any]]) -> str | None:
    """The last terminated container message among a Job's pods (the migration writes its result there)."""
    newest: tuple[str, str] | None = None
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated") or {}
            message = terminated.get("message")
            if message:
                key = (str(terminated.get("finishedAt", "")), str(message))
                newest = key if newest is None or key > newest else newest
    return newest[1] if newest else None


def reconciliation_from_report(text: str | None) -> Reconciliation | None:
    """The core's reconciliation summary from the migration's ``reconciliation.json`` (SPEC §6)."""
    if not text:
        return None
    try:
        report = json.loads(text)
    except ValueError:
        return Reconciliation(complete=False, message="reconciliation report unreadable (truncated?)")
    if not isinstance(report, dict) or "complete" not in report:
        return Reconciliation(complete=False, message="reconciliation report has no 'complete' field")
    sources = report.get("sources") or {}
    read = sum(int(s.get("read", 0)) for s in sources.values())
    migrated = sum(int(s.get("migrated", 0)) for s in sources.values())
    quarantined = sum(int(s.get("quarantined", 0)) for s in sources.values())
    counts = {
        "read": read,
        "migrated": migrated,
        "quarantined": quarantined,
        "unaccounted": read - migrated - quarantined,
    }
    message = report.get("error")
    return Reconciliation(complete=bool(report["complete"]), counts=counts, message=str(message) if message else None)


#: Container waiting reasons that will not resolve on their own: the Job would otherwise sit until its deadline.
STUCK_WAITING_REASONS = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"}
)


def stuck_reason(pods: list[dict[str, Any]]) -> str | None:
    """Why a Job's pod cannot start (image pull, unschedulable, bad config), as ``Reason: message``; None if not stuck.

    Read from what the kubelet and the scheduler report on the pod, so a stuck Job is known within one
    poll instead of at its deadline.
    """
    for pod in pods:
        status = pod.get("status") or {}
        for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK_WAITING_REASONS:
                return f"{waiting['reason']}: {str(waiting.get('message') or '')[:200]}".rstrip(": ")
        for condition in status.get("conditions") or []:
            scheduled = (condition.get("type"), condition.get("status"), condition.get("reason"))
            if scheduled == ("PodScheduled", "False", "Unschedulable"):
                return f"Unschedulable: {str(condition.get('message') or '')[:200]}".rstrip(": ")
    return None
