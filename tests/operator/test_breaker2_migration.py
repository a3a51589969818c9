"""Breaker: a MigrationJob's batch Job replaced or finished around a deletion (hidden-fault scenarios)."""

from __future__ import annotations

from epj.golive.schedule import Schedule
from epj.operator import resources
from epj.operator.kube import JOBS, MIGRATION_JOBS
from epj.operator.testing import LocalCluster, eventually, reconciliation_report

from .faults import drive_to, job_exists, status_of

TENANT_NS = "kommune-5035"
MJ = "golive-5035-rehearsal-1"
JOB = "migrate-rehearsal-5035-1"


async def test_a_finished_job_of_a_migration_job_being_deleted_is_still_recorded(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """Deleting a MigrationJob whose Job runs waits for the Job; the Job's result then reaches the GoLive.

    Expected: the Job succeeded, so the GoLive records Succeeded. A result read nowhere (the daemon stops when
    the deletion starts) would read as "vanished while running" and fail an attempt whose data was loaded.
    """
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ),
        lambda b: bool((b or {}).get("status", {}).get("jobUid")),
        what="the Job's uid saved",
    )
    await cluster.client.delete(MIGRATION_JOBS, cluster.namespace, MJ)
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ),
        lambda b: bool((b or {}).get("metadata", {}).get("deletionTimestamp")),
        what="deletion started",
    )
    await cluster.finish_job(TENANT_NS, JOB, succeeded=True, reconciliation=reconciliation_report("5035"))
    status = await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: MJ in (s.get("results") or {}),
        what="the result recorded",
    )
    assert status["results"][MJ] == "Succeeded"


async def test_a_job_replaced_under_the_same_name_is_not_adopted(cluster: LocalCluster, schedule: Schedule) -> None:
    """The saved uid proves which Job this MigrationJob ran: another Job of that name (re-created by hand while
    the operator was down) is not its run. Expected: reported vanished (Failed), the stranger's result unused."""
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    job = await eventually(lambda: cluster.client.get(JOBS, TENANT_NS, JOB), what="Job")
    assert job is not None
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ),
        lambda b: (b or {}).get("status", {}).get("jobUid") == job["metadata"]["uid"],
        what="the Job's uid saved",
    )
    await cluster.stop_operator()
    await cluster.client.delete(JOBS, TENANT_NS, JOB)
    mj = await cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ)
    assert mj is not None
    stranger = resources.migration_batch_job(mj)
    await cluster.client.create(JOBS, TENANT_NS, stranger)
    await cluster.finish_job(TENANT_NS, JOB, succeeded=True, reconciliation=reconciliation_report("5035"))

    await cluster.start_operator()
    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ),
        lambda b: (b or {}).get("status", {}).get("state") in ("Failed", "Succeeded"),
        what="a final state",
    )
    assert mj is not None
    assert mj["status"]["state"] == "Failed" and "vanished" in mj["status"]["message"]
    assert mj["status"]["jobUid"] == job["metadata"]["uid"]
    await job_exists(cluster, "5035", JOB)


async def test_a_job_that_finished_while_the_operator_was_down_and_its_migration_job_deleted_is_recorded(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """The same with the operator down: the deletion waits on the finalizer; the Job ends; the operator starts.

    Expected: the Job's result (Succeeded) reaches the GoLive before the MigrationJob goes.
    """
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ),
        lambda b: bool((b or {}).get("status", {}).get("jobUid")),
        what="the Job's uid saved",
    )
    await cluster.stop_operator()
    await cluster.client.delete(MIGRATION_JOBS, cluster.namespace, MJ)
    await cluster.finish_job(TENANT_NS, JOB, succeeded=True, reconciliation=reconciliation_report("5035"))
    await cluster.start_operator()
    status = await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: MJ in (s.get("results") or {}),
        what="the result recorded",
    )
    assert status["results"][MJ] == "Succeeded"


async def test_a_migration_stopped_as_the_finalizer_says_is_not_run_again(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """Deleting a MigrationJob whose Job runs says "delete the Job to stop it". Doing so stops that attempt.

    Expected: the GoLive records the attempt as failed and no Job of that name runs again (a new run is a
    resume: a new, counted attempt).
    """
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    job = await eventually(lambda: cluster.client.get(JOBS, TENANT_NS, JOB), what="Job")
    assert job is not None
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ),
        lambda b: (b or {}).get("status", {}).get("jobUid") == job["metadata"]["uid"],
        what="the Job's uid saved",
    )
    await cluster.client.delete(MIGRATION_JOBS, cluster.namespace, MJ)
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, MJ),
        lambda b: bool((b or {}).get("metadata", {}).get("deletionTimestamp")),
        what="deletion started",
    )
    await cluster.client.delete(JOBS, TENANT_NS, JOB)
    status = await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: MJ in (s.get("results") or {}),
        what="the stopped attempt recorded",
    )
    assert status["results"][MJ] == "Failed"
    again = await cluster.client.get(JOBS, TENANT_NS, JOB)
    assert again is None or again["metadata"]["uid"] == job["metadata"]["uid"]
