"""The independent checker accepts the solver's plans and catches every kind of hand-made violation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.waves.calendar import milestones
from epj.waves.check import check_plan
from epj.waves.model import Plan, TenantPlan, TrainingWeek
from epj.waves.plan import make_plan, write_plan
from epj.waves.scenario import Problem
from epj.waves.solver import solve

Data = dict[str, Any]
Mutation = Callable[[Data, Plan, Problem], tuple[Data, Plan]]


def _scenario(tiny: Callable[..., Data]) -> Data:
    data = tiny(rules={"groups": [{"name": "g", "members": ["0002", "0003"]}], "principals_first": True})
    data["tenants"]["inline"][0]["role"] = "principal"
    data["calendar"]["windows"]["explicit"].append(
        {"label": "2027-Q4", "start": "2027-12-01", "end": "2027-12-31", "go_live": "2027-12-20"}
    )
    data["calendar"]["blackouts"] = {
        "defaults": False,
        "extra": [{"name": "jul", "start": "2027-12-15", "end": "2028-01-06"}],
    }
    return data


def _tenant(plan: Plan, tid: str) -> TenantPlan:
    return plan.by_tenant()[tid]


def _replace(plan: Plan, entry: TenantPlan) -> Plan:
    return plan.model_copy(update={"tenants": tuple(entry if t.tenant == entry.tenant else t for t in plan.tenants)})


def _move(plan: Plan, problem: Problem, tid: str, label: str) -> Plan:
    go_live = problem.go_live(label)
    entry = _tenant(plan, tid)
    shift = go_live - entry.go_live
    weeks = tuple(w.model_copy(update={"week_start": w.week_start + shift}) for w in entry.training)
    moved = entry.model_copy(
        update={
            "window": label,
            "go_live": go_live,
            "training": weeks,
            "milestones": milestones(go_live, problem.scenario.preparation, [w.week_start for w in weeks]),
        }
    )
    return _replace(plan, moved)


def _with(section: str, **values: Any) -> Mutation:
    def mutate(data: Data, plan: Plan, problem: Problem) -> tuple[Data, Plan]:
        data[section] = {**data[section], **values}
        return data, plan

    return mutate


def _training(tid: str, weeks: Callable[[TenantPlan], tuple[TrainingWeek, ...]]) -> Mutation:
    def mutate(data: Data, plan: Plan, problem: Problem) -> tuple[Data, Plan]:
        entry = _tenant(plan, tid)
        return data, _replace(plan, entry.model_copy(update={"training": weeks(entry)}))

    return mutate


def _week(entry: TenantPlan, offset_weeks: int, su: int, eu: int) -> TrainingWeek:
    return TrainingWeek(week_start=entry.go_live - dt.timedelta(weeks=offset_weeks), superuser=su, enduser=eu)


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "tenant missing": ("coverage", lambda d, p, pr: (d, p.model_copy(update={"tenants": p.tenants[1:]}))),
    "tenant twice": ("coverage", lambda d, p, pr: (d, p.model_copy(update={"tenants": (*p.tenants, p.tenants[0])}))),
    "unknown window": (
        "windows",
        lambda d, p, pr: (d, _replace(p, _tenant(p, "0001").model_copy(update={"window": "2026-Q1"}))),
    ),
    "go-live in holidays": ("holidays", lambda d, p, pr: (d, _move(p, pr, "0001", "2027-Q4"))),
    "before earliest": (
        "earliest",
        lambda d, p, pr: ({**d, "calendar": {**d["calendar"], "earliest_go_live": "2027-03-01"}}, p),
    ),
    "after latest": (
        "latest",
        lambda d, p, pr: ({**d, "calendar": {**d["calendar"], "latest_go_live": "2027-02-15"}}, p),
    ),
    "too little preparation": ("lead", _with("preparation", minimum_lead_months=18)),
    "fixed elsewhere": (
        "fixed",
        _with("rules", fixed=[{"tenant": "0001", "window": "2027-Q3", "reason": "political"}]),
    ),
    "group split": ("group", lambda d, p, pr: (d, _move(p, pr, "0003", "2027-Q3"))),
    "precedence broken": (
        "precedence",
        _with("rules", precedence=[{"first": "0002", "then": "0001", "same_window_ok": False}]),
    ),
    "option before principal": (
        "principals-first",
        lambda d, p, pr: (
            d,
            _move(_move(_move(p, pr, "0001", "2027-Q3"), pr, "0002", "2027-Q1"), pr, "0003", "2027-Q1"),
        ),
    ),
    "too many tenants": ("window-tenants", _with("capacity", max_tenants_per_window=1)),
    "too many end users": ("window-end-users", _with("capacity", max_end_users_per_window=150)),
    "command centre full": ("command-centre", _with("capacity", command_centre_tenants=1)),
    "sessions missing": ("training-total", _training("0001", lambda e: e.training[:-1])),
    "rooms overbooked": ("training-rooms", _training("0001", lambda e: (_week(e, 1, 10, 90),))),
    "region overbooked": (
        "training-region",
        lambda d, p, pr: (
            {**d, "training": {**d["training"], "rooms": {"0001": 40}}},
            _training("0001", lambda e: (_week(e, 1, 10, 190),))(d, p, pr)[1],
        ),
    ),
    "training too early": ("training-period", _training("0001", lambda e: (*e.training, _week(e, 30, 0, 1)))),
    "end users before super-users": (
        "training-order",
        _training("0001", lambda e: (_week(e, 3, 0, 20), _week(e, 1, 10, 0))),
    ),
    "milestone wrong": (
        "milestones",
        lambda d, p, pr: (
            d,
            _replace(
                p,
                _tenant(p, "0001").model_copy(
                    update={
                        "milestones": _tenant(p, "0001").milestones.model_copy(
                            update={"pre_project": dt.date(2020, 1, 1)}
                        )
                    }
                ),
            ),
        ),
    ),
}


@pytest.fixture()
def valid(tiny: Callable[..., Data], problem_of: Callable[[Data], Problem]) -> tuple[Data, Plan, Problem]:
    data = _scenario(tiny)
    problem = problem_of(data)
    plan = make_plan(problem, solve(problem, time_limit=5, workers=1))
    return data, plan, problem


def test_the_solver_plan_passes(valid: tuple[Data, Plan, Problem]) -> None:
    _, plan, problem = valid
    assert check_plan(problem, plan) == []
    assert {t.tenant: t.window for t in plan.tenants} == {"0001": "2027-Q1", "0002": "2027-Q2", "0003": "2027-Q2"}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_each_violation_is_caught(
    case: str, valid: tuple[Data, Plan, Problem], problem_of: Callable[[Data], Problem]
) -> None:
    data, plan, problem = valid
    rule, mutate = MUTATIONS[case]
    new_data, new_plan = mutate(data, plan, problem)
    violations = check_plan(problem_of(new_data), new_plan)
    assert rule in {v.rule for v in violations}, violations
    assert all(str(v).startswith("[") for v in violations)


def test_check_command_exit_codes(valid: tuple[Data, Plan, Problem], tmp_path: Any) -> None:
    import yaml

    data, plan, problem = valid
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(data), encoding="utf-8")
    good = tmp_path / "plan.json"
    write_plan(plan, good)
    runner = CliRunner()
    result = runner.invoke(app, ["waves", "check", str(scenario), str(good)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.json"
    write_plan(_move(plan, problem, "0003", "2027-Q3"), bad)
    result = runner.invoke(app, ["waves", "check", str(scenario), str(bad)])
    assert result.exit_code == 1
    assert "[group] group g must go live together" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    result = runner.invoke(app, ["waves", "check", str(scenario), str(broken)])
    assert result.exit_code == 2
