"""Re-planning keeps locked tenants in place and explains what moved and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from epj.cli import app
from epj.waves.check import check_plan
from epj.waves.model import Plan
from epj.waves.pipeline import plan_problem
from epj.waves.plan import read_plan, write_plan
from epj.waves.replan import Change, compare, parse_change, prepare_replan
from epj.waves.scenario import DEFAULT_SCENARIO, Problem, ScenarioInvalid, load_scenario

# On 2027-09-01 every tenant going live by 2028-10-01 is past its 13-month withdrawal lock.
TODAY = dt.date(2027, 9, 1)


@pytest.fixture(scope="module")
def previous(region: Problem) -> Plan:
    return plan_problem(region, binding=False)


def _replan(previous: Plan, changes: list[str]) -> tuple[Problem, Plan, list[Any]]:
    parsed = [parse_change(c) for c in changes]
    problem, touched = prepare_replan(load_scenario(DEFAULT_SCENARIO), "default", previous, parsed, TODAY)
    plan = plan_problem(problem, binding=False)
    assert check_plan(problem, plan) == []
    return problem, plan, compare(problem, previous, plan, parsed, touched)


def test_parse_change_forms() -> None:
    assert parse_change("call:5041") == Change("call", "5041")
    assert parse_change("withdraw:5052") == Change("withdraw", "5052")
    assert parse_change("slip:2029-Q1=2029-03-05") == Change("slip", "2029-Q1", dt.date(2029, 3, 5))
    with pytest.raises(ValueError, match="not understood"):
        parse_change("delay:5035")


def test_withdrawal_before_lock_keeps_locked_tenants(previous: Plan) -> None:
    before = previous.by_tenant()
    locked = {t for t, e in before.items() if e.milestones.withdrawal_lock <= TODAY}
    assert locked  # the 2028 waves are locked on TODAY
    problem, plan, moves = _replan(previous, ["withdraw:5052"])
    after = plan.by_tenant()
    assert "5052" not in after
    assert all(after[t].window == before[t].window and after[t].locked for t in locked)
    leka = next(m for m in moves if m.tenant == "5052")
    assert leka.after is None and leka.reason == "withdrew before its withdrawal lock"
    assert plan.objective_terms["moves"] == sum(
        1 for m in moves if m.before and m.after and m.tenant not in problem.locked
    )


def test_withdrawal_after_lock_is_refused(previous: Plan) -> None:
    locked = sorted(t.tenant for t in previous.tenants if t.milestones.withdrawal_lock <= TODAY)
    assert locked, "the default plan has tenants whose place is locked by TODAY"
    with pytest.raises(ScenarioInvalid, match="cannot withdraw: its place locked"):
        prepare_replan(load_scenario(DEFAULT_SCENARIO), "default", previous, [Change("withdraw", locked[0])], TODAY)


def test_withdrawal_on_the_lock_day_is_refused_and_the_day_before_allowed(previous: Plan) -> None:
    """The ICS says 'last day to withdraw' on the day before the lock; replan agrees on both days."""
    entry = previous.tenants[0]
    lock = entry.milestones.withdrawal_lock
    assert entry.milestones.last_day_to_withdraw == lock - dt.timedelta(days=1)
    scenario = load_scenario(DEFAULT_SCENARIO)
    with pytest.raises(ScenarioInvalid, match="cannot withdraw: its place locked"):
        prepare_replan(scenario, "default", previous, [Change("withdraw", entry.tenant)], lock)
    prepare_replan(scenario, "default", previous, [Change("withdraw", entry.tenant)], lock - dt.timedelta(days=1))


def test_window_slip_moves_its_locked_members_with_it(previous: Plan) -> None:
    before = previous.by_tenant()
    slipped = [t for t, e in before.items() if e.window == "2028-Q3"]
    _, plan, moves = _replan(previous, ["slip:2028-Q3=2028-09-11"])
    after = plan.by_tenant()
    for tid in slipped:
        assert after[tid].window == "2028-Q3" and after[tid].go_live == dt.date(2028, 9, 11)
        move = next(m for m in moves if m.tenant == tid)
        assert move.reason == "its window 2028-Q3 slipped from 2028-09-02 to 2028-09-11"


def test_option_called_is_planned_and_reported(tiny: Callable[..., dict[str, Any]], tmp_path: Path) -> None:
    data = tiny()
    data["tenants"]["exclude"] = ["0003"]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(data), encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["waves", "plan", str(scenario), "--out", str(tmp_path / "v1")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        app,
        [
            "waves", "replan", str(scenario), str(tmp_path / "v1" / "plan.json"),
            "--change", "call:0003", "--today", "2026-01-05", "--out", str(tmp_path / "v2"),
        ],
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert "Liten (0003): not planned → 2027-Q2 2027-05-03: option called: newly planned" in second.output
    assert (tmp_path / "v2" / "changes.md").is_file()
    check = runner.invoke(
        app, ["waves", "check", str(tmp_path / "v2" / "scenario.yaml"), str(tmp_path / "v2" / "plan.json")]
    )
    assert check.exit_code == 0, check.output
    assert {t.tenant for t in read_plan(tmp_path / "v2" / "plan.json").tenants} == {"0001", "0002", "0003"}


def test_replan_rejects_a_bad_change(previous: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(previous, path)
    result = CliRunner().invoke(
        app, ["waves", "replan", "default", str(path), "--change", "postpone:5035", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "not understood" in result.output
