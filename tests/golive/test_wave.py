"""Wave level: validation, deterministic order, failure isolation, a whole wave on the simulated clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from epj.golive import Member, Phase, WaveRun, WaveSpec, blocked_by, processing_order

Play = Callable[..., WaveRun]
WINDOW = {"label": "2027-Q3", "start": "2027-08-16", "end": "2027-10-29"}


def _wave(**changes: Any) -> dict[str, Any]:
    return {"goLiveDate": "2027-09-06", "productionWindow": WINDOW, "members": [{"kommunenummer": "5035"}], **changes}


def test_wave_spec_reads_the_crd_shape_with_defaults() -> None:
    wave = WaveSpec.model_validate(_wave(members=[{"kommunenummer": "5036", "dependsOn": ["5035"]}]))
    assert wave.hypercare_days == 21 and wave.gates.training_threshold == 0.9 and not wave.paused
    spec = wave.golive_spec("5036", paused=False)
    assert spec.depends_on == ("5035",) and spec.wave == "wave"


def test_go_live_date_must_lie_inside_the_production_window() -> None:
    with pytest.raises(ValidationError, match="outside production window 2027-Q3"):
        WaveSpec.model_validate(_wave(goLiveDate="2027-11-15"))


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([{"kommunenummer": "5035"}, {"kommunenummer": "5035"}], "twice"),
        ([{"kommunenummer": "5035", "dependsOn": ["5035"]}], "depends on itself"),
        (
            [{"kommunenummer": "5035", "dependsOn": ["5036"]}, {"kommunenummer": "5036", "dependsOn": ["5035"]}],
            "dependency cycle",
        ),
        ([{"kommunenummer": "50350"}], "pattern"),
    ],
)
def test_invalid_members_are_refused(members: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WaveSpec.model_validate(_wave(members=members))


def test_order_is_declared_order_then_kommunenummer_with_dependencies_first() -> None:
    members = [
        Member(kommunenummer="5059", order=2),
        Member(kommunenummer="5031", order=1),
        Member(kommunenummer="5006", order=1),
        Member(kommunenummer="5036", depends_on=("5059",), order=0),
        Member(kommunenummer="5014"),  # no explicit order: its list position (4)
    ]
    assert processing_order(members) == ["5006", "5031", "5059", "5036", "5014"]
    ranked = [m.model_copy(update={"order": 4}) if m.order is None else m for m in members]
    assert processing_order(list(reversed(ranked))) == processing_order(ranked)  # explicit ranks: list order moot


def test_blocked_by_is_transitive_and_only_hits_dependents() -> None:
    members = [
        Member(kommunenummer="5035"),
        Member(kommunenummer="5036", depends_on=("5035",)),
        Member(kommunenummer="5034", depends_on=("5036",)),
        Member(kommunenummer="5031"),
    ]
    phases = {"5035": Phase.ROLLED_BACK, "5036": Phase.FREEZE, "5034": Phase.FREEZE, "5031": Phase.LIVE}
    assert blocked_by(members, phases) == {"5034": ["5035"], "5036": ["5035"]}
    assert blocked_by(members, {**phases, "5035": Phase.LIVE}) == {}


def test_failed_tenant_blocks_only_its_dependents(wave_run: Play) -> None:
    members = [
        {"kommunenummer": "5035"},
        {"kommunenummer": "5036", "dependsOn": ["5035"]},
        {"kommunenummer": "5034", "dependsOn": ["5036"]},
        {"kommunenummer": "5031"},
    ]
    run = wave_run(members=members, tenants={"5035": {"faults": {"cutover": "truncated-extract"}}})
    phases = {k: s.phase for k, s in run.states.items()}
    assert phases == {"5035": Phase.ROLLED_BACK, "5036": Phase.ON_HOLD, "5034": Phase.ON_HOLD, "5031": Phase.STABLE}
    assert "5035 is RolledBack" in run.states["5036"].phase_reason
    assert "5036 is OnHold" in run.states["5034"].phase_reason
    # The dependents never started a cutover migration.
    assert run.states["5036"].migration is not None and run.states["5036"].migration.purpose == "rehearsal"


def test_dependent_cuts_over_after_its_dependency_the_same_night(wave_run: Play) -> None:
    members = [{"kommunenummer": "5036", "dependsOn": ["5035"]}, {"kommunenummer": "5035"}]
    run = wave_run(members=members)
    assert run.order == ["5035", "5036"]
    live = {k: next(e.at for e in s.history if e.to_phase == Phase.LIVE) for k, s in run.states.items()}
    assert live["5035"] < live["5036"]


def test_a_whole_wave_plays_out_on_the_simulated_clock(wave_run: Play) -> None:
    numbers = ["5006", "5014", "5031", "5034", "5035", "5036", "5041", "5045", "5059", "5060"]
    members = [{"kommunenummer": n} for n in numbers] + [{"kommunenummer": "5046", "dependsOn": ["5045"]}]
    run = wave_run(members=members, start="-19mo")
    assert {s.phase for s in run.states.values()} == {Phase.STABLE}
    assert run.order == [*numbers, "5046"]
    for state in run.states.values():
        spans = state.phase_spans()
        assert [p for p, _, _ in spans] == list(Phase)[:9]
        assert spans[0][1].year == 2026 and spans[-1][2] is None
