"""The solver finds the plans worked out by hand, explains infeasibility, and is deterministic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from epj.waves.check import check_plan
from epj.waves.objective import cost
from epj.waves.plan import make_plan
from epj.waves.scenario import Problem, resolve
from epj.waves.solver import Infeasible, solve

STORE, MIDDELS, LITEN = "0001", "0002", "0003"
Builder = Callable[..., dict[str, Any]]
Resolver = Callable[[dict[str, Any]], Problem]


def _solve_checked(problem: Problem) -> tuple[dict[str, str], int]:
    solution = solve(problem, time_limit=5, workers=1)
    assert solution.optimal
    assert solution.objective == cost(problem, solution.assignment)  # the model's cost is the plan's real cost
    assert check_plan(problem, make_plan(problem, solution)) == []
    return solution.assignment, solution.objective


def test_without_limits_the_two_largest_go_first_together(tiny: Builder, problem_of: Resolver) -> None:
    # all in Q1: peak 330 -> 4 hundreds = 40; A+B in Q1, C in Q2: 10*3 + 1*3 = 33 (best); see conftest for months
    assignment, objective = _solve_checked(problem_of(tiny()))
    assert assignment == {STORE: "2027-Q1", MIDDELS: "2027-Q1", LITEN: "2027-Q2"}
    assert objective == 33


@pytest.mark.parametrize("limit", [{"max_tenants_per_window": 1}, {"command_centre_tenants": 1}])
def test_one_tenant_per_window_goes_largest_first(tiny: Builder, problem_of: Resolver, limit: dict[str, int]) -> None:
    data = tiny(capacity=limit)
    assignment, objective = _solve_checked(problem_of(data))
    assert assignment == {STORE: "2027-Q1", MIDDELS: "2027-Q2", LITEN: "2027-Q3"}
    assert objective == 5 * 3 + 1 * 6 + 10 * 2


def test_training_capacity_spreads_the_waves(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny(training={"horizon_weeks": 2, "courses_per_day": 1, "instructors": 1})
    for tenant in data["tenants"]["inline"]:
        tenant["end_users"] = 30  # 2 super-user + 4 end-user sessions each; 10 course-days per wave fit one tenant
    assignment, objective = _solve_checked(problem_of(data))
    assert assignment == {STORE: "2027-Q1", MIDDELS: "2027-Q2", LITEN: "2027-Q3"}
    assert objective == 5 * 3 + 1 * 6 + 10 * 1


def test_holidays_close_a_window(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny()
    data["calendar"]["blackouts"] = {
        "defaults": False,
        "extra": [{"name": "vinterferie", "start": "2027-02-15", "end": "2027-02-19"}],  # inside Q1's hypercare
    }
    assignment, objective = _solve_checked(problem_of(data))
    assert assignment == {STORE: "2027-Q2", MIDDELS: "2027-Q2", LITEN: "2027-Q3"}
    assert objective == 10 * 3 + 5 * 3 + 1 * 6 + 10 * 3


def test_depends_on_puts_the_dependent_in_a_later_window(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny()
    data["tenants"]["inline"][1]["depends_on"] = [STORE]
    assignment, objective = _solve_checked(problem_of(data))
    assert assignment == {STORE: "2027-Q1", MIDDELS: "2027-Q2", LITEN: "2027-Q2"}
    assert objective == 5 * 3 + 1 * 3 + 10 * 2


def test_gp_office_goes_before_or_with_its_municipality(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny(capacity={"max_tenants_per_window": 1})
    data["tenants"]["inline"] = [
        data["tenants"]["inline"][0],
        {
            "id": "0001-legekontor",
            "name": "Legekontoret",
            "kind": "gp-office",
            "municipality": STORE,
            "inhabitants": 100,
            "end_users": 25,
        },
    ]
    assignment, _ = _solve_checked(problem_of(data))
    assert assignment == {"0001-legekontor": "2027-Q1", STORE: "2027-Q2"}


def test_preferred_group_is_kept_together_when_it_pays(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny(
        capacity={"max_tenants_per_window": 2},
        rules={"groups": [{"name": "samarbeid", "members": [MIDDELS, LITEN], "must": False}]},
    )
    assignment, objective = _solve_checked(problem_of(data))
    assert assignment == {STORE: "2027-Q1", MIDDELS: "2027-Q2", LITEN: "2027-Q2"}
    assert objective == 5 * 3 + 1 * 3 + 10 * 2


def _conflict(problem: Problem) -> set[str]:
    with pytest.raises(Infeasible) as info:
        solve(problem, time_limit=5, workers=1)
    return {rule.key for rule in info.value.conflict}


def test_group_larger_than_the_window_limit_is_named(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny(
        capacity={"max_tenants_per_window": 2},
        rules={"groups": [{"name": "alle-tre", "members": [STORE, MIDDELS, LITEN]}]},
    )
    assert _conflict(problem_of(data)) == {"group:alle-tre", "window-tenants"}


def test_fixed_window_inside_the_preparation_time_is_named(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny(
        preparation={"minimum_lead_months": 18},
        rules={"fixed": [{"tenant": STORE, "window": "2027-Q1", "reason": "political"}]},
    )
    assert _conflict(problem_of(data)) == {"fixed:0001", "lead:0001"}


def test_no_window_between_earliest_and_latest(tiny: Builder, problem_of: Resolver) -> None:
    data = tiny()
    data["calendar"] = {**data["calendar"], "earliest_go_live": "2027-06-01", "latest_go_live": "2027-07-01"}
    assert _conflict(problem_of(data)) == {"earliest", "latest"}


def test_region_with_principals_first_names_the_groups_and_the_limit(region: Problem) -> None:
    scenario = region.scenario
    strict = scenario.model_copy(update={"rules": scenario.rules.model_copy(update={"principals_first": True})})
    with pytest.raises(Infeasible) as info:
        solve(resolve(strict), time_limit=10)
    assert {rule.key for rule in info.value.conflict} == {
        "principals-first",
        "group:varnesregionen",
        "group:inn-trondelag",
        "window-end-users",
    }
    message = str(info.value)
    assert "Meråker, Stjørdal, Frosta go live together" in message
    assert "at most 1 200 end users go live in one window" in message


def test_region_plans_all_22_optimally_and_deterministically(region: Problem) -> None:
    first = solve(region)
    second = solve(region)
    assert first.optimal
    assert len(first.assignment) == 22
    assert first.assignment == second.assignment
    assert first.objective == cost(region, first.assignment)
    assert check_plan(region, make_plan(region, first)) == []
