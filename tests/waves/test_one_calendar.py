"""One milestone, one date: the planner, the operator's core, the ICS and the council report agree.

A plan is made for go-live days on both sides of the daylight-saving changes; its RolloutWaves
are played through the go-live core (the operator's decisions) with every gate passing, and
the Oslo day of each transition is compared with the plan's milestones, the ICS events and the
council report's milestones. One date is also written out by hand, so a wrong shared offset
cannot hide behind agreement.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from icalendar import Calendar
from typer.testing import CliRunner

from epj.cli import app
from epj.golive.phases import Phase
from epj.golive.scenario import SCENARIO_DIR, parse_scenario
from epj.golive.sim import run_wave
from epj.golive.wave import WaveSpec
from epj.report.briefing import milestones as council_milestones
from epj.waves.plan import read_plan

from .conftest import _tiny

OSLO = ZoneInfo("Europe/Oslo")

# Go-live days next to DST changes (2028-03-26 and 2028-10-29) and a leap-year month end.
WINDOWS = [
    {"label": "2028-Q1", "start": "2028-02-28", "end": "2028-03-31", "go_live": "2028-03-27"},
    {"label": "2028-Q4", "start": "2028-10-02", "end": "2028-11-30", "go_live": "2028-10-30"},
]

# The operator enters these phases on these milestones (the plan's names).
PHASE_MILESTONE = {
    Phase.PREPARING: "pre_project",
    Phase.TRAINING: "main_project",
    Phase.REHEARSAL: "rehearsal",
    Phase.FREEZE: "freeze",
    Phase.CUTOVER: "cutover",
    Phase.HYPERCARE: "go_live",
}
COUNCIL_LABEL = {
    "Forprosjekt starter": "pre_project",
    "Siste dag for å trekke seg fra bølgen": "last_day_to_withdraw",
    "Hovedprosjekt og opplæring starter": "main_project",
    "Prøvemigrering": "rehearsal",
    "Endringsfrys": "freeze",
    "Overgangsnatt: gamle systemer kun lesbare fra kl. 16": "cutover",
    "Oppstart i ny journal": "go_live",
    "Siste dag med kommandosentral (hypercare)": "hypercare_end",
}


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = _tiny(
        calendar={
            "windows": {"each_year": [], "explicit": WINDOWS},
            "blackouts": {"defaults": False},
            "earliest_go_live": "2028-01-01",
            "latest_go_live": "2028-12-31",
        },
        preparation={"minimum_lead_months": 0},
        rules={"groups_from_cooperation": False},
    )
    data["tenants"]["inline"] = [
        {**t, "id": kommunenr} for t, kommunenr in zip(data["tenants"]["inline"], ("5035", "5031", "5006"), strict=True)
    ]
    data["rules"]["fixed"] = [
        {"tenant": "5035", "window": "2028-Q1"},
        {"tenant": "5031", "window": "2028-Q4"},
        {"tenant": "5006", "window": "2028-Q4"},
    ]
    out = tmp_path_factory.mktemp("calendar")
    scenario = out / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["waves", "plan", str(scenario), "--out", str(out / "plan")])
    assert result.exit_code == 0, result.output
    return out / "plan"


def _operator_days(wave_manifest: dict[str, Any]) -> dict[str, dict[str, dt.date]]:
    """Play a RolloutWave through the go-live core with every gate passing; Oslo day of each phase entry."""
    base = yaml.safe_load((SCENARIO_DIR / "default.yaml").read_text(encoding="utf-8"))
    wave = {**wave_manifest["spec"], "name": wave_manifest["metadata"]["name"]}
    base["wave"] = wave
    base["expect"] = {}
    base["start"] = "-20mo"
    run = run_wave(parse_scenario(base, source="calendar-test"))
    days: dict[str, dict[str, dt.date]] = {}
    for number, state in run.states.items():
        entries = {e.to_phase: e.at for e in state.history if e.kind == "Transition" and e.to_phase is not None}
        days[number] = {name: entries[phase].astimezone(OSLO).date() for phase, name in PHASE_MILESTONE.items()}
        # Stable is due the morning after the last hypercare day.
        days[number]["hypercare_end"] = entries[Phase.STABLE].astimezone(OSLO).date() - dt.timedelta(days=1)
    return days


def test_every_part_shows_the_same_day_for_every_milestone(planned: Path) -> None:
    plan = read_plan(planned / "plan.json")
    waves = [w for w in yaml.safe_load_all((planned / "rollout-waves.yaml").read_text(encoding="utf-8")) if w]
    ics: dict[tuple[str, str], dt.date] = {}
    for event in Calendar.from_ical((planned / "plan.ics").read_bytes()).walk("VEVENT"):
        tenant = str(event.get("uid")).split("-")[-2].split("@")[0]
        key = str(event.get("categories").cats[0])
        ics[tenant, key] = event.decoded("dtstart")
    checked = 0
    for manifest in waves:
        operator = _operator_days(manifest)
        spec = WaveSpec.model_validate({**manifest["spec"], "name": manifest["metadata"]["name"]})
        for number, seen in operator.items():
            entry = plan.by_tenant()[number]
            golive = spec.golive_spec(number)
            council = {
                COUNCIL_LABEL[m.label]: m.when
                for m in council_milestones(entry.go_live, dt.date(2000, 1, 1), golive.hypercare_days, golive.schedule)
            }
            for name, day in seen.items():
                assert getattr(entry.milestones, name) == day, f"{number} {name}: plan vs operator"
                assert council[name] == day, f"{number} {name}: council report vs operator"
                assert ics[number, name] == day, f"{number} {name}: ICS vs operator"
                checked += 1
            assert (
                council["last_day_to_withdraw"]
                == entry.milestones.last_day_to_withdraw
                == ics[number, "last_day_to_withdraw"]
            )
    assert checked == 3 * 7


def test_milestones_of_one_go_live_written_out_by_hand(planned: Path) -> None:
    """Stjørdal goes live Monday 27 March 2028, the day after clocks go forward."""
    ms = read_plan(planned / "plan.json").by_tenant()["5035"].milestones
    assert ms.pre_project == dt.date(2026, 9, 27)
    assert ms.last_day_to_withdraw == dt.date(2027, 2, 26)
    assert ms.withdrawal_lock == dt.date(2027, 2, 27)
    assert ms.main_project == dt.date(2027, 3, 27)
    assert ms.rehearsal == dt.date(2028, 2, 14)  # 42 days before, across 29 February
    assert ms.freeze == dt.date(2028, 3, 24)  # 3 days: the operator's freeze, not the planner's old 7
    assert ms.cutover == dt.date(2028, 3, 26)
    assert ms.go_live == dt.date(2028, 3, 27)
    assert ms.hypercare_end == dt.date(2028, 4, 16)  # 21 days including go-live day


def test_rollout_waves_carry_the_scenarios_offsets(planned: Path) -> None:
    waves = [w for w in yaml.safe_load_all((planned / "rollout-waves.yaml").read_text(encoding="utf-8")) if w]
    assert waves
    for wave in waves:
        assert wave["spec"]["schedule"] == {
            "preProjectMonths": 18,
            "withdrawalLockMonths": 13,
            "mainProjectMonths": 12,
            "rehearsalDays": 42,
            "freezeDays": 3,
        }
        assert wave["spec"]["hypercareDays"] == 21
        # The runbook's night: the final migration waits for the cutover lead's extract-delivered record.
        assert wave["spec"]["gates"] == {"requireExtractDelivered": True}


def test_go_live_day_defaults_to_saturday_and_public_holidays_block_the_night() -> None:
    from epj.waves.calendar import default_blackouts, go_live_blockers, resolve_windows
    from epj.waves.model import Blackouts, Windows

    windows = resolve_windows(Windows(), [2029])
    assert [(w.label, w.go_live) for w in windows] == [
        ("2029-Q1", dt.date(2029, 2, 17)),
        ("2029-Q2", dt.date(2029, 4, 28)),
        ("2029-Q3", dt.date(2029, 9, 1)),
        ("2029-Q4", dt.date(2029, 11, 3)),
    ]
    holidays = {b.name: b.start for b in default_blackouts(Blackouts(), [2029]) if b.kind == "public-holiday"}
    # Easter Sunday 2029 is 1 April: Ascension 10 May, Whit Monday 21 May.
    assert holidays == {
        "Labour Day 2029": dt.date(2029, 5, 1),
        "Constitution Day 2029": dt.date(2029, 5, 17),
        "Ascension Day 2029": dt.date(2029, 5, 10),
        "Whit Monday 2029": dt.date(2029, 5, 21),
    }
    blackouts = default_blackouts(Blackouts(), [2029])
    # Go-live Friday 18 May 2029: the cutover night is Constitution Day.
    assert [b.name for b in go_live_blockers(dt.date(2029, 5, 18), 21, blackouts)] == ["Constitution Day 2029"]
    # Saturday 28 April: hypercare spans 1 and 17 May, which does not block it.
    assert go_live_blockers(dt.date(2029, 4, 28), 21, blackouts) == []
    # Saturday 16 June: hypercare runs into the summer holiday.
    assert [b.name for b in go_live_blockers(dt.date(2029, 6, 16), 21, blackouts)] == ["summer 2029"]
