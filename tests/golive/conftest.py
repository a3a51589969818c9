"""Builders for go-live core tests: small scenarios written as dicts, played on a simulated clock."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from epj.golive import Scenario, WaveRun, parse_scenario, run_wave

WINDOW = {"label": "2027-Q3", "start": "2027-08-16", "end": "2027-10-29"}
GO_NO_GO = {"gate": "go-no-go", "by": "project-lead", "at": "-2d", "decision": "approve", "reason": "all green"}
EXIT = {"gate": "hypercare-exit", "by": "command-centre-lead", "at": "+20d", "decision": "approve", "reason": "calm"}
BASE: dict[str, Any] = {
    "name": "test",
    "wave": {
        "name": "w",
        "goLiveDate": "2027-09-06",
        "productionWindow": WINDOW,
        "members": [{"kommunenummer": "5035"}],
    },
    "start": "-43d",
    "defaults": {"training": [{"at": "-43d", "share": 0.95}], "approvals": [GO_NO_GO, EXIT]},
}


def build(members: list[dict[str, Any]] | None = None, **changes: Any) -> Scenario:
    """BASE with top-level keys replaced, ``defaults`` keys merged, and optional members."""
    data = copy.deepcopy(BASE)
    defaults = changes.pop("defaults", {})
    data["defaults"].update(defaults)
    wave = changes.pop("wave", {})
    data["wave"].update(wave)
    if members is not None:
        data["wave"]["members"] = members
    data.update(changes)
    return parse_scenario(data)


def play(members: list[dict[str, Any]] | None = None, **changes: Any) -> WaveRun:
    return run_wave(build(members, **changes))


@pytest.fixture()
def scenario() -> Callable[..., Scenario]:
    return build


@pytest.fixture()
def wave_run() -> Callable[..., WaveRun]:
    return play
