"""Metrics and spans of a migration run (DESIGN §6): labelled by tenant, never carrying personal data.

The cluster does not scrape the migration Job (it is short-lived): its result reaches Prometheus
through the MigrationJob status, which the operator exports (``epj.contract``, ``epj.operator.metrics``).
These process-local names serve rehearsals and benches.

Module-level prometheus-client instruments and an OpenTelemetry tracer from the global provider, so
whatever exporter the process sets up (``epj.telemetry`` or a test's in-memory exporter) receives
them. Labels and span attributes are limited to: tenant (kommunenr), source file/element, phase,
quarantine reason, resource type, and counts.
"""

from __future__ import annotations

from typing import Final

from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram

from epj import contract

TRACER: Final = trace.get_tracer("epj.migration")

RECORDS_READ: Final = Counter(
    contract.MIGRATION_PROCESS_RECORDS_READ, "Source records read from the extract", ["tenant", "source"]
)
RECORDS_MIGRATED: Final = Counter(
    contract.MIGRATION_PROCESS_RECORDS_MIGRATED, "Source records migrated to FHIR resources", ["tenant", "source"]
)
RECORDS_QUARANTINED: Final = Counter(
    contract.MIGRATION_PROCESS_RECORDS_QUARANTINED,
    "Source records quarantined, by reason",
    ["tenant", "source", "reason"],
)
RESOURCES_STAGED: Final = Counter(
    contract.MIGRATION_PROCESS_RESOURCES_STAGED, "FHIR resources staged for the target", ["tenant", "resource_type"]
)
ROWS_PER_SECOND: Final = Gauge(
    contract.MIGRATION_PROCESS_ROWS_PER_SECOND, "Source records processed per second in the last run", ["tenant"]
)
PHASE_SECONDS: Final = Histogram(
    contract.MIGRATION_PROCESS_PHASE_SECONDS,
    "Duration of a migration phase",
    ["tenant", "phase"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
RUN_COMPLETE: Final = Gauge(
    contract.MIGRATION_PROCESS_RUN_COMPLETE, "1 when the last run reconciled completely, else 0", ["tenant"]
)
