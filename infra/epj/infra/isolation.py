"""Answer "can pods in namespace B reach this pod in namespace A on port P?" from rendered NetworkPolicies.

Used by the tests to prove DESIGN §5 ("no tenant can reach another tenant's
database or secrets") on the objects Pulumi would create, not on intentions.
The analysis is conservative (it errs towards "reachable"):

- a source pod may carry *any* labels (a tenant controls its own pod labels), so
  a ``podSelector`` in a peer never keeps out pods of a matching namespace;
- an ``ipBlock`` peer may contain pod addresses, so it counts as reachable;
- namespace labels are the rendered ``Namespace`` objects' labels (only the
  platform can change them: tenant admins have no rights on Namespaces).

:func:`flow_allowed` answers for a whole connection, as a CNI decides it: the source's
egress policies *and* the target's ingress policies must admit it. Endpoints outside the
cluster (the API server's addresses, the health network, the internet) are given by IP.
One assumption, stated: in a flow, ``ipBlock`` peers are matched against IP endpoints only,
i.e. the stack's CIDRs (health network, API server, object store) do not overlap the pod
network. :func:`ingress_allowed` on its own stays conservative (an ipBlock admits any pod).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Manifest = Mapping[str, Any]


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (an empty selector matches everything)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def namespace_labels(objs: Iterable[Manifest]) -> dict[str, dict[str, str]]:
    """``{namespace: labels}`` from the rendered Namespace objects, plus the automatic name label."""
    out: dict[str, dict[str, str]] = {}
    for obj in objs:
        if obj.get("kind") == "Namespace":
            name = obj["metadata"]["name"]
            out[name] = {**(obj["metadata"].get("labels") or {}), "kubernetes.io/metadata.name": name}
    return out


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (namespace and labels) or an address outside the cluster (``ip``)."""

    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        return self.ip is None


def _ip_in_block(ip: str, block: Mapping[str, Any]) -> bool:
    address = ipaddress.ip_address(ip)
    if address not in ipaddress.ip_network(block["cidr"]):
        return False
    return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])


def _peer_admits(
    peer: Mapping[str, Any],
    policy_ns: str,
    source_ns: str,
    source_ns_labels: Mapping[str, str],
    source_pod_labels: Mapping[str, str] | None,
    ip_blocks_hold_pods: bool = True,
) -> bool:
    if "ipBlock" in peer:
        return ip_blocks_hold_pods
    pod_ok = source_pod_labels is None or selector_matches(peer.get("podSelector"), source_pod_labels)
    if "namespaceSelector" in peer:
        return selector_matches(peer["namespaceSelector"], source_ns_labels) and pod_ok
    # podSelector alone: pods of the policy's own namespace only.
    return source_ns == policy_ns and pod_ok


def _port_matches(ports: Sequence[Mapping[str, Any]] | None, port: int, named: Mapping[str, int]) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        value = entry.get("port")
        if value is None:
            return True
        target = named.get(value) if isinstance(value, str) else value
        end = entry.get("endPort", target)
        if target is not None and target <= port <= end:
            return True
    return False


def ingress_allowed(
    objs: Sequence[Manifest],
    source_namespace: str,
    target_namespace: str,
    target_pod_labels: Mapping[str, str],
    port: int,
    source_pod_labels: Mapping[str, str] | None = None,
    named_ports: Mapping[str, int] | None = None,
    ip_blocks_hold_pods: bool = True,
) -> bool:
    """Whether TCP ``port`` on a pod with ``target_pod_labels`` in ``target_namespace`` admits the source.

    ``source_pod_labels=None`` means "a pod with whatever labels suits the attacker".
    Only ingress policies of the target namespace are evaluated (egress of the source
    can only deny more).
    """
    ns_labels = namespace_labels(objs).get(source_namespace, {"kubernetes.io/metadata.name": source_namespace})
    named = named_ports or {}
    isolated = False
    for obj in objs:
        if obj.get("kind") != "NetworkPolicy" or obj["metadata"].get("namespace") != target_namespace:
            continue
        spec = obj.get("spec") or {}
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
        if "Ingress" not in types or not selector_matches(spec.get("podSelector"), target_pod_labels):
            continue
        isolated = True
        for rule in spec.get("ingress") or []:
            peers = rule.get("from")
            admits = not peers or any(
                _peer_admits(p, target_namespace, source_namespace, ns_labels, source_pod_labels, ip_blocks_hold_pods)
                for p in peers
            )
            if admits and _port_matches(rule.get("ports"), port, named):
                return True
    return not isolated


def _policy_types(spec: Mapping[str, Any]) -> list[str]:
    return spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])


def _egress_peer_admits(
    peer: Mapping[str, Any], policy_ns: str, target: Endpoint, ns_labels: Mapping[str, str]
) -> bool:
    if "ipBlock" in peer:
        return target.ip is not None and _ip_in_block(target.ip, peer["ipBlock"])
    if not target.is_pod:
        return False
    pod_ok = selector_matches(peer.get("podSelector"), target.labels)
    if "namespaceSelector" in peer:
        return selector_matches(peer["namespaceSelector"], ns_labels) and pod_ok
    return target.namespace == policy_ns and pod_ok


def egress_allowed(objs: Sequence[Manifest], source: Endpoint, target: Endpoint, port: int) -> bool:
    """Whether the source pod's own namespace's egress policies let it open TCP ``port`` to ``target``."""
    if not source.is_pod:
        return True  # outside the cluster: no NetworkPolicy applies to it
    target_ns_labels: Mapping[str, str] = {}
    if target.is_pod and target.namespace is not None:
        target_ns_labels = namespace_labels(objs).get(
            target.namespace, {"kubernetes.io/metadata.name": target.namespace}
        )
    isolated = False
    for obj in objs:
        if obj.get("kind") != "NetworkPolicy" or obj["metadata"].get("namespace") != source.namespace:
            continue
        spec = obj.get("spec") or {}
        if "Egress" not in _policy_types(spec) or not selector_matches(spec.get("podSelector"), source.labels):
            continue
        isolated = True
        for rule in spec.get("egress") or []:
            peers = rule.get("to")
            admits = not peers or any(
                _egress_peer_admits(p, str(source.namespace), target, target_ns_labels) for p in peers
            )
            if admits and _port_matches(rule.get("ports"), port, {}):
                return True
    return not isolated


def _ingress_from_ip(objs: Sequence[Manifest], source_ip: str, target: Endpoint, port: int) -> bool:
    """Ingress to a pod from an address outside the cluster: only ``ipBlock`` peers holding it (or no peers)."""
    isolated = False
    for obj in objs:
        if obj.get("kind") != "NetworkPolicy" or obj["metadata"].get("namespace") != target.namespace:
            continue
        spec = obj.get("spec") or {}
        if "Ingress" not in _policy_types(spec) or not selector_matches(spec.get("podSelector"), target.labels):
            continue
        isolated = True
        for rule in spec.get("ingress") or []:
            peers = rule.get("from")
            admits = not peers or any("ipBlock" in p and _ip_in_block(source_ip, p["ipBlock"]) for p in peers)
            if admits and _port_matches(rule.get("ports"), port, {}):
                return True
    return not isolated


def flow_allowed(objs: Sequence[Manifest], source: Endpoint, target: Endpoint, port: int) -> bool:
    """Whether a TCP connection from ``source`` to ``target:port`` passes both egress and ingress policies."""
    if not egress_allowed(objs, source, target, port):
        return False
    if not target.is_pod:
        return True  # an address outside the cluster: no NetworkPolicy applies on its side
    if not source.is_pod:
        return _ingress_from_ip(objs, str(source.ip), target, port)
    return ingress_allowed(
        objs,
        str(source.namespace),
        str(target.namespace),
        target.labels,
        port,
        source_pod_labels=source.labels,
        ip_blocks_hold_pods=False,
    )
