"""Turn the solver's window assignment into a full :class:`Plan` (training weeks, milestones)."""

from __future__ import annotations

import json
from pathlib import Path

from epj.waves.calendar import milestones
from epj.waves.model import Plan, PlanWindow, TenantPlan
from epj.waves.scenario import Problem
from epj.waves.solver import Solution
from epj.waves.training import schedule_wave


def make_plan(problem: Problem, solution: Solution, binding: tuple[str, ...] = ()) -> Plan:
    """The plan for ``solution``: one entry per tenant, windows in go-live order."""
    used = sorted(set(solution.assignment.values()), key=lambda label: problem.go_live(label))
    schedules = {}
    for label in used:
        members = [t for t in problem.tenants if solution.assignment[t.id] == label]
        schedules.update(schedule_wave(problem, label, members))
    tenants = []
    for t in problem.tenants:
        label = solution.assignment[t.id]
        go_live = problem.go_live(label)
        weeks = schedules.get(t.id, ())
        tenants.append(
            TenantPlan(
                tenant=t.id,
                name=t.name,
                role=t.role,
                kind=t.kind,
                inhabitants=t.inhabitants,
                end_users=t.end_users,
                window=label,
                go_live=go_live,
                locked=t.id in problem.locked,
                training=weeks,
                milestones=milestones(go_live, problem.scenario.preparation, [w.week_start for w in weeks]),
            )
        )
    windows = tuple(
        PlanWindow(label=w.label, start=w.start, end=w.end, go_live=problem.go_live(w.label)) for w in problem.windows
    )
    return Plan(
        scenario=problem.scenario.name,
        planned_on=problem.scenario.planned_on,
        status=solution.status,
        objective=solution.objective,
        objective_terms=solution.terms,
        solve_seconds=round(solution.solve_seconds, 3),
        windows=windows,
        tenants=tuple(tenants),
        binding=binding,
    )


def write_plan(plan: Plan, path: Path) -> None:
    path.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")


def read_plan(path: Path) -> Plan:
    """Read ``plan.json``; a malformed file raises ValueError naming the file and field."""
    from pydantic import ValidationError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Plan.model_validate(data)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from None
