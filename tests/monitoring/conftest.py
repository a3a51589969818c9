"""Fixtures for the monitoring tests: one rendered output folder per session."""

from __future__ import annotations

import datetime as dt
import json
import types
from pathlib import Path
from typing import Any

import pytest

from epj.monitoring.render import render_all


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``epj monitoring render --out DIR`` output, rendered once."""
    out = tmp_path_factory.mktemp("monitoring-render")
    render_all(out, base_url="https://runbooks.example.test")
    return out


# ---------------------------------------------------------------- a tiny tenant for KPI tests
# The documented table shapes (kommune_<nr>.fhir_resource as the migration writes it, kommune_<nr>.visit),
# with answers known by construction.

OSLO = dt.timezone(dt.timedelta(hours=1))
START = dt.datetime(2026, 2, 1, tzinfo=OSLO)
END = dt.datetime(2026, 3, 1, tzinfo=OSLO)  # 28 days
EXT = "urn:epj:extension:planlagt-tidspunkt"

FHIR_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}.fhir_resource (id text NOT NULL, resource_type text NOT NULL, "
    "patient_id text, resource jsonb NOT NULL, source text NOT NULL, PRIMARY KEY (resource_type, id))"
)


def _adm(i: int, planned: dt.datetime, delay_min: int, status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "id": f"adm-{i}",
        "status": status,
        "extension": [{"url": EXT, "valueDateTime": planned.isoformat()}],
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": (planned + dt.timedelta(minutes=delay_min)).isoformat(),
    }


def medication_rows() -> list[dict[str, Any]]:
    """40 completed in February: 30 on time (<= 60 min), 10 late (150 min); 2 not given; 5 in January."""
    rows = []
    for i in range(40):
        planned = START + dt.timedelta(days=i % 27, hours=8)
        rows.append(_adm(i, planned, 20 if i < 30 else 150))
    rows.append(_adm(100, START + dt.timedelta(days=3, hours=20), 0, status="not-done"))
    rows.append(_adm(101, START + dt.timedelta(days=4, hours=20), 0, status="not-done"))
    for i in range(5):
        rows.append(_adm(200 + i, START - dt.timedelta(days=5 + i), 0))
    return rows


def document_rows() -> list[dict[str, Any]]:
    return [
        {"resourceType": "DocumentReference", "id": f"doc-{i}", "date": (START + dt.timedelta(hours=5 * i)).isoformat()}
        for i in range(56)
    ]


def appointment_rows() -> list[dict[str, Any]]:
    statuses = ["fulfilled"] * 8 + ["noshow"] * 2 + ["cancelled"]
    return [
        {
            "resourceType": "Appointment",
            "id": f"apt-{i}",
            "status": s,
            "start": (START + dt.timedelta(days=i)).isoformat(),
        }
        for i, s in enumerate(statuses)
    ]


def visit_rows() -> list[tuple[str, str, str | None, str, dt.datetime, str]]:
    """Home care: patient A 6 visits (4 by s1), patient B 4 visits (3 by s2) -> continuity 7/10; 2 no-shows."""
    rows: list[tuple[str, str, str | None, str, dt.datetime, str]] = []
    staff_a = ["s1", "s1", "s1", "s1", "s2", "s3"]
    staff_b = ["s2", "s2", "s2", "s1"]
    for i, s in enumerate(staff_a):
        rows.append((f"va{i}", "pA", s, "home-care", START + dt.timedelta(days=i), "completed"))
    for i, s in enumerate(staff_b):
        rows.append((f"vb{i}", "pB", s, "home-care", START + dt.timedelta(days=i), "completed"))
    rows.append(("vn1", "pA", None, "home-care", START + dt.timedelta(days=9), "no-show"))
    rows.append(("vn2", "pB", None, "home-care", START + dt.timedelta(days=9), "no-show"))
    rows.append(("vc1", "pB", None, "home-care", START + dt.timedelta(days=10), "cancelled"))
    return rows


def load(conn: Any, kommunenr: str) -> None:
    """Create kommune_<nr>.fhir_resource and .visit and fill them."""
    from epj.monitoring.kpi import ensure_visit_table

    schema = f"kommune_{kommunenr}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        cur.execute(FHIR_DDL.format(s=schema))
        for res in medication_rows() + document_rows() + appointment_rows():
            cur.execute(
                f"INSERT INTO {schema}.fhir_resource VALUES (%s, %s, %s, %s::jsonb, 'test')",
                (res["id"], res["resourceType"], "p1", json.dumps(res)),
            )
    conn.commit()
    ensure_visit_table(conn, kommunenr)
    with conn.cursor() as cur:
        for row in visit_rows():
            cur.execute(
                f"INSERT INTO {schema}.visit (id, patient_id, staff_id, service, planned_start, status) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                row,
            )
    conn.commit()


@pytest.fixture()
def kpi_data() -> types.SimpleNamespace:
    """START/END of the constructed month and ``load(conn, kommunenr)``."""
    return types.SimpleNamespace(START=START, END=END, load=load)
