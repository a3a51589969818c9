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


def test_each_tenant_has_tls_ingress_and_only_the_portal_is_public(test_objects: list[Obj]) -> None:
    ns = "kommune-5035"
    mine = [o for o in test_objects if o["metadata"].get("namespace") == ns]
    cert = next(o for o in mine if o["kind"] == "Certificate")
    hosts = [f"{s}.5035.test.epj.example.no" for s in
             ("citizen-portal", "e-messaging", "journal", "medication-administration", "secure-chat")]  # fmt: skip
    assert cert["spec"]["dnsNames"] == hosts
    assert cert["spec"]["issuerRef"] == {"name": "epj-test-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    ingresses = {o["metadata"]["name"]: o for o in mine if o["kind"] == "Ingress"}
    assert sorted(ingresses) == ["epj-internal", "epj-public"]
    internal, public = ingresses["epj-internal"]["spec"], ingresses["epj-public"]["spec"]
    assert internal["ingressClassName"] == "nginx-internal" and public["ingressClassName"] == "nginx-public"
    assert internal["tls"] == [{"hosts": hosts, "secretName": cert["spec"]["secretName"]}]
    assert [r["host"] for r in public["rules"]] == ["citizen-portal.5035.test.epj.example.no"]
    assert public["tls"] == [{"hosts": ["citizen-portal.5035.test.epj.example.no"], "secretName": "epj-tls"}]
    backend = public["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "citizen-portal", "port": {"name": "http"}}}
    # Every public host in the whole render is a citizen portal (catalog public: true), nothing else.
    for obj in test_objects:
        if obj["kind"] == "Ingress" and obj["spec"]["ingressClassName"] == "nginx-public":
            assert {r["http"]["paths"][0]["backend"]["service"]["name"] for r in obj["spec"]["rules"]} == {
                "citizen-portal"
            }
