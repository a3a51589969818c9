"""What the operator ordered, it verifies: rollback Jobs, stuck Jobs, contested tenants (emulator e2e)."""

from __future__ import annotations

from typing import Any

from epj.golive.schedule import Schedule
from epj.operator.commands import status
from epj.operator.testing import LocalCluster, eventually

from .conftest import WAVE_NAME, wave_spec
from .test_e2e import MINUTE, condition, cutover_job_done, phase_is, through_rehearsal


async def rolled_back(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await through_rehearsal(cluster, schedule, ("5035",))
    await cluster.approve("5035", "go-no-go", "cutover-lead", "Go for cutover")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    await cutover_job_done(cluster, "5035", complete=False)
    await phase_is(cluster, "5035", "RolledBack")
    await eventually(lambda: cluster.job_state("kommune-5035", "rollback-5035-cutover-1"), what="rollback Job")


def _rollback(body: dict[str, Any] | None) -> dict[str, Any]:
    for c in ((body or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == "RollbackComplete":
            return dict(c)
    return {}


async def test_a_failed_rollback_job_is_surfaced_not_shown_as_a_clean_rollback(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await rolled_back(cluster, schedule)
    running = await eventually(lambda: cluster.golive("5035"), lambda b: bool(_rollback(b)), what="rollback tracked")
    assert _rollback(running)["status"] == "False" and _rollback(running)["reason"] == "RollbackRunning"

    forbidden = 'deployments.apps "epj-web" is forbidden: User "system:serviceaccount:kommune-5035:epj-rollback"'
    await cluster.finish_job("kommune-5035", "rollback-5035-cutover-1", succeeded=False, message=forbidden)
    body = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: _rollback(b).get("reason") == "RollbackJobFailed",
        what="RollbackComplete=False RollbackJobFailed",
    )
    assert body is not None
    assert _rollback(body)["status"] == "False" and "is forbidden" in _rollback(body)["message"]
    assert body["status"]["nextAction"].startswith("ROLLBACK FAILED")
    assert "epj golive rollback --tenant 5035" in body["status"]["nextAction"]
    assert body["status"]["conditions"][0]["observedGeneration"] == body["metadata"]["generation"]
    events = await eventually(
        lambda: cluster.events("golive-5035"),
        lambda es: any(e["type"] == "Warning" and e["reason"] == "RollbackFailed" for e in es),
        what="RollbackFailed warning",
    )
    assert sum(1 for e in events if e["reason"] == "RollbackFailed") == 1
    (row,) = await status(cluster.client, cluster.namespace, "5035")
    assert row["phase"] == "RolledBack"
    assert row["rollback"]["reason"] == "RollbackJobFailed" and "forbidden" in row["rollback"]["message"]


async def test_a_succeeded_rollback_job_is_recorded_as_complete(cluster: LocalCluster, schedule: Schedule) -> None:
    await rolled_back(cluster, schedule)
    await cluster.finish_job("kommune-5035", "rollback-5035-cutover-1", succeeded=True)
    body = await eventually(
        lambda: cluster.golive("5035"), lambda b: _rollback(b).get("status") == "True", what="RollbackComplete=True"
    )
    assert body is not None and _rollback(body)["reason"] == "RollbackJobSucceeded"
    assert condition(body, "Blocked")["reason"] == "RolledBack"
    assert not body["status"]["nextAction"].startswith("ROLLBACK FAILED")


async def test_a_job_stuck_in_image_pull_backoff_is_reported_at_once_not_at_its_deadline(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    from epj.operator.kube import JOBS, MIGRATION_JOBS
    from epj.operator.testing import PODS

    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await cluster.set_training({"5035": 0.95})
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    await phase_is(cluster, "5035", "Rehearsal")
    job = "migrate-rehearsal-5035-1"
    await eventually(lambda: cluster.job_state("kommune-5035", job), what="rehearsal Job")
    waiting = {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "registry.epj.local/epj:typo"'}
    containers = [{"name": "main", "state": {"waiting": waiting}}]
    pod = {
        "metadata": {"name": f"{job}-x1", "labels": {"job-name": job}},
        "status": {"phase": "Pending", "containerStatuses": containers},
    }
    await cluster.client.create(PODS, "kommune-5035", pod)
    await cluster.client.patch_status(JOBS, "kommune-5035", job, {"active": 1})

    def stalled(mj: dict[str, Any] | None) -> dict[str, Any]:
        return next((c for c in ((mj or {}).get("status") or {}).get("conditions") or [] if c["type"] == "Stalled"), {})

    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda m: stalled(m).get("status") == "True",
        what="MigrationJob Stalled",
    )
    assert stalled(mj)["reason"] == "ImagePullBackOff" and "epj:typo" in stalled(mj)["message"]
    assert stalled(mj)["observedGeneration"] == mj["metadata"]["generation"]  # type: ignore[index]
    events = await eventually(
        lambda: cluster.events("golive-5035-rehearsal-1"),
        lambda es: any(e["reason"] == "JobStuck" and e["type"] == "Warning" for e in es),
        what="JobStuck warning",
    )
    assert events
    # The GoLive shows it too (no simulated time has passed: reported at once, not at the 48 h deadline).
    golive = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: "ImagePullBackOff" in str(((b or {}).get("status") or {}).get("migration", {}).get("message")),
        what="GoLive migration message",
    )
    assert golive is not None and golive["status"]["phase"] == "Rehearsal"


def test_stuck_reasons_from_pod_status() -> None:
    from epj.operator.resources import stuck_reason

    message = "0/3 nodes are available: 3 Insufficient memory."
    scheduled = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    unschedulable = {"status": {"conditions": [scheduled]}}
    assert stuck_reason([unschedulable]) == "Unschedulable: 0/3 nodes are available: 3 Insufficient memory."
    running = {"status": {"containerStatuses": [{"state": {"running": {}}}]}}
    creating = {"status": {"containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    assert stuck_reason([running, creating]) is None
    bad = {"status": {"containerStatuses": [{"state": {"waiting": {"reason": "ErrImagePull"}}}]}}
    assert stuck_reason([bad]) == "ErrImagePull"


async def test_two_waves_claiming_one_tenant_the_loser_says_so(cluster: LocalCluster) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await phase_is(cluster, "5035", "Planned")
    await cluster.apply_wave(
        "wave-2027-q3-b", wave_spec(members=[{"kommunenummer": "5035"}, {"kommunenummer": "5006"}])
    )
    await phase_is(cluster, "5006", "Planned")

    def contested(wave: dict[str, Any] | None) -> dict[str, Any]:
        conditions = ((wave or {}).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Contested"), {})

    loser = await eventually(
        lambda: cluster.wave("wave-2027-q3-b"), lambda w: contested(w).get("status") == "True", what="Contested"
    )
    assert "5035 (in wave wave-2027-q3)" in contested(loser)["message"]
    events = await eventually(
        lambda: cluster.events("wave-2027-q3-b"),
        lambda es: any(e["reason"] == "MembersContested" and e["type"] == "Warning" for e in es),
        what="MembersContested warning on the losing wave",
    )
    assert any("5035" in e["message"] for e in events)
    golive = await cluster.golive("5035")
    assert golive is not None and golive["spec"]["wave"] == WAVE_NAME  # the first wave keeps it
    winner = await cluster.wave(WAVE_NAME)
    assert contested(winner).get("status") in (None, "False")


async def test_a_failed_rollback_job_is_surfaced_after_an_abort_during_the_night(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """brk1: abort during Cutover rolls back then ends the go-live (Aborted); the rollback Job still counts."""
    from epj.operator.kube import ROLLOUT_WAVES

    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await through_rehearsal(cluster, schedule, ("5035",))
    await cluster.approve("5035", "go-no-go", "cutover-lead", "Go for cutover")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    await cluster.client.patch(ROLLOUT_WAVES, cluster.namespace, WAVE_NAME, {"spec": {"aborted": True}})
    await phase_is(cluster, "5035", "Aborted")
    await eventually(lambda: cluster.job_state("kommune-5035", "rollback-5035-cutover-1"), what="rollback Job")

    forbidden = 'deployments.apps "epj-web" is forbidden: User "system:serviceaccount:kommune-5035:epj-rollback"'
    await cluster.finish_job("kommune-5035", "rollback-5035-cutover-1", succeeded=False, message=forbidden)
    body = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: _rollback(b).get("reason") == "RollbackJobFailed",
        what="RollbackComplete=False RollbackJobFailed on the aborted GoLive",
    )
    assert body is not None and body["status"]["phase"] == "Aborted"
    assert body["status"]["nextAction"].startswith("ROLLBACK FAILED")
    await eventually(
        lambda: cluster.events("golive-5035"),
        lambda es: any(e["type"] == "Warning" and e["reason"] == "RollbackFailed" for e in es),
        what="RollbackFailed warning",
    )
    (row,) = await status(cluster.client, cluster.namespace, "5035")
    assert row["rollback"]["reason"] == "RollbackJobFailed" and "forbidden" in row["rollback"]["message"]


def _stuck_pod(job: str) -> dict[str, Any]:
    waiting = {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "registry.epj.local/epj:typo"'}
    return {
        "metadata": {"name": f"{job}-x1", "labels": {"job-name": job}},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "main", "state": {"waiting": waiting}}]},
    }


async def test_a_stuck_rollback_job_is_reported_at_once(cluster: LocalCluster, schedule: Schedule) -> None:
    """brk1: a rollback Job that cannot start leaves traffic on the new EPJ: say so now, not 'running' forever."""
    from epj.operator.testing import PODS

    await rolled_back(cluster, schedule)
    await cluster.client.create(PODS, "kommune-5035", _stuck_pod("rollback-5035-cutover-1"))
    body = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: _rollback(b).get("reason") == "RollbackJobStuck",
        what="RollbackComplete=False RollbackJobStuck",
    )
    assert body is not None and "ImagePullBackOff" in _rollback(body)["message"]
    assert body["status"]["nextAction"].startswith("ROLLBACK FAILED")
    await eventually(
        lambda: cluster.events("golive-5035"),
        lambda es: any(e["type"] == "Warning" and e["reason"] == "RollbackFailed" for e in es),
        what="RollbackFailed warning",
    )


async def test_a_stuck_smoke_job_is_reported_at_once(cluster: LocalCluster, schedule: Schedule) -> None:
    """brk1: a smoke-check Job stuck in ImagePullBackOff is reported within a poll, not at its 2 h deadline."""
    from epj.operator.testing import PODS

    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await through_rehearsal(cluster, schedule, ("5035",))
    await cluster.approve("5035", "go-no-go", "cutover-lead", "Go for cutover")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    await cutover_job_done(cluster, "5035")
    await eventually(lambda: cluster.job_state("kommune-5035", "smoke-5035-cutover-1"), what="smoke Job")
    await cluster.client.create(PODS, "kommune-5035", _stuck_pod("smoke-5035-cutover-1"))
    events = await eventually(
        lambda: cluster.events("golive-5035"),
        lambda es: any(e["type"] == "Warning" and e["reason"] == "JobStuck" for e in es),
        what="JobStuck warning on the GoLive",
    )
    stuck = next(e for e in events if e["reason"] == "JobStuck")
    assert "smoke-5035-cutover-1" in stuck["message"] and "ImagePullBackOff" in stuck["message"]
    body = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: "ImagePullBackOff" in str(((b or {}).get("status") or {}).get("nextAction")),
        what="nextAction names the stuck smoke Job",
    )
    assert body is not None and body["status"]["phase"] == "Cutover"


async def test_a_critical_alert_in_hypercare_blocks_with_a_warning_when_it_fires(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """brk1 (held): Blocked=CriticalAlert and a Warning event while the tenant serves, not at day 21."""
    from .faults import drive_to

    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Hypercare")
    cluster.set_alerts({"5035": [("EpjMedicationListUnavailable", "critical")]})
    body = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: condition(b or {}, "Blocked").get("reason") == "CriticalAlert",
        what="Blocked=CriticalAlert",
    )
    assert body is not None and body["status"]["phase"] == "Hypercare"
    assert condition(body, "Blocked")["status"] == "True"
    assert "EpjMedicationListUnavailable" in condition(body, "Blocked")["message"]
    events = await eventually(
        lambda: cluster.events("golive-5035"),
        lambda es: any(e["type"] == "Warning" and e["reason"] == "CriticalAlert" for e in es),
        what="CriticalAlert warning",
    )
    assert sum(1 for e in events if e["reason"] == "CriticalAlert") == 1
