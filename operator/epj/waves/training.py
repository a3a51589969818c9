"""Week-by-week training schedule for each wave, once the windows are chosen.

Per wave a min-cost flow: sessions flow from each tenant to the weeks of the wave's
training period (at most rooms × working days per tenant and week) and on to a
region-wide sink (at most courses a day × working days per week). Weeks closer to
go-live are cheaper, so training sits as late as capacity allows (people forget
what they learnt months before). The flow is integral, and because the solver
already checked the per-wave totals, a full schedule always exists. Each tenant's
first sessions are its super-user sessions, so super-users are trained before the
end users they will support.
"""

from __future__ import annotations

import datetime as dt

from ortools.graph.python import min_cost_flow

from epj.waves.model import TrainingWeek
from epj.waves.scenario import PlanTenant, Problem


class TrainingUnschedulable(Exception):
    """The wave's training does not fit its weeks (only when capacity rules were dropped)."""


def schedule_wave(problem: Problem, label: str, members: list[PlanTenant]) -> dict[str, tuple[TrainingWeek, ...]]:
    """Sessions per week for every member of the wave in ``label``."""
    weeks = [(start, days) for start, days in problem.training_weeks(label) if days > 0]
    training = problem.scenario.training
    flow = min_cost_flow.SimpleMinCostFlow()
    source, sink = 0, 1
    tenant_node = {t.id: 2 + i for i, t in enumerate(members)}
    week_node = {start: 2 + len(members) + j for j, (start, _) in enumerate(weeks)}
    total = 0
    go_live = problem.go_live(label)
    for t in members:
        need = problem.sessions(t)
        total += need
        flow.add_arc_with_capacity_and_unit_cost(source, tenant_node[t.id], need, 0)
        for start, days in weeks:
            weeks_before = (go_live - start).days // 7
            flow.add_arc_with_capacity_and_unit_cost(
                tenant_node[t.id], week_node[start], training.rooms_for(t.id) * days, weeks_before
            )
    for start, days in weeks:
        flow.add_arc_with_capacity_and_unit_cost(week_node[start], sink, training.courses_per_day_effective * days, 0)
    flow.set_node_supply(source, total)
    flow.set_node_supply(sink, -total)
    if total and flow.solve() != flow.OPTIMAL:
        raise TrainingUnschedulable(f"training for window {label} does not fit its weeks")
    per_tenant: dict[str, dict[dt.date, int]] = {t.id: {} for t in members}
    by_node = {node: tid for tid, node in tenant_node.items()}
    by_week = {node: start for start, node in week_node.items()}
    for arc in range(flow.num_arcs()):
        tail, head, amount = flow.tail(arc), flow.head(arc), flow.flow(arc)
        if amount and tail in by_node and head in by_week:
            per_tenant[by_node[tail]][by_week[head]] = amount
    result: dict[str, tuple[TrainingWeek, ...]] = {}
    for t in members:
        superuser_left = problem.superuser_sessions(t)
        rows = []
        for start in sorted(per_tenant[t.id]):
            count = per_tenant[t.id][start]
            su = min(count, superuser_left)
            superuser_left -= su
            rows.append(TrainingWeek(week_start=start, superuser=su, enduser=count - su))
        result[t.id] = tuple(rows)
    return result
