"""The synthetic national scenario is deterministic and realistic; the bench reports the agreed keys."""

from __future__ import annotations

import dataclasses
import json
import statistics

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.waves.bench import run_bench
from epj.waves.check import check_plan
from epj.waves.greedy import greedy
from epj.waves.national import national_populations, national_scenario
from epj.waves.objective import cost
from epj.waves.plan import make_plan
from epj.waves.scenario import resolve
from epj.waves.solver import Solution, solve


def test_national_population_is_deterministic_and_norway_shaped() -> None:
    populations = national_populations()
    assert populations == national_populations()
    assert len(populations) == 357
    assert populations[0] == 717_000  # Oslo
    assert 3_000 <= statistics.median(populations) <= 8_000
    assert 4_000_000 <= sum(populations) <= 6_500_000
    assert min(populations) >= 200


def test_greedy_and_solver_plans_of_a_small_country_are_valid() -> None:
    problem = resolve(national_scenario(60), "national-60")
    costs = []
    for order in ("list", "population"):
        assignment = greedy(problem, order)  # type: ignore[arg-type]
        assert assignment is not None and len(assignment) == 60
        costs.append(cost(problem, assignment))
        plan = make_plan(problem, Solution(assignment, "GREEDY", False, costs[-1], {}, 0.0, 0.0))
        assert check_plan(problem, plan) == []
    settings = problem.scenario.solver.model_copy(update={"work_limit": 0.25})
    problem = dataclasses.replace(problem, scenario=problem.scenario.model_copy(update={"solver": settings}))
    first, second = solve(problem, time_limit=30), solve(problem, time_limit=30)
    assert first.assignment == second.assignment  # a work limit, unlike a wall-clock limit, is reproducible
    assert first.objective == cost(problem, first.assignment) <= costs[0]
    assert check_plan(problem, make_plan(problem, first)) == []


def test_bench_reports_the_agreed_keys() -> None:
    figures = run_bench(national_time_limit=3, progress=lambda _: None, national_count=40)
    for key in ("regional_solve_s", "national_solve_s", "national_objective", "greedy_objective", "national_tenants"):
        assert key in figures
    assert figures["national_tenants"] == 40
    assert figures["regional_status"] == "OPTIMAL"
    assert figures["national_objective"] <= figures["greedy_objective"]


def test_bench_command_ends_with_one_json_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import epj.waves.bench as bench

    original = bench.run_bench
    monkeypatch.setattr(bench, "run_bench", lambda limit, progress: original(2, progress, national_count=30))
    result = CliRunner().invoke(app, ["waves", "bench", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["national_tenants"] == 30
