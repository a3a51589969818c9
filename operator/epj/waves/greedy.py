"""A simple greedy baseline: what a project lead would do with a spreadsheet.

Take the tenants (whole must-together groups at once) in a fixed order and put each
into the earliest window where every rule still holds. It ignores the objective's
trade-offs, so the solver's advantage over it is a fair first measure of what the
optimisation buys. Two orders are offered: the list order (kommunenummer, the way
the tenant files sort) and largest population first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Literal

from epj.waves.scenario import PlanTenant, Problem


def _units(problem: Problem) -> list[list[PlanTenant]]:
    """Must-together groups merged (union-find) into units; singletons for the rest."""
    parent = {t.id: t.id for t in problem.tenants}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for g in problem.groups:
        if g.must:
            for m in g.members[1:]:
                parent[find(m)] = find(g.members[0])
    units: dict[str, list[PlanTenant]] = defaultdict(list)
    for t in problem.tenants:
        units[find(t.id)].append(t)
    return list(units.values())


def greedy(problem: Problem, order: Literal["list", "population"] = "list") -> dict[str, str] | None:
    """Earliest-fit assignment (tenant -> window label), or None when the greedy gets stuck."""
    s = problem.scenario
    cap, tr = s.capacity, s.training
    windows = [w.label for w in problem.windows]
    position = {label: i for i, label in enumerate(windows)}
    days = {label: problem.training_days(label) for label in windows}
    hypercare = s.preparation.hypercare_days
    count: dict[str, int] = defaultdict(int)
    users: dict[str, int] = defaultdict(int)
    sessions: dict[str, int] = defaultdict(int)
    assignment: dict[str, str] = {}
    units = _units(problem)
    if order == "population":
        units.sort(key=lambda unit: (-sum(t.inhabitants for t in unit), unit[0].id))
    else:
        units.sort(key=lambda unit: unit[0].id)
    principals_first = s.rules.principals_first
    if principals_first:
        units.sort(key=lambda unit: not any(t.principal for t in unit))
    pending = list(units)

    def allowed(unit: list[PlanTenant], label: str) -> bool:
        go_live = problem.go_live(label)
        if problem.window_blackouts(label):
            return False
        if not (s.calendar.earliest_go_live <= go_live <= s.calendar.latest_go_live):
            return False
        for t in unit:
            if go_live < problem.earliest_for(t):
                return False
            if t.id in problem.fixed and problem.fixed[t.id][0] != label:
                return False
            if problem.sessions(t) > tr.rooms_for(t.id) * days[label]:
                return False
        if count[label] + len(unit) > cap.max_tenants_per_window:
            return False
        if users[label] + sum(t.end_users for t in unit) > cap.max_end_users_per_window:
            return False
        if sessions[label] + sum(problem.sessions(t) for t in unit) > tr.courses_per_day_effective * days[label]:
            return False
        span = dt.timedelta(days=hypercare)
        for other in windows:
            day = problem.go_live(other)
            if not (go_live <= day < go_live + span or day <= go_live < day + span):
                continue
            for probe in (go_live, day):
                active = [o for o in windows if problem.go_live(o) <= probe < problem.go_live(o) + span]
                if label in active and sum(count[o] for o in active) + len(unit) > cap.command_centre_tenants:
                    return False
        ids = {t.id for t in unit}
        for rule in problem.precedence:
            if rule.then in ids and rule.first not in ids:
                if rule.first not in assignment:
                    return False
                gap = 0 if rule.same_window_ok else 1
                if position[label] < position[assignment[rule.first]] + gap:
                    return False
            if rule.first in ids and rule.then in assignment:
                gap = 0 if rule.same_window_ok else 1
                if position[assignment[rule.then]] < position[label] + gap:
                    return False
        if principals_first and not any(t.principal for t in unit):
            last = max(
                (position[assignment[t.id]] for t in problem.tenants if t.principal and t.id in assignment), default=0
            )
            if position[label] < last:
                return False
        return True

    progress = True
    while pending and progress:
        progress = False
        for unit in list(pending):
            label = next((w for w in windows if allowed(unit, w)), None)
            if label is None:
                continue
            for t in unit:
                assignment[t.id] = label
                count[label] += 1
                users[label] += t.end_users
                sessions[label] += problem.sessions(t)
            pending.remove(unit)
            progress = True
            break
    return assignment if not pending else None
