"""Metrics and spans of a migration run (DESIGN §6): labelled by tenant, never carrying personal data.

Module-level prometheus-client instruments and an OpenTelemetry tracer from the global provider, so
whatever exporter the process sets up (``epj.telemetry`` or a test's in-memory exporter) receives
them. Labels and span attributes are limited to: tenant (kommunenr), source file/element, phase,
quarantine reason, resource type, and counts.
"""

from __future__ import annotations

from typing import Final

from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram

TRACER: Final = trace.get_tracer("epj.migration")

RECORDS_READ: Final = Counter(
    "epj_migration_records_read", "Source records read from the extract", ["tenant", "source"]
)
RECORDS_MIGRATED: Final = Counter(
    "epj_migration_records_migrated", "Source records migrated to FHIR resources", ["tenant", "source"]
)
RECORDS_QUARANTINED: Final = Counter(
    "epj_migration_records_quarantined", "Source records quarantined, by reason", ["tenant", "source", "reason"]
)
RESOURCES_STAGED: Final = Counter(
    "epj_migration_resources_staged", "FHIR resources staged for the target", ["tenant", "resource_type"]
)
ROWS_PER_SECOND: Final = Gauge(
    "epj_migration_rows_per_second", "Source records processed per second in the last run", ["tenant"]
)
PHASE_SECONDS: Final = Histogram(
    "epj_migration_phase_duration_seconds",
    "Duration of a migration phase",
    ["tenant", "phase"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
RUN_COMPLETE: Final = Gauge(
    "epj_migration_last_run_complete", "1 when the last run reconciled completely, else 0", ["tenant"]
)
