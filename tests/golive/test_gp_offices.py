"""GP offices go live before or with their municipality: the dependencies-live gate waits for them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from epj.golive.phases import GateName, GateOutcome, Phase
from epj.golive.scenario import SCENARIO_DIR, parse_scenario
from epj.golive.sim import run_wave
from epj.golive.wave import WaveSpec
from epj.operator.wave import member_spec_fields

OFFICE = {"id": "5035-sentrum-legesenter", "name": "Sentrum legesenter", "municipality": "5035"}


def _scenario(office: dict[str, Any]) -> Any:
    data = yaml.safe_load((SCENARIO_DIR / "default.yaml").read_text(encoding="utf-8"))
    data["wave"]["gpOffices"] = [office]
    data["expect"] = {}
    return parse_scenario(data, source="gp-office-test")


def test_a_gp_office_not_ready_holds_its_municipality_before_cutover() -> None:
    run = run_wave(_scenario(OFFICE))
    state = run.states["5035"]
    phases = [e.to_phase for e in state.history if e.kind == "Transition"]
    assert Phase.CUTOVER not in phases
    assert state.phase == Phase.ON_HOLD
    gate = next(g for g in state.gates if g.name == GateName.DEPENDENCIES)
    assert gate.outcome in (GateOutcome.FAILED, GateOutcome.TIMED_OUT)
    assert "5035-sentrum-legesenter" in gate.reason


def test_a_ready_gp_office_lets_its_municipality_go_live() -> None:
    ready = {**OFFICE, "readyAt": "2027-08-20T10:00:00Z"}  # two weeks before go-live on 6 September
    run = run_wave(_scenario(ready))
    state = run.states["5035"]
    assert state.phase == Phase.STABLE
    gate = next(g for g in state.gates if g.name == GateName.DEPENDENCIES)
    assert gate.outcome == GateOutcome.PASSED


def test_the_gp_office_is_a_dependency_of_its_municipality_only() -> None:
    wave = WaveSpec.model_validate(
        {
            "name": "wave-2027-q3",
            "goLiveDate": "2027-09-06",
            "productionWindow": {"label": "2027-Q3", "start": "2027-08-16", "end": "2027-10-29"},
            "members": [{"kommunenummer": "5035"}, {"kommunenummer": "5031"}],
            "gpOffices": [OFFICE],
        }
    )
    assert wave.golive_spec("5035").depends_on == ("5035-sentrum-legesenter",)
    assert wave.golive_spec("5031").depends_on == ()
    # What the operator writes into the municipality's GoLive (persisted, so a restart sees it too).
    assert member_spec_fields(wave, "5035")["dependsOn"] == ["5035-sentrum-legesenter"]
    assert member_spec_fields(wave, "5031")["dependsOn"] == []
    assert wave.gp_office_statuses("5035")["5035-sentrum-legesenter"].phase == Phase.PLANNED
    ready = wave.model_copy(
        update={
            "gp_offices": (wave.gp_offices[0].model_copy(update={"ready_at": dt.datetime(2027, 8, 20, tzinfo=dt.UTC)}),)
        }
    )
    assert ready.gp_office_statuses("5035")["5035-sentrum-legesenter"].serving_since == dt.datetime(
        2027, 8, 20, tzinfo=dt.UTC
    )


def test_a_gp_office_of_a_municipality_outside_the_wave_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="not a member"):
        WaveSpec.model_validate(
            {
                "goLiveDate": "2027-09-06",
                "productionWindow": {"label": "2027-Q3", "start": "2027-08-16", "end": "2027-10-29"},
                "members": [{"kommunenummer": "5031"}],
                "gpOffices": [OFFICE],
            }
        )
