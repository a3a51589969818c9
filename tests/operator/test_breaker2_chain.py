"""Breaker: a crash inside a clock jump's chain of steps (steps that only post events are saved with the last)."""

from __future__ import annotations

from epj.golive.schedule import Schedule
from epj.operator.testing import CrashAt, LocalCluster

from .faults import MINUTE, drive_to, events_of, job_exists, phase_is, status_of


async def test_a_crash_inside_a_chain_replays_it_once(cluster: LocalCluster, schedule: Schedule) -> None:
    """Expected: after the restart the tenant is in Rehearsal with each transition in its history once, one
    MigrationJob, and each transition's event posted once (the crashed chain was never saved)."""
    crash = CrashAt("golive.acted", lambda d: d["phase"] == "Training")
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Planned")
    await cluster.set_training({"5035": 0.95})
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    await crash.wait()
    assert (await status_of(cluster, "5035"))["phase"] == "Planned"  # the chain so far was not saved
    await cluster.stop_operator()
    await cluster.start_operator()
    status = await phase_is(cluster, "5035", "Rehearsal")
    await job_exists(cluster, "5035", "migrate-rehearsal-5035-1")
    moves = [(e["fromPhase"], e["toPhase"]) for e in status["history"] if e["kind"] == "Transition"]
    assert moves == [("Planned", "Preparing"), ("Preparing", "Training"), ("Training", "Rehearsal")]
    assert [m["metadata"]["name"] for m in await cluster.migration_jobs()] == ["golive-5035-rehearsal-1"]
    reasons = [(e["reason"], e["message"]) for e in await events_of(cluster, "5035")]
    assert len(reasons) == len(set(reasons)), reasons


async def test_one_slot_many_tenants_a_clock_jump_reaches_everyone(cluster: LocalCluster, schedule: Schedule) -> None:
    """One reconcile slot, three tenants, one clock jump over three phases (creating a MigrationJob each):
    lowering must not leave anyone waiting for ever. Expected: all three in Rehearsal, each with its Job and
    its transition events."""
    from .conftest import TENANTS, WAVE_NAME, wave_spec

    await cluster.start_operator(max_concurrent_reconciles=1)
    await cluster.apply_wave(WAVE_NAME, wave_spec())
    for k in TENANTS:
        await phase_is(cluster, k, "Planned")
    await cluster.set_training(dict.fromkeys(TENANTS, 0.95))
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    for k in TENANTS:
        await phase_is(cluster, k, "Rehearsal")
        await job_exists(cluster, k, f"migrate-rehearsal-{k}-1")
    for k in TENANTS:
        reasons = [e["message"].split(":")[0] for e in await events_of(cluster, k) if e["reason"] == "Scheduled"]
        assert reasons == ["Planned → Preparing", "Preparing → Training", "Training → Rehearsal"], (k, reasons)
