"""KPIs after go-live read the documented interfaces (not only the migrated history), with known answers."""

from __future__ import annotations

import datetime as dt
import json
import types

import psycopg
import pytest

from epj.monitoring.kpi import compute_kpis, install
from epj.monitoring.kpi.sql import ensure_activity_table, ensure_emessage_table

OSLO = dt.timezone(dt.timedelta(hours=1))
START = dt.datetime(2026, 2, 1, tzinfo=OSLO)
END = dt.datetime(2026, 3, 1, tzinfo=OSLO)  # 28 days

pytestmark = pytest.mark.postgres


def test_emessage_backlog_shows_what_a_mean_over_answered_messages_hides(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        ensure_emessage_table(conn, "5052")
        with conn.cursor() as cur:
            cur.execute("TRUNCATE kommune_5052.emessage")
            rows = [
                ("a", "in", "hospital", START + dt.timedelta(days=1), START + dt.timedelta(days=1, hours=2)),
                ("b", "in", "gp", END - dt.timedelta(hours=30), None),  # still open: 30 h old at the end
                ("c", "in", "gp", END - dt.timedelta(hours=5), END + dt.timedelta(hours=1)),  # answered too late
                ("d", "out", "gp", END - dt.timedelta(hours=50), None),  # outgoing: not ours to answer
                ("e", "in", "hospital", END + dt.timedelta(hours=1), None),  # after the period
            ]
            for row in rows:
                cur.execute(
                    "INSERT INTO kommune_5052.emessage (id, direction, counterpart, received_at, answered_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    row,
                )
        conn.commit()
        kpis = compute_kpis(conn, "5052", START, END)
    assert kpis["emessage_turnaround_hours"].value == pytest.approx(4.0)  # 2 h and 6 h: looks fine …
    assert kpis["emessage_unanswered"].value == 2  # … but two were waiting at the end of the month
    assert kpis["emessage_oldest_unanswered_hours"].value == pytest.approx(30.0)


def test_activity_events_give_the_seeds_indicators_per_day(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        ensure_activity_table(conn, "5052")
        with conn.cursor() as cur:
            cur.execute("TRUNCATE kommune_5052.activity_event")
            events = (
                [("w", "wrong-medication-warning")] * 56 + [("c", "secure-chat-message")] * 140
                + [("l", "citizen-portal-login")] * 28
            )  # fmt: skip
            for i, (prefix, kind) in enumerate(events):
                cur.execute(
                    "INSERT INTO kommune_5052.activity_event (id, kind, occurred_at) VALUES (%s, %s, %s)",
                    (f"{prefix}{i}", kind, START + dt.timedelta(hours=i)),
                )
            cur.execute(
                "INSERT INTO kommune_5052.activity_event (id, kind, occurred_at) VALUES ('late', %s, %s)",
                ("citizen-portal-login", END),
            )
        conn.commit()
        kpis = compute_kpis(conn, "5052", START, END)
    assert kpis["wrong_medication_warnings_per_day"].value == pytest.approx(2.0)
    assert kpis["secure_chat_messages_per_day"].value == pytest.approx(5.0)
    assert kpis["citizen_portal_logins_per_day"].value == pytest.approx(1.0)  # the event at END is next month's


def test_after_go_live_the_epj_feed_counts_beside_the_migrated_history(
    pg_dsn: str, kpi_data: types.SimpleNamespace
) -> None:
    """The EPJ's FHIR feed writes rows of its own (source 'epj') into the tenant's store; KPIs count them."""
    with psycopg.connect(pg_dsn) as conn:
        install(conn)
        kpi_data.load(conn, "5046")
        before = compute_kpis(conn, "5046", START, END)["medication_administrations_per_day"].n
        planned = START + dt.timedelta(days=20, hours=8)
        dose = {
            "resourceType": "MedicationAdministration",
            "id": "epj-feed-1",
            "status": "completed",
            "extension": [{"url": "urn:epj:extension:planlagt-tidspunkt", "valueDateTime": planned.isoformat()}],
            "effectiveDateTime": (planned + dt.timedelta(minutes=5)).isoformat(),
        }
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO kommune_5046.fhir_resource VALUES (%s, %s, %s, %s::jsonb, 'epj')",
                ("epj-feed-1", "MedicationAdministration", "p1", json.dumps(dose)),
            )
        conn.commit()
        after = compute_kpis(conn, "5046", START, END)
    assert after["medication_administrations_per_day"].n == before + 1
    assert after["medication_on_time_share"].n == 43  # 42 due in the history + the feed's dose
