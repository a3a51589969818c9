"""Prometheus metrics and OpenTelemetry spans of the go-live operator.

Metric names shared with alert rules come from :mod:`epj.telemetry.metrics`
(``epj_golive_phase``, ``epj_golive_stalled``, ``epj_operator_reconcile_errors_total``);
the operator adds the aggregate and per-gate ones below. Every per-tenant metric
carries ``tenant="<kommunenummer>"``; no label ever holds personal data (only
kommunenummer, phase, gate and outcome names from fixed vocabularies).

| name | type | labels | meaning |
|---|---|---|---|
| ``epj_golive_tenants`` | gauge | phase | tenants currently in each phase |
| ``epj_golive_gate_outcomes_total`` | counter | tenant, gate, outcome | decisive gate outcomes recorded |
| ``epj_golive_transitions_total`` | counter | tenant, from_phase, to_phase | phase transitions |
| ``epj_golive_phase_duration_seconds`` | histogram | from_phase, to_phase | time in a phase (clock time) |
| ``epj_operator_reconcile_duration_seconds`` | histogram | kind | wall time of one reconcile (handler latency) |

One span per transition (``golive.transition``), short and linked by the tenant
attribute, never one span lasting weeks (DESIGN.md §6).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from epj.golive.phases import Phase
from epj.telemetry.metrics import PlatformMetrics, platform_metrics

_PHASE_BUCKETS = (3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0, 90 * 86400.0, 180 * 86400.0, 400 * 86400.0)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_default: OperatorMetrics | None = None


@dataclass(frozen=True)
class OperatorMetrics:
    """All instruments of one operator, bound to one Prometheus registry."""

    registry: CollectorRegistry
    platform: PlatformMetrics
    tenants: Any
    gate_outcomes: Any
    transitions: Any
    phase_duration: Any
    reconcile_duration: Any

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> OperatorMetrics:
        """Instruments in a fresh registry (tests, bench) or in ``registry``."""
        reg = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=reg,
            platform=platform_metrics(reg),
            tenants=Gauge("epj_golive_tenants", "Tenants per go-live phase", ["phase"], registry=reg),
            gate_outcomes=Counter(
                "epj_golive_gate_outcomes", "Decisive gate outcomes", ["tenant", "gate", "outcome"], registry=reg
            ),
            transitions=Counter(
                "epj_golive_transitions",
                "Go-live phase transitions",
                ["tenant", "from_phase", "to_phase"],
                registry=reg,
            ),
            phase_duration=Histogram(
                "epj_golive_phase_duration_seconds",
                "Time spent in a phase before a transition (clock time)",
                ["from_phase", "to_phase"],
                buckets=_PHASE_BUCKETS,
                registry=reg,
            ),
            reconcile_duration=Histogram(
                "epj_operator_reconcile_duration_seconds",
                "Wall time of one reconcile",
                ["kind"],
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
        )

    @classmethod
    def default(cls) -> OperatorMetrics:
        """The process-wide instruments in prometheus-client's global registry (created once)."""
        global _default
        if _default is None:
            _default = cls.create(REGISTRY)
        return _default

    def set_phase(self, tenant: str, old: Phase | None, new: Phase) -> None:
        if old is not None and old != new:
            self.platform.golive_phase.labels(tenant=tenant, phase=str(old)).set(0)
            self.tenants.labels(phase=str(old)).dec()
        if old != new:
            self.platform.golive_phase.labels(tenant=tenant, phase=str(new)).set(1)
            self.tenants.labels(phase=str(new)).inc()

    def transition(self, tenant: str, source: Phase, target: Phase, spent: dt.timedelta) -> None:
        self.transitions.labels(tenant=tenant, from_phase=str(source), to_phase=str(target)).inc()
        self.phase_duration.labels(from_phase=str(source), to_phase=str(target)).observe(
            max(spent.total_seconds(), 0.0)
        )

    def gate(self, tenant: str, gate: str, outcome: str) -> None:
        self.gate_outcomes.labels(tenant=tenant, gate=gate, outcome=outcome).inc()

    def error(self, tenant: str, kind: str) -> None:
        self.platform.reconcile_errors.labels(tenant=tenant, kind=kind).inc()

    def stalled(self, tenant: str, stalled: bool) -> None:
        self.platform.golive_stalled.labels(tenant=tenant).set(1 if stalled else 0)
