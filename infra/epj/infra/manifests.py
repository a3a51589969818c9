"""The Kubernetes objects of the tenant baseline (DESIGN §5) and of the platform, as plain dicts.

These builders are the one description of what a municipality gets. The Pulumi
components (:mod:`epj.infra.components`) register exactly these dicts, and
``epj render`` writes what Pulumi received, so the review copy and the deployed
objects cannot drift apart. Builders are pure (no Pulumi import); the database
password arrives as an opaque value (a Pulumi Output at deploy time).

Every name here is derived from the tenant alone (never from its position in a
list), so adding one tenant can never change another tenant's objects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from epj import contract
from epj.infra import admission, observability
from epj.infra.config import InfraConfig
from epj.tenants.model import Tenant
from epj.tenants.sizing import (
    ServiceSizing,
    TenantSizing,
    cpu_quantity,
    memory_quantity,
    storage_quantity,
)

Manifest = dict[str, Any]

#: Kubernetes version the pod-security labels and the schema validation are pinned to.
KUBERNETES_VERSION = "1.31"

DB_CLUSTER = contract.DB_CLUSTER
DB_SECRET = contract.DB_SECRET
DB_NAME = contract.DB_NAME
DB_OWNER = contract.DB_OWNER
DB_PORT = contract.DB_PORT
DB_STATUS_PORT = 8000  # CloudNativePG instance manager (operator and replicas talk to it)
DB_METRICS_PORT = 9187
DB_CREDENTIALS_DIR = contract.DB_CREDENTIALS_DIR
#: CloudNativePG's own CA Secret (``<cluster>-ca``); clients mount only its ``ca.crt`` to verify the server.
DB_CA_SECRET = contract.DB_CA_SECRET
DB_CA_DIR = contract.DB_CA_DIR
DB_SSLMODE = contract.DB_SSLMODE

COMPONENT = "epj.no/component"
TENANT_LABEL = "epj.no/tenant"
KOMMUNENR_LABEL = "epj.no/kommunenummer"
NAME_LABEL = "app.kubernetes.io/name"
PART_OF = {"app.kubernetes.io/part-of": "epj-platform"}

APP_UID = 10001
OPERATOR_NAME = contract.OPERATOR_NAME
OPERATOR_TENANT_ROLE = "epj-operator-tenant"
ADMIN_ROLE = "kommune-admin"
OPERATOR_HEALTH_PORT = contract.OPERATOR_HEALTH_PORT
OPERATOR_METRICS_PORT = contract.OPERATOR_METRICS_PORT

HEALTH_NETWORK = "health-network"

#: Kept for clients outside the platform render that still pin by tag; nothing rendered here uses it.
SKIP_IMAGE_DIGEST = (
    "CKV_K8S_43=The image is given by the caller by tag; the platform's own workloads are pinned by digest "
    "(stack key imageDigests) and the admission policy refuses tenant Jobs without a digest"
)


def db_tls_env() -> list[dict[str, Any]]:
    """libpq's own variables: verify the server certificate against CloudNativePG's CA (``verify-full``)."""
    return [
        {"name": "PGSSLMODE", "value": DB_SSLMODE},
        {"name": "PGSSLROOTCERT", "value": f"{DB_CA_DIR}/ca.crt"},
    ]


def db_ca_volume() -> dict[str, Any]:
    """Only ``ca.crt`` of CloudNativePG's CA Secret (never its ``ca.key``)."""
    return {
        "name": "db-ca",
        "secret": {"secretName": DB_CA_SECRET, "defaultMode": 0o444, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
    }


def db_ca_mount() -> dict[str, Any]:
    return {"name": "db-ca", "mountPath": DB_CA_DIR, "readOnly": True}


def pull_secrets(config: InfraConfig) -> dict[str, Any]:
    """``imagePullSecrets`` for a pod spec when the stack names one (``imagePullSecret``)."""
    return {"imagePullSecrets": [{"name": config.image_pull_secret}]} if config.image_pull_secret else {}


def _pod_security() -> dict[str, str]:
    labels: dict[str, str] = {}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        labels[f"pod-security.kubernetes.io/{mode}-version"] = f"v{KUBERNETES_VERSION}"
    return labels


def tenant_labels(tenant: Tenant) -> dict[str, str]:
    """Labels every tenant object carries: who it belongs to, by kommunenummer."""
    return {**PART_OF, KOMMUNENR_LABEL: tenant.kommunenummer, TENANT_LABEL: tenant.kommunenummer}


def _meta(name: str, namespace: str | None, labels: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels)
    meta.update(extra)
    return meta


def restricted_container_security() -> dict[str, Any]:
    """The container securityContext every workload we create runs with (pod security `restricted`)."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": APP_UID,
        "runAsGroup": APP_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_pod_security() -> dict[str, Any]:
    """The pod securityContext every workload we create runs with (pod security `restricted`)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": APP_UID,
        "runAsGroup": APP_UID,
        "fsGroup": APP_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _ns_selector(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in sorted(set(ports))]


# --------------------------------------------------------------------------------------------- tenant


def namespace(tenant: Tenant, config: InfraConfig) -> Manifest:
    """The tenant namespace, labelled with kommunenummer and pod security ``restricted``."""
    labels = {**tenant_labels(tenant), "epj.no/environment": config.environment, **_pod_security()}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(tenant.namespace, None, labels)}


def resource_quota(tenant: Tenant, sizing: TenantSizing) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta("tenant-quota", tenant.namespace, tenant_labels(tenant)),
        "spec": {"hard": sizing.quota.hard()},
    }


def limit_range(tenant: Tenant, sizing: TenantSizing) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta("tenant-limits", tenant.namespace, tenant_labels(tenant)),
        "spec": {"limits": [{"type": "Container", **sizing.limits.container_limit()}]},
    }


JUSTIFICATION = "epj.no/justification"


def api_server_egress(config: InfraConfig) -> list[dict[str, Any]]:
    """Egress rules to the Kubernetes API server, as a CNI that checks egress after DNAT sees it.

    A pod dials the ``kubernetes`` Service (ClusterIP, 443); Calico and Cilium evaluate the policy
    against the translated address, the control-plane endpoint IPs on 6443. Both are allowed so
    the rule holds whichever the CNI checks (stack keys ``apiServerCidrs``/``apiServerPort`` and
    ``apiServerServiceCidrs``/``apiServerServicePort``).
    """
    return [
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in config.api_server_cidrs],
            "ports": _tcp(config.api_server_port),
        },
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in config.api_server_service_cidrs],
            "ports": _tcp(config.api_server_service_port),
        },
    ]


def _dns_egress() -> dict[str, Any]:
    return {
        "to": [
            {"namespaceSelector": _ns_selector("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def app_selector(name: str) -> dict[str, Any]:
    """The pods of one clinical service (the Deployment's pod labels)."""
    return {"matchLabels": {NAME_LABEL: name, COMPONENT: "app"}}


def network_policies(tenant: Tenant, sizing: TenantSizing, config: InfraConfig) -> list[Manifest]:
    """Default deny in and out, then one policy per allowed flow, each saying why it exists.

    Every allow carries the annotation ``epj.no/justification``: the service-catalog entry
    (``depends_on``, ``egress``) or the platform part (CloudNativePG, monitoring, DNS, the
    operator's Jobs) that needs it. App-to-app and health-network flows are derived from the
    catalog, so a dependency added there opens exactly that flow and nothing else.
    """
    ns, labels = tenant.namespace, tenant_labels(tenant)
    db_pods = {"matchLabels": {"cnpg.io/cluster": DB_CLUSTER}}
    # The migration and smoke-check Jobs (started by the operator) and the KPI exporter are database clients too.
    db_clients = {
        "matchExpressions": [
            {"key": COMPONENT, "operator": "In", "values": ["app", "migration", "smoke", contract.COMPONENT_EXPORTER]}
        ]
    }
    apps = {"matchLabels": {COMPONENT: "app"}}
    app_ports = [s.port for s in sizing.services]
    deployed = {s.name: s for s in sizing.services}

    def policy(name: str, why: str, spec: dict[str, Any]) -> Manifest:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(name, ns, labels, annotations={JUSTIFICATION: why}),
            "spec": spec,
        }

    policies = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta("default-deny", ns, labels),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        policy(
            "allow-dns-egress",
            "every pod resolves Service names (kube-dns)",
            {"podSelector": {}, "policyTypes": ["Egress"], "egress": [_dns_egress()]},
        ),
        policy(
            "allow-db-clients-to-postgres",
            "catalog depends_on: database (apps); the operator's migration and smoke-check Jobs",
            {
                "podSelector": db_pods,
                "policyTypes": ["Ingress"],
                # A podSelector without namespaceSelector: this namespace's own pods only.
                "ingress": [{"from": [{"podSelector": db_clients}], "ports": _tcp(DB_PORT)}],
            },
        ),
        policy(
            "allow-db-clients-egress-to-postgres",
            "catalog depends_on: database (apps); the operator's migration and smoke-check Jobs",
            {
                "podSelector": db_clients,
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": db_pods}], "ports": _tcp(DB_PORT)}],
            },
        ),
        policy(
            "allow-postgres-cluster",
            "CloudNativePG: replication and instance manager between instances, the CloudNativePG "
            "operator to each instance (status 8000 and PostgreSQL 5432), instances to the API server",
            {
                "podSelector": db_pods,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {"from": [{"podSelector": db_pods}], "ports": _tcp(DB_PORT, DB_STATUS_PORT)},
                    {
                        "from": [{"namespaceSelector": _ns_selector(config.cnpg_operator_namespace)}],
                        "ports": _tcp(DB_PORT, DB_STATUS_PORT),
                    },
                ],
                "egress": [
                    {"to": [{"podSelector": db_pods}], "ports": _tcp(DB_PORT, DB_STATUS_PORT)},
                    *api_server_egress(config),
                ],
            },
        ),
        policy(
            "allow-monitoring-scrape-postgres",
            "monitoring: Prometheus scrapes the PostgreSQL exporter (PodMonitor epj-db)",
            {
                "podSelector": db_pods,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": _ns_selector(config.monitoring_namespace)}],
                        "ports": _tcp(DB_METRICS_PORT),
                    }
                ],
            },
        ),
    ]
    if app_ports:
        smoke = {"matchLabels": {COMPONENT: "smoke"}}
        policies += [
            policy(
                "allow-ingress-controller-to-apps",
                "the tenant's Ingresses (internal for staff, public for catalog public: true)",
                {
                    "podSelector": apps,
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": _ns_selector(config.ingress_namespace)}],
                            "ports": _tcp(*app_ports),
                        }
                    ],
                },
            ),
            policy(
                "allow-smoke-checks-to-apps",
                "the operator's post-cutover smoke-check Jobs (epj.no/component=smoke)",
                {
                    "podSelector": apps,
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": smoke}], "ports": _tcp(*app_ports)}],
                },
            ),
            policy(
                "allow-smoke-checks-egress-to-apps",
                "the operator's post-cutover smoke-check Jobs (epj.no/component=smoke)",
                {
                    "podSelector": smoke,
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"podSelector": apps}], "ports": _tcp(*app_ports)}],
                },
            ),
            policy(
                "allow-monitoring-scrape-apps",
                "monitoring: Prometheus scrapes the clinical services (ServiceMonitor epj-services)",
                {
                    "podSelector": apps,
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": _ns_selector(config.monitoring_namespace)}],
                            "ports": _tcp(*app_ports),
                        }
                    ],
                },
            ),
        ]
    # App to app: one pair of policies per catalog depends_on between two services this tenant runs.
    for svc in sizing.services:
        for dep in svc.depends_on:
            target = deployed.get(dep)
            if target is None:
                continue
            why = f"service catalog: {svc.name} depends_on {dep}"
            policies += [
                policy(
                    f"allow-{svc.name}-egress-to-{dep}",
                    why,
                    {
                        "podSelector": app_selector(svc.name),
                        "policyTypes": ["Egress"],
                        "egress": [{"to": [{"podSelector": app_selector(dep)}], "ports": _tcp(target.port)}],
                    },
                ),
                policy(
                    f"allow-{dep}-from-{svc.name}",
                    why,
                    {
                        "podSelector": app_selector(dep),
                        "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"podSelector": app_selector(svc.name)}], "ports": _tcp(target.port)}],
                    },
                ),
            ]
    # The rollback Job (label epj.no/component=rollback) scales the tenant's Deployments via the API.
    policies.append(
        policy(
            "allow-rollback-egress-to-api-server",
            "the operator's rollback Job scales the tenant's Deployments through the API server",
            {
                "podSelector": {"matchLabels": {COMPONENT: "rollback"}},
                "policyTypes": ["Egress"],
                "egress": api_server_egress(config),
            },
        )
    )
    # App to national integrations: the health network, for each service whose own catalog entry or an
    # integration it depends on lists `egress: [health-network]`.
    for svc in sizing.services:
        entries = sorted(entry for network, entry in svc.network_egress if network == HEALTH_NETWORK)
        if not entries:
            continue
        reasons = ", ".join(
            f"{svc.name} egress health-network"
            if e == svc.name
            else f"{svc.name} depends_on {e} (egress health-network)"
            for e in entries
        )
        policies.append(
            policy(
                f"allow-{svc.name}-health-network-egress",
                f"service catalog: {reasons}",
                {
                    "podSelector": app_selector(svc.name),
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [{"ipBlock": {"cidr": cidr}} for cidr in config.health_network_cidrs],
                            "ports": _tcp(*config.health_network_ports),
                        }
                    ],
                },
            )
        )
    return policies


def admin_rbac(tenant: Tenant, config: InfraConfig) -> list[Manifest]:
    """Read-mostly access for the municipality's admins; no Secrets, no changes Pulumi owns."""
    ns, labels = tenant.namespace, tenant_labels(tenant)
    read = ["get", "list", "watch"]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(ADMIN_ROLE, ns, labels),
        "rules": [
            {
                "apiGroups": [""],
                "resources": [
                    "configmaps",
                    "endpoints",
                    "events",
                    "limitranges",
                    "persistentvolumeclaims",
                    "pods",
                    "pods/log",
                    "resourcequotas",
                    "services",
                ],
                "verbs": read,
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
            {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": read},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": read},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": read},
            {
                "apiGroups": ["postgresql.cnpg.io"],
                "resources": ["backups", "clusters", "scheduledbackups"],
                "verbs": read,
            },
            {"apiGroups": ["postgresql.cnpg.io"], "resources": ["backups"], "verbs": ["create"]},
            {
                "apiGroups": ["monitoring.coreos.com"],
                "resources": ["podmonitors", "prometheusrules", "servicemonitors"],
                "verbs": read,
            },
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(ADMIN_ROLE, ns, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ADMIN_ROLE},
        "subjects": [
            {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Group",
                "name": config.admin_group(tenant.kommunenummer),
            }
        ],
    }
    operator_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(OPERATOR_NAME, ns, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OPERATOR_TENANT_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_NAME, "namespace": config.operator_namespace}],
    }
    from epj.operator.deploy import ROLLBACK_ACCOUNT, ROLLBACK_RULES

    rollback: list[Manifest] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(ROLLBACK_ACCOUNT, ns, labels)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(ROLLBACK_ACCOUNT, ns, labels),
            "rules": copy.deepcopy(ROLLBACK_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(ROLLBACK_ACCOUNT, ns, labels),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLLBACK_ACCOUNT},
            "subjects": [{"kind": "ServiceAccount", "name": ROLLBACK_ACCOUNT, "namespace": ns}],
        },
    ]
    return [role, binding, operator_binding, *rollback]


def database_secret(tenant: Tenant, password: object) -> Manifest:
    """The database owner's credentials, in the tenant namespace only (``password`` is generated)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(DB_SECRET, tenant.namespace, {**tenant_labels(tenant), "cnpg.io/reload": "true"}),
        "type": "kubernetes.io/basic-auth",
        "stringData": {"username": DB_OWNER, "password": password},
    }


def database_cluster(tenant: Tenant, sizing: TenantSizing, config: InfraConfig) -> Manifest:
    """The tenant's own PostgreSQL (CloudNativePG), bootstrapped with the owner secret above."""
    from epj.infra import backup

    db = sizing.database
    storage: dict[str, Any] = {"size": storage_quantity(db.storage_gib)}
    if config.storage_class:
        storage["storageClass"] = config.storage_class
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": _meta(DB_CLUSTER, tenant.namespace, tenant_labels(tenant)),
        "spec": {
            "instances": db.instances,
            # From the region's registry, pinned by digest (stack key postgresImage).
            "imageName": config.postgres_image,
            **pull_secrets(config),
            "primaryUpdateStrategy": "unsupervised",
            "enableSuperuserAccess": False,
            "bootstrap": {"initdb": {"database": DB_NAME, "owner": DB_OWNER, "secret": {"name": DB_SECRET}}},
            "storage": storage,
            "resources": {
                "requests": {
                    "cpu": cpu_quantity(db.cpu_request_millicores),
                    "memory": memory_quantity(db.memory_mib),
                },
                "limits": {
                    "cpu": cpu_quantity(db.cpu_limit_millicores),
                    "memory": memory_quantity(db.memory_mib),
                },
            },
            "affinity": {
                "enablePodAntiAffinity": True,
                "topologyKey": "kubernetes.io/hostname",
                "podAntiAffinityType": "preferred",
            },
            "inheritedMetadata": {"labels": {TENANT_LABEL: tenant.kommunenummer, COMPONENT: "database"}},
            # Continuous backup: WAL archived through the Barman Cloud plugin (epj.infra.backup).
            "plugins": backup.cluster_plugins(),
        },
    }


def _service_labels(tenant: Tenant, svc: ServiceSizing) -> dict[str, str]:
    return {**tenant_labels(tenant), NAME_LABEL: svc.name, COMPONENT: "app"}


def _selector(tenant: Tenant, svc: ServiceSizing) -> dict[str, str]:
    return {NAME_LABEL: svc.name, TENANT_LABEL: tenant.kommunenummer}


def deployment(tenant: Tenant, svc: ServiceSizing, config: InfraConfig) -> Manifest:
    """One clinical service: restricted pod, probes, resources from sizing, DB credentials as files."""
    labels = _service_labels(tenant, svc)
    env: list[dict[str, Any]] = [
        {"name": "EPJ_TENANT", "value": tenant.kommunenummer},
        {"name": "EPJ_SERVICE", "value": svc.name},
        {"name": "EPJ_ENVIRONMENT", "value": config.environment},
    ]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if svc.uses_database:
        env += [
            {"name": "EPJ_DB_HOST", "value": f"{DB_CLUSTER}-rw"},
            {"name": "EPJ_DB_PORT", "value": str(DB_PORT)},
            {"name": "EPJ_DB_NAME", "value": DB_NAME},
            {"name": "EPJ_DB_CREDENTIALS_DIR", "value": DB_CREDENTIALS_DIR},
            *db_tls_env(),
        ]
        mounts += [{"name": "db-credentials", "mountPath": DB_CREDENTIALS_DIR, "readOnly": True}, db_ca_mount()]
        volumes += [
            {"name": "db-credentials", "secret": {"secretName": DB_SECRET, "defaultMode": 0o440}},
            db_ca_volume(),
        ]
    probe = {"httpGet": {"path": svc.health_path, "port": "http"}, "timeoutSeconds": 2, "failureThreshold": 3}
    container = {
        "name": svc.name,
        "image": config.image(svc.image),
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": svc.port, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {
                "cpu": cpu_quantity(svc.cpu_request_millicores),
                "memory": memory_quantity(svc.memory_request_mib),
            },
            "limits": {
                "cpu": cpu_quantity(svc.cpu_limit_millicores),
                "memory": memory_quantity(svc.memory_limit_mib),
            },
        },
        "livenessProbe": {**probe, "initialDelaySeconds": 15, "periodSeconds": 10},
        "readinessProbe": {**probe, "initialDelaySeconds": 5, "periodSeconds": 5},
        "securityContext": restricted_container_security(),
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(svc.name, tenant.namespace, labels),
        "spec": {
            "replicas": svc.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": _selector(tenant, svc)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": restricted_pod_security(),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": _selector(tenant, svc)},
                        }
                    ],
                    "containers": [container],
                    "volumes": volumes,
                    **pull_secrets(config),
                },
            },
        },
    }


def service(tenant: Tenant, svc: ServiceSizing) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(svc.name, tenant.namespace, _service_labels(tenant, svc)),
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(tenant, svc),
            "ports": [{"name": "http", "port": svc.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pod_disruption_budget(tenant: Tenant, svc: ServiceSizing) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(svc.name, tenant.namespace, _service_labels(tenant, svc)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _selector(tenant, svc)}},
    }


TLS_SECRET = "epj-tls"


def service_host(tenant: Tenant, svc: ServiceSizing, config: InfraConfig) -> str:
    """``<service>.<kommunenummer>.<ingressDomain>``: one host per clinical service and municipality."""
    return f"{svc.name}.{tenant.kommunenummer}.{config.ingress_domain}"


def ingress_manifests(tenant: Tenant, sizing: TenantSizing, config: InfraConfig) -> list[Manifest]:
    """The tenant's way in: a cert-manager Certificate and two Ingresses, TLS on every host.

    ``epj-internal`` (class ``ingressClass``, the health network's staff entrance) routes every
    service; ``epj-public`` (class ``publicIngressClass``) only the services the catalog marks
    ``public: true`` (the citizen portal). Nothing else is exposed outside the cluster.
    """
    if not sizing.services:
        return []
    ns, labels = tenant.namespace, tenant_labels(tenant)
    hosts = {svc.name: service_host(tenant, svc, config) for svc in sizing.services}
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta(TLS_SECRET, ns, labels),
        "spec": {
            "secretName": TLS_SECRET,
            "dnsNames": sorted(hosts.values()),
            "issuerRef": {"name": config.cert_issuer, "kind": config.cert_issuer_kind, "group": "cert-manager.io"},
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        },
    }

    def ingress(name: str, ingress_class: str, services: Sequence[ServiceSizing]) -> Manifest:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": _meta(name, ns, labels, annotations={"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"}),
            "spec": {
                "ingressClassName": ingress_class,
                "tls": [{"hosts": sorted(hosts[s.name] for s in services), "secretName": TLS_SECRET}],
                "rules": [
                    {
                        "host": hosts[s.name],
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": s.name, "port": {"name": "http"}}},
                                }
                            ]
                        },
                    }
                    for s in services
                ],
            },
        }

    objs = [certificate, ingress("epj-internal", config.ingress_class, sizing.services)]
    public = [s for s in sizing.services if s.public]
    if public:
        objs.append(ingress("epj-public", config.public_ingress_class, public))
    return objs


def _tenant_relabeling(tenant: Tenant) -> list[dict[str, Any]]:
    # Every scraped series carries tenant="<kommunenr>" (DESIGN §6), whatever the app exports.
    return [{"action": "replace", "targetLabel": "tenant", "replacement": tenant.kommunenummer}]


def monitors(tenant: Tenant, sizing: TenantSizing) -> list[Manifest]:
    """ServiceMonitor for the clinical services and PodMonitor for PostgreSQL, both labelled ``tenant``."""
    labels = {**tenant_labels(tenant), "tenant": tenant.kommunenummer}
    objs: list[Manifest] = []
    if sizing.services:
        objs.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": _meta("epj-services", tenant.namespace, labels),
                "spec": {
                    "selector": {"matchLabels": {COMPONENT: "app", TENANT_LABEL: tenant.kommunenummer}},
                    "namespaceSelector": {"matchNames": [tenant.namespace]},
                    "endpoints": [
                        {
                            "port": "http",
                            "path": "/metrics",
                            "interval": "30s",
                            "relabelings": _tenant_relabeling(tenant),
                        }
                    ],
                },
            }
        )
    objs.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": _meta("epj-db", tenant.namespace, labels),
            "spec": {
                "selector": {"matchLabels": {"cnpg.io/cluster": DB_CLUSTER}},
                "namespaceSelector": {"matchNames": [tenant.namespace]},
                "podMetricsEndpoints": [
                    {"port": "metrics", "interval": "30s", "relabelings": _tenant_relabeling(tenant)}
                ],
            },
        }
    )
    return objs


def tenant_manifests(
    tenant: Tenant,
    sizing: TenantSizing,
    config: InfraConfig,
    password: object,
    backup_credentials: tuple[object, object] = ("", ""),
) -> list[Manifest]:
    """The whole baseline of one tenant, namespace first (the order the component creates them).

    ``backup_credentials``: the tenant's object-store key (access key id, secret key), Pulumi
    secrets at deploy time (see :mod:`epj.infra.backup`).
    """
    from epj.infra import backup

    objs = [
        namespace(tenant, config),
        resource_quota(tenant, sizing),
        limit_range(tenant, sizing),
        *network_policies(tenant, sizing, config),
        *admin_rbac(tenant, config),
        database_secret(tenant, password),
        *backup.backup_manifests(
            tenant,
            config,
            cluster=DB_CLUSTER,
            db_pods={"matchLabels": {"cnpg.io/cluster": DB_CLUSTER}},
            labels=tenant_labels(tenant),
            credentials=backup_credentials,
        ),
        database_cluster(tenant, sizing, config),
    ]
    for svc in sizing.services:
        objs += [deployment(tenant, svc, config), service(tenant, svc)]
        if svc.replicas > 1:
            objs.append(pod_disruption_budget(tenant, svc))
    objs += monitors(tenant, sizing)
    objs += ingress_manifests(tenant, sizing, config)
    objs += _kpi_exporter(tenant, config)
    return objs


def _kpi_exporter(tenant: Tenant, config: InfraConfig) -> list[Manifest]:
    """The tenant's KPI exporter, its PodMonitor and the policy letting monitoring scrape it."""
    db = {
        "host": f"{DB_CLUSTER}-ro",
        "port": DB_PORT,
        "name": DB_NAME,
        "user": DB_OWNER,
        "secret": DB_SECRET,
        "credentials_dir": DB_CREDENTIALS_DIR,
    }
    labels = tenant_labels(tenant)
    return [
        *observability.kpi_exporter(
            tenant,
            config,
            labels,
            db,
            restricted_container_security(),
            restricted_pod_security(),
            {},  # every image is pinned by digest: no checkov skip
        ),
        *observability.kpi_exporter_network_policies(tenant, config, labels),
    ]


# --------------------------------------------------------------------------------------------- platform


def platform_manifests(config: InfraConfig, crds: Sequence[Manifest]) -> list[Manifest]:
    """Operator namespace, CRDs, RBAC and Deployment; monitoring namespace. Independent of the tenant list."""
    ons, mns = config.operator_namespace, config.monitoring_namespace
    labels = {**PART_OF, NAME_LABEL: OPERATOR_NAME}
    from epj.operator import deploy

    objs: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(ons, None, {**PART_OF, "epj.no/role": "operator", **_pod_security()}),
        },
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(mns, None, {**PART_OF, "epj.no/role": "monitoring", **_pod_security()}),
        },
        *crds,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(OPERATOR_NAME, ons, labels),
        },
        # Access rules are the operator's own (epj.operator.deploy), not a second copy here.
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(OPERATOR_NAME, None, labels),
            "rules": copy.deepcopy(deploy.CLUSTER_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(OPERATOR_NAME, None, labels),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OPERATOR_NAME},
            "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_NAME, "namespace": ons}],
        },
        {
            # The GoLive kinds, the training ConfigMap, events and peering: in the operator namespace only.
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(OPERATOR_NAME, ons, labels),
            "rules": copy.deepcopy(deploy.OPERATOR_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(OPERATOR_NAME, ons, labels),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": OPERATOR_NAME},
            "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_NAME, "namespace": ons}],
        },
        {
            # Bound per tenant namespace (see admin_rbac): the operator runs migration Jobs only there.
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(OPERATOR_TENANT_ROLE, None, labels),
            "rules": copy.deepcopy(deploy.TENANT_RULES),
        },
        # kopf peering: one active operator even if a second one starts (Deployment: 1 replica, Recreate).
        *deploy.peering_manifests(ons),
        _operator_deployment(config, labels),
        # Admission webhooks stamping every go/no-go decision (certificate: cert-manager, see deploy.py).
        *deploy.webhook_manifests(ons, {NAME_LABEL: OPERATOR_NAME}),
        *_operator_network_policies(config),
        # What the operator may create in tenant namespaces (CEL in the API server, epj.infra.admission).
        *admission.admission_manifests(config, deploy.ROLLBACK_ACCOUNT),
        observability.operator_pod_monitor(config),
        *observability.probe_exporter(
            config,
            restricted_container_security(),
            restricted_pod_security(),
            {},  # every image is pinned by digest: no checkov skip
        ),
    ]
    return objs


def _operator_deployment(config: InfraConfig, labels: Mapping[str, str]) -> Manifest:
    from epj.operator import deploy
    from epj.operator.runner import HEALTH_PATH, HEALTH_PORT_ENV

    webhook_volume, webhook_mount = deploy.webhook_volume()

    selector = {NAME_LABEL: OPERATOR_NAME}
    probe = {
        # kopf's liveness endpoint, which `epj operator run` serves on $EPJ_OPERATOR_HEALTH_PORT.
        "httpGet": {"path": HEALTH_PATH, "port": "health"},
        "timeoutSeconds": 2,
        "failureThreshold": 3,
        "periodSeconds": 10,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            OPERATOR_NAME,
            config.operator_namespace,
            labels,
            annotations={
                "checkov.io/skip1": "CKV_K8S_38=The operator talks to the Kubernetes API, so it needs its "
                "ServiceAccount token; its roles are epj.operator.deploy's rules (epj.no kinds, events, peering)",
            },
        ),
        "spec": {
            "replicas": 1,
            # One operator at a time: two would race on the same GoLive objects.
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**labels, COMPONENT: "operator"}},
                "spec": {
                    "serviceAccountName": OPERATOR_NAME,
                    "automountServiceAccountToken": True,
                    "enableServiceLinks": False,
                    "securityContext": restricted_pod_security(),
                    "containers": [
                        {
                            "name": "operator",
                            "image": config.operator_image,
                            "imagePullPolicy": "Always",
                            "command": ["epj"],
                            # Peering (no --standalone); the GoLive objects live in the operator namespace.
                            "args": ["operator", "run", "--namespace", config.operator_namespace],
                            "env": [
                                {"name": contract.ENV_ENVIRONMENT, "value": config.environment},
                                {"name": HEALTH_PORT_ENV, "value": str(OPERATOR_HEALTH_PORT)},
                                *deploy.webhook_env(),
                                # /metrics, scraped by the epj-operator PodMonitor (job="epj-operator").
                                {"name": contract.ENV_METRICS_PORT, "value": str(OPERATOR_METRICS_PORT)},
                                # The no-critical-alerts gate asks this Alertmanager.
                                {"name": contract.ENV_ALERTMANAGER_URL, "value": config.alertmanager_url},
                                # The image of the migration Jobs the operator starts.
                                {"name": contract.ENV_MIGRATION_IMAGE, "value": config.effective_migration_image},
                            ],
                            "ports": [
                                {"name": "health", "containerPort": OPERATOR_HEALTH_PORT, "protocol": "TCP"},
                                {"name": "webhook", "containerPort": contract.OPERATOR_WEBHOOK_PORT, "protocol": "TCP"},
                                {
                                    "name": contract.METRICS_PORT_NAME,
                                    "containerPort": OPERATOR_METRICS_PORT,
                                    "protocol": "TCP",
                                },
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "500m", "memory": "512Mi"},
                            },
                            "livenessProbe": {**probe, "initialDelaySeconds": 15},
                            "readinessProbe": {**probe, "initialDelaySeconds": 5},
                            "securityContext": restricted_container_security(),
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, webhook_mount],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, webhook_volume],
                    **pull_secrets(config),
                },
            },
        },
    }


def _operator_network_policies(config: InfraConfig) -> list[Manifest]:
    ons = config.operator_namespace
    labels = {**PART_OF, NAME_LABEL: OPERATOR_NAME}

    def policy(name: str, spec: dict[str, Any]) -> Manifest:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(name, ons, labels),
            "spec": spec,
        }

    return [
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy(
            "allow-operator-egress",
            {
                "podSelector": {"matchLabels": {COMPONENT: "operator"}},
                "policyTypes": ["Egress"],
                "egress": [
                    _dns_egress(),
                    *api_server_egress(config),
                    # Alertmanager (no-critical-alerts gate) in the monitoring namespace.
                    {
                        "to": [{"namespaceSelector": _ns_selector(config.monitoring_namespace)}],
                        "ports": _tcp(contract.ALERTMANAGER_PORT),
                    },
                ],
            },
        ),
        policy(
            # The API server calls the admission webhooks (GoLiveApproval) on the webhook port.
            "allow-apiserver-to-operator-webhook",
            {
                "podSelector": {"matchLabels": {COMPONENT: "operator"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"ipBlock": {"cidr": cidr}} for cidr in config.api_server_cidrs],
                        "ports": _tcp(contract.OPERATOR_WEBHOOK_PORT),
                    }
                ],
            },
        ),
        policy(
            "allow-monitoring-scrape-operator",
            {
                "podSelector": {"matchLabels": {COMPONENT: "operator"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": _ns_selector(config.monitoring_namespace)}],
                        "ports": _tcp(OPERATOR_HEALTH_PORT, OPERATOR_METRICS_PORT),
                    }
                ],
            },
        ),
    ]
