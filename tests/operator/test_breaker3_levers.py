"""brk3: the wave's levers across restarts, in the combinations the other lever tests leave out.

Set while the operator is stopped (so no running process ever saw them change), offered everything that
would move the tenant on, then two restarts whose RolloutWave handler never runs (``wave.changed`` blocked):

* only ``aborted`` in each phase: Aborted before Live (the night rolled back first), ignored once when serving;
* only ``paused`` during the cutover night: a NO-GO, rolled back once (one rollback Job, never Live), and it
  stays there across the second restart;
* ``paused`` set and later cleared while stopped: nothing moves and ``windowStart`` stays; the unpause is said
  once and restarts the window once.
"""

from __future__ import annotations

import functools

import pytest

from epj.golive.schedule import Schedule
from epj.operator.testing import Blocked, LocalCluster, eventually

from .conftest import WAVE_NAME
from .faults import PHASES, drive_to, events_of, offer_next, phase_is, set_wave_levers, status_of

PRE_LIVE = ("Planned", "Preparing", "Training", "Rehearsal", "Freeze")


async def _restart_twice(cluster: LocalCluster) -> None:
    """Two operator lifetimes, each having reconciled the tenant at least twice."""
    for _ in range(2):
        ctx = await cluster.start_operator(fault=Blocked("wave.changed"))
        await eventually(functools.partial(_counted, ctx), what="a reconcile by the restarted operator")
        cluster.wake_all()
        await eventually(functools.partial(_counted, ctx), what="and another")
        await cluster.stop_operator()


async def _counted(ctx: object) -> bool:
    return bool(getattr(ctx, "tenants", {}))


def _trail(status: dict[str, object]) -> list[str]:
    history = status.get("history") or []
    assert isinstance(history, list)
    return [e["toPhase"] for e in history if e["kind"] == "Transition"]


@pytest.mark.parametrize("phase", PHASES)
async def test_restart_with_only_the_wave_aborted(cluster: LocalCluster, schedule: Schedule, phase: str) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", phase)
    await cluster.stop_operator()
    await set_wave_levers(cluster, aborted=True)
    await offer_next(cluster, schedule, "5035", phase)
    await cluster.start_operator(fault=Blocked("wave.changed"))
    if phase in PRE_LIVE:
        status = await phase_is(cluster, "5035", "Aborted")
        following = PHASES[PHASES.index(phase) + 1]
        assert _trail(status)[-1] == "Aborted" and following not in _trail(status)
    elif phase == "Cutover":
        status = await phase_is(cluster, "5035", "Aborted")
        assert _trail(status)[-3:] == ["Cutover", "RolledBack", "Aborted"]
    else:
        await eventually(
            lambda: events_of(cluster, "5035"),
            lambda events: any(e["reason"] == "AbortIgnoredAfterGoLive" for e in events),
            what=f"abort refused in {phase}",
        )
    await cluster.stop_operator()
    before = await status_of(cluster, "5035")
    await _restart_twice(cluster)
    status = await status_of(cluster, "5035")
    trail = _trail(status)
    if phase in PRE_LIVE or phase == "Cutover":
        assert status["phase"] == "Aborted" and trail == _trail(before)
        assert "Live" not in trail
    else:
        # Serving: an abort does not take a live tenant off (the rollback runbook does); said once, not per restart.
        assert "Aborted" not in trail and "RolledBack" not in trail
        ignored = [e for e in await events_of(cluster, "5035") if e["reason"] == "AbortIgnoredAfterGoLive"]
        assert sum(int(e.get("count") or 1) for e in ignored) == 1, ignored


async def test_only_the_wave_paused_during_the_night_rolls_back_once(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Cutover")
    await cluster.stop_operator()
    await set_wave_levers(cluster, paused=True)
    await offer_next(cluster, schedule, "5035", "Cutover")  # the migration succeeds: Live would follow
    await cluster.start_operator(fault=Blocked("wave.changed"))
    status = await phase_is(cluster, "5035", "RolledBack")
    assert "spec.paused" in status["phaseReason"]
    await eventually(lambda: cluster.job_state("kommune-5035", "rollback-5035-cutover-1"), what="rollback Job")
    await cluster.stop_operator()
    window = status["windowStart"]
    await _restart_twice(cluster)
    status = await status_of(cluster, "5035")
    assert status["phase"] == "RolledBack" and status["windowStart"] == window
    # A resume does nothing while the wave is paused: what to do says to unpause first, not to resume.
    assert status.get("paused") is True and WAVE_NAME in status["nextAction"], status["nextAction"]
    assert _trail(status)[-2:] == ["Cutover", "RolledBack"] and "Live" not in _trail(status)
    rollbacks = [
        j["metadata"]["name"] for j in await cluster.jobs("kommune-5035") if "rollback" in j["metadata"]["name"]
    ]
    assert rollbacks == ["rollback-5035-cutover-1"]


@pytest.mark.parametrize("phase", [p for p in PHASES if p != "Cutover"])
async def test_pause_set_and_cleared_while_stopped(cluster: LocalCluster, schedule: Schedule, phase: str) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", phase)
    await cluster.stop_operator()
    window = (await status_of(cluster, "5035"))["windowStart"]
    await set_wave_levers(cluster, paused=True)
    await offer_next(cluster, schedule, "5035", phase)
    await _restart_twice(cluster)
    status = await status_of(cluster, "5035")
    assert status["phase"] == phase and status.get("paused") is True
    assert status["windowStart"] == window
    # The GoLive's own spec.paused was never set: what to do names the wave that holds the lever.
    assert WAVE_NAME in status["nextAction"] and "spec.paused to false" in status["nextAction"]
    assert [e["reason"] for e in await events_of(cluster, "5035")].count("Resumed") == 0

    await set_wave_levers(cluster, paused=False)
    unpaused_at = cluster.clock.now()
    await cluster.start_operator(fault=Blocked("wave.changed"))
    status = await eventually(
        lambda: status_of(cluster, "5035"), lambda s: not s.get("paused"), what=f"unpaused in {phase}"
    )
    await cluster.stop_operator()
    status = await status_of(cluster, "5035")
    moved = _trail(status)[-1] != phase
    if not moved:
        assert status["windowStart"] != window  # the gate timeouts count again from the unpause
    first = status["windowStart"]
    assert first >= unpaused_at.isoformat().replace("+00:00", "Z")[:19]
    await _restart_twice(cluster)
    status = await status_of(cluster, "5035")
    assert status["windowStart"] == first
    resumed = [e for e in await events_of(cluster, "5035") if e["reason"] == "Resumed"]
    assert sum(int(e.get("count") or 1) for e in resumed) == 1, resumed


async def test_a_held_tenant_with_both_levers_set_while_stopped_is_aborted(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """OnHold before Live (a failed rehearsal): the abort ends it across a restart, the pause does not keep it."""
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    await cluster.finish_job("kommune-5035", "migrate-rehearsal-5035-1", succeeded=False)
    await phase_is(cluster, "5035", "OnHold")
    await cluster.stop_operator()
    await set_wave_levers(cluster, paused=True, aborted=True)
    await cluster.start_operator(fault=Blocked("wave.changed"))
    status = await phase_is(cluster, "5035", "Aborted")
    assert _trail(status)[-2:] == ["OnHold", "Aborted"] and "Freeze" not in _trail(status)
    await cluster.stop_operator()
    await _restart_twice(cluster)
    assert (await status_of(cluster, "5035"))["phase"] == "Aborted"
