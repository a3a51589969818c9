"""Shared steps of the operator fault tests: take one tenant to a phase the way the world does it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from epj.golive.schedule import Schedule
from epj.operator.kube import ROLLOUT_WAVES
from epj.operator.testing import LocalCluster, eventually, reconciliation_report

from .conftest import WAVE_NAME, wave_spec

MINUTE = dt.timedelta(minutes=1)
#: The main line up to the last phase a test may stop in, in order.
PHASES = ("Planned", "Preparing", "Training", "Rehearsal", "Freeze", "Cutover", "Live", "Hypercare")


async def status_of(cluster: LocalCluster, k: str) -> dict[str, Any]:
    body = await cluster.golive(k)
    assert body is not None
    status: dict[str, Any] = body.get("status") or {}
    return status


async def phase_is(cluster: LocalCluster, k: str, phase: str, timeout: float = 10.0) -> dict[str, Any]:
    body = await eventually(
        lambda: cluster.golive(k),
        lambda b: (b or {}).get("status", {}).get("phase") == phase,
        what=f"GoLive {k} in {phase}",
        timeout=timeout,
    )
    assert body is not None
    status: dict[str, Any] = body["status"]
    return status


async def migration_recorded(cluster: LocalCluster, k: str, state: str) -> None:
    await eventually(
        lambda: cluster.golive(k),
        lambda b: (b or {}).get("status", {}).get("migration", {}).get("state") == state,
        what=f"{k} migration {state}",
    )


async def job_exists(cluster: LocalCluster, k: str, name: str) -> None:
    await eventually(lambda: cluster.job_state(f"kommune-{k}", name), what=f"Job {name}")


async def finish_migration(cluster: LocalCluster, k: str, purpose: str, attempt: int = 1) -> None:
    name = f"migrate-{purpose}-{k}-{attempt}"
    await job_exists(cluster, k, name)
    await cluster.finish_job(f"kommune-{k}", name, succeeded=True, reconciliation=reconciliation_report(k))


async def finish_smoke(cluster: LocalCluster, k: str, attempt: int = 1) -> None:
    name = f"smoke-{k}-cutover-{attempt}"
    await job_exists(cluster, k, name)
    await cluster.finish_job(f"kommune-{k}", name, succeeded=True)


async def drive_to(cluster: LocalCluster, schedule: Schedule, k: str, target: str) -> None:
    """Apply a one-member wave and walk the tenant along the main line until it is in ``target``."""
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": k}]))
    await phase_is(cluster, k, "Planned")
    for phase in PHASES[1 : PHASES.index(target) + 1]:
        await enter(cluster, schedule, k, phase)


async def enter(cluster: LocalCluster, schedule: Schedule, k: str, phase: str) -> None:
    """Provide what the tenant needs to move into ``phase`` from the one before, and wait for it."""
    if phase == "Preparing":
        cluster.advance_to(schedule.pre_project_at + MINUTE)
    elif phase == "Training":
        cluster.advance_to(schedule.main_project_at + MINUTE)
    elif phase == "Rehearsal":
        await cluster.set_training({k: 0.95})
        cluster.advance_to(schedule.rehearsal_at + MINUTE)
    elif phase == "Freeze":
        await finish_migration(cluster, k, "rehearsal")
        await migration_recorded(cluster, k, "Succeeded")
        cluster.advance_to(schedule.freeze_at + MINUTE)
    elif phase == "Cutover":
        await cluster.approve(k, "go-no-go", "project-lead", "Go for the cutover night")
        cluster.advance_to(schedule.cutover_at + MINUTE)
    elif phase == "Live":
        await finish_migration(cluster, k, "cutover")
        await finish_smoke(cluster, k)
    elif phase == "Hypercare":
        cluster.advance_to(schedule.go_live_at + MINUTE)
    await phase_is(cluster, k, phase)
    if phase in ("Rehearsal", "Cutover"):
        await job_exists(cluster, k, f"migrate-{phase.lower()}-{k}-1")


async def offer_next(cluster: LocalCluster, schedule: Schedule, k: str, phase: str) -> None:
    """Everything that would move a tenant in ``phase`` on to the next phase (evidence, approvals, time)."""
    if phase == "Planned":
        cluster.advance_to(schedule.pre_project_at + MINUTE)
    elif phase == "Preparing":
        cluster.advance_to(schedule.main_project_at + MINUTE)
    elif phase == "Training":
        await cluster.set_training({k: 0.95})
        cluster.advance_to(schedule.rehearsal_at + MINUTE)
    elif phase == "Rehearsal":
        await finish_migration(cluster, k, "rehearsal")
        cluster.advance_to(schedule.freeze_at + MINUTE)
    elif phase == "Freeze":
        await cluster.approve(k, "go-no-go", "project-lead", "Go for the cutover night")
        cluster.advance_to(schedule.cutover_at + MINUTE)
    elif phase == "Cutover":
        await finish_migration(cluster, k, "cutover")
    elif phase == "Live":
        cluster.advance_to(schedule.go_live_at + MINUTE)
    elif phase == "Hypercare":
        await cluster.approve(k, "hypercare-exit", "command-centre-lead", "Three calm weeks")
        cluster.advance_to(schedule.go_live_at + dt.timedelta(days=22))


async def set_wave_levers(cluster: LocalCluster, **levers: bool) -> None:
    await cluster.client.patch(ROLLOUT_WAVES, cluster.namespace, WAVE_NAME, {"spec": levers})


async def events_of(cluster: LocalCluster, k: str) -> list[dict[str, Any]]:
    return await cluster.events(f"golive-{k}")
