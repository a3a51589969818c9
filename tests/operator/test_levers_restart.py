"""Levers survive restarts: a wave's pause and abort are read from the API server at every decision.

The RolloutWave handler of a restarted operator may run after the GoLive daemons (or, here,
never: the ``wave.changed`` fault point blocks it), so anything it caches cannot be what a
GoLive decides on. Each test stops the operator in a phase, sets the wave's levers and offers
everything that would move the tenant on, then restarts and checks that nothing advanced.
"""

from __future__ import annotations

import pytest

from epj.golive.schedule import Schedule
from epj.operator.testing import Blocked, LocalCluster, eventually

from .faults import PHASES, drive_to, events_of, offer_next, phase_is, set_wave_levers, status_of

PRE_LIVE = ("Planned", "Preparing", "Training", "Rehearsal", "Freeze")


@pytest.mark.parametrize("phase", PHASES)
async def test_restart_with_wave_paused_and_aborted_advances_nothing(
    cluster: LocalCluster, schedule: Schedule, phase: str
) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", phase)
    await cluster.stop_operator()
    await set_wave_levers(cluster, paused=True, aborted=True)
    await offer_next(cluster, schedule, "5035", phase)
    await cluster.start_operator(fault=Blocked("wave.changed"))

    if phase in PRE_LIVE:
        status = await phase_is(cluster, "5035", "Aborted")
        assert "aborted" in status["phaseReason"]
    elif phase == "Cutover":
        # A lever during the cutover night is a NO-GO: rolled back (never Live), then the abort ends it.
        status = await phase_is(cluster, "5035", "Aborted")
        trail = [e["toPhase"] for e in status["history"] if e["kind"] == "Transition"]
        assert trail[-3:] == ["Cutover", "RolledBack", "Aborted"]
        await eventually(lambda: cluster.job_state("kommune-5035", "rollback-5035-cutover-1"), what="rollback Job")
    else:
        # Serving: the abort is refused (use the rollback runbook), the pause holds it where it is.
        body = await eventually(
            lambda: cluster.golive("5035"), lambda b: (b or {}).get("status", {}).get("paused") is True, what="paused"
        )
        assert body is not None and body["status"]["phase"] == phase
        reasons = [e["reason"] for e in await eventually(lambda: events_of(cluster, "5035"), what="events")]
        await eventually(
            lambda: events_of(cluster, "5035"),
            lambda events: any(e["reason"] == "AbortIgnoredAfterGoLive" for e in events),
            what=f"abort refused in {phase}; events so far {reasons}",
        )
        status = body["status"]
    trail = [e["toPhase"] for e in status["history"] if e["kind"] == "Transition"]
    following = (*PHASES, "Stable")[PHASES.index(phase) + 1]
    assert following not in trail


async def test_a_paused_tenant_keeps_its_window_across_restarts(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Freeze")
    await set_wave_levers(cluster, paused=True)
    paused = await eventually(
        lambda: status_of(cluster, "5035"), lambda s: s.get("paused") is True, what="paused in Freeze"
    )
    window = paused["windowStart"]
    for _ in range(2):
        await cluster.stop_operator()
        await offer_next(cluster, schedule, "5035", "Freeze")
        await cluster.start_operator(fault=Blocked("wave.changed"))
        ctx = cluster.ctx
        assert ctx is not None
        # A decision was taken by this process (it counted the tenant) and it changed nothing.
        await eventually(lambda ctx=ctx: _counted(ctx), what="a reconcile by the restarted operator")
        status = await status_of(cluster, "5035")
        assert status["phase"] == "Freeze" and status["paused"] is True
        assert status["windowStart"] == window
        assert not any(e["reason"] == "Resumed" for e in await events_of(cluster, "5035"))


async def _counted(ctx: object) -> bool:
    tenants = getattr(ctx, "tenants", {})
    return bool(tenants)


@pytest.mark.parametrize("phase", [p for p in PHASES if p != "Cutover"])
async def test_restart_with_only_the_wave_paused_keeps_phase_and_window(
    cluster: LocalCluster, schedule: Schedule, phase: str
) -> None:
    """brk1: pause the wave, restart twice with everything that would move the tenant on offered: nothing moves,
    ``windowStart`` stays what it was when the pause took effect, no spurious Resumed event."""
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", phase)
    await set_wave_levers(cluster, paused=True)
    paused = await eventually(
        lambda: status_of(cluster, "5035"), lambda s: s.get("paused") is True, what=f"paused in {phase}"
    )
    window = paused["windowStart"]
    await cluster.stop_operator()
    await offer_next(cluster, schedule, "5035", phase)
    for _ in range(2):
        await cluster.start_operator(fault=Blocked("wave.changed"))
        ctx = cluster.ctx
        await eventually(lambda ctx=ctx: _counted(ctx), what="a reconcile by the restarted operator")
        cluster.wake_all()
        await eventually(lambda ctx=ctx: _counted(ctx), what="and another")
        await cluster.stop_operator()
    status = await status_of(cluster, "5035")
    assert status["phase"] == phase and status["paused"] is True
    assert status["windowStart"] == window
    assert not any(e["reason"] == "Resumed" for e in await events_of(cluster, "5035"))
