"""What a cluster needs to run the operator with peering, for ``infra/`` to render next to the CRDs.

* :func:`peering_manifests` — kopf's ``KopfPeering`` CRD (namespaced) and the peering object
  ``epj-golive-operator``: with it, a second replica pauses while the first is alive
  (``epj operator run`` without ``--standalone``).
* :data:`OPERATOR_RULES` — the API access the operator uses (least privilege), in the operator's
  namespace; the tenant namespaces need ``batch/jobs`` create/get and ``pods`` get/list (the
  migration, smoke and rollback Jobs and their pods' termination messages).
* :data:`CLUSTER_RULES` — what kopf reads cluster-wide (CRDs and namespaces, to notice them come and go).
* :data:`ROLLBACK_RULES` — the rollback Job's own ServiceAccount (:data:`ROLLBACK_ACCOUNT`) in a tenant
  namespace: scale the tenant's clinical Deployments to zero (``epj golive rollback``), nothing else.

Replicas: one, with peering (not ``--standalone``) and the ``Recreate`` strategy, so a second
operator started by hand (or an overlap during a node drain) pauses instead of racing.
"""

from __future__ import annotations

from typing import Any

from epj.operator.crds import GROUP
from epj.operator.runner import PEERING_NAME

READ = ["get", "list", "watch"]

#: RBAC rules for the operator's own namespace (kopf needs read on CRDs/namespaces cluster-wide as well).
KINDS = ["rolloutwaves", "golives", "migrationjobs"]
OPERATOR_RULES: list[dict[str, Any]] = [
    {"apiGroups": [GROUP], "resources": KINDS, "verbs": [*READ, "create", "patch"]},
    {"apiGroups": [GROUP], "resources": [f"{k}/status" for k in KINDS], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": READ},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"], "verbs": [*READ, "patch"]},
]  # fmt: skip

#: RBAC rules cluster-wide: kopf observes CRDs and namespaces (read only).
CLUSTER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": READ},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
]

#: The rollback Job's ServiceAccount in each tenant namespace, and what it may do there.
ROLLBACK_ACCOUNT = "epj-rollback"
ROLLBACK_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch"]},
]

#: RBAC rules in each tenant namespace (``kommune-<kommunenummer>``).
TENANT_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "create"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
]


def peering_manifests(namespace: str) -> list[dict[str, Any]]:
    """kopf's namespaced peering CRD and this operator's peering object in ``namespace``."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "kopfpeerings.kopf.dev"},
        "spec": {
            "group": "kopf.dev",
            "scope": "Namespaced",
            "names": {"kind": "KopfPeering", "plural": "kopfpeerings", "singular": "kopfpeering"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "kopf operators' heartbeats: one active replica at a time.",
                            "properties": {"status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                        }
                    },
                }
            ],
        },
    }
    peering = {
        "apiVersion": "kopf.dev/v1",
        "kind": "KopfPeering",
        "metadata": {"name": PEERING_NAME, "namespace": namespace},
    }
    return [crd, peering]
