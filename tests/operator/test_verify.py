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
