"""What the operator may create in tenant namespaces, enforced by the API server (issue 16).

The operator's ClusterRole lets it create Jobs in every tenant namespace. RBAC cannot say
*which* Jobs, so a ValidatingAdmissionPolicy (CEL, in the API server, no webhook to run)
pins them, for requests by the operator's ServiceAccount only:

- every container image comes from the stack's registry and is pinned by digest;
- the pod runs as the namespace's default account or the rollback account, nothing else
  (never CloudNativePG's);
- the pod is labelled as one of the operator's Job components (migration, smoke, rollback),
  the labels the tenant NetworkPolicies key on;
- the only Secrets it mounts are the database owner's and CloudNativePG's CA (ca.crt).
"""

from __future__ import annotations

from typing import Any

from epj import contract
from epj.infra.config import InfraConfig

POLICY = "epj-operator-tenant-jobs"
#: Job components the operator starts (the tenant NetworkPolicies select on them).
JOB_COMPONENTS = ("migration", "smoke", "rollback")
ALLOWED_SECRETS = (contract.DB_SECRET, contract.DB_CA_SECRET)


def _pod() -> str:
    return "object.spec.template.spec"


def validations(config: InfraConfig, rollback_account: str) -> list[dict[str, str]]:
    """The CEL rules, each with the message a refused create gets."""
    pod = _pod()
    registry = f"{config.registry_host}/"
    components = ", ".join(f"'{c}'" for c in JOB_COMPONENTS)
    secrets = ", ".join(f"'{s}'" for s in ALLOWED_SECRETS)
    containers = f"has({pod}.initContainers) ? {pod}.containers + {pod}.initContainers : {pod}.containers"
    return [
        {
            "expression": f"({containers}).all(c, c.image.startsWith('{registry}') && c.image.contains('@sha256:'))",
            "message": f"every image must come from {registry} and be pinned by digest (@sha256:)",
        },
        {
            "expression": (
                f"(!has({pod}.serviceAccountName) || {pod}.serviceAccountName in ['default', '{rollback_account}']) && "
                f"(!has({pod}.serviceAccount) || {pod}.serviceAccount in ['default', '{rollback_account}'])"
            ),
            "message": f"the Job may run only as the default or the {rollback_account} ServiceAccount",
        },
        {
            "expression": (
                "has(object.spec.template.metadata) && has(object.spec.template.metadata.labels) && "
                f"'{contract.COMPONENT_LABEL}' in object.spec.template.metadata.labels && "
                f"object.spec.template.metadata.labels['{contract.COMPONENT_LABEL}'] in [{components}]"
            ),
            "message": f"the pod must be labelled {contract.COMPONENT_LABEL} in ({', '.join(JOB_COMPONENTS)})",
        },
        {
            "expression": (
                f"(!has({pod}.volumes) || {pod}.volumes.all(v, "
                f"(!has(v.secret) || v.secret.secretName in [{secrets}]) && "
                f"(!has(v.projected) || !has(v.projected.sources) || v.projected.sources.all(s, "
                f"!has(s.secret) || s.secret.name in [{secrets}])))) && "
                f"({containers}).all(c, (!has(c.envFrom) || c.envFrom.all(e, "
                f"!has(e.secretRef) || e.secretRef.name in [{secrets}])) && "
                f"(!has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef) || "
                f"e.valueFrom.secretKeyRef.name in [{secrets}])))"
            ),
            "message": f"the only Secrets a Job may mount are {', '.join(ALLOWED_SECRETS)}",
        },
    ]


def admission_manifests(config: InfraConfig, rollback_account: str) -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy and its binding (Deny) for the operator's Jobs in tenant namespaces."""
    operator = f"system:serviceaccount:{config.operator_namespace}:{contract.OPERATOR_NAME}"
    labels = {"app.kubernetes.io/part-of": "epj-platform"}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["batch"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["jobs"],
                    }
                ]
            },
            "matchConditions": [
                {"name": "by-the-operator", "expression": f"request.userInfo.username == '{operator}'"}
            ],
            "validations": validations(config, rollback_account),
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY, "labels": labels},
        "spec": {
            "policyName": POLICY,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchExpressions": [{"key": contract.TENANT_OBJECT_LABEL, "operator": "Exists"}]}
            },
        },
    }
    return [policy, binding]
