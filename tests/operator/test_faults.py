"""Fault injection in the operator adapter, at deterministic points (``OperatorContext.fault``).

A crash is the operator process stopping at one instruction: the hook blocks there and the
test stops the operator, then starts a fresh one. The adapter's documented order is "persist
the decision, then act" — so a crash between the two leaves a status that names a MigrationJob
nobody created (the restart must create it, once), and a crash after acting leaves objects the
next status does not mention yet (the restart must find them, never make a second).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from epj.golive.schedule import Schedule
from epj.migration.codes import ALL_SOURCES, REASONS
from epj.migration.generate import generate_extract
from epj.migration.pipeline import run_migration
from epj.operator.kube import GOLIVES, JOBS, MIGRATION_JOBS
from epj.operator.testing import CrashAt, LocalCluster, eventually

from .faults import MINUTE, drive_to, enter, events_of, finish_migration, job_exists, phase_is, status_of

TENANT_NS = "kommune-5035"


def _wants(kind: str, phase: str) -> Any:
    return lambda detail: detail["phase"] == phase and kind in detail["actions"]


async def test_crash_between_save_and_act_creates_the_saved_migration_job_once(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    crash = CrashAt("golive.saved", _wants("CreateMigrationJob", "Rehearsal"))
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Training")
    await cluster.set_training({"5035": 0.95})
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    await crash.wait()

    # Saved, not acted on: the status names the job, the job does not exist.
    status = await status_of(cluster, "5035")
    assert status["phase"] == "Rehearsal"
    assert status["migration"]["jobName"] == "golive-5035-rehearsal-1" and status["migration"]["state"] == "Pending"
    assert await cluster.migration_jobs() == []

    await cluster.stop_operator()
    await cluster.start_operator()
    await job_exists(cluster, "5035", "migrate-rehearsal-5035-1")
    assert [m["metadata"]["name"] for m in await cluster.migration_jobs()] == ["golive-5035-rehearsal-1"]
    await finish_migration(cluster, "5035", "rehearsal")
    await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: s.get("results") == {"golive-5035-rehearsal-1": "Succeeded"},
        what="rehearsal result recorded",
    )
    assert (await status_of(cluster, "5035"))["attempts"] == {"rehearsal": 1}


async def test_crash_between_act_and_save_makes_no_second_job(cluster: LocalCluster, schedule: Schedule) -> None:
    crash = CrashAt("golive.acted", _wants("CreateMigrationJob", "Cutover"))
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Freeze")
    await cluster.approve("5035", "go-no-go", "project-lead", "Go for the cutover night")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await crash.wait()
    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-cutover-1"), what="MigrationJob"
    )
    assert mj is not None

    await cluster.stop_operator()
    await cluster.start_operator()
    await job_exists(cluster, "5035", "migrate-cutover-5035-1")
    await finish_migration(cluster, "5035", "cutover")
    await job_exists(cluster, "5035", "smoke-5035-cutover-1")
    await cluster.finish_job(TENANT_NS, "smoke-5035-cutover-1", succeeded=True)
    status = await phase_is(cluster, "5035", "Live")
    cutover = [m["metadata"]["name"] for m in await cluster.migration_jobs() if "cutover" in m["metadata"]["name"]]
    assert cutover == ["golive-5035-cutover-1"]
    assert status["attempts"] == {"rehearsal": 1, "cutover": 1}


async def test_crash_after_the_job_is_created_adopts_it(cluster: LocalCluster, schedule: Schedule) -> None:
    crash = CrashAt("migration.created", lambda d: d["migration_job"] == "golive-5035-rehearsal-1")
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Training")
    await cluster.set_training({"5035": 0.95})
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    await crash.wait()
    mj = await cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    # The Job's name was recorded before the Job was created.
    assert mj is not None and mj["status"]["jobName"] == "migrate-rehearsal-5035-1"

    await cluster.stop_operator()
    await cluster.start_operator()
    await finish_migration(cluster, "5035", "rehearsal")
    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: (b or {}).get("status", {}).get("state") == "Succeeded",
        what="the adopted Job's result",
    )
    assert mj is not None and mj["status"]["jobName"] == "migrate-rehearsal-5035-1"
    assert [j["metadata"]["name"] for j in await cluster.jobs(TENANT_NS)] == ["migrate-rehearsal-5035-1"]


async def test_a_job_seen_to_exist_and_gone_by_the_restart_is_not_run_again(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """The Job's uid is saved once it exists; deleted while the operator is down, it is reported, not run again."""
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    job = await eventually(lambda: cluster.client.get(JOBS, TENANT_NS, "migrate-rehearsal-5035-1"), what="Job")
    assert job is not None
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: (b or {}).get("status", {}).get("jobUid") == job["metadata"]["uid"],
        what="the Job's uid saved",
    )
    await cluster.stop_operator()
    await cluster.client.delete(JOBS, TENANT_NS, "migrate-rehearsal-5035-1")

    await cluster.start_operator()
    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: (b or {}).get("status", {}).get("state") == "Failed",
        what="the vanished Job reported",
    )
    assert mj is not None and mj["status"]["jobName"] == "migrate-rehearsal-5035-1"
    assert "vanished" in mj["status"]["message"]
    assert await cluster.jobs(TENANT_NS) == []


async def test_a_crash_between_saving_the_name_and_creating_the_job_creates_it_once(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """An operator restart around the create is normal: the night goes on, it does not read as a vanished Job."""
    crash = CrashAt("migration.recorded", lambda d: d["migration_job"] == "golive-5035-rehearsal-1")
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Training")
    await cluster.set_training({"5035": 0.95})
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    await crash.wait()
    mj = await cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    assert mj is not None and mj["status"] == {"jobName": "migrate-rehearsal-5035-1"}
    assert await cluster.jobs(TENANT_NS) == []

    await cluster.stop_operator()
    await cluster.start_operator()
    await finish_migration(cluster, "5035", "rehearsal")
    await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: s.get("results") == {"golive-5035-rehearsal-1": "Succeeded"},
        what="rehearsal result recorded",
    )
    assert [j["metadata"]["name"] for j in await cluster.jobs(TENANT_NS)] == ["migrate-rehearsal-5035-1"]
    mj = await cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    assert mj is not None and mj["status"]["state"] == "Succeeded" and mj["status"]["jobUid"]


async def test_a_job_created_but_unconfirmed_and_deleted_in_the_outage_is_created_again(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """The documented trade-off: without a saved uid the operator cannot tell "deleted" from "never created".

    It creates the Job (a reload before go-live; the store's seal refuses any run after it) rather than fail
    the night for a restart.
    """
    crash = CrashAt("migration.created", lambda d: d["migration_job"] == "golive-5035-rehearsal-1")
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Training")
    await cluster.set_training({"5035": 0.95})
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    await crash.wait()
    first = await cluster.client.get(JOBS, TENANT_NS, "migrate-rehearsal-5035-1")
    assert first is not None
    await cluster.stop_operator()
    await cluster.client.delete(JOBS, TENANT_NS, "migrate-rehearsal-5035-1")

    await cluster.start_operator()
    await finish_migration(cluster, "5035", "rehearsal")
    await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: s.get("results") == {"golive-5035-rehearsal-1": "Succeeded"},
        what="rehearsal result recorded",
    )
    mj = await cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    assert mj is not None and mj["status"]["state"] == "Succeeded"
    assert mj["status"]["jobUid"] and mj["status"]["jobUid"] != first["metadata"]["uid"]


async def test_crash_after_a_rollback_acted_keeps_one_rollback(cluster: LocalCluster, schedule: Schedule) -> None:
    crash = CrashAt("golive.acted", _wants("RollBack", "RolledBack"))
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Cutover")
    await cluster.approve("5035", "go-no-go", "project-lead", "Reconciliation short", reject=True)
    await crash.wait()
    await cluster.stop_operator()
    await cluster.start_operator()
    status = await phase_is(cluster, "5035", "RolledBack")
    assert [e["toPhase"] for e in status["history"] if e["kind"] == "Transition"][-2:] == ["Cutover", "RolledBack"]
    jobs = sorted(j["metadata"]["name"] for j in await cluster.jobs(TENANT_NS))
    # The unfinished final migration was stopped (deleted) before it could publish; one rollback Job.
    assert jobs == ["migrate-rehearsal-5035-1", "rollback-5035-cutover-1"]
    gate = next(g for g in status["gates"] if g["name"] == "go-no-go")
    assert gate["outcome"] == "Failed" and "Reconciliation short" in gate["reason"]


async def test_abort_of_a_serving_tenant_is_refused(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Live")
    await cluster.client.patch(GOLIVES, cluster.namespace, "golive-5035", {"spec": {"aborted": True}})
    await eventually(
        lambda: events_of(cluster, "5035"),
        lambda events: any(e["reason"] == "AbortIgnoredAfterGoLive" and e["type"] == "Warning" for e in events),
        what="abort refused",
    )
    await enter(cluster, schedule, "5035", "Hypercare")  # the abort neither ended nor stopped the go-live
    status = await status_of(cluster, "5035")
    assert "Aborted" not in [e["toPhase"] for e in status["history"] if e["kind"] == "Transition"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert status["servingSince"]


async def test_real_report_travels_job_to_termination_message_to_golive(
    cluster: LocalCluster, schedule: Schedule, tmp_path: Path
) -> None:
    # The migration's own reconciliation.json of a generated Stjørdal extract, cut to 4 KiB as the entry script does.
    extract = tmp_path / "extract"
    generate_extract(extract, "5035", scale=0.02, seed=5)
    report_dir = tmp_path / "report"
    run_migration(extract, f"ndjson:{tmp_path / 'out'}", report_dir=report_dir, synthetic_ids=True)
    text = (report_dir / "reconciliation.json").read_bytes()[:4096].decode()
    report = json.loads(text)  # the whole report fits the termination message
    assert set(report["sources"]) <= set(ALL_SOURCES) and set(report["quarantine"]) <= set(REASONS)
    read = sum(s["read"] for s in report["sources"].values())
    quarantined = sum(s["quarantined"] for s in report["sources"].values())
    migrated = sum(s["migrated"] for s in report["sources"].values())

    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    await cluster.finish_job(TENANT_NS, "migrate-rehearsal-5035-1", succeeded=True, termination_message=text)
    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: (b or {}).get("status", {}).get("state") == "Succeeded",
        what="result read back",
    )
    assert mj is not None
    expected = {"read": read, "migrated": migrated, "quarantined": quarantined, "unaccounted": 0}
    assert mj["status"]["reconciliation"] == {"complete": report["complete"], "counts": expected}
    assert read > 0 and quarantined > 0  # generated extracts carry data problems by default
    status = await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: any(g["name"] == "rehearsal-reconciled" and g["outcome"] == "Passed" for g in s.get("gates", [])),
        what="rehearsal gate passed on the real report",
    )
    assert status["migration"]["reconciliation"]["counts"] == expected
    cluster.advance_to(schedule.freeze_at + dt.timedelta(minutes=1))
    await phase_is(cluster, "5035", "Freeze")


async def test_crash_between_saving_a_rollback_and_acting_still_rolls_back(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """brk1: RolledBack persisted, the process dies before the rollback Job exists: the restart orders it."""
    crash = CrashAt("golive.saved", _wants("RollBack", "RolledBack"))
    await cluster.start_operator(fault=crash)
    await drive_to(cluster, schedule, "5035", "Cutover")
    await cluster.approve("5035", "go-no-go", "project-lead", "Reconciliation short", reject=True)
    await crash.wait()
    await cluster.stop_operator()
    assert await cluster.job_state(TENANT_NS, "rollback-5035-cutover-1") is None  # the crash came first
    await cluster.start_operator()
    await eventually(lambda: cluster.job_state(TENANT_NS, "rollback-5035-cutover-1"), what="rollback Job ordered")
    # The unfinished final migration is stopped before it publishes, also after the crash.
    await eventually(
        lambda: cluster.job_state(TENANT_NS, "migrate-cutover-5035-1"), lambda s: s is None, what="migration stopped"
    )
    jobs = sorted(j["metadata"]["name"] for j in await cluster.jobs(TENANT_NS))
    assert jobs == ["migrate-rehearsal-5035-1", "rollback-5035-cutover-1"]


async def test_a_collected_rollback_job_keeps_its_recorded_outcome_across_a_restart(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """brk1: the rollback Job's TTL ends before a person resumes; its recorded success stays (nothing re-run)."""
    from epj.operator.kube import JOBS

    def rollback(body: dict[str, Any] | None) -> dict[str, Any]:
        conditions = ((body or {}).get("status") or {}).get("conditions") or []
        return next((dict(c) for c in conditions if c["type"] == "RollbackComplete"), {})

    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Cutover")
    await cluster.approve("5035", "go-no-go", "project-lead", "Reconciliation short", reject=True)
    await phase_is(cluster, "5035", "RolledBack")
    await eventually(lambda: cluster.job_state(TENANT_NS, "rollback-5035-cutover-1"), what="rollback Job")
    await cluster.finish_job(TENANT_NS, "rollback-5035-cutover-1", succeeded=True)
    await eventually(lambda: cluster.golive("5035"), lambda b: rollback(b).get("status") == "True", what="complete")

    await cluster.stop_operator()
    await cluster.client.delete(JOBS, TENANT_NS, "rollback-5035-cutover-1")  # ttlSecondsAfterFinished
    cluster.advance(dt.timedelta(days=8))
    ctx = await cluster.start_operator()
    await eventually(lambda: _reconciled(ctx), what="the GoLive reconciled after the restart")
    cluster.wake_all()
    await eventually(lambda: _reconciled(ctx), what="and again")
    body = await cluster.golive("5035")
    assert body is not None and body["status"]["phase"] == "RolledBack"
    assert rollback(body)["status"] == "True" and rollback(body)["reason"] == "RollbackJobSucceeded"
    assert await cluster.job_state(TENANT_NS, "rollback-5035-cutover-1") is None  # not run again


async def _reconciled(ctx: Any) -> bool:
    return bool(getattr(ctx, "tenants", {}))
