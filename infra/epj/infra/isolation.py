"""Answer "can pods in namespace B reach this pod in namespace A on port P?" from rendered NetworkPolicies.

Used by the tests to prove DESIGN §5 ("no tenant can reach another tenant's
database or secrets") on the objects Pulumi would create, not on intentions.
The analysis is conservative (it errs towards "reachable"):

- a source pod may carry *any* labels (a tenant controls its own pod labels), so
  a ``podSelector`` in a peer never keeps out pods of a matching namespace;
- an ``ipBlock`` peer may contain pod addresses, so it counts as reachable;
- namespace labels are the rendered ``Namespace`` objects' labels (only the
  platform can change them: tenant admins have no rights on Namespaces).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def _peer_admits(
    peer: Mapping[str, Any],
    policy_ns: str,
    source_ns: str,
    source_ns_labels: Mapping[str, str],
    source_pod_labels: Mapping[str, str] | None,
) -> bool:
    if "ipBlock" in peer:
        return True
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
                _peer_admits(p, target_namespace, source_namespace, ns_labels, source_pod_labels) for p in peers
            )
            if admits and _port_matches(rule.get("ports"), port, named):
                return True
    return not isolated
