"""The NetworkPolicy analysis itself, on hand-written policies, against Kubernetes' documented semantics.

The isolation proofs (test_isolation, test_flows) rest on this analysis being right; here each rule of
https://kubernetes.io/docs/concepts/services-networking/network-policies/ is one small case whose verdict is
written out by hand: a pod is isolated for a direction only when a policy selecting it names that direction;
peers in one ``from``/``to`` entry are AND-ed (namespace and pod selector), entries are OR-ed; an absent
``from``/``ports`` admits everything; ``ipBlock`` honours ``except``; ``endPort`` is a range; named ports
resolve through the pod's ports; only TCP is analysed (UDP entries never admit a TCP connection).
"""

from __future__ import annotations

from typing import Any

from epj.infra.isolation import Endpoint, egress_allowed, flow_allowed, ingress_allowed, selector_matches

APP = {"app": "journal"}
DB = {"role": "db"}


def policy(namespace: str, spec: dict[str, Any], name: str = "p") -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_selector_operators_each_way() -> None:
    labels = {"a": "1"}
    assert selector_matches(None, labels) is True
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "In", "values": ["2"]}]}, labels) is False
    assert selector_matches({"matchExpressions": [{"key": "z", "operator": "In", "values": ["1"]}]}, labels) is False
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, labels) is False
    assert selector_matches({"matchExpressions": [{"key": "z", "operator": "NotIn", "values": ["1"]}]}, labels) is True
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, labels) is True
    assert selector_matches({"matchExpressions": [{"key": "z", "operator": "DoesNotExist"}]}, labels) is True
    assert selector_matches({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]},
                            labels) is False  # fmt: skip


def test_a_pod_is_isolated_only_by_a_policy_that_selects_it_for_that_direction() -> None:
    egress_only = policy("t", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert ingress_allowed([egress_only], "x", "t", APP, 5432) is True
    other_pods = policy("t", {"podSelector": {"matchLabels": DB}, "policyTypes": ["Ingress"]})
    assert ingress_allowed([other_pods], "x", "t", APP, 5432) is True
    deny = policy("t", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert ingress_allowed([deny], "x", "t", APP, 5432) is False
    # Without policyTypes: Ingress always, Egress only when the spec has an egress section.
    implicit = policy("t", {"podSelector": {}, "egress": [{}]})
    assert ingress_allowed([implicit], "x", "t", APP, 5432) is False
    assert egress_allowed([implicit], Endpoint("t", APP), Endpoint("x", DB), 5432) is True
    no_egress = policy("t", {"podSelector": {}})
    assert egress_allowed([no_egress], Endpoint("t", APP), Endpoint("x", DB), 5432) is True
    deny_out = policy("t", {"podSelector": {}, "policyTypes": ["Egress"]})
    assert egress_allowed([deny_out], Endpoint("t", APP), Endpoint("x", DB), 5432) is False
    # A policy in another namespace never isolates this one.
    assert ingress_allowed([policy("u", {"podSelector": {}})], "x", "t", APP, 5432) is True


def test_peers_namespace_and_pod_selectors() -> None:
    objs = [
        ns("mon", team="monitoring"),
        policy("t", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [
            {"from": [{"namespaceSelector": {"matchLabels": {"team": "monitoring"}},
                       "podSelector": {"matchLabels": {"app": "prometheus"}}}]},
            {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]},
        ]}),
    ]  # fmt: skip
    assert ingress_allowed(objs, "mon", "t", DB, 9187, source_pod_labels={"app": "prometheus"}) is True
    assert ingress_allowed(objs, "mon", "t", DB, 9187, source_pod_labels={"app": "other"}) is False
    # The attacker's pod may carry any labels: a pod selector never keeps out a matching namespace.
    assert ingress_allowed(objs, "mon", "t", DB, 9187) is True
    # A pod selector alone means the policy's own namespace.
    assert ingress_allowed(objs, "t", "t", DB, 9187, source_pod_labels={"app": "api"}) is True
    assert ingress_allowed(objs, "x", "t", DB, 9187, source_pod_labels={"app": "api"}) is False
    # The namespace's automatic name label when it is not rendered.
    by_name = [policy("t", {"podSelector": {}, "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}]}]})]  # fmt: skip
    assert ingress_allowed(by_name, "ops", "t", DB, 1) is True
    assert ingress_allowed(by_name, "dev", "t", DB, 1) is False
    # An empty rule admits everyone; a rule with ports only admits everyone on those ports.
    open_rule = [policy("t", {"podSelector": {}, "ingress": [{"ports": [{"port": 443}]}]})]
    assert ingress_allowed(open_rule, "x", "t", DB, 443) is True
    assert ingress_allowed(open_rule, "x", "t", DB, 444) is False


def test_ports_ranges_names_and_protocols() -> None:
    def allowed(ports: list[dict[str, Any]], port: int, named: dict[str, int] | None = None) -> bool:
        objs = [policy("t", {"podSelector": {}, "ingress": [{"ports": ports}]})]
        return ingress_allowed(objs, "x", "t", DB, port, named_ports=named)

    assert allowed([{"port": 5000, "endPort": 5010}], 5000) is True
    assert allowed([{"port": 5000, "endPort": 5010}], 5010) is True
    assert allowed([{"port": 5000, "endPort": 5010}], 5011) is False
    assert allowed([{"port": 5000, "endPort": 5010}], 4999) is False
    assert allowed([{"port": 5432}], 5432) is True and allowed([{"port": 5432}], 5433) is False
    assert allowed([{"port": "postgres"}], 5432, {"postgres": 5432}) is True
    assert allowed([{"port": "postgres"}], 5433, {"postgres": 5432}) is False
    assert allowed([{"port": "unknown"}], 5432, {}) is False
    assert allowed([{"protocol": "UDP", "port": 53}], 53) is False
    assert allowed([{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}], 53) is True
    assert allowed([{"protocol": "TCP"}], 1234) is True  # a protocol without a port: every port
    assert allowed([{"port": 53}], 53) is True  # TCP is the default protocol


def test_ip_blocks_with_exceptions_for_egress_and_for_sources_outside_the_cluster() -> None:
    objs = [
        policy("t", {"podSelector": {}, "policyTypes": ["Egress", "Ingress"],
                     "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}],
                                 "ports": [{"port": 443}]}],
                     "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.1.0/24"}}], "ports": [{"port": 8443}]}]}),
    ]  # fmt: skip
    pod = Endpoint("t", APP)
    assert egress_allowed(objs, pod, Endpoint(ip="10.1.2.3"), 443) is True
    assert egress_allowed(objs, pod, Endpoint(ip="10.9.2.3"), 443) is False  # in the except
    assert egress_allowed(objs, pod, Endpoint(ip="11.1.2.3"), 443) is False
    assert egress_allowed(objs, pod, Endpoint(ip="10.1.2.3"), 80) is False
    # An ipBlock never admits a pod target on egress (pods are not given by address here).
    assert egress_allowed(objs, pod, Endpoint("u", DB), 443) is False
    # Sources outside the cluster are judged by ipBlocks only.
    assert flow_allowed(objs, Endpoint(ip="192.168.1.7"), pod, 8443) is True
    assert flow_allowed(objs, Endpoint(ip="192.168.2.7"), pod, 8443) is False
    assert flow_allowed(objs, Endpoint(ip="192.168.1.7"), pod, 8444) is False
    # An address outside the cluster has no egress policy; the conservative ingress check counts ipBlocks as pods.
    assert egress_allowed(objs, Endpoint(ip="192.168.1.7"), pod, 8443) is True
    assert ingress_allowed(objs, "x", "t", APP, 8443) is True
    # ...but a flow between two pods does not pass through an ipBlock peer.
    assert flow_allowed(objs, Endpoint("x", {}), pod, 8443) is False


def test_a_flow_needs_both_the_sources_egress_and_the_targets_ingress() -> None:
    out = policy("a", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}},
                 "podSelector": {"matchLabels": DB}}], "ports": [{"port": 5432}]}]})  # fmt: skip
    into = policy("b", {"podSelector": {"matchLabels": DB}, "policyTypes": ["Ingress"], "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "a"}}}],
         "ports": [{"port": 5432}]}]})  # fmt: skip
    src, dst = Endpoint("a", APP), Endpoint("b", DB)
    assert flow_allowed([out, into], src, dst, 5432) is True
    assert flow_allowed([out, into], src, Endpoint("b", APP), 5432) is False  # egress names DB pods only
    assert flow_allowed([out, into], Endpoint("c", APP), dst, 5432) is False  # ingress names namespace a only
    assert flow_allowed([out], src, dst, 5432) is True
    assert flow_allowed([into], Endpoint("c", APP), dst, 5432) is False
    deny_in = policy("b", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert flow_allowed([out, deny_in], src, dst, 5432) is False
    # Egress to a pod in the source's own namespace through a pod selector alone.
    same = policy("a", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"podSelector": {"matchLabels": DB}}]}]})  # fmt: skip
    assert egress_allowed([same], src, Endpoint("a", DB), 1) is True
    assert egress_allowed([same], src, Endpoint("b", DB), 1) is False
    assert egress_allowed([same], src, Endpoint(ip="10.0.0.1"), 1) is False
