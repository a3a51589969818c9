"""What the render deploys so the alert rules and dashboards get data: exporters and their monitors.

Every alert rule and dashboard panel queries a metric; this module deploys the
components that emit them and the prometheus-operator monitors that scrape them,
with the names from :mod:`epj.contract` (``tests/contract`` checks the prod render):

* the **operator** serves ``/metrics`` (go-live phases, stalls, reconcile errors and the
  migration results it reads from each MigrationJob's status) on its metrics port, scraped
  by a PodMonitor whose ``job`` is ``epj-operator``;
* the **probe exporter** runs once, centrally, in the monitoring namespace. It probes every
  tenant's clinical endpoints from outside the tenant (as a user would), so a tenant whose
  namespace is broken (quota, policy, node) cannot take its own watcher down with it; it holds
  no tenant secret and needs only the monitoring namespace → app-port flow the tenant policies
  already allow. It also reads the platform's certificates (health network, HelseID) from
  Secrets and exports their expiry;
* the **KPI exporter** runs per tenant, in the tenant namespace: the KPIs are computed from
  the tenant's own PostgreSQL, whose credentials exist only in that namespace (DESIGN §5), so
  a central exporter would need every tenant's password and a path to every database.

Jobs use ``jobLabel: app.kubernetes.io/name``, so the ``job`` label is the component name
(prometheus-operator copies that pod label into ``job``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from epj import contract
from epj.infra.config import InfraConfig
from epj.tenants import sizing
from epj.tenants.model import Tenant
from epj.tenants.sizing import cpu_quantity, memory_quantity

Manifest = dict[str, Any]

NAME_LABEL = "app.kubernetes.io/name"
PART_OF = {"app.kubernetes.io/part-of": "epj-platform"}
#: Secrets (monitoring namespace) holding the platform's certificates, one per ``contract.CERTIFICATES`` name.
CERTIFICATE_SECRET = "epj-cert-{name}"
CERTIFICATE_DIR = "/var/run/secrets/epj-certs"


def _ns_selector(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def pod_monitor(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    tenant: str | None = None,
    interval: str = "30s",
) -> Manifest:
    """A PodMonitor whose ``job`` is the pods' ``app.kubernetes.io/name`` (the component name)."""
    endpoint: dict[str, Any] = {"port": contract.METRICS_PORT_NAME, "path": contract.METRICS_PATH, "interval": interval}
    if tenant is not None:
        # Every series of a tenant's component carries tenant="<kommunenr>" (DESIGN §6).
        endpoint["relabelings"] = [{"action": "replace", "targetLabel": contract.TENANT, "replacement": tenant}]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "jobLabel": NAME_LABEL,
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [endpoint],
        },
    }


def operator_pod_monitor(config: InfraConfig) -> Manifest:
    labels = {**PART_OF, NAME_LABEL: contract.OPERATOR_NAME}
    return pod_monitor(
        contract.OPERATOR_NAME,
        config.operator_namespace,
        labels,
        {NAME_LABEL: contract.OPERATOR_NAME, contract.COMPONENT_LABEL: contract.COMPONENT_OPERATOR},
    )


def _exporter_container(
    name: str,
    image: str,
    args: list[str],
    port: int,
    env: list[dict[str, Any]],
    security: Mapping[str, Any],
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "Always",
        "command": [contract.CLI],
        "args": args,
        "env": env,
        "ports": [{"name": contract.METRICS_PORT_NAME, "containerPort": port, "protocol": "TCP"}],
        "resources": {
            "requests": {
                "cpu": cpu_quantity(sizing.KPI_EXPORTER_CPU_REQUEST_MILLICORES),
                "memory": memory_quantity(sizing.KPI_EXPORTER_MEMORY_REQUEST_MIB),
            },
            "limits": {
                "cpu": cpu_quantity(sizing.KPI_EXPORTER_CPU_LIMIT_MILLICORES),
                "memory": memory_quantity(sizing.KPI_EXPORTER_MEMORY_LIMIT_MIB),
            },
        },
        "livenessProbe": {
            "httpGet": {"path": contract.METRICS_PATH, "port": contract.METRICS_PORT_NAME},
            "initialDelaySeconds": 15,
            "periodSeconds": 30,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": contract.METRICS_PATH, "port": contract.METRICS_PORT_NAME},
            "initialDelaySeconds": 5,
            "periodSeconds": 15,
            "timeoutSeconds": 5,
        },
        "securityContext": dict(security),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
    }


def _exporter_deployment(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    container: dict[str, Any],
    pod_security: Mapping[str, Any],
    volumes: list[dict[str, Any]],
    annotations: Mapping[str, str],
) -> Manifest:
    selector = {NAME_LABEL: name}
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": dict(pod_security),
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, *volumes],
                },
            },
        },
    }


def probe_exporter_args(config: InfraConfig) -> list[str]:
    """``epj monitoring probe-exporter`` as the Deployment runs it (the contract test parses these)."""
    args = [
        "monitoring",
        "probe-exporter",
        "--env",
        config.environment,
        "--port",
        str(contract.PROBE_EXPORTER_PORT),
    ]
    for service, url in config.integration_probe_urls.items():
        args += ["--integration", f"{service}={url}"]
    for name in contract.CERTIFICATES:
        args += ["--certificate", f"{name}={CERTIFICATE_DIR}/{name}/tls.crt"]
    return args


def probe_exporter(
    config: InfraConfig,
    container_security: Mapping[str, Any],
    pod_security: Mapping[str, Any],
    annotations: Mapping[str, str],
) -> list[Manifest]:
    """The central probe exporter (monitoring namespace) and its PodMonitor."""
    name, ns = contract.PROBE_EXPORTER_NAME, config.monitoring_namespace
    labels = {**PART_OF, NAME_LABEL: name, contract.COMPONENT_LABEL: contract.COMPONENT_EXPORTER}
    mounts = [
        {"name": f"cert-{cert}", "mountPath": f"{CERTIFICATE_DIR}/{cert}", "readOnly": True}
        for cert in contract.CERTIFICATES
    ]
    # optional: a missing certificate must not stop the clinical probes; the exporter then reports
    # the certificate as unreadable (expiry 0), which the certificate alert turns into a ticket.
    volumes = [
        {
            "name": f"cert-{cert}",
            "secret": {"secretName": CERTIFICATE_SECRET.format(name=cert), "optional": True, "defaultMode": 0o440},
        }
        for cert in contract.CERTIFICATES
    ]
    env = [{"name": contract.ENV_ENVIRONMENT, "value": config.environment}]
    container = _exporter_container(
        "probe-exporter",
        config.operator_image,
        probe_exporter_args(config),
        contract.PROBE_EXPORTER_PORT,
        env,
        container_security,
        mounts,
    )
    return [
        _exporter_deployment(name, ns, labels, container, pod_security, volumes, annotations),
        pod_monitor(name, ns, {**PART_OF, NAME_LABEL: name}, {NAME_LABEL: name}),
    ]


def kpi_exporter_args(tenant: Tenant) -> list[str]:
    """``epj monitoring kpi-exporter`` as the tenant's Deployment runs it."""
    return ["monitoring", "kpi-exporter", "--tenant", tenant.kommunenummer, "--port", str(contract.KPI_EXPORTER_PORT)]


def kpi_exporter(
    tenant: Tenant,
    config: InfraConfig,
    tenant_labels: Mapping[str, str],
    db: Mapping[str, Any],
    container_security: Mapping[str, Any],
    pod_security: Mapping[str, Any],
    annotations: Mapping[str, str],
) -> list[Manifest]:
    """The tenant's KPI exporter (reads its own database) and its PodMonitor.

    ``db``: ``host``, ``port``, ``name``, ``user``, ``secret`` and ``credentials_dir``: the owner
    Secret is mounted as files there (as for the clinical services), so the password is neither in
    the DSN, the arguments nor an environment variable.
    """
    name, ns = contract.KPI_EXPORTER_NAME, tenant.namespace
    labels = {
        **tenant_labels,
        NAME_LABEL: name,
        contract.COMPONENT_LABEL: contract.COMPONENT_EXPORTER,
    }
    from epj.infra import manifests  # the database client's TLS settings (manifests imports this module)

    env = [
        {"name": contract.ENV_ENVIRONMENT, "value": config.environment},
        {"name": contract.ENV_TENANT, "value": tenant.kommunenummer},
        {
            "name": contract.ENV_KPI_DSN,
            "value": f"host={db['host']} port={db['port']} dbname={db['name']} user={db['user']} "
            "connect_timeout=5 application_name=epj-kpi-exporter "
            # TLS verified against CloudNativePG's CA (only its ca.crt is mounted).
            f"sslmode={manifests.DB_SSLMODE} sslrootcert={manifests.DB_CA_DIR}/ca.crt",
        },
        {"name": contract.ENV_DB_CREDENTIALS_DIR, "value": db["credentials_dir"]},
    ]
    mounts = [
        {"name": "db-credentials", "mountPath": db["credentials_dir"], "readOnly": True},
        manifests.db_ca_mount(),
    ]
    volumes = [
        {"name": "db-credentials", "secret": {"secretName": db["secret"], "defaultMode": 0o440}},
        manifests.db_ca_volume(),
    ]
    container = _exporter_container(
        "kpi-exporter", config.operator_image, kpi_exporter_args(tenant), contract.KPI_EXPORTER_PORT, env,
        container_security, mounts,
    )  # fmt: skip
    return [
        _exporter_deployment(name, ns, labels, container, pod_security, volumes, annotations),
        pod_monitor(
            name,
            ns,
            {**tenant_labels, NAME_LABEL: name, contract.TENANT: tenant.kommunenummer},
            {NAME_LABEL: name, contract.TENANT_OBJECT_LABEL: tenant.kommunenummer},
            tenant=tenant.kommunenummer,
        ),
    ]


def kpi_exporter_network_policies(tenant: Tenant, config: InfraConfig, labels: Mapping[str, str]) -> list[Manifest]:
    """The monitoring namespace may scrape the KPI exporter (its database access is the db-clients policy)."""
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "allow-monitoring-scrape-exporters",
                "namespace": tenant.namespace,
                "labels": dict(labels),
                "annotations": {"epj.no/justification": "monitoring: Prometheus scrapes the tenant's KPI exporter"},
            },
            "spec": {
                "podSelector": {"matchLabels": {contract.COMPONENT_LABEL: contract.COMPONENT_EXPORTER}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": _ns_selector(config.monitoring_namespace)}],
                        "ports": [{"protocol": "TCP", "port": contract.KPI_EXPORTER_PORT}],
                    }
                ],
            },
        }
    ]
