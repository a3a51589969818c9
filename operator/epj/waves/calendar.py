"""Calendar arithmetic for wave planning: Easter, holidays, windows, working days, milestones.

Kept apart from the solver so the same dates feed the plan outputs, and small enough
to read: every date rule a project lead asks about ("why is there no go-live in
week 14?") is answered here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from epj.waves.model import WEEKDAYS, Blackout, Blackouts, Milestones, Preparation, Windows, WindowSpec


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
            if spec.public_holidays:
                periods.extend(public_holidays(year))
    periods.extend(spec.extra)
    return sorted(periods, key=lambda b: (b.start, b.name))


def public_holidays(year: int) -> list[Blackout]:
    """Norway's public holidays outside Easter and Christmas: 1 May, 17 May, Ascension Day, Whit Monday."""
    easter = easter_sunday(year)
    days = {
        f"Labour Day {year}": dt.date(year, 5, 1),
        f"Constitution Day {year}": dt.date(year, 5, 17),
        f"Ascension Day {year}": easter + dt.timedelta(days=39),
        f"Whit Monday {year}": easter + dt.timedelta(days=50),
    }
    return [Blackout(name=name, start=day, end=day, kind="public-holiday") for name, day in days.items()]


def first_weekday_on_or_after(day: dt.date, weekday: int) -> dt.date:
    """The first ``weekday`` (Monday = 0) on or after ``day``."""
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def go_live_blockers(go_live: dt.date, hypercare_days: int, blackouts: Iterable[Blackout]) -> list[Blackout]:
    """Blackouts a go-live on ``go_live`` would break.

    A holiday period may not hold the go-live day nor any hypercare day; a public holiday may not be
    the cutover night (the day before) nor the go-live day.
    """
    end = go_live + dt.timedelta(days=hypercare_days - 1)
    cutover = go_live - dt.timedelta(days=1)
    hits = []
    for blackout in blackouts:
        if blackout.kind == "public-holiday":
            if blackout.start <= go_live and cutover <= blackout.end:
                hits.append(blackout)
        elif blackout.start <= end and go_live <= blackout.end:
            hits.append(blackout)
    return hits


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
        go_live = window.go_live or first_weekday_on_or_after(window.start, WEEKDAYS.index(spec.go_live_weekday))
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
    schedule = preparation.schedule(go_live)
    days = schedule.local_dates()
    return Milestones(
        pre_project=days["pre_project"],
        main_project=days["main_project"],
        last_day_to_withdraw=schedule.last_day_to_withdraw,
        withdrawal_lock=days["withdrawal_lock"],
        training_start=weeks[0] if weeks else None,
        training_end=weeks[-1] + dt.timedelta(days=6) if weeks else None,
        rehearsal=days["rehearsal"],
        freeze=days["freeze"],
        cutover=days["cutover"],
        go_live=go_live,
        hypercare_end=days["hypercare_end"],
    )
