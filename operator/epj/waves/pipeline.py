"""Plan a problem end to end and write every output into one folder.

Shared by ``epj waves plan`` and ``epj waves replan`` (and the tests), so both
produce the same files: ``plan.json``, ``rollout-waves.yaml``, ``plan.ics``,
``gantt.png``, ``gantt.html`` and ``summary.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from epj import contract
from epj.waves.check import Violation, check_plan
from epj.waves.model import Plan
from epj.waves.plan import make_plan, write_plan
from epj.waves.scenario import Problem
from epj.waves.solver import binding_rules, solve

#: Finding binding rules re-solves once per rule; worth it for a region, too slow nationally.
BINDING_MAX_TENANTS = 60


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    violations: list[Violation]
    files: list[Path]


def plan_problem(problem: Problem, *, time_limit: float | None = None, binding: bool | None = None) -> Plan:
    """Solve and build the plan (raises :class:`epj.waves.solver.Infeasible` with the conflicting rules)."""
    solution = solve(problem, time_limit=time_limit)
    explain = binding if binding is not None else len(problem.tenants) <= BINDING_MAX_TENANTS
    rules = tuple(binding_rules(problem, solution)) if explain else ()
    return make_plan(problem, solution, rules)


def write_outputs(problem: Problem, plan: Plan, out: Path, namespace: str = contract.GOLIVE_NAMESPACE) -> list[Path]:
    """Write every output of ``plan`` into ``out`` (created if needed); returns the files written."""
    from epj.waves.gantt import gantt_html, gantt_png
    from epj.waves.outputs import calendar_ics, rollout_waves, summary_markdown

    out.mkdir(parents=True, exist_ok=True)
    files = {
        "plan.json": None,
        "rollout-waves.yaml": yaml.safe_dump_all(rollout_waves(problem, plan, namespace), sort_keys=False),
        "plan.ics": calendar_ics(plan),
        "gantt.png": gantt_png(problem, plan),
        "gantt.html": gantt_html(problem, plan),
        "summary.md": summary_markdown(problem, plan),
    }
    written = []
    for name, content in files.items():
        path = out / name
        if content is None:
            write_plan(plan, path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def plan_and_write(problem: Problem, out: Path, *, time_limit: float | None = None) -> PlanResult:
    """Plan, check the plan independently, write the outputs."""
    plan = plan_problem(problem, time_limit=time_limit)
    violations = check_plan(problem, plan)
    return PlanResult(plan, violations, write_outputs(problem, plan, out))
