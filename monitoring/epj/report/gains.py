"""Gains: each clinical KPI now against the baseline measured before go-live.

The KPI definitions and SQL live in :mod:`epj.monitoring.kpi`; this module only
pairs a current period with the stored baseline and phrases the result for a
council, including when a figure rests on too little data to mean anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from epj.monitoring.kpi.compute import compute_kpis, load_baseline
from epj.monitoring.kpi.model import MIN_SAMPLE, KpiValue, period_label
from epj.report.council import GainRow

# (KPI name, Norwegian label, unit, higher is better — None for volumes, shown as change only —, display scale)
KPI_LABELS: dict[str, tuple[str, str, bool | None, float]] = {
    "medication_on_time_share": ("Legemidler gitt til rett tid", "%", True, 100.0),
    "medication_administrations_per_day": ("Legemiddelutdelinger per dag", "", None, 1.0),
    "care_continuity_share": ("Kontinuitet i hjemmetjenesten", "%", True, 100.0),
    "patient_contacts_per_day": ("Dokumenterte pasientkontakter per dag", "", None, 1.0),
    "no_show_rate": ("Uteblitte avtaler", "%", False, 100.0),
    "emessage_turnaround_hours": ("Svartid på e-meldinger fra sykehus og fastlege", "timer", False, 1.0),
    "emessage_unanswered": ("Ubesvarte e-meldinger ved periodens slutt", "", False, 1.0),
    "emessage_oldest_unanswered_hours": ("Alder på eldste ubesvarte e-melding", "timer", False, 1.0),
    "wrong_medication_warnings_per_day": ("Varsler om feil legemiddel per dag", "", None, 1.0),
    "secure_chat_messages_per_day": ("Meldinger i sikker chat per dag", "", None, 1.0),
    "citizen_portal_logins_per_day": ("Innlogginger i HelsaMi per dag", "", None, 1.0),
}


def gains(conn: Any, kommunenr: str, period_start: dt.datetime, period_end: dt.datetime) -> tuple[GainRow, ...]:
    """One row per KPI: baseline (if taken) and the value for ``[period_start, period_end)``."""
    current: dict[str, KpiValue] = compute_kpis(conn, kommunenr, period_start, period_end)
    baseline = load_baseline(conn, kommunenr)
    rows = []
    for kpi, (label, unit, higher_is_better, scale) in KPI_LABELS.items():
        now = current.get(kpi)
        before = baseline.get(kpi)
        enough = bool(now and now.enough_data) and bool(before and before.n >= MIN_SAMPLE)
        rows.append(
            GainRow(
                name=label,
                unit=unit,
                baseline=None if before is None or before.value is None else before.value * scale,
                current=None if now is None or now.value is None else now.value * scale,
                baseline_period=before.period if before else "ingen måling",
                current_period=period_label(period_start, period_end),
                enough_data=enough,
                higher_is_better=higher_is_better,
            )
        )
    return tuple(rows)
