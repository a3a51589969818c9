"""Gains from a migrated sample tenant in the real PostgreSQL, checked against SQL written here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from epj.migration.pipeline import run_migration
from epj.monitoring.kpi.compute import take_baseline
from epj.monitoring.kpi.sql import ensure_emessage_table, ensure_visit_table, install
from epj.report.gains import gains

OSLO = dt.timezone(dt.timedelta(hours=1))
BASELINE = (dt.datetime(2026, 2, 1, tzinfo=OSLO), dt.datetime(2026, 2, 22, tzinfo=OSLO))
CURRENT = (dt.datetime(2026, 2, 22, tzinfo=OSLO), dt.datetime(2026, 3, 1, tzinfo=OSLO))

# Written independently of epj.monitoring.kpi: doses due in the period (given or not given), and the
# share of them given within 60 minutes of the planned time (planned time in the migration's extension).
ON_TIME_SQL = """
WITH ma AS (
  SELECT resource->>'status' AS status, (resource->>'effectiveDateTime')::timestamptz AS given,
         (SELECT (e->>'valueDateTime')::timestamptz FROM jsonb_array_elements(resource->'extension') e
           WHERE e->>'url' = 'urn:epj:extension:planlagt-tidspunkt') AS planned
  FROM kommune_5035.fhir_resource
  WHERE resource_type = 'MedicationAdministration' AND resource->>'status' IN ('completed', 'not-done')
)
SELECT count(*) FILTER (WHERE status = 'completed' AND abs(extract(epoch FROM given - planned)) <= 3600)::float
       / nullif(count(*), 0)
FROM ma WHERE planned >= %s AND planned < %s
"""
CONTINUITY_SQL = """
WITH per AS (SELECT patient_id, staff_id, count(*) c FROM kommune_5035.visit
             WHERE status = 'completed' AND service = 'home-care' AND planned_start >= %s AND planned_start < %s
             GROUP BY patient_id, staff_id),
     top AS (SELECT patient_id, max(c) m, sum(c) t FROM per GROUP BY patient_id)
SELECT sum(m)::float / sum(t) FROM top
"""
TURNAROUND_SQL = """
SELECT avg(extract(epoch FROM answered_at - received_at)) / 3600 FROM kommune_5035.emessage
WHERE direction = 'in' AND answered_at IS NOT NULL AND received_at >= %s AND received_at < %s
"""
NO_SHOW_SQL = """
SELECT count(*) FILTER (WHERE status = 'no-show')::float / count(*) FROM kommune_5035.visit
WHERE status IN ('completed', 'no-show') AND planned_start >= %s AND planned_start < %s
"""


def _visits(conn: psycopg.Connection) -> None:
    """Home-care visits the services would have written: two patients, three nurses, some no-shows."""
    ensure_visit_table(conn, "5035")
    rows = []
    for day in range(1, 29):
        start = dt.datetime(2026, 2, day, 9, tzinfo=OSLO)
        rows.append((f"a{day}", "p1", "s1" if day % 3 else "s2", "home-care", start, "completed"))
        status = "no-show" if day % 7 == 0 else "completed"
        rows.append((f"b{day}", "p2", "s3" if day < 20 else "s1", "home-care", start, status))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO kommune_5035.visit (id, patient_id, staff_id, service, planned_start, status) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    conn.commit()
    ensure_emessage_table(conn, "5035")
    messages = []
    for day in range(1, 29):
        received = dt.datetime(2026, 2, day, 10, tzinfo=OSLO)
        hours = 6 if day < 22 else 2  # answers came faster after go-live
        messages.append((f"in{day}", "in", "hospital", received, received + dt.timedelta(hours=hours)))
        messages.append((f"open{day}", "in", "gp", received, None))  # unanswered: not in the mean
        messages.append((f"out{day}", "out", "gp", received, received + dt.timedelta(hours=30)))  # ours: not counted
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO kommune_5035.emessage (id, direction, counterpart, received_at, answered_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            messages,
        )
    conn.commit()


@pytest.mark.postgres
def test_gains_equal_direct_sql(sample_extract: Path, pg_dsn: str, tmp_path: Path) -> None:
    result = run_migration(sample_extract, pg_dsn, synthetic_ids=True, report_dir=tmp_path / "report")
    assert result["complete"]
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        _visits(conn)
        take_baseline(conn, "5035", *BASELINE)
        rows = {row.name: row for row in gains(conn, "5035", *CURRENT)}
        with conn.cursor() as cur:
            expected = {}
            for label, sql in (
                ("Legemidler gitt til rett tid", ON_TIME_SQL),
                ("Kontinuitet i hjemmetjenesten", CONTINUITY_SQL),
                ("Uteblitte avtaler", NO_SHOW_SQL),
                ("Svartid på e-meldinger fra sykehus og fastlege", TURNAROUND_SQL),
            ):
                cur.execute(sql, BASELINE)
                before = cur.fetchone()
                cur.execute(sql, CURRENT)
                now = cur.fetchone()
                assert before is not None and now is not None
                expected[label] = (before[0], now[0])
    for label, (before, now) in expected.items():
        assert before is not None and now is not None, label
        scale = 1 if label.startswith("Svartid") else 100
        assert rows[label].baseline == pytest.approx(before * scale), label
        assert rows[label].current == pytest.approx(now * scale), label
    assert rows["Svartid på e-meldinger fra sykehus og fastlege"].change == pytest.approx(-4.0)
    continuity = rows["Kontinuitet i hjemmetjenesten"]
    assert continuity.change == pytest.approx(100 * (11 / 13 - 31 / 39))  # worked out by hand
    assert rows["Uteblitte avtaler"].higher_is_better is False
    # One day of a small sample is too little data to mean anything, and the report must say so.
    with psycopg.connect(pg_dsn) as conn:
        one_day = {r.name: r for r in gains(conn, "5035", CURRENT[0], CURRENT[0] + dt.timedelta(days=1))}
    assert not one_day["Legemidler gitt til rett tid"].enough_data
