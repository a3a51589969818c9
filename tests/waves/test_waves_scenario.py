"""Scenario files: validation names file, field and reason; defaults compute the calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dateutil.easter import easter

from epj.waves.calendar import add_months, easter_sunday, resolve_windows
from epj.waves.model import Windows
from epj.waves.scenario import Problem, ScenarioInvalid, load_scenario


def test_easter_matches_dateutil() -> None:
    assert [easter_sunday(year) for year in range(1900, 2200)] == [easter(year) for year in range(1900, 2200)]


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2029, 8, 31), -18) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2028, 9, 4), -13) == dt.date(2027, 8, 4)


def test_default_windows_are_four_a_year_on_mondays() -> None:
    windows = resolve_windows(Windows(), [2028, 2029])
    assert [w.label for w in windows] == [f"{y}-Q{q}" for y in (2028, 2029) for q in (1, 2, 3, 4)]
    assert all(w.go_live is not None and w.go_live.weekday() == 5 for w in windows)  # Saturdays by default


def test_region_calendar_has_holidays_and_groups(region: Problem) -> None:
    names = {b.name for b in region.blackouts}
    assert {"summer 2028", "Christmas/New Year 2028", "Easter 2029"} <= names
    easter_2029 = next(b for b in region.blackouts if b.name == "Easter 2029")
    assert easter_2029.start == dt.date(2029, 3, 25) and easter_2029.end == dt.date(2029, 4, 2)
    assert {g.name: g.members for g in region.groups}["varnesregionen"] == ("5034", "5035", "5036")
    assert len(region.tenants) == 22
    # Stjørdal's wave of ~620 end users needs 10 super-user and 40 end-user sessions (50/200 per 3,100, scaled)
    stjordal = region.tenant("5035")
    assert (region.superuser_sessions(stjordal), region.enduser_sessions(stjordal)) == (10, 40)
    assert region.training_days("2028-Q3") < 16 * 5  # the summer holiday eats training days


def test_errors_name_file_field_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: Bad Name\nplanned_on: 2026-11-22\ncalendar:\n  earliest_go_live: 2028-01-01\n"
        "  latest_go_live: 2027-01-01\ncapacity:\n  max_tenants_per_window: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioInvalid) as info:
        load_scenario(path)
    text = str(info.value)
    assert f"{path}: name:" in text
    assert "capacity.max_tenants_per_window: Input should be greater than 0" in text
    assert "latest_go_live is before earliest_go_live" in text


def test_unknown_references_are_reported(
    tiny: Callable[..., dict[str, Any]], problem_of: Callable[[dict[str, Any]], Problem]
) -> None:
    data = tiny(
        rules={
            "fixed": [{"tenant": "0009", "window": "2027-Q1"}, {"tenant": "0001", "window": "2031-Q1"}],
            "precedence": [{"first": "0001", "then": "0042"}],
        }
    )
    with pytest.raises(ScenarioInvalid) as info:
        problem_of(data)
    fields = {(e.field, e.reason) for e in info.value.errors}
    assert ("rules.fixed.0.tenant", "unknown tenant 0009") in fields
    assert ("rules.fixed.1.window", "no production window 2031-Q1") in fields
    assert ("rules.precedence.0.then", "unknown tenant 0042") in fields


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nplanned_on: [\n", encoding="utf-8")
    with pytest.raises(ScenarioInvalid) as info:
        load_scenario(path)
    assert "not valid YAML" in str(info.value) and "line" in info.value.errors[0].field


def test_call_options_must_name_tenants(region: Problem) -> None:
    from epj.waves.scenario import resolve

    scenario = region.scenario
    some = scenario.model_copy(
        update={"tenants": scenario.tenants.model_copy(update={"call_options": ("5041", "9999")})}
    )
    with pytest.raises(ScenarioInvalid, match=r"tenants.call_options.1: no option tenant 9999"):
        resolve(some, "s.yaml")
    fine = scenario.model_copy(update={"tenants": scenario.tenants.model_copy(update={"call_options": ("5041",)})})
    called = {t.id for t in resolve(fine, "s.yaml").tenants}
    assert "5041" in called and "5043" not in called  # Snåsa called, Røyrvik not
    assert "5007" not in called  # Namsos has not called its option (in its tenant file nor in this plan)
    assert {"5006", "5031", "5035", "5059"} <= called  # the four principals are always in


def test_waves_help_lists_the_commands() -> None:
    from typer.testing import CliRunner

    from epj.cli import app

    result = CliRunner().invoke(app, ["waves", "--help"])
    assert result.exit_code == 0
    for command in ("plan", "check", "replan", "bench"):
        assert command in result.output
