"""Deleting things mid-flight is safe: GoLives in their cutover night, waves with live members, moved members."""

from __future__ import annotations

import datetime as dt

from epj.golive.schedule import Schedule
from epj.operator.kube import GOLIVES, ROLLOUT_WAVES
from epj.operator.testing import LocalCluster, Reached, eventually, reconciliation_report

from .conftest import WAVE_NAME, wave_spec
from .faults import drive_to, enter, finish_migration, job_exists, phase_is, status_of

TENANT_NS = "kommune-5035"


async def _gone(cluster: LocalCluster, k: str) -> bool:
    return await cluster.golive(k) is None


async def test_a_golive_deleted_during_smoke_checks_waits_for_the_night_to_end(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    reached = Reached()
    await cluster.start_operator(fault=reached)
    await drive_to(cluster, schedule, "5035", "Cutover")
    await finish_migration(cluster, "5035", "cutover")
    await job_exists(cluster, "5035", "smoke-5035-cutover-1")

    await cluster.client.delete(GOLIVES, cluster.namespace, "golive-5035")
    await eventually(lambda: reached.seen("golive.deletion_held"), what="deletion held during Cutover")
    body = await cluster.golive("5035")
    assert body is not None and body["metadata"].get("deletionTimestamp")
    assert body["status"]["phase"] == "Cutover"

    # The night still ends as it would have: smoke checks pass, Live; only then is the object let go.
    await cluster.finish_job(TENANT_NS, "smoke-5035-cutover-1", succeeded=True)
    await eventually(lambda: _gone(cluster, "5035"), what="GoLive deleted after the night ended")
    messages = [e["message"] for e in await cluster.events("golive-5035")]
    assert any("Cutover → Live" in m for m in messages)


async def test_a_failed_migration_after_deletion_still_rolls_back(cluster: LocalCluster, schedule: Schedule) -> None:
    reached = Reached()
    await cluster.start_operator(fault=reached)
    await drive_to(cluster, schedule, "5035", "Cutover")
    await cluster.client.delete(GOLIVES, cluster.namespace, "golive-5035")
    await eventually(lambda: reached.seen("golive.deletion_held"), what="deletion held during Cutover")

    report = reconciliation_report("5035", complete=False, unaccounted=7)
    await cluster.finish_job(TENANT_NS, "migrate-cutover-5035-1", succeeded=False, reconciliation=report)
    await eventually(lambda: cluster.job_state(TENANT_NS, "rollback-5035-cutover-1"), what="rollback Job")
    await eventually(lambda: _gone(cluster, "5035"), what="GoLive deleted after the rollback")
    reasons = [(e["type"], e["reason"]) for e in await cluster.events("golive-5035")]
    assert ("Warning", "RolledBack") in reasons


async def test_deleting_a_wave_keeps_members_that_reached_cutover(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}, {"kommunenummer": "5006"}]))
    await phase_is(cluster, "5035", "Planned")
    await cluster.set_training({"5035": 0.95, "5006": 0.95})
    for phase in ("Preparing", "Training", "Rehearsal"):
        await enter(cluster, schedule, "5035", phase)
    # Steinkjer's rehearsal fails: it is held before Freeze. Stjørdal goes live.
    await job_exists(cluster, "5006", "migrate-rehearsal-5006-1")
    await cluster.finish_job(
        "kommune-5006", "migrate-rehearsal-5006-1", succeeded=False, message="BackoffLimitExceeded"
    )
    await enter(cluster, schedule, "5035", "Freeze")
    await enter(cluster, schedule, "5035", "Cutover")
    await enter(cluster, schedule, "5035", "Live")
    steinkjer = await status_of(cluster, "5006")
    assert steinkjer["phase"] == "OnHold"
    live = await cluster.golive("5035")
    assert live is not None and not live["metadata"].get("ownerReferences")  # released at Cutover

    await cluster.client.delete(ROLLOUT_WAVES, cluster.namespace, WAVE_NAME)
    await eventually(lambda: cluster.wave(WAVE_NAME), lambda w: w is None, what="wave deleted")
    await cluster.collect_garbage()
    await eventually(lambda: _gone(cluster, "5006"), what="the pre-cutover member collected")
    kept = await status_of(cluster, "5035")
    assert kept["phase"] == "Live"
    assert [e["toPhase"] for e in kept["history"] if e["kind"] == "Transition"][-2:] == ["Cutover", "Live"]


async def test_a_member_moved_to_another_wave_keeps_its_audit_trail(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Training")
    before = await status_of(cluster, "5035")
    later = {"goLiveDate": "2027-10-25", "productionWindow": {"label": "2027-Q4", "start": "2027-10-18",
                                                               "end": "2027-12-10"}}  # fmt: skip
    await cluster.apply_wave("wave-2027-q4", wave_spec(members=[{"kommunenummer": "5031"}], **later))
    await cluster.client.patch(ROLLOUT_WAVES, cluster.namespace, WAVE_NAME, {"spec": {"members": [
        {"kommunenummer": "5006"}]}})  # fmt: skip
    await cluster.client.patch(ROLLOUT_WAVES, cluster.namespace, "wave-2027-q4", {"spec": {"members": [
        {"kommunenummer": "5031"}, {"kommunenummer": "5035"}]}})  # fmt: skip

    moved = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: (b or {}).get("status", {}).get("wave") == "wave-2027-q4",
        what="GoLive moved to the new wave",
    )
    assert moved is not None
    q4 = await cluster.wave("wave-2027-q4")
    assert q4 is not None
    assert [r["uid"] for r in moved["metadata"]["ownerReferences"]] == [q4["metadata"]["uid"]]
    assert moved["spec"]["goLiveDate"] == "2027-10-25"
    history = moved["status"]["history"]
    assert history[: len(before["history"])] == before["history"]  # nothing of the trail lost
    assert history[-1]["reason"] == f"moved from wave {WAVE_NAME} to wave wave-2027-q4"

    # The old wave goes: the moved tenant is not collected with it.
    await cluster.client.delete(ROLLOUT_WAVES, cluster.namespace, WAVE_NAME)
    await eventually(lambda: cluster.wave(WAVE_NAME), lambda w: w is None, what="old wave deleted")
    await cluster.collect_garbage()
    assert await cluster.golive("5035") is not None


async def test_a_no_go_recorded_while_deletion_waits_still_ends_the_night(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """brk1: the finalizer's reconcile must see the tenant's decisions (a rejection is a NO-GO)."""
    reached = Reached()
    await cluster.start_operator(fault=reached)
    await drive_to(cluster, schedule, "5035", "Cutover")
    await cluster.client.delete(GOLIVES, cluster.namespace, "golive-5035")
    await eventually(lambda: reached.seen("golive.deletion_held"), what="deletion held during Cutover")

    cluster.advance(dt.timedelta(minutes=5))
    await cluster.approve("5035", "go-no-go", "project-lead", "Extract checksum mismatch: NO-GO", reject=True)
    # The night ends: the running final migration is stopped, the rollback Job runs, only then the object goes.
    await eventually(lambda: cluster.job_state(TENANT_NS, "rollback-5035-cutover-1"), what="rollback Job")
    await eventually(lambda: _gone(cluster, "5035"), what="GoLive deleted after the rollback")
    assert await cluster.job_state(TENANT_NS, "migrate-cutover-5035-1") is None  # stopped before it published
    reasons = [(e["type"], e["reason"]) for e in await cluster.events("golive-5035")]
    assert ("Warning", "RolledBack") in reasons


async def test_a_deleted_live_golive_is_not_recreated_as_a_new_night(cluster: LocalCluster, schedule: Schedule) -> None:
    """brk1: deletion is allowed from Live on, but the wave must not re-create the tenant as a fresh go-live."""
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Live")
    await eventually(
        lambda: cluster.wave(WAVE_NAME),
        lambda w: "5035" in (((w or {}).get("status") or {}).get("served") or []),
        what="the wave records that 5035 went live",
    )
    await cluster.client.delete(GOLIVES, cluster.namespace, "golive-5035")
    await eventually(lambda: _gone(cluster, "5035"), what="GoLive deleted")
    await cluster.stop_operator()
    await cluster.start_operator()  # the wave's resume handler ensures its members
    await eventually(
        lambda: cluster.events(WAVE_NAME),
        lambda es: any(e["reason"] == "LiveMemberNotRecreated" and e["type"] == "Warning" for e in es),
        what="LiveMemberNotRecreated warning on the wave",
    )
    assert await cluster.golive("5035") is None
    jobs = sorted(j["metadata"]["name"] for j in await cluster.jobs(TENANT_NS))
    assert not any(j.startswith("rollback-") for j in jobs)
