"""The required-flows matrix: every flow the platform needs is allowed, every other flow is denied.

Proven on the rendered NetworkPolicies of the `test` stack (tenant 5035, which runs every
clinical service and subscribes to every national integration), with a CNI's semantics:
a connection passes only when the source's egress *and* the target's ingress admit it.
The expected flows are written out below as literals, each with the catalog entry or the
platform part that needs it, so a new flow fails here until it is added on purpose
(issue 19) and a missing one fails as well (issue 16).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from epj.infra.isolation import Endpoint, egress_allowed, flow_allowed, ingress_allowed

Obj = dict[str, Any]
NS, OTHER = "kommune-5035", "kommune-5006"
APPS = ("journal", "medication-administration", "e-messaging", "secure-chat", "citizen-portal")


def _app(ns: str, name: str) -> Endpoint:
    nr = ns.removeprefix("kommune-")
    return Endpoint(ns, {"app.kubernetes.io/name": name, "epj.no/component": "app", "epj.no/tenant": nr})


def _db(ns: str) -> Endpoint:
    # The labels CloudNativePG and inheritedMetadata put on an instance pod.
    nr = ns.removeprefix("kommune-")
    return Endpoint(ns, {"cnpg.io/cluster": "epj-db", "cnpg.io/instanceRole": "primary", "epj.no/tenant": nr})


ENDPOINTS: dict[str, Endpoint] = {
    **{app: _app(NS, app) for app in APPS},
    "db": _db(NS),
    "migration": Endpoint(NS, {"epj.no/component": "migration"}),
    "smoke": Endpoint(NS, {"epj.no/component": "smoke"}),
    "rollback": Endpoint(NS, {"epj.no/component": "rollback"}),
    "kpi-exporter": Endpoint(NS, {"app.kubernetes.io/name": "epj-kpi-exporter", "epj.no/component": "exporter"}),
    "debug": Endpoint(NS, {"run": "debug"}),
    "other:journal": _app(OTHER, "journal"),
    "other:db": _db(OTHER),
    "other:debug": Endpoint(OTHER, {"run": "debug"}),
    "operator": Endpoint("epj-system", {"app.kubernetes.io/name": "epj-operator", "epj.no/component": "operator"}),
    "ingress": Endpoint("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    "monitoring": Endpoint("epj-monitoring", {"app.kubernetes.io/name": "prometheus"}),
    "cnpg": Endpoint("cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}),
    "dns": Endpoint("kube-system", {"k8s-app": "kube-dns"}),
    "default": Endpoint("default", {"run": "x"}),
    # Outside the cluster (Pulumi.test.yaml): an API server endpoint, the `kubernetes` Service, the health network.
    "api-endpoint": Endpoint(ip="192.168.10.12"),
    "api-service": Endpoint(ip="10.96.0.1"),
    "health": Endpoint(ip="100.64.20.5"),
    "object-store": Endpoint(ip="10.41.8.20"),  # backupEndpointCidrs
    "internet": Endpoint(ip="8.8.8.8"),
}
PORTS = (53, 443, 5432, 5671, 6443, 8000, 8080, 9093, 9187, 9443, 9464)
IN_TENANT = ("journal", "medication-administration", "e-messaging", "secure-chat", "citizen-portal",
             "db", "migration", "smoke", "rollback", "kpi-exporter", "debug")  # fmt: skip

#: (source, target, port) -> why. Written by hand from the service catalog and DESIGN §5.
REQUIRED: dict[tuple[str, str, int], str] = {
    **{(src, "dns", 53): "name resolution" for src in IN_TENANT},
    **{(src, "db", 5432): "catalog depends_on: database" for src in APPS},
    ("migration", "db", 5432): "migration Job writes the tenant store",
    ("smoke", "db", 5432): "post-cutover smoke check reads the tenant store",
    ("kpi-exporter", "db", 5432): "KPI exporter reads the tenant's own database",
    ("monitoring", "kpi-exporter", 9464): "PodMonitor of the KPI exporter",
    ("db", "object-store", 443): "CloudNativePG archives WAL and base backups (Barman Cloud)",
    ("db", "db", 5432): "CloudNativePG streaming replication",
    ("db", "db", 8000): "CloudNativePG instance manager between instances",
    ("cnpg", "db", 5432): "CloudNativePG operator connects to PostgreSQL",
    ("cnpg", "db", 8000): "CloudNativePG operator polls the instance manager",
    ("db", "api-endpoint", 6443): "instance manager watches its Cluster (after DNAT)",
    ("db", "api-service", 443): "instance manager watches its Cluster (Service address)",
    ("monitoring", "db", 9187): "PodMonitor epj-db",
    **{("ingress", app, 8080): "tenant Ingress" for app in APPS},
    **{("monitoring", app, 8080): "ServiceMonitor epj-services" for app in APPS},
    **{("smoke", app, 8080): "smoke check calls the apps" for app in APPS},
    ("medication-administration", "journal", 8080): "catalog: medication-administration depends_on journal",
    ("journal", "health", 443): "catalog: journal depends_on kjernejournal (health network)",
    ("journal", "health", 5671): "catalog: journal depends_on kjernejournal (health network)",
    ("medication-administration", "health", 443): "catalog: depends_on medication-module (health network)",
    ("medication-administration", "health", 5671): "catalog: depends_on medication-module (health network)",
    ("e-messaging", "health", 443): "catalog: e-messaging egress health-network",
    ("e-messaging", "health", 5671): "catalog: e-messaging egress health-network",
    ("rollback", "api-endpoint", 6443): "rollback Job scales Deployments (after DNAT)",
    ("rollback", "api-service", 443): "rollback Job scales Deployments (Service address)",
    ("operator", "dns", 53): "name resolution",
    ("operator", "api-endpoint", 6443): "kopf watches and patches (after DNAT)",
    ("operator", "api-service", 443): "kopf watches and patches (Service address)",
    ("operator", "monitoring", 9093): "no-critical-alerts gate asks Alertmanager",
    ("monitoring", "operator", 8080): "operator health scrape",
    ("monitoring", "operator", 9464): "operator metrics scrape",
    ("api-endpoint", "operator", 9443): "API server calls the operator's admission webhook",
}
#: Flows the matrix cannot judge: both ends outside the namespaces the platform polices.
UNPOLICED = {"ingress", "monitoring", "cnpg", "dns", "default"} | {
    "api-endpoint", "api-service", "health", "object-store", "internet"
}  # fmt: skip


def _matrix() -> list[tuple[str, str, int]]:
    return [
        (src, dst, port)
        for src, dst in itertools.product(ENDPOINTS, ENDPOINTS)
        for port in PORTS
        if not (src in UNPOLICED and dst in UNPOLICED)
    ]


def test_every_required_flow_is_allowed(test_objects: list[Obj]) -> None:
    blocked = [k for k in REQUIRED if not flow_allowed(test_objects, ENDPOINTS[k[0]], ENDPOINTS[k[1]], k[2])]
    assert blocked == []


def test_every_other_flow_is_denied_across_tenants_and_inside_one(test_objects: list[Obj]) -> None:
    allowed = {k for k in _matrix() if flow_allowed(test_objects, ENDPOINTS[k[0]], ENDPOINTS[k[1]], k[2])}
    other_tenant_flows = {k for k in allowed if k[0].startswith("other:") or k[1].startswith("other:")}
    crossing = {k for k in other_tenant_flows if {k[0], k[1]} & set(IN_TENANT)}
    assert crossing == set()  # nothing between the two tenants, in either direction, on any port
    # The other tenant has the same baseline: its pods' flows are the required ones, renamed.
    renamed = {(s.replace("other:", ""), d.replace("other:", ""), p) for s, d, p in other_tenant_flows}
    assert renamed <= set(REQUIRED)
    assert allowed - other_tenant_flows == set(REQUIRED)


def test_cnpg_operator_reaches_instances_on_5432_and_8000_only(test_objects: list[Obj]) -> None:
    db, cnpg = ENDPOINTS["db"], ENDPOINTS["cnpg"]
    assert [p for p in PORTS if flow_allowed(test_objects, cnpg, db, p)] == [5432, 8000]


@pytest.mark.parametrize("api", ["api-endpoint", "api-service"])
def test_api_server_is_reached_both_before_and_after_dnat(test_objects: list[Obj], api: str) -> None:
    port = {"api-endpoint": 6443, "api-service": 443}[api]
    for src in ("db", "rollback", "operator"):
        assert flow_allowed(test_objects, ENDPOINTS[src], ENDPOINTS[api], port), src
        assert not flow_allowed(test_objects, ENDPOINTS[src], ENDPOINTS[api], 6443 if port == 443 else 443), src
    for src in ("journal", "migration", "debug"):
        assert not flow_allowed(test_objects, ENDPOINTS[src], ENDPOINTS[api], port), src


def test_the_analysis_sees_both_directions(test_objects: list[Obj]) -> None:
    """Egress alone or ingress alone does not make a flow: the matrix would catch a one-sided policy."""
    journal, portal = ENDPOINTS["journal"], ENDPOINTS["citizen-portal"]
    # The portal admits nothing from the journal, and the journal's egress has no rule to the portal.
    assert not egress_allowed(test_objects, journal, portal, 8080)
    assert not ingress_allowed(test_objects, NS, NS, portal.labels, 8080, source_pod_labels=journal.labels)
    med = ENDPOINTS["medication-administration"]
    assert egress_allowed(test_objects, med, ENDPOINTS["journal"], 8080)
    without_ingress = [
        o for o in test_objects if o["metadata"].get("name") != "allow-journal-from-medication-administration"
    ]
    assert egress_allowed(without_ingress, med, ENDPOINTS["journal"], 8080)
    assert not flow_allowed(without_ingress, med, ENDPOINTS["journal"], 8080)


def test_each_tenant_policy_is_justified_and_the_set_is_pinned(test_objects: list[Obj]) -> None:
    policies = {
        o["metadata"]["name"]: o
        for o in test_objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == NS
    }
    assert sorted(policies) == [
        "allow-db-clients-egress-to-postgres",
        "allow-db-clients-to-postgres",
        "allow-dns-egress",
        "allow-e-messaging-health-network-egress",
        "allow-ingress-controller-to-apps",
        "allow-journal-from-medication-administration",
        "allow-journal-health-network-egress",
        "allow-medication-administration-egress-to-journal",
        "allow-medication-administration-health-network-egress",
        "allow-monitoring-scrape-apps",
        "allow-monitoring-scrape-exporters",
        "allow-monitoring-scrape-postgres",
        "allow-postgres-cluster",
        "allow-postgres-egress-to-object-store",
        "allow-rollback-egress-to-api-server",
        "allow-smoke-checks-egress-to-apps",
        "allow-smoke-checks-to-apps",
        "default-deny",
    ]
    for name, obj in policies.items():
        if name != "default-deny":
            assert len(obj["metadata"]["annotations"]["epj.no/justification"]) > 20, name
    why = policies["allow-medication-administration-health-network-egress"]["metadata"]["annotations"]
    assert "medication-module" in why["epj.no/justification"]
    assert (
        "kjernejournal"
        in policies["allow-journal-health-network-egress"]["metadata"]["annotations"]["epj.no/justification"]
    )


def test_health_network_and_dns_policies_written_out(test_objects: list[Obj]) -> None:
    """The justification says which catalog entry opened the flow; DNS is UDP and TCP 53 to kube-dns only."""
    policies = {
        o["metadata"]["name"]: o
        for o in test_objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == NS
    }
    why = {name: p["metadata"]["annotations"]["epj.no/justification"] for name, p in policies.items()
           if name.endswith("health-network-egress")}  # fmt: skip
    assert why == {
        "allow-e-messaging-health-network-egress": "service catalog: e-messaging egress health-network",
        "allow-journal-health-network-egress":
            "service catalog: journal depends_on kjernejournal (egress health-network)",
        "allow-medication-administration-health-network-egress":
            "service catalog: medication-administration depends_on medication-module (egress health-network)",
    }  # fmt: skip
    assert policies["allow-dns-egress"]["spec"]["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]  # fmt: skip
