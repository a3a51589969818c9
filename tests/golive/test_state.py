"""State serialisation: dict round trip, fit with the CRD status schema, idempotent decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from epj.golive import (
    ConditionType,
    CreateMigrationJob,
    GoLiveSpec,
    GoLiveState,
    JobState,
    MigrationObservation,
    Observations,
    Phase,
    Schedule,
    WaveRun,
    decide,
    set_condition,
)
from epj.operator.crds import status_schema

Play = Callable[..., WaveRun]
SCHEDULE = Schedule.for_date(dt.date(2027, 9, 6))


def _unknown_keys(value: Any, schema: dict[str, Any], path: str = "status") -> list[str]:
    """Keys Kubernetes would prune (not declared in the structural schema)."""
    found: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            if props is not None and key in props:
                found += _unknown_keys(child, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += _unknown_keys(child, extra, f"{path}.{key}")
            else:
                found.append(f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _unknown_keys(item, schema.get("items", {}), f"{path}[{i}]")
    return found


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


@pytest.fixture(scope="module")
def busy_states() -> list[GoLiveState]:
    """States from a wave with holds, rollbacks, resumes and a clean go-live."""
    from epj.golive import load_scenario, run_wave

    run = run_wave(load_scenario("shared-wave"), keep_decisions=True)
    return [decision.state for _, _, decision in run.decisions]


def test_round_trip_of_every_state(busy_states: list[GoLiveState]) -> None:
    assert len({s.phase for s in busy_states}) >= 9
    for state in busy_states:
        assert GoLiveState.from_status(state.to_status()) == state


def test_status_fits_the_crd_schema_and_nothing_is_pruned(busy_states: list[GoLiveState]) -> None:
    schema = status_schema("GoLive")
    validator = jsonschema.Draft4Validator(_strip(schema), format_checker=jsonschema.FormatChecker())
    for state in busy_states:
        status = state.to_status()
        assert _unknown_keys(status, schema) == []
        errors = [e.message for e in validator.iter_errors(status)]
        assert errors == []


def test_from_status_ignores_foreign_keys() -> None:
    state = GoLiveState.initial(SCHEDULE.rehearsal_at)
    status = {**state.to_status(), "kopf": {"progress": {}}}
    assert GoLiveState.from_status(status) == state


def test_same_inputs_same_decision_and_no_second_job() -> None:
    spec = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
    now = SCHEDULE.rehearsal_at
    state = GoLiveState.initial(now).model_copy(update={"phase": Phase.TRAINING})
    first = decide(spec, state, Observations(), now)
    assert first.phase == Phase.REHEARSAL
    assert [a.job_name for a in first.actions if isinstance(a, CreateMigrationJob)] == ["golive-5035-rehearsal-1"]
    assert decide(spec, state, Observations(), now) == first  # pure: a restarted operator decides the same
    running = MigrationObservation(job_name="golive-5035-rehearsal-1", state=JobState.RUNNING)
    again = decide(spec, first.state, Observations(migration=running), now + dt.timedelta(minutes=5))
    assert not [a for a in again.actions if isinstance(a, CreateMigrationJob)]
    assert again.state.migration is not None and again.state.migration.state == JobState.RUNNING
    progressing = again.state.condition(ConditionType.PROGRESSING)
    assert progressing is not None and progressing.reason == "MigrationRunning"


def test_wake_up_is_the_next_due_time() -> None:
    spec = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
    now = SCHEDULE.pre_project_at - dt.timedelta(days=10)
    decision = decide(spec, None, Observations(), now)
    assert decision.phase == Phase.PLANNED and decision.wake_at == SCHEDULE.pre_project_at
    assert decision.next_action.startswith("Preparing at 2026-03-05T23:00:00")


def test_condition_transition_time_kept_while_status_unchanged() -> None:
    spec = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
    t0 = SCHEDULE.pre_project_at - dt.timedelta(days=10)
    first = decide(spec, None, Observations(), t0)
    later = decide(spec, first.state, Observations(), t0 + dt.timedelta(days=1))
    ready = later.state.condition(ConditionType.READY)
    assert ready is not None and ready.last_transition_time == t0


def test_adapter_condition_is_kept_by_the_core() -> None:
    spec = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
    t0 = SCHEDULE.pre_project_at - dt.timedelta(days=10)
    first = decide(spec, None, Observations(), t0)
    stalled = set_condition(first.state.conditions, ConditionType.STALLED, True, "ApiErrors", "5 failures", t0)
    state = first.state.model_copy(update={"conditions": stalled})
    after = decide(spec, state, Observations(), t0 + dt.timedelta(hours=1))
    kept = after.state.condition(ConditionType.STALLED)
    assert kept is not None and kept.status == "True" and kept.reason == "ApiErrors"


def test_a_recorded_result_is_never_overwritten_by_a_later_observation() -> None:
    spec = GoLiveSpec(kommunenummer="5035", wave="w", go_live_date=dt.date(2027, 9, 6))
    now = SCHEDULE.rehearsal_at + dt.timedelta(minutes=1)
    state = decide(spec, None, Observations(), now).state
    while state.phase != Phase.REHEARSAL:
        state = decide(spec, state, Observations(), now).state
    assert state.migration is not None and state.migration.job_name == "golive-5035-rehearsal-1"
    done = MigrationObservation(job_name="golive-5035-rehearsal-1", state=JobState.SUCCEEDED)
    state = decide(spec, state, Observations(migration=done), now).state
    assert state.results == {"golive-5035-rehearsal-1": JobState.SUCCEEDED}
    # The Job was garbage-collected and something re-created it: it reports Pending, then Failed.
    for later in (JobState.PENDING, JobState.FAILED):
        seen = MigrationObservation(job_name="golive-5035-rehearsal-1", state=later)
        state = decide(spec, state, Observations(migration=seen), now + dt.timedelta(hours=1)).state
        assert state.migration is not None and state.migration.state == JobState.SUCCEEDED
        assert state.results == {"golive-5035-rehearsal-1": JobState.SUCCEEDED}
    assert GoLiveState.from_status(state.to_status()).results == state.results
