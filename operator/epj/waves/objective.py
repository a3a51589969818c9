"""The plan's cost, computed in plain Python from a window assignment.

The same formula the CP-SAT model minimises (see :class:`epj.waves.model.Objective`),
written out independently so the greedy baseline can be scored, and so tests can
confirm the solver reports the cost its plan really has.
"""

from __future__ import annotations

from collections import defaultdict

from epj.waves.scenario import Problem


def waiting_weight(inhabitants: int) -> int:
    """Thousand inhabitants, at least 1."""
    return max(1, round(inhabitants / 1000))


def months_after_first(problem: Problem, label: str) -> int:
    first = min(w.go_live for w in problem.windows if w.go_live is not None)
    return round((problem.go_live(label) - first).days / 30.4375)


def cost_terms(problem: Problem, assignment: dict[str, str]) -> dict[str, int]:
    """Objective terms of an assignment (tenant -> window label), before weighting."""
    waiting = sum(
        waiting_weight(t.inhabitants) * months_after_first(problem, assignment[t.id]) for t in problem.tenants
    )
    load: dict[str, int] = defaultdict(int)
    for t in problem.tenants:
        load[assignment[t.id]] += t.end_users
    peak = max((-(-users // 100) for users in load.values()), default=0)
    splits = sum(len({assignment[m] for m in g.members}) - 1 for g in problem.groups if not g.must)
    moves = sum(
        1
        for tid, label in problem.previous.items()
        if tid not in problem.locked and tid in assignment and assignment[tid] != label
    )
    return {"waiting": waiting, "peak": peak, "group_splits": splits, "moves": moves}


def cost(problem: Problem, assignment: dict[str, str]) -> int:
    """The weighted objective (lower is better)."""
    weights = problem.scenario.objective
    terms = cost_terms(problem, assignment)
    return (
        weights.waiting_weight * terms["waiting"]
        + weights.peak_weight * terms["peak"]
        + weights.group_split_weight * terms["group_splits"]
        + weights.move_weight * terms["moves"]
    )
