"""TLS: every database client the platform configures verifies PostgreSQL's certificate (verify-full)."""

from __future__ import annotations

from typing import Any

from epj.tenants import TenantSet

Obj = dict[str, Any]
CA_FILE = "/var/run/secrets/epj-db-ca/ca.crt"
CA_VOLUME = {
    "name": "db-ca",
    "secret": {"secretName": "epj-db-ca", "defaultMode": 0o444, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
}


def _pod(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def _ca_mounted(pod: Obj) -> bool:
    mounts = pod["containers"][0].get("volumeMounts", [])
    return (
        CA_VOLUME in pod["volumes"]
        and {"name": "db-ca", "mountPath": "/var/run/secrets/epj-db-ca", "readOnly": True} in mounts
    )


def test_every_app_using_the_database_verifies_the_server(test_objects: list[Obj]) -> None:
    apps = [o for o in test_objects if o["kind"] == "Deployment" and o["metadata"]["namespace"].startswith("kommune-")]
    checked = 0
    for dep in apps:
        pod = _pod(dep)
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        if "EPJ_DB_HOST" in env:
            assert env["PGSSLMODE"] == "verify-full", dep["metadata"]["name"]
            assert env["PGSSLROOTCERT"] == CA_FILE
            assert _ca_mounted(pod)
            checked += 1
        if "EPJ_KPI_DSN" in env:
            assert "sslmode=verify-full" in env["EPJ_KPI_DSN"] and f"sslrootcert={CA_FILE}" in env["EPJ_KPI_DSN"]
            assert _ca_mounted(pod)
            checked += 1
    assert checked > 9


def test_migration_smoke_and_seal_jobs_verify_the_server(tenant_set: TenantSet) -> None:
    from epj.migration.job import migration_job_manifest, target_url
    from epj.operator.resources import seal_job, smoke_job

    tenant = tenant_set.get("5035")
    assert target_url(tenant) == (
        f"postgresql://epj-db-rw.kommune-5035.svc:5432/epj?sslmode=verify-full&sslrootcert={CA_FILE}"
    )
    digest = "sha256:" + "ab" * 32
    job = migration_job_manifest(
        tenant, purpose="cutover", run_id="r1", image=f"registry.test.epj.example.no/epj:1@{digest}", extract_pvc="x"
    )
    assert _ca_mounted(_pod(job))
    assert "annotations" not in job["metadata"] or "checkov.io/skip1" not in job["metadata"]["annotations"]
    for built in (smoke_job("5035", "golive-5035-1", "g", "img"), seal_job("5035", "golive-5035-1", "g", "img")):
        env = {e["name"]: e.get("value") for e in _pod(built)["containers"][0]["env"]}
        assert (env["PGSSLMODE"], env["PGSSLROOTCERT"]) == ("verify-full", CA_FILE)
        assert _ca_mounted(_pod(built))
