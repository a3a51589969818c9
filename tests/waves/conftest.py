"""Wave-planner test fixtures: small hand-made scenarios whose best plan can be worked out on paper."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from epj.waves.scenario import DEFAULT_SCENARIO, Problem, load_problem, parse_scenario, resolve

# Three windows three months apart, no holidays, no lead time: months after the first window are 0, 3, 6.
BASE: dict[str, Any] = {
    "name": "tiny",
    "planned_on": "2026-01-05",
    "tenants": {
        "from_files": False,
        "inline": [
            {"id": "0001", "name": "Store", "role": "option", "inhabitants": 10_000, "end_users": 200},
            {"id": "0002", "name": "Middels", "role": "option", "inhabitants": 5_000, "end_users": 100},
            {"id": "0003", "name": "Liten", "role": "option", "inhabitants": 1_000, "end_users": 30},
        ],
    },
    "calendar": {
        "windows": {
            "each_year": [],
            "explicit": [
                {"label": "2027-Q1", "start": "2027-02-01", "end": "2027-02-28", "go_live": "2027-02-01"},
                {"label": "2027-Q2", "start": "2027-05-03", "end": "2027-05-31", "go_live": "2027-05-03"},
                {"label": "2027-Q3", "start": "2027-08-02", "end": "2027-08-31", "go_live": "2027-08-02"},
            ],
        },
        "blackouts": {"defaults": False},
        "earliest_go_live": "2027-01-01",
        "latest_go_live": "2027-12-31",
    },
    "preparation": {"minimum_lead_months": 0},
    "training": {"horizon_weeks": 4},
    "capacity": {"command_centre_tenants": 10, "max_tenants_per_window": 10, "max_end_users_per_window": 10_000},
    "rules": {"groups_from_cooperation": True},
    "objective": {"waiting_weight": 1, "peak_weight": 10, "group_split_weight": 500, "move_weight": 200},
    "solver": {"time_limit_s": 5, "workers": 1},
}


def _tiny(**overrides: Any) -> dict[str, Any]:
    """A deep copy of BASE with top-level sections merged (one level deep)."""
    data = copy.deepcopy(BASE)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def _problem_of(data: dict[str, Any]) -> Problem:
    return resolve(parse_scenario(data, "test.yaml"), "test.yaml")


@pytest.fixture()
def tiny() -> Callable[..., dict[str, Any]]:
    """Builder: BASE with top-level sections merged one level deep (a fresh deep copy each call)."""
    return _tiny


@pytest.fixture()
def problem_of() -> Callable[[dict[str, Any]], Problem]:
    """Builder: validate and resolve a scenario dict."""
    return _problem_of


@pytest.fixture(scope="session")
def region() -> Problem:
    """The shipped default scenario: 22 municipalities, every option called."""
    return load_problem(DEFAULT_SCENARIO)
