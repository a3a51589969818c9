"""Results are recorded once: a finished migration is never run again (issue 12).

Jobs delete themselves after ``ttlSecondsAfterFinished``; operators restart; people delete and
re-apply objects. None of that may start a second ``epj migrate run`` for a migration whose
result is recorded, or turn a recorded ``Succeeded`` back into ``Pending``. A Job that vanishes
while it runs is reported, and only a person's resume starts a new, counted attempt.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from epj.golive.schedule import Schedule
from epj.operator.kube import JOBS, MIGRATION_JOBS
from epj.operator.testing import LocalCluster, eventually

from .faults import drive_to, finish_migration, migration_recorded, phase_is, status_of

TENANT_NS = "kommune-5035"


async def migration_batch_jobs(cluster: LocalCluster) -> list[str]:
    return sorted(
        j["metadata"]["name"] for j in await cluster.jobs(TENANT_NS) if j["metadata"]["name"].startswith("migrate-")
    )


async def garbage_collect_jobs(cluster: LocalCluster) -> None:
    """What the TTL controller does to finished Jobs (and the garbage collector to their pods)."""
    for name in await migration_batch_jobs(cluster):
        await cluster.client.delete(JOBS, TENANT_NS, name)
    assert await migration_batch_jobs(cluster) == []


def results_of(migration_jobs: list[dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    return {
        m["metadata"]["name"]: (m["status"].get("state"), m["status"].get("reconciliation")) for m in migration_jobs
    }


async def after_a_finished_migration(cluster: LocalCluster, schedule: Schedule, phase: str) -> None:
    await drive_to(cluster, schedule, "5035", phase)
    if phase == "Rehearsal":
        await finish_migration(cluster, "5035", "rehearsal")
        await migration_recorded(cluster, "5035", "Succeeded")
    if phase == "Cutover":
        await finish_migration(cluster, "5035", "cutover")
        await migration_recorded(cluster, "5035", "Succeeded")


@pytest.mark.parametrize("phase", ["Rehearsal", "Freeze", "Cutover", "Live", "Hypercare"])
async def test_jobs_garbage_collected_then_restart_runs_nothing_again(
    cluster: LocalCluster, schedule: Schedule, phase: str
) -> None:
    await cluster.start_operator()
    await after_a_finished_migration(cluster, schedule, phase)
    before_jobs = results_of(await cluster.migration_jobs())
    before = await status_of(cluster, "5035")
    expected_results = {"golive-5035-rehearsal-1": "Succeeded"}
    if phase != "Rehearsal" and phase != "Freeze":
        expected_results["golive-5035-cutover-1"] = "Succeeded"
    assert before["results"] == expected_results

    await cluster.stop_operator()
    await garbage_collect_jobs(cluster)
    ctx = await cluster.start_operator()
    names = set(before_jobs)
    # Every MigrationJob was looked at by the new process, and the GoLive reconciled.
    await eventually(lambda: _seen(ctx, names), what="every MigrationJob synced after the restart")
    await eventually(lambda: _seen_tenant(ctx), what="the GoLive reconciled after the restart")

    assert await migration_batch_jobs(cluster) == []
    assert results_of(await cluster.migration_jobs()) == before_jobs
    after = await status_of(cluster, "5035")
    assert after["phase"] == phase
    assert after["migration"] == before["migration"]
    assert after["results"] == expected_results
    assert after["attempts"] == before["attempts"]


async def test_a_deleted_migration_job_is_not_run_again_not_even_when_re_applied(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await after_a_finished_migration(cluster, schedule, "Freeze")
    mj = await cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    assert mj is not None
    await garbage_collect_jobs(cluster)
    await cluster.client.delete(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: b is None,
        what="MigrationJob deleted",
    )
    # A fresh process reconciles the GoLive whose current MigrationJob is gone: it re-creates nothing.
    await cluster.stop_operator()
    ctx = await cluster.start_operator()
    await eventually(lambda: _seen_tenant(ctx), what="the GoLive reconciled after the restart")
    assert await cluster.migration_jobs() == []
    assert await migration_batch_jobs(cluster) == []

    # Someone re-applies the saved manifest: the recorded result is restored, nothing runs.
    again = {"metadata": {"name": mj["metadata"]["name"], "labels": mj["metadata"]["labels"],
                          "ownerReferences": mj["metadata"]["ownerReferences"]},
             "spec": copy.deepcopy(mj["spec"])}  # fmt: skip
    await cluster.client.create(MIGRATION_JOBS, cluster.namespace, again)
    restored = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: (b or {}).get("status", {}).get("state") == "Succeeded",
        what="recorded result restored on the re-applied MigrationJob",
    )
    assert restored is not None and "not run again" in restored["status"]["message"]
    assert await migration_batch_jobs(cluster) == []
    status = await status_of(cluster, "5035")
    assert status["phase"] == "Freeze" and status["results"] == {"golive-5035-rehearsal-1": "Succeeded"}


async def test_a_job_vanishing_while_running_is_reported_and_a_resume_is_a_new_attempt(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    started = cluster.clock.now().isoformat().replace("+00:00", "Z")
    await cluster.client.patch_status(JOBS, TENANT_NS, "migrate-rehearsal-5035-1", {"active": 1, "startTime": started})
    await migration_recorded(cluster, "5035", "Running")

    await cluster.client.delete(JOBS, TENANT_NS, "migrate-rehearsal-5035-1")
    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: (b or {}).get("status", {}).get("state") == "Failed",
        what="vanished Job reported on the MigrationJob",
    )
    assert mj is not None and "vanished" in mj["status"]["message"]
    assert any(c["reason"] == "JobVanished" for c in mj["status"]["conditions"])
    events = await eventually(
        lambda: cluster.events("golive-5035-rehearsal-1"),
        lambda items: any(e["reason"] == "JobVanished" and e["type"] == "Warning" for e in items),
        what="JobVanished warning event",
    )
    assert events
    held = await phase_is(cluster, "5035", "OnHold")
    gate = next(g for g in held["gates"] if g["name"] == "rehearsal-reconciled")
    assert gate["outcome"] == "Failed" and "vanished" in gate["reason"]
    assert held["results"] == {"golive-5035-rehearsal-1": "Failed"}
    assert await migration_batch_jobs(cluster) == []  # reported, not re-created

    cluster.advance(dt.timedelta(minutes=30))  # a person looks, then resumes
    await cluster.resume("5035", "project-lead", "Job deleted by mistake; run it again")
    await phase_is(cluster, "5035", "Rehearsal")
    await eventually(lambda: cluster.job_state(TENANT_NS, "migrate-rehearsal-5035-2"), what="attempt 2 Job")
    status = await status_of(cluster, "5035")
    assert status["attempts"] == {"rehearsal": 2}
    assert status["migration"]["jobName"] == "golive-5035-rehearsal-2"
    assert await migration_batch_jobs(cluster) == ["migrate-rehearsal-5035-2"]


async def _seen(ctx: Any, names: set[str]) -> bool:
    return names <= {name for (_, name) in ctx.migration_status}


async def _seen_tenant(ctx: Any) -> bool:
    return bool(ctx.tenants)


async def test_the_cutover_record_never_inherits_the_rehearsals_result_across_a_restart(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """brk1: the status is a merge patch; a new migration record must not keep the old one's reconciliation.

    After a restart the operator reads the stored status: a cutover Job that succeeded without a readable
    result must fail its gate at once (roll back), not pass on the rehearsal's reconciliation.
    """
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Cutover")
    stored = (await status_of(cluster, "5035"))["migration"]
    assert stored["jobName"] == "golive-5035-cutover-1"
    assert "reconciliation" not in stored  # the rehearsal's result belongs to the rehearsal record only

    await cluster.stop_operator()
    await cluster.start_operator()
    await cluster.finish_job(TENANT_NS, "migrate-cutover-5035-1", succeeded=True)  # no termination message
    held = await phase_is(cluster, "5035", "RolledBack")
    gate = next(g for g in held["gates"] if g["name"] == "cutover-reconciled")
    assert gate["outcome"] == "Failed" and "no readable reconciliation" in gate["reason"]
    assert await cluster.job_state(TENANT_NS, "smoke-5035-cutover-1") is None
