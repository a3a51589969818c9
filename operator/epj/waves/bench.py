"""``epj waves bench``: solve the regional and the synthetic national scenario, against a greedy baseline.

Cost is the scenario's objective (lower is better); "better than greedy" is
(greedy − solver) / greedy. Two greedy orders are reported: the list order
(earliest fit in kommunenummer order, the simple baseline) and largest population
first (a stronger heuristic), so the figure cannot flatter the solver unnoticed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from epj.waves.greedy import greedy
from epj.waves.national import NATIONAL_TENANTS, national_scenario
from epj.waves.objective import cost
from epj.waves.scenario import DEFAULT_SCENARIO, load_problem, resolve
from epj.waves.solver import solve


def _improvement(baseline: int | None, value: int) -> float | None:
    return round((baseline - value) / baseline, 4) if baseline else None


def run_bench(
    national_time_limit: float = 50.0, progress: Callable[[str], None] = print, national_count: int = NATIONAL_TENANTS
) -> dict[str, Any]:
    """Run both scenarios; returns the figures (also the JSON line of ``--json``)."""
    progress("regional: 22 municipalities, every option called …")
    regional = load_problem(DEFAULT_SCENARIO)
    started = time.perf_counter()
    solution = solve(regional, time_limit=30)
    regional_s = time.perf_counter() - started
    regional_greedy = greedy(regional, "list")
    progress(f"regional: {solution.status} cost {solution.objective} in {regional_s:.2f} s")

    progress(f"national: generating {national_count} municipalities …")
    national = resolve(national_scenario(national_count, time_limit_s=national_time_limit), "national-synthetic")
    started = time.perf_counter()
    greedy_list = greedy(national, "list")
    greedy_population = greedy(national, "population")
    greedy_s = time.perf_counter() - started
    progress(f"national: greedy done in {greedy_s:.2f} s; solving (limit {national_time_limit:g} s, 2 workers) …")
    started = time.perf_counter()
    national_solution = solve(national, time_limit=national_time_limit, workers=2, explain=False)
    national_s = time.perf_counter() - started
    greedy_cost = cost(national, greedy_list) if greedy_list else None
    greedy_pop_cost = cost(national, greedy_population) if greedy_population else None
    progress(f"national: {national_solution.status} cost {national_solution.objective} in {national_s:.2f} s")
    return {
        "objective": "minimised cost: waiting (thousand inhabitants × months) + 10 × peak window load (hundreds of "
        "end users) + 500 × preferred-group splits; better = lower; improvement = (greedy − solver) / greedy",
        "regional_tenants": len(regional.tenants),
        "regional_solve_s": round(regional_s, 3),
        "regional_status": solution.status,
        "regional_objective": solution.objective,
        "regional_greedy_objective": cost(regional, regional_greedy) if regional_greedy else None,
        "national_tenants": len(national.tenants),
        "national_windows": len(national.windows),
        "national_solve_s": round(national_s, 3),
        "national_status": national_solution.status,
        "national_objective": national_solution.objective,
        "national_bound": round(national_solution.bound),
        "national_gap": round((national_solution.objective - national_solution.bound) / national_solution.objective, 4),
        "greedy_objective": greedy_cost,
        "greedy_order": "earliest fit in kommunenummer order",
        "improvement_vs_greedy": _improvement(greedy_cost, national_solution.objective),
        "greedy_population_first_objective": greedy_pop_cost,
        "improvement_vs_greedy_population_first": _improvement(greedy_pop_cost, national_solution.objective),
        "workers": 2,
        "deterministic": national.scenario.solver.deterministic,
    }
