"""The metric names the platform's own processes expose, in one place.

The alert rules (:mod:`epj.monitoring.rules`) and dashboards query these names;
the operator, the migration and the exporters create them with
:func:`platform_metrics`. Labels are limited to the allow-list in
:mod:`epj.telemetry.labels`.

| name | type | labels | meaning |
|---|---|---|---|
| ``epj_golive_phase`` | gauge | tenant, phase | 1 for the tenant's current go-live phase, 0 for others |
| ``epj_golive_stalled`` | gauge | tenant | 1 while Progressing=False with reason Stalled |
| ``epj_golive_wave`` | gauge | tenant, wave | 1: the tenant belongs to this rollout wave (for dashboards) |
| ``epj_operator_reconcile_errors_total`` | counter | tenant, kind | failed reconcile attempts |

The migration metrics are the operator's (read from each MigrationJob's status, since the
Job itself is short-lived and never scraped): see :mod:`epj.operator.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from epj import contract

# The names live in epj.contract (one home for every cross-part name); re-exported here for the emitters.
GOLIVE_PHASE = contract.GOLIVE_PHASE
GOLIVE_STALLED = contract.GOLIVE_STALLED
GOLIVE_WAVE = contract.GOLIVE_WAVE
OPERATOR_RECONCILE_ERRORS = contract.OPERATOR_RECONCILE_ERRORS
PROBE_SUCCESS = contract.PROBE_SUCCESS
PROBE_DURATION = contract.PROBE_DURATION
PROBE_LAST_SUCCESS = contract.PROBE_LAST_SUCCESS
KPI_VALUE = contract.KPI_VALUE
KPI_SAMPLE_SIZE = contract.KPI_SAMPLE_SIZE
KPI_BASELINE = contract.KPI_BASELINE


@dataclass(frozen=True)
class PlatformMetrics:
    """prometheus-client objects for the operator (create once per registry)."""

    golive_phase: Any
    golive_stalled: Any
    golive_wave: Any
    reconcile_errors: Any


def platform_metrics(registry: Any = None) -> PlatformMetrics:
    """Create the platform metrics in ``registry`` (default: the global registry).

    Counter names are given without ``_total``: prometheus-client appends it.
    """
    from prometheus_client import REGISTRY, Counter, Gauge

    reg = registry or REGISTRY
    return PlatformMetrics(
        golive_phase=Gauge(GOLIVE_PHASE, "1 for the current go-live phase", ["tenant", "phase"], registry=reg),
        golive_stalled=Gauge(GOLIVE_STALLED, "1 while the go-live is stalled", ["tenant"], registry=reg),
        golive_wave=Gauge(GOLIVE_WAVE, "1: the tenant belongs to this rollout wave", ["tenant", "wave"], registry=reg),
        reconcile_errors=Counter(
            OPERATOR_RECONCILE_ERRORS.removesuffix("_total"), "Failed reconciles", ["tenant", "kind"], registry=reg
        ),
    )
