"""The migration Job the operator creates: structure, isolation, schema validity."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from epj.catalog import load_catalog
from epj.infra.config import load_stack_config
from epj.infra.isolation import ingress_allowed
from epj.infra.manifests import DB_SECRET, network_policies
from epj.infra.validate import validate_objects
from epj.migration.job import migration_job_manifest
from epj.tenants import Tenant, TenantSet, load_tenants
from epj.tenants.sizing import (
    MIGRATION_CPU_LIMIT_MILLICORES,
    MIGRATION_MEMORY_LIMIT_MIB,
    parse_cpu,
    parse_memory,
    tenant_sizing,
)

IMAGE = "registry.helse.example/epj-platform:2026.11.1"
CHECKOV = Path(__file__).resolve().parents[2] / ".venv" / "tools" / "checkov" / "bin" / "checkov"


@pytest.fixture(scope="module")
def tenants() -> TenantSet:
    return load_tenants()


def _job(tenant: Tenant, purpose: str = "rehearsal", **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"run_id": "20261122-1", "image": IMAGE, "extract_pvc": "migration-extract", **kw}
    return migration_job_manifest(tenant, purpose=purpose, **args)  # type: ignore[arg-type]


def _container(job: dict[str, Any]) -> dict[str, Any]:
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def _script(job: dict[str, Any]) -> str:
    command = _container(job)["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    return command[2]  # type: ignore[no-any-return]


def test_job_structure(tenants: TenantSet) -> None:
    tenant = tenants.get("5035")
    job = _job(tenant, extract_records=1_200_000)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    meta = job["metadata"]
    assert meta["namespace"] == "kommune-5035"
    assert meta["name"] == "migrate-rehearsal-20261122-1"
    labels = meta["labels"]
    assert labels["epj.no/kommunenummer"] == "5035"
    assert labels["epj.no/migration-purpose"] == "rehearsal"
    assert labels["app.kubernetes.io/part-of"] == "epj-platform"
    assert labels["app.kubernetes.io/component"] == "migration"
    assert job["spec"]["template"]["metadata"]["labels"] == labels
    spec = job["spec"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert 0 <= spec["backoffLimit"] <= 3
    assert spec["activeDeadlineSeconds"] >= 15 * 60
    assert spec["ttlSecondsAfterFinished"] > 0
    assert _container(job)["image"] == IMAGE


def test_command_runs_the_migration_and_synthetic_ids_only_in_rehearsal(tenants: TenantSet) -> None:
    tenant = tenants.get("5031")
    rehearsal, cutover = _script(_job(tenant, "rehearsal")), _script(_job(tenant, "cutover"))
    for script in (rehearsal, cutover):
        assert (
            "epj migrate run /extract --target "
            "'postgresql://epj-db-rw.kommune-5031.svc:5432/epj?sslmode=verify-full"
            "&sslrootcert=/var/run/secrets/epj-db-ca/ca.crt'" in (script)
        )
        assert "--out /report --tenant 5031" in script
        assert "> /dev/termination-log" in script and script.endswith("exit $rc")
    assert "--synthetic-ids" in rehearsal
    assert "--synthetic-ids" not in cutover
    assert _job(tenant, "cutover")["metadata"]["labels"]["epj.no/migration-purpose"] == "cutover"


def test_credentials_come_only_from_the_tenants_own_secret(tenants: TenantSet) -> None:
    for tenant in tenants.active():
        job = _job(tenant, "cutover")
        assert job["metadata"]["namespace"] == tenant.namespace
        pod = job["spec"]["template"]["spec"]
        secret_volumes = [v for v in pod["volumes"] if "secret" in v]
        # The owner's credentials, and only ca.crt of CloudNativePG's CA (to verify the server, never its key).
        assert [v["secret"]["secretName"] for v in secret_volumes] == [DB_SECRET, "epj-db-ca"]
        assert secret_volumes[1]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
        text = json.dumps(job)
        assert "secretKeyRef" not in text and "envFrom" not in text
        # No credential in the manifest: the URL names host and database only; libpq gets PG* from the files.
        url = _script(job).split("--target ", 1)[1].split(" ", 1)[0]
        assert "@" not in url and "password" not in url.lower() and "user" not in url.lower()
        assert 'PGPASSWORD="$(cat /var/run/secrets/epj-db/password)"' in _script(job)
        assert pod["automountServiceAccountToken"] is False
        # Secrets are namespaced: a Job can only use Secrets of the namespace it runs in.
        assert all(other.namespace not in text for other in tenants.active() if other != tenant)


def test_migration_pod_reaches_its_own_database_and_no_other(tenants: TenantSet) -> None:
    config = load_stack_config("test")
    catalog = load_catalog()
    mine, other = tenants.get("5035"), tenants.get("5031")
    objs = [
        *network_policies(mine, tenant_sizing(mine, catalog), config),
        *network_policies(other, tenant_sizing(other, catalog), config),
    ]
    pod_labels = _job(mine)["spec"]["template"]["metadata"]["labels"]
    pg = {"cnpg.io/cluster": "epj-db", "cnpg.io/instanceRole": "primary"}
    assert ingress_allowed(objs, mine.namespace, mine.namespace, pg, 5432, source_pod_labels=pod_labels)
    assert not ingress_allowed(objs, mine.namespace, other.namespace, pg, 5432, source_pod_labels=pod_labels)


def test_restricted_security_and_volumes(tenants: TenantSet) -> None:
    job = _job(tenants.get("5006"), extract_subpath="2026-11-21")
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = _container(job)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["extract"]["persistentVolumeClaim"] == {"claimName": "migration-extract", "readOnly": True}
    assert "emptyDir" in volumes["tmp"] and "emptyDir" in volumes["report"]
    mounts = {m["mountPath"]: m for m in _container(job)["volumeMounts"]}
    assert mounts["/extract"]["readOnly"] is True and mounts["/extract"]["subPath"] == "2026-11-21"
    assert "/tmp" in mounts and "/report" in mounts
    with_pvc = _job(tenants.get("5006"), report_pvc="migration-reports")
    report = next(v for v in with_pvc["spec"]["template"]["spec"]["volumes"] if v["name"] == "report")
    assert report["persistentVolumeClaim"]["claimName"] == "migration-reports"
    pulled = _job(tenants.get("5006"), image_pull_secret="registry-pull")["spec"]["template"]["spec"]
    assert pulled["imagePullSecrets"] == [{"name": "registry-pull"}]
    assert validate_objects([with_pvc, _job(tenants.get("5006"), image_pull_secret="registry-pull")]) == []
    with pytest.raises(ValueError, match="extract_pvc"):
        _job(tenants.get("5006"), extract_pvc="Not_A_Name")


def test_resources_fit_the_quota_allowance_and_grow_with_the_extract(tenants: TenantSet) -> None:
    tenant = tenants.get("5035")
    small, large = _job(tenant, extract_records=20_000), _job(tenant, extract_records=1_200_000)
    small_res, large_res = _container(small)["resources"], _container(large)["resources"]
    for res in (small_res, large_res):
        assert parse_cpu(res["limits"]["cpu"]) <= MIGRATION_CPU_LIMIT_MILLICORES
        assert parse_memory(res["limits"]["memory"]) <= MIGRATION_MEMORY_LIMIT_MIB
        assert parse_cpu(res["requests"]["cpu"]) <= parse_cpu(res["limits"]["cpu"])
    assert parse_memory(small_res["requests"]["memory"]) < parse_memory(large_res["requests"]["memory"])
    assert small["spec"]["activeDeadlineSeconds"] < large["spec"]["activeDeadlineSeconds"]
    assert _job(tenant, deadline_seconds=3600)["spec"]["activeDeadlineSeconds"] == 3600


def test_failure_policy_does_not_retry_a_refused_extract(tenants: TenantSet) -> None:
    rules = _job(tenants.get("5035"))["spec"]["podFailurePolicy"]["rules"]
    fail = next(r for r in rules if r["action"] == "FailJob")
    assert fail["onExitCodes"] == {"containerName": "migrate", "operator": "In", "values": [2]}
    assert any(r["action"] == "Ignore" and r["onPodConditions"][0]["type"] == "DisruptionTarget" for r in rules)


@pytest.mark.parametrize("bad", ["Run_1", "-x", "a" * 60, ""])
def test_bad_run_id_is_refused(tenants: TenantSet, bad: str) -> None:
    with pytest.raises(ValueError, match="run_id"):
        _job(tenants.get("5035"), run_id=bad)


def test_jobs_validate_against_the_kubernetes_schema(tenants: TenantSet) -> None:
    jobs = [
        _job(t, purpose, extract_records=records)
        for t in tenants.active()
        for purpose, records in (("rehearsal", 50_000), ("cutover", None))
    ]
    assert validate_objects(jobs) == []
    broken = copy.deepcopy(jobs[0])
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFIlesystem"] = True
    broken["spec"]["backoffLimit"] = "one"
    assert validate_objects([broken]) != []


@pytest.mark.slow
def test_checkov_passes_the_job_with_the_tenant_baseline_policies(tenants: TenantSet, tmp_path: Path) -> None:
    import yaml

    tenant = tenants.get("5035")
    policies = network_policies(tenant, tenant_sizing(tenant, load_catalog()), load_stack_config("test"))
    docs = [*policies, _job(tenant, "rehearsal", extract_records=1_200_000), _job(tenant, "cutover")]
    (tmp_path / "migration.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    result = subprocess.run(
        [str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert report["summary"]["failed"] == 0, failed
    assert report["summary"]["parsing_errors"] == 0
    assert {c["check_id"] for c in report["results"]["skipped_checks"]} == {"CKV_K8S_43"}  # tag, not digest: reviewed


@pytest.mark.postgres
def test_entry_script_runs_the_real_cli_into_postgres(tenants: TenantSet, tmp_path: Path, pg_dsn: str) -> None:
    """The Job's shell script, with its mount paths pointed at local folders, migrates into a real database."""
    import shutil
    import sys

    from epj.migration.generate import generate_extract
    from epj.migration.job import DB_CREDENTIALS_DIR, REPORT_MOUNT, entry_script, target_url

    tenant = tenants.get("5035")
    extract, report, creds = tmp_path / "extract", tmp_path / "report", tmp_path / "creds"
    summary = generate_extract(extract, "5035", scale=0.01, seed=2)
    report.mkdir()
    creds.mkdir()
    (creds / "username").write_text("postgres")
    (creds / "password").write_text("unused-with-trust-auth")
    local_db = pg_dsn.rsplit("/", 1)[1]
    script = (
        entry_script(tenant, "rehearsal")
        .replace(f"'{target_url(tenant)}'", f"'postgresql://127.0.0.1:5432/{local_db}?sslmode=disable'")
        .replace(DB_CREDENTIALS_DIR, str(creds))
        .replace(" /extract --target", f" {extract} --target")
        .replace(REPORT_MOUNT, str(report))
        .replace("/dev/termination-log", str(tmp_path / "termination-log"))
    )
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([shutil.which("sh") or "/bin/sh", "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    message = json.loads((tmp_path / "termination-log").read_text())
    assert message["complete"] is True
    assert message["sources"] == summary.expected_reconciliation["sources"]
