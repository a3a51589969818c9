"""infra and the operator agree on the real-cluster path: health probe, RBAC, peering, Job labels."""

from __future__ import annotations

import urllib.parse
from typing import Any

from epj.infra.isolation import ingress_allowed, selector_matches
from epj.infra.validate import validate_objects
from epj.operator import deploy, resources
from epj.operator.kube import CONFIG_MAPS, GOLIVES, JOBS, MIGRATION_JOBS, ROLLOUT_WAVES, Resource
from epj.operator.migration import PODS
from epj.operator.rollback import DEPLOYMENTS
from epj.operator.runner import PEERING_NAME, default_liveness_endpoint
from epj.tenants import TenantSet

Obj = dict[str, Any]


def _one(objs: list[Obj], kind: str, name: str, namespace: str | None = None) -> Obj:
    found = [
        o
        for o in objs
        if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, (kind, name, namespace)
    return found[0]


def _operator_container(objs: list[Obj]) -> Obj:
    deployment = _one(objs, "Deployment", "epj-operator", "epj-system")
    container: Obj = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_operator_serves_liveness_where_the_deployment_probes(test_objects: list[Obj]) -> None:
    container = _operator_container(test_objects)
    env = {e["name"]: e["value"] for e in container["env"]}
    url = default_liveness_endpoint(env)
    assert url is not None, "the Deployment's env does not switch the operator's liveness endpoint on"
    served = urllib.parse.urlsplit(url)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in (container["livenessProbe"], container["readinessProbe"]):
        assert probe["httpGet"]["path"] == served.path == "/healthz"
        assert ports[probe["httpGet"]["port"]] == served.port == 8080
    assert served.hostname == "0.0.0.0"  # reachable by the kubelet, not loopback only
    assert default_liveness_endpoint({}) is None


def test_platform_rbac_is_exactly_the_operators_own_rules(test_objects: list[Obj]) -> None:
    assert _one(test_objects, "ClusterRole", "epj-operator")["rules"] == deploy.CLUSTER_RULES
    assert _one(test_objects, "Role", "epj-operator", "epj-system")["rules"] == deploy.OPERATOR_RULES
    assert _one(test_objects, "ClusterRole", "epj-operator-tenant")["rules"] == deploy.TENANT_RULES
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        ns = "epj-system" if kind == "RoleBinding" else None
        binding = _one(test_objects, kind, "epj-operator", ns)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "epj-operator", "namespace": "epj-system"}]
    # Cluster-wide the operator only reads; writes are namespaced.
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in deploy.CLUSTER_RULES)


def _allows(rules: list[Obj], resource: Resource, verb: str) -> bool:
    return any(
        resource.group in r["apiGroups"] and resource.plural in r["resources"] and verb in r["verbs"] for r in rules
    )


def test_the_rules_cover_what_the_operator_and_the_rollback_job_call() -> None:
    for resource in (ROLLOUT_WAVES, GOLIVES, MIGRATION_JOBS):
        for verb in ("list", "watch", "get", "create", "patch"):
            assert _allows(deploy.OPERATOR_RULES, resource, verb), (resource.plural, verb)
    assert _allows(deploy.OPERATOR_RULES, CONFIG_MAPS, "watch")
    assert not _allows(deploy.OPERATOR_RULES, CONFIG_MAPS, "patch")
    assert _allows(deploy.TENANT_RULES, JOBS, "create") and _allows(deploy.TENANT_RULES, PODS, "list")
    assert _allows(deploy.ROLLBACK_RULES, DEPLOYMENTS, "list")
    # The rollback scales through deployments/scale only: it may not patch a whole Deployment.
    assert not _allows(deploy.ROLLBACK_RULES, DEPLOYMENTS, "patch")
    assert any("deployments/scale" in r["resources"] and "patch" in r["verbs"] for r in deploy.ROLLBACK_RULES)
    assert not _allows(deploy.ROLLBACK_RULES, DEPLOYMENTS, "delete")


def test_peering_is_deployed_and_the_operator_is_not_standalone(test_objects: list[Obj]) -> None:
    _one(test_objects, "CustomResourceDefinition", "kopfpeerings.kopf.dev")
    _one(test_objects, "KopfPeering", PEERING_NAME, "epj-system")
    deployment = _one(test_objects, "Deployment", "epj-operator", "epj-system")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = _operator_container(test_objects)["args"]
    assert "--standalone" not in args and args[args.index("--namespace") + 1] == "epj-system"
    platform = [o for o in test_objects if not o["metadata"].get("namespace", "").startswith("kommune-")]
    assert validate_objects(platform) == []


def _egress_allowed(objs: list[Obj], namespace: str, pod: dict[str, str], to_pod: dict[str, str], port: int) -> bool:
    """Some egress rule of ``namespace`` lets ``pod`` reach a same-namespace pod ``to_pod`` on ``port``."""
    for obj in objs:
        spec = obj.get("spec") or {}
        if obj["kind"] != "NetworkPolicy" or obj["metadata"]["namespace"] != namespace:
            continue
        if "Egress" not in spec.get("policyTypes", []) or not selector_matches(spec.get("podSelector"), pod):
            continue
        for rule in spec.get("egress") or []:
            peers = [p for p in rule.get("to", []) if "podSelector" in p and "namespaceSelector" not in p]
            if any(selector_matches(p["podSelector"], to_pod) for p in peers) and any(
                p.get("port") == port for p in rule.get("ports", [])
            ):
                return True
    return False


def test_smoke_job_reaches_its_own_tenant_only(test_objects: list[Obj], tenant_set: TenantSet) -> None:
    own, other = tenant_set.get("5031"), tenant_set.get("5035")
    job = resources.smoke_job("5031", "golive-5031-cutover-1", "golive-5031", "img:1")
    smoke = job["spec"]["template"]["metadata"]["labels"]
    assert smoke["epj.no/component"] == "smoke" and job["metadata"]["namespace"] == own.namespace
    pg = {"cnpg.io/cluster": "epj-db", "epj.no/tenant": own.kommunenummer}
    app = {"app.kubernetes.io/name": "journal", "epj.no/component": "app"}
    app_port = next(o for o in test_objects if o["kind"] == "Service" and o["metadata"]["namespace"] == own.namespace)
    port = app_port["spec"]["ports"][0]["port"]
    assert ingress_allowed(test_objects, own.namespace, own.namespace, pg, 5432, source_pod_labels=smoke)
    assert _egress_allowed(test_objects, own.namespace, smoke, pg, 5432)
    assert ingress_allowed(test_objects, own.namespace, own.namespace, app, port, source_pod_labels=smoke)
    assert _egress_allowed(test_objects, own.namespace, smoke, app, port)
    # The same Job in another tenant's namespace reaches nothing of this one.
    assert not ingress_allowed(test_objects, other.namespace, own.namespace, pg, 5432, source_pod_labels=smoke)
    assert not ingress_allowed(test_objects, other.namespace, own.namespace, app, port, source_pod_labels=smoke)
    # A pod without the label gets nothing.
    assert not ingress_allowed(test_objects, own.namespace, own.namespace, pg, 5432, source_pod_labels={})


def test_rollback_job_runs_as_the_tenants_rollback_account_with_api_egress(
    test_objects: list[Obj], tenant_set: TenantSet
) -> None:
    tenant = tenant_set.get("5035")
    job = resources.rollback_job("5035", "golive-5035-cutover-1", "golive-5035", "img:1")
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"]["epj.no/component"] == "rollback"
    account = _one(test_objects, "ServiceAccount", pod["spec"]["serviceAccountName"], tenant.namespace)
    assert _one(test_objects, "Role", account["metadata"]["name"], tenant.namespace)["rules"] == deploy.ROLLBACK_RULES
    egress = [
        o
        for o in test_objects
        if o["kind"] == "NetworkPolicy"
        and o["metadata"]["namespace"] == tenant.namespace
        and "Egress" in o["spec"]["policyTypes"]
        and selector_matches(o["spec"]["podSelector"], pod["metadata"]["labels"])
        and any("ipBlock" in peer for rule in o["spec"].get("egress", []) for peer in rule.get("to", []))
    ]
    assert [o["metadata"]["name"] for o in egress] == ["allow-rollback-egress-to-api-server"]
    # Migration pods get the same label the database policy admits.
    assert "migration" in str(
        _one(test_objects, "NetworkPolicy", "allow-db-clients-to-postgres", tenant.namespace)["spec"]
    )
