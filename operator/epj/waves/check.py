"""The independent plan checker behind ``epj waves check``.

Plain Python over the scenario and ``plan.json``: it shares no code with the solver's
model and recomputes every date rule day by day, so a bug in the CP-SAT encoding
(or a hand-edited plan) shows up as a violation instead of being trusted. Each
violation is one sentence naming the tenant or window and the rule it breaks.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from epj.waves.model import Blackout, Plan, TenantPlan
from epj.waves.scenario import PlanTenant, Problem


@dataclass(frozen=True)
class Violation:
    rule: str
    text: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.text}"


def _months_back(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months, clamped to the month's end.

    Its own copy on purpose: the checker shares no date arithmetic with the planner.
    """
    year, month = day.year, day.month - months
    while month < 1:
        month += 12
        year -= 1
    while month > 12:
        month -= 12
        year += 1
    last = 31
    while True:
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            last -= 1


def _in_blackout(day: dt.date, blackouts: tuple[Blackout, ...]) -> str | None:
    for b in blackouts:
        if b.start <= day <= b.end:
            return b.name
    return None


def _is_working_day(day: dt.date, blackouts: tuple[Blackout, ...]) -> bool:
    return day.weekday() < 5 and _in_blackout(day, blackouts) is None


def check_plan(problem: Problem, plan: Plan) -> list[Violation]:
    """Every rule of the scenario that ``plan`` breaks (empty: the plan is valid)."""
    s = problem.scenario
    out: list[Violation] = []

    def bad(rule: str, text: str) -> None:
        out.append(Violation(rule, text))

    windows = {w.label: w for w in problem.windows}
    planned: dict[str, TenantPlan] = {}
    for entry in plan.tenants:
        if entry.tenant in planned:
            bad("coverage", f"{entry.tenant} is planned twice")
        planned[entry.tenant] = entry
    tenants: dict[str, PlanTenant] = {t.id: t for t in problem.tenants}
    for tid in sorted(set(tenants) - set(planned)):
        bad("coverage", f"{tenants[tid].name} ({tid}) is called but not planned")
    for tid in sorted(set(planned) - set(tenants)):
        bad("coverage", f"{tid} is planned but is not a called tenant of this scenario")

    go_live: dict[str, dt.date] = {}
    order: dict[str, int] = {}
    sorted_windows = sorted(problem.windows, key=lambda w: w.go_live or w.start)
    position = {w.label: i for i, w in enumerate(sorted_windows)}
    hypercare = s.preparation.hypercare_days
    for tid, entry in sorted(planned.items()):
        if tid not in tenants:
            continue
        t = tenants[tid]
        window = windows.get(entry.window)
        if window is None:
            bad("windows", f"{t.name} goes live in {entry.window}, which is not a production window of the scenario")
            continue
        if entry.go_live != window.go_live:
            bad(
                "windows",
                f"{t.name}: go-live {entry.go_live} is not the go-live day {window.go_live} of {window.label}",
            )
        day = entry.go_live
        go_live[tid] = day
        order[tid] = position[entry.window]
        periods = tuple(b for b in problem.blackouts if b.kind == "period")
        holidays = tuple(b for b in problem.blackouts if b.kind == "public-holiday")
        for offset in range(hypercare):
            name = _in_blackout(day + dt.timedelta(days=offset), periods)
            if name:
                what = "goes live" if offset == 0 else "is in hypercare"
                bad("holidays", f"{t.name} {what} on {day + dt.timedelta(days=offset)}, during {name}")
                break
        for offset, what in ((-1, "cuts over"), (0, "goes live")):
            name = _in_blackout(day + dt.timedelta(days=offset), holidays)
            if name:
                bad("holidays", f"{t.name} {what} on {day + dt.timedelta(days=offset)}, a public holiday ({name})")
        if day < s.calendar.earliest_go_live:
            bad("earliest", f"{t.name} goes live {day}, before the earliest go-live {s.calendar.earliest_go_live}")
        if day > s.calendar.latest_go_live:
            bad("latest", f"{t.name} goes live {day}, after the latest go-live {s.calendar.latest_go_live}")
        start = t.decided_on or s.planned_on
        lead_end = _months_back(start, -s.preparation.minimum_lead_months)
        if day < lead_end:
            bad("lead", f"{t.name} goes live {day}, less than {s.preparation.minimum_lead_months} months after {start}")
        if tid in problem.fixed and problem.fixed[tid][0] != entry.window:
            label, reason = problem.fixed[tid]
            bad("fixed", f"{t.name} must go live in {label} ({reason}) but is planned in {entry.window}")
        if problem.previous.get(tid) and tid in problem.locked and problem.previous[tid] != entry.window:
            bad(
                "locked", f"{t.name} is past its withdrawal lock in {problem.previous[tid]} but moved to {entry.window}"
            )
        ms = entry.milestones
        expected = {
            "pre_project": _months_back(day, s.preparation.pre_project_months),
            "main_project": _months_back(day, s.preparation.main_project_months),
            "withdrawal_lock": _months_back(day, s.preparation.withdrawal_lock_months),
            "last_day_to_withdraw": _months_back(day, s.preparation.withdrawal_lock_months) - dt.timedelta(days=1),
            "rehearsal": day - dt.timedelta(days=s.preparation.rehearsal_days),
            "freeze": day - dt.timedelta(days=s.preparation.freeze_days),
            "cutover": day - dt.timedelta(days=1),
            "go_live": day,
            "hypercare_end": day + dt.timedelta(days=hypercare - 1),
        }
        for name, value in expected.items():
            if getattr(ms, name) != value:
                bad("milestones", f"{t.name}: milestone {name} is {getattr(ms, name)}, expected {value}")

    for group in problem.groups:
        if not group.must:
            continue
        used = {planned[m].window for m in group.members if m in planned}
        if len(used) > 1:
            bad("group", f"group {group.name} must go live together but is split over {', '.join(sorted(used))}")

    for rule in problem.precedence:
        if rule.first not in order or rule.then not in order:
            continue
        a, b = order[rule.first], order[rule.then]
        ok = a <= b if rule.same_window_ok else a < b
        if not ok:
            how = "before or with" if rule.same_window_ok else "before"
            bad(
                "precedence",
                f"{tenants[rule.first].name} must go live {how} {tenants[rule.then].name}, "
                f"but goes live {go_live[rule.first]} vs {go_live[rule.then]}",
            )

    if s.rules.principals_first:
        principal_days = [go_live[t] for t in go_live if tenants[t].principal]
        option_days = {t: go_live[t] for t in go_live if not tenants[t].principal}
        if principal_days:
            last = max(principal_days)
            for tid, day in sorted(option_days.items()):
                if day < last:
                    bad("principals-first", f"{tenants[tid].name} goes live {day}, before the last principal ({last})")

    by_window: dict[str, list[str]] = defaultdict(list)
    for tid in go_live:
        by_window[planned[tid].window].append(tid)
    cap = s.capacity
    for label, members in sorted(by_window.items()):
        if len(members) > cap.max_tenants_per_window:
            bad("window-tenants", f"{label}: {len(members)} tenants go live, limit {cap.max_tenants_per_window}")
        users = sum(tenants[m].end_users for m in members)
        if users > cap.max_end_users_per_window:
            bad("window-end-users", f"{label}: {users} end users go live, limit {cap.max_end_users_per_window}")

    # command centre: count tenants in hypercare on every day that any hypercare covers
    load: dict[dt.date, int] = defaultdict(int)
    for day in go_live.values():
        for offset in range(hypercare):
            load[day + dt.timedelta(days=offset)] += 1
    worst = max(load.items(), key=lambda kv: (kv[1], -kv[0].toordinal()), default=None)
    if worst and worst[1] > cap.command_centre_tenants:
        bad("command-centre", f"{worst[1]} tenants are in hypercare on {worst[0]}, limit {cap.command_centre_tenants}")

    out.extend(_check_training(problem, planned, tenants))
    return out


def _check_training(
    problem: Problem,
    planned: dict[str, TenantPlan],
    tenants: dict[str, PlanTenant],
) -> list[Violation]:
    s = problem.scenario
    tr = s.training
    out: list[Violation] = []
    region: dict[dt.date, int] = defaultdict(int)
    go_lives = sorted({w.go_live for w in problem.windows if w.go_live is not None})
    for tid, entry in sorted(planned.items()):
        if tid not in tenants:
            continue
        t = tenants[tid]
        su_need = tr.superuser.needed(t.end_users)
        eu_need = tr.enduser.needed(t.end_users)
        su = sum(w.superuser for w in entry.training)
        eu = sum(w.enduser for w in entry.training)
        if su < su_need:
            out.append(Violation("training-total", f"{t.name}: {su} super-user sessions planned, {su_need} needed"))
        if eu < eu_need:
            out.append(Violation("training-total", f"{t.name}: {eu} end-user sessions planned, {eu_need} needed"))
        earlier = [g for g in go_lives if g < entry.go_live]
        not_before = earlier[-1] if earlier else dt.date.min
        horizon_start = entry.go_live - dt.timedelta(weeks=tr.horizon_weeks)
        last_su: dt.date | None = None
        first_eu: dt.date | None = None
        seen: set[dt.date] = set()
        for week in entry.training:
            if week.week_start in seen:
                out.append(Violation("training-period", f"{t.name}: week {week.week_start} listed twice"))
            seen.add(week.week_start)
            sessions = week.superuser + week.enduser
            if (entry.go_live - week.week_start).days % 7 or week.week_start >= entry.go_live:
                out.append(
                    Violation("training-period", f"{t.name}: week {week.week_start} is not a week before go-live")
                )
            elif week.week_start < horizon_start or week.week_start < not_before:
                out.append(
                    Violation(
                        "training-period",
                        f"{t.name}: training in week {week.week_start} is outside its period "
                        f"({max(horizon_start, not_before)} to {entry.go_live})",
                    )
                )
            days = sum(
                1 for d in range(7) if _is_working_day(week.week_start + dt.timedelta(days=d), problem.blackouts)
            )
            rooms = tr.rooms_for(tid)
            if sessions > rooms * days:
                out.append(
                    Violation(
                        "training-rooms",
                        f"{t.name}: {sessions} sessions in week {week.week_start}, but {rooms} rooms × {days} "
                        f"working days allow {rooms * days}",
                    )
                )
            region[week.week_start] += sessions
            if week.superuser and (last_su is None or week.week_start > last_su):
                last_su = week.week_start
            if week.enduser and (first_eu is None or week.week_start < first_eu):
                first_eu = week.week_start
        if last_su and first_eu and last_su > first_eu:
            out.append(
                Violation(
                    "training-order",
                    f"{t.name}: super-user training runs until week {last_su}, "
                    f"after end-user training began {first_eu}",
                )
            )
    per_day = tr.courses_per_day_effective
    for start, sessions in sorted(region.items()):
        days = sum(1 for d in range(7) if _is_working_day(start + dt.timedelta(days=d), problem.blackouts))
        if sessions > per_day * days:
            out.append(
                Violation(
                    "training-region",
                    f"week {start}: {sessions} sessions region-wide, but {per_day} courses a day × {days} working days "
                    f"allow {per_day * days}",
                )
            )
    return out
