"""No tenant can reach another tenant's PostgreSQL or Secrets (DESIGN §5), proven on the rendered objects."""

from __future__ import annotations

import copy
from typing import Any

from epj.infra.isolation import ingress_allowed, selector_matches
from epj.tenants import TenantSet

Obj = dict[str, Any]
PG_PORTS = (5432, 8000, 9187)


def _pg_labels(kommunenummer: str) -> dict[str, str]:
    # The labels CloudNativePG and inheritedMetadata put on an instance pod.
    return {"cnpg.io/cluster": "epj-db", "cnpg.io/instanceRole": "primary", "epj.no/tenant": kommunenummer}


def test_selector_semantics() -> None:
    labels = {"a": "1", "b": "2"}
    assert selector_matches({}, labels)
    assert selector_matches({"matchLabels": {"a": "1"}}, labels)
    assert not selector_matches({"matchLabels": {"a": "2"}}, labels)
    assert selector_matches({"matchExpressions": [{"key": "b", "operator": "In", "values": ["2", "3"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "c", "operator": "Exists"}]}, labels)
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["9"]}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, labels)


def test_no_tenant_namespace_reaches_another_tenants_postgres(test_objects: list[Obj], tenant_set: TenantSet) -> None:
    active = tenant_set.active("test")
    for target in active:
        for source in active:
            if source is target:
                continue
            for port in PG_PORTS:
                assert not ingress_allowed(
                    test_objects, source.namespace, target.namespace, _pg_labels(target.kommunenummer), port
                ), f"{source.namespace} reaches {target.namespace} PostgreSQL on {port}"


def test_platform_namespaces_reach_postgres_only_where_they_must(
    test_objects: list[Obj], tenant_set: TenantSet
) -> None:
    tenant = tenant_set.get("5035")
    pg = _pg_labels("5035")
    for ns in ("ingress-nginx", "epj-monitoring", "epj-system", "default", "kube-system"):
        assert not ingress_allowed(test_objects, ns, tenant.namespace, pg, 5432), ns
    assert ingress_allowed(test_objects, "epj-monitoring", tenant.namespace, pg, 9187)
    # CloudNativePG's operator talks to each instance's manager (8000) and to PostgreSQL itself (5432).
    assert ingress_allowed(test_objects, "cnpg-system", tenant.namespace, pg, 8000)
    assert ingress_allowed(test_objects, "cnpg-system", tenant.namespace, pg, 5432)
    assert not ingress_allowed(test_objects, "cnpg-system", tenant.namespace, pg, 9187)
    assert not ingress_allowed(test_objects, "epj-monitoring", tenant.namespace, pg, 8000)


def test_own_apps_and_migration_reach_own_postgres_but_other_pods_do_not(
    test_objects: list[Obj], tenant_set: TenantSet
) -> None:
    ns = tenant_set.get("5031").namespace
    pg = _pg_labels("5031")
    app = {"app.kubernetes.io/name": "journal", "epj.no/component": "app"}
    assert ingress_allowed(test_objects, ns, ns, pg, 5432, source_pod_labels=app)
    assert ingress_allowed(test_objects, ns, ns, pg, 5432, source_pod_labels={"epj.no/component": "migration"})
    assert not ingress_allowed(test_objects, ns, ns, pg, 5432, source_pod_labels={"run": "debug"})


def test_the_analysis_would_catch_a_leaky_policy(test_objects: list[Obj]) -> None:
    leaky = copy.deepcopy(test_objects)
    for obj in leaky:
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["name"] == "allow-db-clients-to-postgres":
            obj["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}
    assert ingress_allowed(leaky, "kommune-5006", "kommune-5035", _pg_labels("5035"), 5432)
    assert not ingress_allowed(test_objects, "kommune-5006", "kommune-5035", _pg_labels("5035"), 5432)


def test_optional_secrets_are_only_the_platform_certificates_in_monitoring(test_objects: list[Obj]) -> None:
    """Secrets the render mounts but does not create: only epj-cert-* in the monitoring namespace, never a tenant's."""
    optional = [
        (o["metadata"].get("namespace"), v["secret"]["secretName"])
        for o in test_objects
        if o["kind"] == "Deployment"
        for v in o["spec"]["template"]["spec"].get("volumes", [])
        if "secret" in v and v["secret"].get("optional")
    ]
    assert sorted(optional) == [
        ("epj-monitoring", "epj-cert-health-network"),
        ("epj-monitoring", "epj-cert-helseid"),
    ]


def _secret_refs(obj: Obj) -> list[str]:
    """Names of Secrets an object refers to (pod volumes, env, envFrom, pull secrets, CNPG bootstrap, backup)."""
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "secret" and isinstance(value, dict):
                    # optional: a Secret provisioned outside Pulumi (the platform's certificates), checked below.
                    if not value.get("optional"):
                        refs.append(value.get("secretName") or value.get("name"))
                elif key in ("secretKeyRef", "secretRef") and isinstance(value, dict):
                    refs.append(value["name"])
                elif key == "s3Credentials" and isinstance(value, dict):  # the Barman Cloud ObjectStore
                    refs.extend(v["name"] for v in value.values())
                elif key == "imagePullSecrets":
                    refs.extend(v["name"] for v in value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(obj.get("spec"))
    return refs


def test_secrets_are_referenced_only_inside_their_own_namespace(test_objects: list[Obj], tenant_set: TenantSet) -> None:
    secrets = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in test_objects if o["kind"] == "Secret"}
    assert secrets == {
        (t.namespace, name) for t in tenant_set.active("test") for name in ("epj-db-owner", "epj-db-backup-s3")
    }
    # Secrets cert-manager issues from a rendered Certificate (the operator's webhook certificate) exist too.
    issued = {(o["metadata"]["namespace"], o["spec"]["secretName"]) for o in test_objects if o["kind"] == "Certificate"}
    tenant_tls = {(t.namespace, "epj-tls") for t in tenant_set.active("test")}
    assert issued == {("epj-system", "epj-golive-webhook-tls")} | tenant_tls
    secrets |= issued
    # CloudNativePG's CA of the Cluster epj-db (clients mount its ca.crt only) exists once the Cluster does.
    clusters = {o["metadata"]["namespace"] for o in test_objects if o["kind"] == "Cluster"}
    generated = {(ns, "epj-db-ca") for ns in clusters}
    referencing = 0
    for obj in test_objects:
        for name in _secret_refs(obj):
            if (obj["metadata"].get("namespace"), name) in generated:
                continue
            referencing += 1
            ns = obj["metadata"].get("namespace")
            assert (ns, name) in secrets, f"{obj['kind']} {ns}/{obj['metadata']['name']} refers to missing {name}"
    assert referencing > len(secrets)  # the database cluster and the apps do refer to it


def test_no_role_grants_secret_access(test_objects: list[Obj]) -> None:
    for obj in test_objects:
        if obj["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in obj["rules"]:
            assert "secrets" not in rule["resources"], obj["metadata"]["name"]
            assert "*" not in rule["resources"] and "*" not in rule["verbs"], obj["metadata"]["name"]


def test_tenant_rolebindings_bind_only_own_admins_and_the_operator(
    test_objects: list[Obj], tenant_set: TenantSet
) -> None:
    for tenant in tenant_set.active("test"):
        bindings = [
            o for o in test_objects if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == tenant.namespace
        ]
        subjects = sorted((s["kind"], s["name"], s.get("namespace")) for b in bindings for s in b["subjects"])
        assert subjects == [
            ("Group", f"epj-test-kommune-{tenant.kommunenummer}-admins", None),
            ("ServiceAccount", "epj-operator", "epj-system"),
            # The rollback Job's own account, from this namespace only (epj.operator.deploy.ROLLBACK_RULES).
            ("ServiceAccount", "epj-rollback", tenant.namespace),
        ]
