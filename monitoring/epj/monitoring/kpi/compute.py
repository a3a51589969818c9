"""Compute, snapshot and read clinical KPIs through the SQL functions of :mod:`.sql`.

The connection is a psycopg 3 connection (passed in, so the report colleague and
the exporter share the code); nothing here opens one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from epj.monitoring.kpi.model import (
    DEFAULT_ON_TIME_WINDOW,
    KPI_NAMES,
    Baseline,
    KpiValue,
    period_label,
)


def _check(kommunenr: str) -> str:
    if not (len(kommunenr) == 4 and kommunenr.isdigit()):
        raise ValueError("kommunenr must be 4 digits")
    return kommunenr


def compute_kpis(
    conn: Any,
    kommunenr: str,
    period_start: dt.datetime,
    period_end: dt.datetime,
    window: dt.timedelta = DEFAULT_ON_TIME_WINDOW,
) -> dict[str, KpiValue]:
    """Every KPI of :data:`KPI_NAMES` for one tenant over ``[period_start, period_end)``.

    Datetimes must be timezone-aware (Europe/Oslo or UTC); install the SQL functions
    first (:func:`epj.monitoring.kpi.sql.install`).
    """
    _check(kommunenr)
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise ValueError("period_start and period_end must be timezone-aware")
    if period_end <= period_start:
        raise ValueError("period_end must be after period_start")
    days = (period_end - period_start).total_seconds() / 86400
    args = (kommunenr, period_start, period_end)
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM epj_kpi_medication(%s, %s, %s, %s)", (*args, window))
        administrations, doses_due, on_time, _omitted = cur.fetchone()
        cur.execute("SELECT epj_kpi_documents(%s, %s, %s)", args)
        (documents,) = cur.fetchone()
        cur.execute("SELECT * FROM epj_kpi_visits(%s, %s, %s)", args)
        home_care, same_staff, due, no_show = cur.fetchone()
        cur.execute("SELECT * FROM epj_kpi_emessages(%s, %s, %s)", args)
        answered, turnaround_seconds = cur.fetchone()
        cur.execute("SELECT * FROM epj_kpi_emessage_backlog(%s, %s)", (kommunenr, period_end))
        unanswered, oldest_seconds, tracked = cur.fetchone()
        cur.execute("SELECT * FROM epj_kpi_activity(%s, %s, %s)", args)
        warnings, chats, logins = cur.fetchone()
    out = {
        "medication_administrations_per_day": KpiValue.per_day(int(administrations), days),
        "medication_on_time_share": KpiValue.share(int(on_time), int(doses_due)),
        "patient_contacts_per_day": KpiValue.per_day(int(documents), days),
        "care_continuity_share": KpiValue.share(int(same_staff), int(home_care)),
        "no_show_rate": KpiValue.share(int(no_show), int(due)),
        "emessage_turnaround_hours": KpiValue.mean(float(turnaround_seconds) / 3600, int(answered)),
        "emessage_unanswered": KpiValue.count(int(unanswered), known=bool(tracked)),
        "emessage_oldest_unanswered_hours": KpiValue.level(
            None if oldest_seconds is None else float(oldest_seconds) / 3600, int(unanswered), known=bool(tracked)
        ),
        "wrong_medication_warnings_per_day": KpiValue.per_day(int(warnings), days),
        "secure_chat_messages_per_day": KpiValue.per_day(int(chats), days),
        "citizen_portal_logins_per_day": KpiValue.per_day(int(logins), days),
    }
    assert tuple(out) == KPI_NAMES
    return out


def take_baseline(conn: Any, kommunenr: str, period_start: dt.datetime, period_end: dt.datetime) -> dict[str, KpiValue]:
    """Compute the KPIs and store them in ``epj_kpi_baseline`` (one row per KPI, stamped now)."""
    values = compute_kpis(conn, kommunenr, period_start, period_end)
    label = period_label(period_start, period_end)
    with conn.cursor() as cur:
        for kpi, v in values.items():
            cur.execute(
                "INSERT INTO epj_kpi_baseline (tenant, kpi, period, value, n) VALUES (%s, %s, %s, %s, %s)",
                (kommunenr, kpi, label, v.value, v.n),
            )
    conn.commit()
    return values


def load_baseline(conn: Any, kommunenr: str) -> dict[str, Baseline]:
    """The most recent baseline snapshot per KPI for a tenant (empty if none was taken)."""
    _check(kommunenr)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT ON (kpi) kpi, period, value, n, taken_at FROM epj_kpi_baseline "
            "WHERE tenant = %s ORDER BY kpi, taken_at DESC",
            (kommunenr,),
        )
        rows = cur.fetchall()
    return {kpi: Baseline(kpi, period, value, int(n), taken_at) for kpi, period, value, n, taken_at in rows}


def tenants_with_data(conn: Any) -> list[str]:
    """Kommunenumre that have a ``kommune_<nr>`` schema in this database, sorted."""
    with conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname ~ '^kommune_[0-9]{4}$' ORDER BY nspname")
        return [name.removeprefix("kommune_") for (name,) in cur.fetchall()]
