"""Calendar arithmetic for wave planning: Easter, holidays, windows, working days, milestones.

Kept apart from the solver so the same dates feed the plan outputs, and small enough
to read: every date rule a project lead asks about ("why is there no go-live in
week 14?") is answered here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from epj.waves.model import Blackout, Blackouts, Milestones, Preparation, Windows, WindowSpec


def easter_sunday(year: int) -> dt.date:
    """Western (Gregorian) Easter Sunday: the Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months (clamped to the month's last day): 18 months before 2029-08-31 is 2028-02-29."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month0 + 1, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(f"cannot move {day} by {months} months")  # pragma: no cover - 28 always exists


def _month_day(year: int, month_day: str) -> dt.date:
    month, day = (int(part) for part in month_day.split("-"))
    if month == 2 and day == 29:
        day = 28
    return dt.date(year, month, day)


def default_blackouts(spec: Blackouts, years: Iterable[int]) -> list[Blackout]:
    """Summer, Christmas/New Year and Easter for each year, plus the scenario's extra periods."""
    periods: list[Blackout] = []
    if spec.defaults:
        for year in years:
            periods.append(
                Blackout(
                    name=f"summer {year}", start=_month_day(year, spec.summer[0]), end=_month_day(year, spec.summer[1])
                )
            )
            christmas_start = _month_day(year, spec.christmas[0])
            christmas_end = _month_day(year, spec.christmas[1])
            if christmas_end < christmas_start:
                christmas_end = _month_day(year + 1, spec.christmas[1])
            periods.append(Blackout(name=f"Christmas/New Year {year}", start=christmas_start, end=christmas_end))
            easter = easter_sunday(year)
            periods.append(
                Blackout(
                    name=f"Easter {year}",
                    start=easter - dt.timedelta(days=spec.easter_days_before),
                    end=easter + dt.timedelta(days=spec.easter_days_after),
                )
            )
    periods.extend(spec.extra)
    return sorted(periods, key=lambda b: (b.start, b.name))


def first_monday_on_or_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


def resolve_windows(spec: Windows, default_years: Iterable[int]) -> list[WindowSpec]:
    """Every window with its go-live day filled in, sorted by go-live; explicit windows replace same-label ones."""
    by_label: dict[str, WindowSpec] = {}
    for year in spec.years or tuple(default_years):
        for template in spec.each_year:
            start = _month_day(year, template.start)
            end = _month_day(year, template.end)
            if end < start:
                end = _month_day(year + 1, template.end)
            label = f"{year}-Q{template.quarter}"
            by_label[label] = WindowSpec(label=label, start=start, end=end)
    for window in spec.explicit:
        by_label[window.label] = window
    resolved = []
    for window in by_label.values():
        go_live = window.go_live or first_monday_on_or_after(window.start)
        if go_live > window.end:
            go_live = window.start
        resolved.append(window.model_copy(update={"go_live": go_live}))
    return sorted(resolved, key=lambda w: (w.go_live or w.start, w.label))


def overlapping(start: dt.date, end: dt.date, blackouts: Iterable[Blackout]) -> list[Blackout]:
    """Blackouts that share at least one day with the closed interval [start, end]."""
    return [b for b in blackouts if b.start <= end and start <= b.end]


def working_days(start: dt.date, days: int, blackouts: Iterable[Blackout]) -> int:
    """Weekdays in [start, start + days) outside every blackout: the days a course can run."""
    periods = list(blackouts)
    count = 0
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        if day.weekday() < 5 and not any(b.start <= day <= b.end for b in periods):
            count += 1
    return count


def milestones(go_live: dt.date, preparation: Preparation, training_weeks: Iterable[dt.date] = ()) -> Milestones:
    """A tenant's project milestones counted from its go-live (and its training weeks, if planned)."""
    weeks = sorted(training_weeks)
    return Milestones(
        pre_project=add_months(go_live, -preparation.pre_project_months),
        main_project=add_months(go_live, -preparation.main_project_months),
        withdrawal_lock=add_months(go_live, -preparation.withdrawal_lock_months),
        training_start=weeks[0] if weeks else None,
        training_end=weeks[-1] + dt.timedelta(days=6) if weeks else None,
        freeze=go_live - dt.timedelta(days=preparation.freeze_days),
        go_live=go_live,
        hypercare_end=go_live + dt.timedelta(days=preparation.hypercare_days - 1),
    )
