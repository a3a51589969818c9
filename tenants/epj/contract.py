"""Every name that crosses the platform's parts, defined once (DESIGN §6, developers' rule 3).

Why one module: the planner writes RolloutWaves into a namespace that the operator
watches and the CLI defaults to; an exporter emits a metric that a rule, a dashboard
and a runbook query; the render sets an environment variable that a process reads. When
each part keeps its own literal they drift apart silently (issue 15). Here each such
name has one home, read by the emitter, the rules, the dashboards, the render, the CLI
defaults and the runbooks alike; ``tests/contract`` checks the prod render against it.

Stdlib only, no imports from the rest of ``epj``: the domain core may import it.
Values that differ per environment (image registry, Alertmanager URL, runbook base URL)
live in the stack files (``infra/Pulumi.<env>.yaml``); this module holds the key names
and the defaults.
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------------- namespaces

#: The operator's namespace: the GoLive, RolloutWave and MigrationJob objects live here. The planner
#: (``epj waves plan``) writes RolloutWaves into it, the operator watches it, ``epj golive …`` defaults
#: to it and the runbooks look in it. Stack key ``operatorNamespace`` (defaults to this).
OPERATOR_NAMESPACE: Final = "epj-system"
#: Alias that says what the CLI means by it: where the go-live objects are.
GOLIVE_NAMESPACE: Final = OPERATOR_NAMESPACE
#: Prometheus, Alertmanager, the rules and the central exporters. Stack key ``monitoringNamespace``.
MONITORING_NAMESPACE: Final = "epj-monitoring"
#: One namespace per municipality, e.g. ``kommune-5035``.
TENANT_NAMESPACE_PATTERN: Final = "kommune-{kommunenummer}"


def tenant_namespace(kommunenummer: str) -> str:
    """``5035`` → ``kommune-5035``."""
    return TENANT_NAMESPACE_PATTERN.format(kommunenummer=kommunenummer)


# --------------------------------------------------------------------------------------------- components

#: Name of the operator's Deployment, ServiceAccount, scrape job (``job`` label) and span service.
OPERATOR_NAME: Final = "epj-operator"
#: The central probe exporter (monitoring namespace): probes every tenant's clinical endpoints.
PROBE_EXPORTER_NAME: Final = "epj-probe-exporter"
#: The per-tenant KPI exporter (tenant namespace): reads that tenant's own database.
KPI_EXPORTER_NAME: Final = "epj-kpi-exporter"
#: The ``job`` label of the platform's own components: the rendered PodMonitors take it from the pods'
#: ``app.kubernetes.io/name`` label (``jobLabel``), which is the component name.
EXPORTER_JOBS: Final = (PROBE_EXPORTER_NAME, KPI_EXPORTER_NAME)
PLATFORM_JOBS: Final = (OPERATOR_NAME, *EXPORTER_JOBS)

#: Pod label saying which part a pod is (NetworkPolicy and monitor selectors use it).
COMPONENT_LABEL: Final = "epj.no/component"
COMPONENT_OPERATOR: Final = "operator"
COMPONENT_EXPORTER: Final = "exporter"
COMPONENT_APP: Final = "app"
COMPONENT_MIGRATION: Final = "migration"

# --------------------------------------------------------------------------------------------- tenant database

#: Each tenant's PostgreSQL (CloudNativePG ``Cluster``): the render creates it, the clinical services, the
#: KPI exporter, the migration Job and the operator's smoke/seal Jobs connect to it with these names.
DB_CLUSTER: Final = "epj-db"
DB_SECRET: Final = "epj-db-owner"
DB_NAME: Final = "epj"
DB_OWNER: Final = "epj"
DB_PORT: Final = 5432
DB_CREDENTIALS_DIR: Final = "/var/run/secrets/epj-db"
#: CloudNativePG's CA Secret of the cluster (``<cluster>-ca``); clients mount only its ``ca.crt``.
DB_CA_SECRET: Final = f"{DB_CLUSTER}-ca"
DB_CA_DIR: Final = "/var/run/secrets/epj-db-ca"
#: Every database client verifies the server certificate and host name against that CA.
DB_SSLMODE: Final = "verify-full"

# --------------------------------------------------------------------------------------------- ports

OPERATOR_HEALTH_PORT: Final = 8080
OPERATOR_METRICS_PORT: Final = 9464
KPI_EXPORTER_PORT: Final = 9464
PROBE_EXPORTER_PORT: Final = 9465
ALERTMANAGER_PORT: Final = 9093
#: The operator's admission webhooks (HTTPS; the API server reaches them through the webhook Service on 443).
OPERATOR_WEBHOOK_PORT: Final = 9443
OPERATOR_WEBHOOK_SERVICE: Final = "epj-golive-webhook"
METRICS_PORT_NAME: Final = "metrics"
METRICS_PATH: Final = "/metrics"

# --------------------------------------------------------------------------------------------- env vars

ENV_ENVIRONMENT: Final = "EPJ_ENVIRONMENT"
ENV_TENANT: Final = "EPJ_TENANT"
ENV_GOLIVE_NAMESPACE: Final = "EPJ_GOLIVE_NAMESPACE"
ENV_ALERTMANAGER_URL: Final = "EPJ_ALERTMANAGER_URL"
ENV_MIGRATION_IMAGE: Final = "EPJ_MIGRATION_IMAGE"
#: The migration run's name in the tenant store's ledger (``migration_run``): the migration Job sets it
#: to its own name, ``epj migrate run`` reads it (``--run-id`` overrides).
ENV_MIGRATION_RUN: Final = "EPJ_MIGRATION_RUN"
ENV_METRICS_PORT: Final = "EPJ_METRICS_PORT"
ENV_OPERATOR_HEALTH_PORT: Final = "EPJ_OPERATOR_HEALTH_PORT"
ENV_RUNBOOK_BASE_URL: Final = "EPJ_RUNBOOK_BASE_URL"
ENV_KPI_DSN: Final = "EPJ_KPI_DSN"
ENV_DB_CREDENTIALS_DIR: Final = "EPJ_DB_CREDENTIALS_DIR"
ENV_PROMETHEUS_URL: Final = "EPJ_PROMETHEUS_URL"
#: Directory with ``tls.crt``/``tls.key`` of the operator's webhook server (the mounted cert-manager Secret).
ENV_WEBHOOK_CERT_DIR: Final = "EPJ_WEBHOOK_CERT_DIR"
#: JSON group → approver-role mapping (``epj.golive.approvals.RoleMapping``); empty: groups ``epj-approver:<role>``.
ENV_APPROVER_ROLES: Final = "EPJ_APPROVER_ROLES"

# --------------------------------------------------------------------------------------------- images & URLs

#: Image the migration Jobs run when neither the MigrationJob nor the operator's environment names one.
#: The render always sets ``EPJ_MIGRATION_IMAGE`` from stack config (``migrationImage``, else
#: ``operatorImage``: the same repository builds both).
DEFAULT_MIGRATION_IMAGE: Final = "registry.epj.local/epj-platform:latest"
#: Alertmanager as the operator's no-critical-alerts gate reaches it (kube-prometheus' Service),
#: unless stack key ``alertmanagerUrl`` says otherwise.
DEFAULT_ALERTMANAGER_URL: Final = f"http://alertmanager-operated.{MONITORING_NAMESPACE}.svc:{ALERTMANAGER_PORT}"
#: Runbook links: ``<base>/runbooks/alerts/<Alert>.md``. The default is a reserved, never-resolving
#: host so a forgotten setting is obvious; prod sets stack key ``runbookBaseUrl``.
DEFAULT_RUNBOOK_BASE_URL: Final = "https://epj-platform.invalid/blob/main"
RUNBOOK_PATH_PATTERN: Final = "runbooks/alerts/{name}.md"

# --------------------------------------------------------------------------------------------- labels

#: Every series that concerns a municipality carries this label (value: kommunenummer).
TENANT: Final = "tenant"
SERVICE: Final = "service"
JOB: Final = "job"
NAMESPACE: Final = "namespace"
SEVERITY: Final = "severity"
#: Kubernetes object label that carries the kommunenummer (namespaces, pods).
TENANT_OBJECT_LABEL: Final = "epj.no/tenant"
KOMMUNENR_OBJECT_LABEL: Final = "epj.no/kommunenummer"

# --------------------------------------------------------------------------------------------- metrics

# Operator (go-live).
GOLIVE_PHASE: Final = "epj_golive_phase"
GOLIVE_STALLED: Final = "epj_golive_stalled"
GOLIVE_WAVE: Final = "epj_golive_wave"
GOLIVE_TENANTS: Final = "epj_golive_tenants"
OPERATOR_RECONCILE_ERRORS: Final = "epj_operator_reconcile_errors_total"

# Migration, as the operator exports it from each MigrationJob's status (the Job itself is short-lived
# and never scraped; see epj.operator.metrics).
MIGRATION_RUNNING: Final = "epj_migration_running"
MIGRATION_LAST_RUN_SUCCESS: Final = "epj_migration_last_run_success"
MIGRATION_LAST_RUN_RECORDS: Final = "epj_migration_last_run_records"
MIGRATION_STARTED: Final = "epj_migration_started_timestamp_seconds"
#: Values of the ``category`` label of :data:`MIGRATION_LAST_RUN_RECORDS` (the reconciliation counts).
MIGRATION_CATEGORIES: Final = ("read", "migrated", "quarantined", "unaccounted")
#: Values of the ``purpose`` label of the migration metrics.
MIGRATION_PURPOSES: Final = ("rehearsal", "cutover")

# The migration process's own instruments (``epj migrate``, ``epj rehearse``): a laptop rehearsal or a bench
# reads them in-process. In the cluster the Job is short-lived and not scraped; its result reaches Prometheus
# through the MigrationJob status (the names above), so no rule or dashboard queries these.
MIGRATION_PROCESS_RECORDS_READ: Final = "epj_migration_records_read"
MIGRATION_PROCESS_RECORDS_MIGRATED: Final = "epj_migration_records_migrated"
MIGRATION_PROCESS_RECORDS_QUARANTINED: Final = "epj_migration_records_quarantined"
MIGRATION_PROCESS_RESOURCES_STAGED: Final = "epj_migration_resources_staged"
MIGRATION_PROCESS_ROWS_PER_SECOND: Final = "epj_migration_rows_per_second"
MIGRATION_PROCESS_PHASE_SECONDS: Final = "epj_migration_phase_duration_seconds"
MIGRATION_PROCESS_RUN_COMPLETE: Final = "epj_migration_last_run_complete"

# Probes (central probe exporter).
PROBE_SUCCESS: Final = "epj_probe_success"
PROBE_DURATION: Final = "epj_probe_duration_seconds"
PROBE_LAST_SUCCESS: Final = "epj_probe_last_success_timestamp_seconds"

# KPIs (per-tenant KPI exporter).
KPI_VALUE: Final = "epj_kpi_value"
KPI_SAMPLE_SIZE: Final = "epj_kpi_sample_size"
KPI_BASELINE: Final = "epj_kpi_baseline_value"

# Certificates (probe exporter reads them from Secrets): the platform's health-network (virksomhets-)
# certificate and its HelseID client certificate. Label ``certificate`` holds one of these names.
CERTIFICATES: Final = ("health-network", "helseid")
CERTIFICATE_LABEL: Final = "certificate"
CERTIFICATE_EXPIRY: Final = "epj_certificate_expiry_timestamp_seconds"

# Prerequisite exporters (kube-prometheus): the rules also query these, documented in infra/README.md.
# Tenant databases (CloudNativePG instance manager and its Barman Cloud plugin, scraped by the PodMonitor
# ``epj-db``; kubelet volume stats from kube-prometheus). Read by the backup alerts and their runbooks.
BACKUP_LAST_AVAILABLE: Final = "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"
BACKUP_LAST_FAILED: Final = "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp"
BACKUP_FIRST_RECOVERABILITY: Final = "barman_cloud_cloudnative_pg_io_first_recoverability_point"
PG_ARCHIVER_FAILED: Final = "cnpg_pg_stat_archiver_failed_count"
PG_ARCHIVER_SECONDS_SINCE_LAST: Final = "cnpg_pg_stat_archiver_seconds_since_last_archival"
PG_IN_RECOVERY: Final = "cnpg_pg_replication_in_recovery"
PG_REPLICATION_LAG: Final = "cnpg_pg_replication_lag"
KUBELET_VOLUME_AVAILABLE: Final = "kubelet_volume_stats_available_bytes"
KUBELET_VOLUME_CAPACITY: Final = "kubelet_volume_stats_capacity_bytes"
KUBE_STATE_METRICS_JOB: Final = "kube-state-metrics"
KUBE_POD_WAITING_REASON: Final = "kube_pod_container_status_waiting_reason"
KUBE_POD_LAST_TERMINATED_REASON: Final = "kube_pod_container_status_last_terminated_reason"
KUBE_POD_RESTARTS: Final = "kube_pod_container_status_restarts_total"

# --------------------------------------------------------------------------------------------- CLI

#: ``epj`` is the console script; every Deployment runs it with these arguments.
CLI: Final = "epj"
