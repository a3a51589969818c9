"""Clinical KPIs: names, definitions and the value type (no database code here).

Definitions (each computed per tenant over ``[period_start, period_end)``):

``medication_administrations_per_day``
    MedicationAdministration with status ``completed`` whose given time
    (``effectiveDateTime``, else ``effectivePeriod.start``) falls in the period,
    divided by the period's length in days. n = administrations.
``medication_on_time_share``
    Of the doses *due* in the period (planned time in it: the extension
    ``urn:epj:extension:planlagt-tidspunkt``; status ``completed`` or ``not-done``), the
    share given (``completed``) within ± ``window`` (default 60 minutes) of the planned
    time. A dose due and not given (``not-done``) counts against the share: an omission
    is not on time. n = doses due.
``patient_contacts_per_day``
    DocumentReference (journal notes) dated in the period, per day. n = notes.
``care_continuity_share``
    Completed home-care visits (table ``kommune_<nr>.visit``, service
    ``home-care``) by each patient's most frequent staff member, as a share of all
    their completed home-care visits, pooled over patients (visit-weighted).
    n = completed home-care visits with a staff member.
``no_show_rate``
    Visits with status ``no-show`` (plus FHIR Appointments with status
    ``noshow``) as a share of visits that were due (completed + no-show; fulfilled,
    arrived, checked-in + noshow for Appointments). n = visits due.

``emessage_turnaround_hours``
    Incoming e-messages (PLO, table ``kommune_<nr>.emessage``) received in the period
    and answered: mean hours from arrival to the municipality's answer. n = answered
    messages. Lower is better.

``emessage_unanswered`` / ``emessage_oldest_unanswered_hours``
    The backlog at the period's end: incoming e-messages that had arrived and were not
    answered then, and the age of the oldest one (hours). A mean over answered messages
    hides a growing pile; these show it. Lower is better.
``wrong_medication_warnings_per_day``, ``secure_chat_messages_per_day``, ``citizen_portal_logins_per_day``
    Events per day from ``kommune_<nr>.activity_event`` (the EPJ's event export). Volumes:
    reported as change, never as better or worse.

Volumes (administrations, contacts, warnings, chat messages, logins per day) are
activity, not quality: reports show their change without a verdict.

``enough_data`` is False when n is below :data:`MIN_SAMPLE`: a small municipality's
week may hold too few events for a share to mean anything, and a report must say
so instead of printing a precise-looking percentage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

KPI_NAMES: tuple[str, ...] = (
    "medication_administrations_per_day",
    "medication_on_time_share",
    "patient_contacts_per_day",
    "care_continuity_share",
    "no_show_rate",
    "emessage_turnaround_hours",
    "emessage_unanswered",
    "emessage_oldest_unanswered_hours",
    "wrong_medication_warnings_per_day",
    "secure_chat_messages_per_day",
    "citizen_portal_logins_per_day",
)

MIN_SAMPLE = 30
DEFAULT_ON_TIME_WINDOW = dt.timedelta(minutes=60)


@dataclass(frozen=True)
class KpiValue:
    """One KPI for one tenant and period; ``value`` is None when there is nothing to divide."""

    value: float | None
    n: int
    enough_data: bool

    @classmethod
    def share(cls, hits: int, n: int) -> KpiValue:
        return cls(hits / n if n else None, n, n >= MIN_SAMPLE)

    @classmethod
    def mean(cls, total: float, n: int) -> KpiValue:
        return cls(total / n if n else None, n, n >= MIN_SAMPLE)

    @classmethod
    def count(cls, count: int, *, known: bool) -> KpiValue:
        """A count at one instant (a backlog): a figure whenever its source is there (0 is a finding)."""
        return cls(float(count) if known else None, count, known)

    @classmethod
    def level(cls, value: float | None, n: int, *, known: bool) -> KpiValue:
        """A value read at one instant (the oldest unanswered message's age); None when there is none."""
        return cls(value if known else None, n, known and value is not None)

    @classmethod
    def per_day(cls, count: int, days: float) -> KpiValue:
        return cls(count / days if days > 0 else None, count, count >= MIN_SAMPLE)


@dataclass(frozen=True)
class Baseline:
    """A KPI snapshot taken before go-live, to compare with after (``epj_kpi_baseline``)."""

    kpi: str
    period: str
    value: float | None
    n: int
    taken_at: dt.datetime


def period_label(start: dt.datetime, end: dt.datetime) -> str:
    """``2026-02-01/2026-03-01`` (ISO dates; the end is exclusive)."""
    return f"{start.date().isoformat()}/{end.date().isoformat()}"
