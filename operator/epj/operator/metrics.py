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
| ``epj_migration_running`` | gauge | tenant, purpose | 1 while a migration Job of the tenant runs |
| ``epj_migration_last_run_success`` | gauge | tenant, purpose | 1: last finished run succeeded, reconciled |
| ``epj_migration_last_run_records`` | gauge | tenant, purpose, category | counts of the last finished run |
| ``epj_migration_started_timestamp_seconds`` | gauge | tenant, purpose | when the running (or last) run started |

Migration metrics come from the MigrationJob status, not from the migration Job itself: the
Job is short-lived and gone before a scrape could be relied on, while the status is what the
operator already reads and persists (rule 2). After an operator restart every MigrationJob's
daemon syncs once, so the gauges are rebuilt from the status; the newest finished run wins by
``finishedAt``, whatever the order the objects are seen in. A Pushgateway would keep the last
push of a deleted tenant forever and add a component with no owner; this needs neither.

One span per transition (``golive.transition``), short and linked by the tenant
attribute, never one span lasting weeks (DESIGN.md §6).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from epj import contract
from epj.golive.phases import JobState, Phase
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
    migration_running: Any
    migration_last_success: Any
    migration_last_records: Any
    migration_started: Any
    #: (tenant, purpose) → names of its MigrationJobs seen running; (tenant, purpose) → newest finishedAt.
    _running: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    _finished: dict[tuple[str, str], str] = field(default_factory=dict)
    _waves: dict[str, str] = field(default_factory=dict)

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
            migration_running=Gauge(
                contract.MIGRATION_RUNNING, "1 while a migration Job runs", ["tenant", "purpose"], registry=reg
            ),
            migration_last_success=Gauge(
                contract.MIGRATION_LAST_RUN_SUCCESS,
                "1 if the last finished migration run succeeded and reconciled completely",
                ["tenant", "purpose"],
                registry=reg,
            ),
            migration_last_records=Gauge(
                contract.MIGRATION_LAST_RUN_RECORDS,
                "Reconciliation counts of the last finished migration run",
                ["tenant", "purpose", "category"],
                registry=reg,
            ),
            migration_started=Gauge(
                contract.MIGRATION_STARTED,
                "Unix time the running (or last) migration run started",
                ["tenant", "purpose"],
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

    def wave(self, tenant: str, wave: str) -> None:
        """``epj_golive_wave{tenant, wave} 1`` (and 0 for a wave the tenant left)."""
        old = self._waves.get(tenant)
        if old == wave:
            return
        if old is not None:
            self.platform.golive_wave.labels(tenant=tenant, wave=old).set(0)
        self.platform.golive_wave.labels(tenant=tenant, wave=wave).set(1)
        self._waves[tenant] = wave

    def migration(self, name: str, tenant: str, purpose: str, status: Mapping[str, Any]) -> None:
        """Export one MigrationJob's persisted status (see the module docstring)."""
        if not tenant or purpose not in contract.MIGRATION_PURPOSES:
            return
        key, state = (tenant, purpose), status.get("state")
        running = self._running.setdefault(key, set())
        if state in (str(JobState.PENDING), str(JobState.RUNNING)):
            running.add(name)
            started = _unix(status.get("startedAt"))
            if started is not None:
                self.migration_started.labels(tenant=tenant, purpose=purpose).set(started)
        else:
            running.discard(name)
        self.migration_running.labels(tenant=tenant, purpose=purpose).set(1 if running else 0)
        finished = status.get("finishedAt")
        if state not in (str(JobState.SUCCEEDED), str(JobState.FAILED)) or not isinstance(finished, str):
            return
        if _unix(finished) is None or (key in self._finished and _unix(self._finished[key]) >= _unix(finished)):  # type: ignore[operator]
            return  # an older run seen after a newer one (e.g. after a restart) does not overwrite it
        self._finished[key] = finished
        reconciliation = status.get("reconciliation") or {}
        ok = state == str(JobState.SUCCEEDED) and bool(reconciliation.get("complete"))
        self.migration_last_success.labels(tenant=tenant, purpose=purpose).set(1 if ok else 0)
        counts = reconciliation.get("counts") or {}
        for category in contract.MIGRATION_CATEGORIES:
            value = counts.get(category)
            self.migration_last_records.labels(tenant=tenant, purpose=purpose, category=category).set(
                float(value) if isinstance(value, int) else 0.0
            )

    def stalled(self, tenant: str, stalled: bool) -> None:
        self.platform.golive_stalled.labels(tenant=tenant).set(1 if stalled else 0)


def _unix(stamp: object) -> float | None:
    """Seconds since the epoch of an RFC 3339 status timestamp, or None when absent or unreadable."""
    if not isinstance(stamp, str):
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
