"""The shared scenario format: built-in scenarios meet their expectations; bad files name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from epj.golive import builtin_scenarios, load_scenario, run_wave


@pytest.mark.parametrize("name", builtin_scenarios())
def test_builtin_scenario_meets_its_expectations(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.expect, f"{name} states no expectation"
    run = run_wave(scenario)
    for tenant, expectation in scenario.expect.items():
        state = run.states[tenant]
        assert expectation.mismatches(state.phase_trail(), state.gate_trail(), state.phase, state.phase_reason) == []


def test_builtins_include_the_shared_scenario_and_faults() -> None:
    assert {"default", "shared-wave", "truncated-extract", "rejected-approval", "failing-gate"} <= set(
        builtin_scenarios()
    )


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(FileNotFoundError, match="default"):
        load_scenario("no-such-scenario")


def test_invalid_scenario_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nwave: {goLiveDate: '2027-09-06', productionWindow: {label: 2027-Q3, start: '2027-08-16',"
        " end: '2027-10-29'}, members: [{kommunenummer: '5035'}]}\n"
        "defaults: {approvals: [{gate: go-no-go, by: Ola Nordmann, at: -2d, decision: approve, reason: ok!}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"bad\.yaml: invalid scenario: defaults\.approvals\.0\.by"):
        load_scenario(path)


def test_unreadable_time_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad-time.yaml"
    path.write_text(
        "name: t\nwave: {goLiveDate: '2027-09-06', productionWindow: {label: 2027-Q3, start: '2027-08-16',"
        " end: '2027-10-29'}, members: [{kommunenummer: '5035'}]}\n"
        "defaults: {training: [{at: 'two days before', share: 0.5}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="cannot read time offset"):
        load_scenario(path)
