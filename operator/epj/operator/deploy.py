"""What a cluster needs to run the operator with peering, for ``infra/`` to render next to the CRDs.

* :func:`peering_manifests` — kopf's ``KopfPeering`` CRD (namespaced) and the peering object
  ``epj-golive-operator``. How kopf peering behaves (kopf ``_core/engines/peering.py``): every replica
  runs at the same priority (0), and when a replica sees another live one of EQUAL priority it logs
  "Possibly conflicting operators with the same priority" and pauses ALL of them, itself included;
  they resume only when the others' heartbeats expire (about a minute after one stops). Peering is
  therefore a guard against two operators acting at once, not a hot standby: during the overlap
  nothing is reconciled. A lower-priority replica pauses in favour of a higher one (not used here).
* :data:`OPERATOR_RULES` — the API access the operator uses (least privilege), in the operator's
  namespace; the tenant namespaces need ``batch/jobs`` create/get and ``pods`` get/list (the
  migration, smoke and rollback Jobs and their pods' termination messages).
* :data:`CLUSTER_RULES` — what kopf reads cluster-wide (CRDs and namespaces, to notice them come and go).
* :func:`webhook_manifests` — the admission webhooks that stamp every go/no-go decision
  (``GoLiveApproval``) with the authenticated user and server time: their Service and the
  Mutating/ValidatingWebhookConfiguration. TLS: the operator serves HTTPS with ``tls.crt``/``tls.key``
  from the Secret :data:`WEBHOOK_TLS_SECRET` (mounted at :data:`WEBHOOK_CERT_DIR`); cert-manager issues
  it (rendered self-signed Issuer and Certificate ``epj-golive-webhook`` for the Service's DNS names,
  renewed before expiry; kopf re-reads the files) and injects the CA into both configurations
  (annotation ``cert-manager.io/inject-ca-from``). cert-manager itself must be installed in the cluster
  (not rendered here); without it, create that Secret and set ``caBundle`` by hand.
* :data:`ROLLBACK_RULES` — the rollback Job's own ServiceAccount (:data:`ROLLBACK_ACCOUNT`) in a tenant
  namespace: scale the tenant's clinical Deployments to zero (``epj golive rollback``), nothing else.

Replicas: one, with peering (not ``--standalone``) and the ``Recreate`` strategy (the old pod is gone
before the new one starts, so no overlap on a rollout). A second operator started by hand (or an
overlap during a node drain) makes both pause until one is gone — they never race on a GoLive. The
admission webhooks keep answering during such a pause (they do not depend on peering).
"""

from __future__ import annotations

from typing import Any

from epj import contract
from epj.operator.admission import (
    GOLIVE_PLURAL,
    MUTATE_ID,
    PLURAL,
    RESUME_MUTATE_ID,
    RESUME_VALIDATE_ID,
    VALIDATE_ID,
)
from epj.operator.crds import GROUP, VERSION
from epj.operator.runner import PEERING_NAME

READ = ["get", "list", "watch"]

#: RBAC rules for the operator's own namespace (kopf needs read on CRDs/namespaces cluster-wide as well).
KINDS = ["rolloutwaves", "golives", "migrationjobs", "goliveapprovals"]
OPERATOR_RULES: list[dict[str, Any]] = [
    {"apiGroups": [GROUP], "resources": KINDS, "verbs": [*READ, "create", "patch"]},
    {"apiGroups": [GROUP], "resources": [f"{k}/status" for k in KINDS], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": READ},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"], "verbs": [*READ, "patch"]},
]  # fmt: skip

#: RBAC rules cluster-wide: kopf observes CRDs and namespaces (read only), and the operator follows the
#: batch Jobs it created with one watch (:mod:`epj.operator.jobwatch`; list and watch only: RBAC cannot
#: scope by label, the watch's label selector narrows what is streamed; reading one Job by name stays a
#: tenant-namespace grant below).
CLUSTER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": READ},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "watch"]},
]

#: The rollback Job's ServiceAccount in each tenant namespace, and what it may do there.
ROLLBACK_ACCOUNT = "epj-rollback"
ROLLBACK_RULES: list[dict[str, Any]] = [
    # Find the tenant's clinical Deployments (read only) …
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
    # … and change their replica count through the scale subresource, never the rest of a Deployment.
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
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


#: The Secret with the webhook server's certificate (``tls.crt``, ``tls.key``, ``ca.crt``), issued by cert-manager.
WEBHOOK_TLS_SECRET = "epj-golive-webhook-tls"
#: Where the operator's container mounts it (``EPJ_WEBHOOK_CERT_DIR``).
WEBHOOK_CERT_DIR = "/etc/epj/webhook"
#: cert-manager's Certificate (and the CA injected into the webhook configurations from it).
WEBHOOK_CERTIFICATE = "epj-golive-webhook"


def webhook_env() -> list[dict[str, Any]]:
    """The operator container's environment for the webhook server (with :func:`webhook_volume`)."""
    return [{"name": contract.ENV_WEBHOOK_CERT_DIR, "value": WEBHOOK_CERT_DIR}]


def webhook_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """(volume, volumeMount) of the webhook certificate Secret for the operator's pod."""
    volume = {"name": "webhook-tls", "secret": {"secretName": WEBHOOK_TLS_SECRET, "defaultMode": 0o440}}
    mount = {"name": "webhook-tls", "mountPath": WEBHOOK_CERT_DIR, "readOnly": True}
    return volume, mount


def webhook_manifests(namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
    """cert-manager Issuer and Certificate, Service, Mutating/ValidatingWebhookConfiguration for the webhooks.

    ``selector`` picks the operator's pods. The webhooks fail closed (``failurePolicy: Fail``):
    while the operator is down no decision is recorded, never an unverified one. Only
    ``goliveapprovals`` in ``namespace``, and GoLive writes that change ``spec.resume`` (a CEL
    ``matchConditions``), go through them, so nothing else depends on the operator.
    """
    service = contract.OPERATOR_WEBHOOK_SERVICE
    labels = {"app.kubernetes.io/part-of": "epj-platform", "app.kubernetes.io/name": service}
    inject = {"cert-manager.io/inject-ca-from": f"{namespace}/{WEBHOOK_CERTIFICATE}"}
    rule = {"apiGroups": [GROUP], "apiVersions": [VERSION], "resources": [PLURAL], "scope": "Namespaced"}
    scope = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}

    golive_rule = {**rule, "resources": [GOLIVE_PLURAL]}
    resume_changed = [{
        "name": "resume-changed",
        "expression": "has(object.spec.resume) && (oldObject == null || !has(oldObject.spec.resume)"
                      " || object.spec.resume != oldObject.spec.resume)",
    }]  # fmt: skip

    def webhook(
        handler: str, operations: list[str], on: dict[str, Any] = rule, when: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        hook = {
            "name": f"{handler}.{GROUP}",
            "clientConfig": {"service": {"name": service, "namespace": namespace, "path": f"/{handler}", "port": 443}},
            "rules": [{**on, "operations": operations}],
            "namespaceSelector": scope,
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
        }
        if when:
            hook["matchConditions"] = when
        return hook

    issuer = f"{WEBHOOK_CERTIFICATE}-issuer"
    return [
        {
            # A self-signed issuer is enough: only the API server trusts this CA (injected as caBundle).
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": issuer, "namespace": namespace, "labels": labels},
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": WEBHOOK_CERTIFICATE, "namespace": namespace, "labels": labels},
            "spec": {
                "secretName": WEBHOOK_TLS_SECRET,
                "dnsNames": [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"],
                "duration": "2160h",
                "renewBefore": "360h",
                "issuerRef": {"name": issuer, "kind": "Issuer"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": dict(selector),
                "ports": [
                    {"name": "webhook", "port": 443, "targetPort": contract.OPERATOR_WEBHOOK_PORT, "protocol": "TCP"}
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": f"{service}.{GROUP}", "labels": labels, "annotations": inject},
            "webhooks": [
                {**webhook(MUTATE_ID, ["CREATE"]), "reinvocationPolicy": "Never"},
                {
                    **webhook(RESUME_MUTATE_ID, ["CREATE", "UPDATE"], golive_rule, resume_changed),
                    "reinvocationPolicy": "Never",
                },
            ],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": f"{service}.{GROUP}", "labels": labels, "annotations": inject},
            "webhooks": [
                webhook(VALIDATE_ID, ["CREATE", "UPDATE"]),
                webhook(RESUME_VALIDATE_ID, ["CREATE", "UPDATE"], golive_rule, resume_changed),
            ],
        },
    ]
