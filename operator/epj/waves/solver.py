"""The CP-SAT model: which window each tenant goes live in.

One Boolean ``x[t, w]`` per tenant and window; every rule of the scenario is a
*named rule* guarded by its own literal, so the same model serves three purposes:

* planning: all rule literals fixed true, the objective minimised;
* explaining infeasibility: the literals become assumptions, CP-SAT returns a
  sufficient subset (``SufficientAssumptionsForInfeasibility``) and we shrink it by
  deletion until every remaining rule is needed — a minimal conflict told in words;
* finding binding rules: drop one rule, re-solve, see how much the plan improves.

Training is aggregated per window here (sessions needed ≤ rooms × working days per
tenant, Σ sessions ≤ courses a day × working days region-wide); because every
wave trains in its own weeks (see :meth:`Problem.training_weeks`) that aggregate is
exact, and :mod:`epj.waves.training` turns it into a week-by-week schedule.

Determinism: with ``deterministic`` (the default) CP-SAT runs with
``interleave_search``, whose search does not depend on thread timing, a fixed seed
and a fixed worker count. A plan proven optimal (the region: well under a second)
or stopped by ``solver.work_limit`` (deterministic time) is reproducible run after
run; one cut off by the wall-clock limit may differ under different machine load.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from epj.numbers import fmt_int
from epj.waves.objective import months_after_first, waiting_weight
from epj.waves.scenario import Problem


@dataclass(frozen=True)
class Rule:
    """A named rule a project lead recognises, e.g. 'at most 6 municipalities per window'."""

    key: str
    text: str


@dataclass(frozen=True)
class Solution:
    assignment: dict[str, str]  # tenant -> window label
    status: str
    optimal: bool
    objective: int
    terms: dict[str, int]
    solve_seconds: float
    bound: float


@dataclass
class Infeasible(Exception):
    """No plan exists; ``conflict`` is a minimal set of rules that cannot all hold."""

    conflict: list[Rule]
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.conflict:
            return self.reason or "no plan exists"
        lines = ["No plan satisfies all rules. These rules cannot all hold together (drop or relax one):"]
        lines += [f"  - {rule.text}" for rule in self.conflict]
        return "\n".join(lines)


def _fmt(day: dt.date) -> str:
    return day.isoformat()


class _Model:
    """Builds the CP-SAT model for one problem; keeps the variables and rule literals."""

    def __init__(self, problem: Problem, *, objective: bool) -> None:
        self.problem = problem
        self.model = cp_model.CpModel()
        self.rules: dict[str, tuple[cp_model.IntVar, Rule]] = {}
        labels = [w.label for w in problem.windows]
        self.labels = labels
        m = self.model
        self.x: dict[tuple[str, str], cp_model.IntVar] = {
            (t.id, w): m.new_bool_var(f"x_{t.id}_{w}") for t in problem.tenants for w in labels
        }
        for t in problem.tenants:
            m.add_exactly_one(self.x[t.id, w] for w in labels)
        self._add_rules()
        self.terms: dict[str, cp_model.LinearExpr] = {}
        if objective:
            self._add_objective()

    # -- rules ------------------------------------------------------------------------------------------------------

    def _lit(self, key: str, text: str) -> cp_model.IntVar:
        lit = self.model.new_bool_var(f"rule_{key}")
        self.rules[key] = (lit, Rule(key, text))
        return lit

    def _forbid(self, lit: cp_model.IntVar, tenant: str, label: str) -> None:
        self.model.add_implication(lit, self.x[tenant, label].negated())

    def idx(self, tenant: str) -> cp_model.LinearExpr:
        return cp_model.LinearExpr.weighted_sum([self.x[tenant, w] for w in self.labels], list(range(len(self.labels))))

    def _add_rules(self) -> None:
        p, s, m, x = self.problem, self.problem.scenario, self.model, self.x
        tenants = p.tenants
        names = {t.id: t.name for t in tenants}

        blocked = {w.label: p.window_blackouts(w.label) for w in p.windows if p.window_blackouts(w.label)}
        if blocked:
            closes = "; ".join(f"{label} ({', '.join(b.name for b in hits)})" for label, hits in blocked.items())
            lit = self._lit(
                "holidays",
                "no go-live or command-centre period in a blackout, and no cutover night or go-live day on a "
                f"public holiday: closes {closes}",
            )
            for label in blocked:
                for t in tenants:
                    self._forbid(lit, t.id, label)

        early = [w.label for w in p.windows if p.go_live(w.label) < s.calendar.earliest_go_live]
        late = [w.label for w in p.windows if p.go_live(w.label) > s.calendar.latest_go_live]
        if early:
            lit = self._lit("earliest", f"no go-live before {_fmt(s.calendar.earliest_go_live)}")
            for label in early:
                for t in tenants:
                    self._forbid(lit, t.id, label)
        if late:
            lit = self._lit("latest", f"every go-live by {_fmt(s.calendar.latest_go_live)}")
            for label in late:
                for t in tenants:
                    self._forbid(lit, t.id, label)

        for t in tenants:
            earliest = p.earliest_for(t)
            too_soon = [w.label for w in p.windows if p.go_live(w.label) < earliest]
            if too_soon:
                start = t.decided_on or s.planned_on
                lit = self._lit(
                    f"lead:{t.id}",
                    f"{t.name} needs {s.preparation.minimum_lead_months} months of preparation from "
                    f"{_fmt(start)}: no go-live before {_fmt(earliest)}",
                )
                for label in too_soon:
                    self._forbid(lit, t.id, label)

        for tid, (label, reason) in sorted(p.fixed.items()):
            lit = self._lit(f"fixed:{tid}", f"{names[tid]} is fixed to window {label} ({reason})")
            m.add(x[tid, label] == 1).only_enforce_if(lit)

        for group in p.groups:
            if not group.must:
                continue
            lit = self._lit(
                f"group:{group.name}",
                f"{', '.join(names[mm] for mm in group.members)} go live together ({group.name})",
            )
            head = group.members[0]
            for member in group.members[1:]:
                for label in self.labels:
                    m.add(x[member, label] == x[head, label]).only_enforce_if(lit)

        for rule in p.precedence:
            how = "before or with" if rule.same_window_ok else "in an earlier window than"
            why = f" ({rule.reason})" if rule.reason else ""
            lit = self._lit(
                f"precedence:{rule.first}->{rule.then}", f"{names[rule.first]} goes live {how} {names[rule.then]}{why}"
            )
            if rule.same_window_ok:
                m.add(self.idx(rule.first) <= self.idx(rule.then)).only_enforce_if(lit)
            else:
                m.add(self.idx(rule.first) + 1 <= self.idx(rule.then)).only_enforce_if(lit)

        principals = [t for t in tenants if t.principal]
        others = [t for t in tenants if not t.principal]
        if s.rules.principals_first and principals and others:
            lit = self._lit(
                "principals-first", "the principals go live first, as pilots (no option tenant before them)"
            )
            last = m.new_int_var(0, len(self.labels) - 1, "last_principal")
            for t in principals:
                m.add(last >= self.idx(t.id)).only_enforce_if(lit)
            for t in others:
                m.add(self.idx(t.id) >= last).only_enforce_if(lit)

        cap = s.capacity
        lit = self._lit("window-tenants", f"at most {cap.max_tenants_per_window} municipalities go live in one window")
        for label in self.labels:
            m.add(sum(x[t.id, label] for t in tenants) <= cap.max_tenants_per_window).only_enforce_if(lit)
        lit = self._lit(
            "window-end-users", f"at most {fmt_int(cap.max_end_users_per_window)} end users go live in one window"
        )
        for label in self.labels:
            m.add(sum(t.end_users * x[t.id, label] for t in tenants) <= cap.max_end_users_per_window).only_enforce_if(
                lit
            )
        lit = self._lit(
            "command-centre",
            f"the command centre handles at most {cap.command_centre_tenants} municipalities in their "
            f"{s.preparation.hypercare_days}-day hypercare at once",
        )
        for w in p.windows:
            day = p.go_live(w.label)
            active = [
                o.label
                for o in p.windows
                if p.go_live(o.label) <= day < p.go_live(o.label) + dt.timedelta(days=s.preparation.hypercare_days)
            ]
            m.add(sum(x[t.id, o] for t in tenants for o in active) <= cap.command_centre_tenants).only_enforce_if(lit)

        tr = s.training
        days = {label: p.training_days(label) for label in self.labels}
        lit = self._lit(
            "training-region",
            f"at most {tr.courses_per_day_effective} courses a day region-wide "
            f"({tr.courses_per_day} parallel courses, {tr.instructors} instructors), on working days in the "
            f"{tr.horizon_weeks} weeks before go-live",
        )
        for label in self.labels:
            m.add(
                sum(p.sessions(t) * x[t.id, label] for t in tenants) <= tr.courses_per_day_effective * days[label]
            ).only_enforce_if(lit)
        short = [
            (t, label) for t in tenants for label in self.labels if p.sessions(t) > tr.rooms_for(t.id) * days[label]
        ]
        if short:
            lit = self._lit(
                "training-rooms",
                f"each municipality trains in its own rooms ({tr.rooms_per_tenant} by default), "
                "one course per room a day",
            )
            for t, label in short:
                self._forbid(lit, t.id, label)

    # -- objective --------------------------------------------------------------------------------------------------

    def _add_objective(self) -> None:
        p, m, x = self.problem, self.model, self.x
        obj = p.scenario.objective
        waiting = cp_model.LinearExpr.weighted_sum(
            [x[t.id, w] for t in p.tenants for w in self.labels],
            [waiting_weight(t.inhabitants) * months_after_first(p, w) for t in p.tenants for w in self.labels],
        )
        total_eu = sum(t.end_users for t in p.tenants)
        peak = m.new_int_var(0, total_eu // 100 + 1, "peak_hundreds")
        for w in self.labels:
            m.add(100 * peak >= sum(t.end_users * x[t.id, w] for t in p.tenants))
        splits: list[cp_model.LinearExprT] = []
        for g in p.groups:
            if g.must:
                continue
            used = [m.new_bool_var(f"used_{g.name}_{w}") for w in self.labels]
            for member in g.members:
                for u, w in zip(used, self.labels, strict=True):
                    m.add_implication(x[member, w], u)
            splits.append(sum(used) - 1)
        split_expr = cp_model.LinearExpr.sum(splits) if splits else m.new_constant(0)
        movable = [t for t in p.previous if t not in p.locked and (t, p.previous[t]) in x]
        moves = cp_model.LinearExpr.sum([1 - x[t, p.previous[t]] for t in movable]) if movable else m.new_constant(0)
        self.terms = {
            "waiting": waiting,
            "peak": peak,
            "group_splits": split_expr,
            "moves": moves,
        }
        self.weights = {
            "waiting": obj.waiting_weight,
            "peak": obj.peak_weight,
            "group_splits": obj.group_split_weight,
            "moves": obj.move_weight,
        }
        m.minimize(sum(self.weights[k] * e for k, e in self.terms.items()))


def _parameters(problem: Problem, time_limit: float | None, workers: int | None) -> cp_model.CpSolver:
    settings = problem.scenario.solver
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = time_limit if time_limit is not None else settings.time_limit_s
    params.num_workers = workers if workers is not None else settings.workers
    params.random_seed = settings.seed
    if settings.deterministic:
        params.interleave_search = True
    if settings.work_limit is not None:
        params.max_deterministic_time = settings.work_limit
    return solver


def solve(
    problem: Problem,
    *,
    time_limit: float | None = None,
    workers: int | None = None,
    hint: dict[str, str] | None = None,
    explain: bool = True,
) -> Solution:
    """Plan every tenant into a window; raise :class:`Infeasible` (with a minimal conflict) when impossible."""
    built = _Model(problem, objective=True)
    for lit, _ in built.rules.values():
        built.model.add(lit == 1)
    if hint:
        for (tid, label), var in built.x.items():
            if tid in hint:
                built.model.add_hint(var, 1 if hint[tid] == label else 0)
    solver = _parameters(problem, time_limit, workers)
    started = time.perf_counter()
    status = solver.solve(built.model)
    elapsed = time.perf_counter() - started
    if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
        if explain:
            raise Infeasible(explain_infeasible(problem))
        raise Infeasible([], "no plan exists")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise Infeasible(
            [],
            f"no plan found within {solver.parameters.max_time_in_seconds:g} s (status {solver.status_name(status)})",
        )
    assignment = {tid: label for (tid, label), var in built.x.items() if solver.boolean_value(var)}
    terms = {k: int(solver.value(e)) for k, e in built.terms.items()}
    return Solution(
        assignment=dict(sorted(assignment.items())),
        status=solver.status_name(status),
        optimal=status == cp_model.OPTIMAL,
        objective=round(solver.objective_value),
        terms=terms,
        solve_seconds=elapsed,
        bound=solver.best_objective_bound,
    )


def _feasible_with(built: _Model, keys: list[str], time_limit: float) -> tuple[bool | None, list[str]]:
    """Solve with only the rules in ``keys`` assumed; (feasible?, sufficient subset if infeasible)."""
    model = built.model
    model.clear_assumptions()
    model.add_assumptions([built.rules[k][0] for k in keys])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.random_seed = built.problem.scenario.solver.seed
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True, []
    if status != cp_model.INFEASIBLE:
        return None, []
    by_index = {built.rules[k][0].index: k for k in keys}
    core = [by_index[i] for i in solver.sufficient_assumptions_for_infeasibility() if i in by_index]
    return False, core


def explain_infeasible(problem: Problem, time_limit: float = 10.0) -> list[Rule]:
    """A minimal set of named rules that cannot hold together (deletion-based shrinking of CP-SAT's core)."""
    built = _Model(problem, objective=False)
    keys = list(built.rules)
    feasible, core = _feasible_with(built, keys, time_limit)
    if feasible is None:
        return []
    if feasible:
        return []
    current = core or keys
    for key in list(current):
        if key not in current:
            continue
        trial = [k for k in current if k != key]
        ok, smaller = _feasible_with(built, trial, time_limit)
        if ok is False:
            current = [k for k in trial if not smaller or k in smaller] if smaller else trial
    return [built.rules[k][1] for k in current]


def binding_rules(problem: Problem, solution: Solution, time_limit: float = 2.0, limit: int = 8) -> list[str]:
    """Rules whose removal would make the plan cheaper, largest gain first: what a project lead could negotiate.

    One re-solve per named rule with that rule switched off (a few seconds for the region).
    """
    built = _Model(problem, objective=True)
    found: list[tuple[int, str]] = []
    for key, (_, rule) in built.rules.items():
        model = built.model.clone()
        for other_key, (other, _) in built.rules.items():
            if other_key != key:
                model.add(model.get_bool_var_from_proto_index(other.index) == 1)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = time_limit
        solver.parameters.random_seed = problem.scenario.solver.seed
        status = solver.solve(model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            gain = solution.objective - round(solver.objective_value)
            if gain > 0:
                found.append((gain, f"{rule.text} (without it the plan would cost {gain} less)"))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [text for _, text in found[:limit]]
