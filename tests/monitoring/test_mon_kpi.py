"""Clinical KPIs computed in the tenant's PostgreSQL, against answers known by construction."""

from __future__ import annotations

import datetime as dt
import types

import psycopg
import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.monitoring.kpi import KPI_NAMES, compute_kpis, install, load_baseline, take_baseline

START = dt.datetime(2026, 2, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
END = dt.datetime(2026, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))

pytestmark = pytest.mark.postgres


def test_kpis_match_the_constructed_tenant(pg_dsn: str, kpi_data: types.SimpleNamespace) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        kpi_data.load(conn, "5043")
        kpis = compute_kpis(conn, "5043", START, END)
    assert tuple(kpis) == KPI_NAMES
    med = kpis["medication_administrations_per_day"]
    assert (med.n, med.value) == (40, pytest.approx(40 / 28))
    on_time = kpis["medication_on_time_share"]  # 30 of 40 given doses on time, and 2 doses due were not given
    assert (on_time.n, on_time.value, on_time.enough_data) == (42, pytest.approx(30 / 42), True)
    contacts = kpis["patient_contacts_per_day"]
    assert (contacts.n, contacts.value) == (56, pytest.approx(2.0))
    continuity = kpis["care_continuity_share"]
    assert (continuity.n, continuity.value, continuity.enough_data) == (10, pytest.approx(0.7), False)
    no_show = kpis["no_show_rate"]  # visits 10 done + 2 no-show, appointments 8 + 2
    assert (no_show.n, no_show.value) == (22, pytest.approx(4 / 22))


def test_a_wider_window_counts_late_doses_as_on_time(pg_dsn: str, kpi_data: types.SimpleNamespace) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        kpi_data.load(conn, "5043")
        kpis = compute_kpis(conn, "5043", START, END, window=dt.timedelta(hours=3))
    assert kpis["medication_on_time_share"].value == pytest.approx(40 / 42)  # omissions are never on time


def test_a_tenant_without_data_has_no_values_and_says_so(pg_dsn: str, kpi_data: types.SimpleNamespace) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        kpis = compute_kpis(conn, "5044", START, END)
    assert all(v.n == 0 and not v.enough_data for v in kpis.values())
    assert kpis["medication_on_time_share"].value is None


def test_bad_input_is_refused(pg_dsn: str, kpi_data: types.SimpleNamespace) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        with pytest.raises(ValueError, match="4 digits"):
            compute_kpis(conn, "5043; DROP TABLE x", START, END)
        with pytest.raises(ValueError, match="timezone-aware"):
            compute_kpis(conn, "5043", START.replace(tzinfo=None), END)


def test_baseline_is_stored_and_the_latest_is_read_back(pg_dsn: str, kpi_data: types.SimpleNamespace) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        kpi_data.load(conn, "5043")
        take_baseline(conn, "5043", START, END)
        baseline = load_baseline(conn, "5043")
    assert set(baseline) == set(KPI_NAMES)
    assert baseline["medication_on_time_share"].value == pytest.approx(30 / 42)
    assert baseline["medication_on_time_share"].period == "2026-02-01/2026-03-01"
    assert baseline["medication_on_time_share"].n == 42


def test_cli_baseline(pg_dsn: str, kpi_data: types.SimpleNamespace) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        kpi_data.load(conn, "5043")
    result = CliRunner().invoke(
        app,
        [
            "monitoring",
            "kpi",
            "baseline",
            "--tenant",
            "5043",
            "--dsn",
            pg_dsn,
            "--from",
            "2026-02-01",
            "--to",
            "2026-03-01",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "medication_on_time_share\t0.7143\tn=42" in result.output
    bad = CliRunner().invoke(app, ["monitoring", "kpi", "baseline", "--tenant", "50", "--dsn", pg_dsn])
    assert bad.exit_code != 0


def test_exporter_reports_kpis_with_tenant_labels_and_survives_a_lost_database(
    pg_dsn: str, kpi_data: types.SimpleNamespace
) -> None:
    from prometheus_client import CollectorRegistry

    from epj.monitoring.kpi.exporter import KpiCollector

    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        kpi_data.load(conn, "5043")
        take_baseline(conn, "5043", START, END)
    registry = CollectorRegistry()
    registry.register(KpiCollector(pg_dsn, as_of=lambda: END, ttl=0))
    labels = {"tenant": "5043", "kpi": "medication_on_time_share", "period": "30d"}
    assert registry.get_sample_value("epj_kpi_value", labels) == pytest.approx(30 / 42)
    assert registry.get_sample_value("epj_kpi_sample_size", labels) == 42
    assert registry.get_sample_value("epj_kpi_enough_data", labels) == 1
    baseline = {"tenant": "5043", "kpi": "medication_on_time_share"}
    assert registry.get_sample_value("epj_kpi_baseline_value", baseline) == pytest.approx(30 / 42)
    assert registry.get_sample_value("epj_kpi_up") == 1

    lost = CollectorRegistry()
    lost.register(KpiCollector("postgresql://postgres@127.0.0.1:1/none", ttl=0))
    assert lost.get_sample_value("epj_kpi_up") == 0
