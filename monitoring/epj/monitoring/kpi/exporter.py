"""Prometheus exporter for the clinical KPIs (``epj monitoring kpi-exporter``).

Each scrape (at most every ``ttl`` seconds; results are cached in between so a
fast scrape interval never hammers a tenant's database) computes every KPI for
every tenant over the trailing periods (7 and 30 days ending ``as_of``, default
now) and the latest baseline:

* ``epj_kpi_value{tenant, kpi, period}`` — only when there is something to divide;
* ``epj_kpi_sample_size{tenant, kpi, period}`` and ``epj_kpi_enough_data{…}`` (0/1);
* ``epj_kpi_baseline_value{tenant, kpi}``;
* ``epj_kpi_up`` — 1 when the last computation reached the database.

Every label value goes through the allow-list in :mod:`epj.telemetry.labels`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from epj.monitoring.kpi.compute import compute_kpis, load_baseline, tenants_with_data
from epj.monitoring.kpi.sql import install
from epj.telemetry import metrics as names
from epj.telemetry.labels import safe_labels
from epj.telemetry.setup import tracer

log = logging.getLogger("epj.monitoring.kpi")

PERIODS: dict[str, dt.timedelta] = {"7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}


class KpiCollector(Collector):
    """A prometheus-client collector computing KPIs from one PostgreSQL database."""

    def __init__(
        self,
        dsn: str,
        tenants: list[str] | None = None,
        as_of: Callable[[], dt.datetime] | None = None,
        ttl: float = 30.0,
        credentials_dir: str | None = None,
    ) -> None:
        self.dsn = dsn
        self.credentials_dir = credentials_dir
        self.tenants = tenants
        self.as_of = as_of or (lambda: dt.datetime.now(dt.UTC))
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: list[GaugeMetricFamily] | None = None
        self._cached_at = 0.0
        self._installed = False

    def _compute(self) -> list[GaugeMetricFamily]:
        import psycopg

        value = GaugeMetricFamily(names.KPI_VALUE, "Clinical KPI value", labels=["tenant", "kpi", "period"])
        size = GaugeMetricFamily(names.KPI_SAMPLE_SIZE, "Events behind the KPI", labels=["tenant", "kpi", "period"])
        enough = GaugeMetricFamily(
            "epj_kpi_enough_data", "1 when the sample is large enough", labels=["tenant", "kpi", "period"]
        )
        baseline = GaugeMetricFamily(names.KPI_BASELINE, "KPI baseline before go-live", labels=["tenant", "kpi"])
        up = GaugeMetricFamily("epj_kpi_up", "1 when the last KPI computation reached the database")
        try:
            password = self._password()
            with psycopg.connect(self.dsn, connect_timeout=5, password=password) as conn:
                if not self._installed:
                    try:
                        install(conn)
                    except psycopg.errors.InsufficientPrivilege:
                        # A read-only monitoring role: the functions must have been installed by the owner.
                        conn.rollback()
                        log.info("no privilege to install the KPI functions; using the installed ones")
                    self._installed = True
                end = self.as_of()
                for tenant in self.tenants or tenants_with_data(conn):
                    for period, length in PERIODS.items():
                        with tracer("epj.monitoring.kpi").start_as_current_span(
                            "kpi.compute", attributes={"epj.tenant": tenant, "epj.kpi.period": period}
                        ):
                            values = compute_kpis(conn, tenant, end - length, end)
                        for kpi, v in values.items():
                            lbl = list(safe_labels(tenant=tenant, kpi=kpi, period=period).values())
                            if v.value is not None:
                                value.add_metric(lbl, v.value)
                            size.add_metric(lbl, v.n)
                            enough.add_metric(lbl, 1.0 if v.enough_data else 0.0)
                    for kpi, b in load_baseline(conn, tenant).items():
                        if b.value is not None:
                            baseline.add_metric(list(safe_labels(tenant=tenant, kpi=kpi).values()), b.value)
            up.add_metric([], 1.0)
        except psycopg.Error as exc:
            # The error class only: messages can quote row values.
            log.warning("KPI computation failed: %s", type(exc).__name__)
            up.add_metric([], 0.0)
        return [value, size, enough, baseline, up]

    def _password(self) -> str | None:
        """The password file of the mounted database Secret, read at each connect (rotation needs no restart).

        None: libpq's own sources (the DSN, ``PGPASSWORD``, ``~/.pgpass``) apply, as before.
        """
        if not self.credentials_dir:
            return None
        path = Path(self.credentials_dir) / "password"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            log.warning("database password file %s is unreadable", path)
            return None

    def collect(self) -> Iterator[Any]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached_at >= self.ttl:
                self._cached = self._compute()
                self._cached_at = now
            yield from self._cached


def serve(
    dsn: str,
    port: int,
    addr: str = "0.0.0.0",
    tenants: list[str] | None = None,
    as_of: dt.datetime | None = None,
    ttl: float = 30.0,
    credentials_dir: str | None = None,
) -> tuple[Any, threading.Thread]:
    """Start the exporter's HTTP server in a thread; returns ``(server, thread)``."""
    from prometheus_client import CollectorRegistry

    from epj.telemetry.setup import start_metrics_server

    registry = CollectorRegistry()
    registry.register(KpiCollector(dsn, tenants, (lambda: as_of) if as_of else None, ttl, credentials_dir))
    return start_metrics_server(port, addr=addr, registry=registry)
