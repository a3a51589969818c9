"""`epj waves plan` on the default scenario: all 22 planned, checked, and every output usable."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from icalendar import Calendar
from typer.testing import CliRunner

from epj.cli import app
from epj.operator.crds import rollout_wave_crd
from epj.tenants import load_tenants
from epj.waves.check import check_plan
from epj.waves.plan import read_plan
from epj.waves.scenario import Problem


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan")
    result = CliRunner().invoke(app, ["waves", "plan", "default", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Go-live plan: region-default" in result.output
    return out


def test_default_scenario_plans_all_22_with_options_called(planned: Path, region: Problem) -> None:
    plan = read_plan(planned / "plan.json")
    assert {t.tenant for t in plan.tenants} == {t.kommunenummer for t in load_tenants()}
    assert len(plan.tenants) == 22
    assert plan.status == "OPTIMAL"
    assert check_plan(region, plan) == []
    data = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    stjordal = next(t for t in data["tenants"] if t["tenant"] == "5035")
    assert stjordal["go_live"] == stjordal["milestones"]["go_live"]
    assert stjordal["training"] and {"week_start", "superuser", "enduser"} <= set(stjordal["training"][0])


def test_cli_check_accepts_the_written_plan(planned: Path) -> None:
    result = CliRunner().invoke(app, ["waves", "check", "default", str(planned / "plan.json")])
    assert result.exit_code == 0, result.output
    assert "every rule holds" in result.output


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def test_manifests_validate_against_the_rolloutwave_crd(planned: Path) -> None:
    crd = rollout_wave_crd()
    version = crd["spec"]["versions"][0]
    schema = _strip(version["schema"]["openAPIV3Schema"])
    waves = list(yaml.safe_load_all((planned / "rollout-waves.yaml").read_text(encoding="utf-8")))
    plan = read_plan(planned / "plan.json")
    assert len(waves) == len({t.window for t in plan.tenants})
    members = []
    for wave in waves:
        assert wave["apiVersion"] == f"{crd['spec']['group']}/{version['name']}"
        assert wave["kind"] == "RolloutWave"
        jsonschema.validate(wave, schema, format_checker=jsonschema.FormatChecker())
        spec = wave["spec"]
        # the CRD's CEL rule, checked by hand: goLiveDate inside the production window
        assert spec["productionWindow"]["start"] <= spec["goLiveDate"] <= spec["productionWindow"]["end"]
        members += [m["kommunenummer"] for m in spec["members"]]
    assert sorted(members) == sorted(t.tenant for t in plan.tenants)


def test_ics_has_every_milestone_of_every_tenant(planned: Path) -> None:
    calendar = Calendar.from_ical((planned / "plan.ics").read_bytes())
    events = calendar.walk("VEVENT")
    assert len(events) == 22 * 11
    by_summary = {str(e.get("summary")): e.decoded("dtstart") for e in events}
    assert "Stjørdal (5035): GO-LIVE" in by_summary
    # The lock day is the first day a place is locked (replan refuses a withdrawal on it); the day before
    # is the last day to withdraw.
    lock = by_summary["Stjørdal (5035): place locked (no withdrawal from this day)"]
    assert by_summary["Stjørdal (5035): last day to withdraw"] == lock - dt.timedelta(days=1)
    assert len({str(e.get("uid")) for e in events}) == len(events)


def test_gantt_png_and_html_are_real(planned: Path) -> None:
    png = (planned / "gantt.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    page = (planned / "gantt.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Stjørdal (5035)" in page
    assert "<script" not in page and "src=" not in page  # self-contained


def test_summary_states_objective_and_binding_rules(planned: Path) -> None:
    text = (planned / "summary.md").read_text(encoding="utf-8")
    assert "## Objective (minimised)" in text
    assert "## Binding rules" in text
    assert "at most 1 200 end users go live in one window (without it" in text  # capacity binds by default
    assert "| Stjørdal (5035) |" in text


def test_infeasible_plan_exits_3_naming_the_rules(tmp_path: Path) -> None:
    from epj.waves.scenario import DEFAULT_SCENARIO

    data = yaml.safe_load(DEFAULT_SCENARIO.read_text(encoding="utf-8"))
    data["capacity"]["max_tenants_per_window"] = 4  # indre-namdal has 5 members
    path = tmp_path / "tight.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["waves", "plan", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3
    assert "Lierne, Røyrvik, Namsskogan, Grong, Høylandet go live together (indre-namdal)" in result.output
    assert "at most 4 municipalities go live in one window" in result.output


def test_gp_offices_from_the_tenant_files_gate_their_municipality_in_its_wave(planned: Path) -> None:
    waves = [w for w in yaml.safe_load_all((planned / "rollout-waves.yaml").read_text(encoding="utf-8")) if w]
    where: dict[str, tuple[str, list[str]]] = {}
    for wave in waves:
        members = [m["kommunenummer"] for m in wave["spec"]["members"]]
        for office in wave["spec"].get("gpOffices", []):
            where[office["id"]] = (office["municipality"], members)
            assert "readyAt" not in office  # a person records readiness; the planner never claims it
    assert set(where) == {"5006-legesenter", "5031-legesenter", "5035-sentrum-legesenter", "5059-orkanger-legesenter"}
    for office, (municipality, members) in where.items():
        assert municipality in members, f"{office} is listed in a wave without its municipality"


def test_a_custom_blackout_is_named_as_written_in_summary_and_gantt(
    tiny: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """The project lead's own blackout is called what they called it, never 'holidays'; the legend shows it."""
    data = tiny()
    data["calendar"]["blackouts"] = {
        "defaults": False,
        "extra": [{"name": "Kommunevalg 2027", "start": "2027-04-20", "end": "2027-05-10"}],
    }
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["waves", "plan", str(scenario), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "p" / "plan.json").read_text(encoding="utf-8"))
    assert all(t["window"] != "2027-Q2" for t in plan["tenants"])  # the blackout closes Q2's go-live day
    summary = (tmp_path / "p" / "summary.md").read_text(encoding="utf-8")
    blackouts = summary.split("## Blackouts", 1)[1].split("## Milestones", 1)[0]
    assert "- Kommunevalg 2027: 2027-04-20 – 2027-05-10 (from the scenario)" in blackouts
    assert "summer" not in blackouts and "Easter" not in blackouts and "holiday" not in blackouts.split(":", 1)[1]
    page = (tmp_path / "p" / "gantt.html").read_text(encoding="utf-8")
    assert "blackout: Kommunevalg 2027" in page
    assert "Christmas" not in page and "summer" not in page
