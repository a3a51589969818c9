"""A resume is the API server's fact, end to end: what a client writes into ``spec.resume`` is stamped.

The emulated API server calls the resume webhooks exactly when the deployed configurations do (a GoLive
write that changes ``spec.resume``), through the operator's webhook server when it serves one, else with
the same rules in-process on the simulated clock. Tenant 5035 is held in Freeze by a go/no-go rejection.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from epj.golive.schedule import Schedule
from epj.operator.kube import GOLIVES, ApiError
from epj.operator.testing import LocalCluster

from .faults import MINUTE, drive_to, phase_is
from .test_admission import free_port

FORGED = {"by": "project-lead", "reason": "Extract re-run, reconciled", "at": "2031-01-01T00:00:00Z",
          "user": "someone-else"}  # fmt: skip


def _iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def _held(cluster: LocalCluster, schedule: Schedule, *, webhooks: bool = False) -> None:
    await cluster.start_operator(webhook_port=free_port() if webhooks else None)
    await drive_to(cluster, schedule, "5035", "Freeze")
    await cluster.approve("5035", "go-no-go", "cutover-lead", "Training not complete", reject=True)
    await phase_is(cluster, "5035", "OnHold")
    cluster.advance(MINUTE)


async def _resume_patch(cluster: LocalCluster, resume: dict[str, Any] | None, **spec: Any) -> dict[str, Any]:
    return await cluster.client.patch(GOLIVES, cluster.namespace, "golive-5035", {"spec": {"resume": resume, **spec}})


@pytest.mark.parametrize("webhooks", [False, True], ids=["in-process", "webhook-server"])
async def test_a_client_written_time_and_user_are_replaced_by_the_servers(
    cluster: LocalCluster, schedule: Schedule, webhooks: bool
) -> None:
    await _held(cluster, schedule, webhooks=webhooks)
    stored = await _resume_patch(cluster, FORGED)
    server_time = _iso(cluster.clock.now())
    assert stored["spec"]["resume"] == {"by": "project-lead", "reason": "Extract re-run, reconciled",
                                        "at": server_time, "user": "approver@epj.test"}  # fmt: skip
    # Acted on now (server time), not in 2031.
    status = await phase_is(cluster, "5035", "Freeze")
    assert [e["by"] for e in status["history"] if e["kind"] == "Resume"] == ["project-lead"]

    # A pause written next to it later keeps the resume's stamp (the webhooks are not even called).
    cluster.advance(MINUTE)
    paused = await cluster.client.patch(GOLIVES, cluster.namespace, "golive-5035", {"spec": {"paused": True}})
    assert paused["spec"]["resume"]["at"] == server_time


@pytest.mark.parametrize("webhooks", [False, True], ids=["in-process", "webhook-server"])
async def test_a_resume_from_groups_that_do_not_grant_the_role_is_refused_and_nothing_moves(
    cluster: LocalCluster, schedule: Schedule, webhooks: bool
) -> None:
    await _held(cluster, schedule, webhooks=webhooks)
    cluster.as_user("ola@kommune.test", ["system:authenticated", "epj-approver:clinical-lead"])
    with pytest.raises(ApiError) as refused:
        await _resume_patch(cluster, {"by": "project-lead", "reason": "Looks fine now"})
    assert refused.value.status == 403
    assert "your groups do not grant the role project-lead (they grant: clinical-lead)" in str(refused.value)
    with pytest.raises(ApiError) as owner:
        await _resume_patch(cluster, {"by": "service-owner", "reason": "Looks fine now"})
    assert "service-owner does not resume a go-live; roles that do: cutover-lead, project-lead" in str(owner.value)
    body = await cluster.golive("5035")
    assert body is not None and "resume" not in body["spec"] and body["status"]["phase"] == "OnHold"
    # A user in several groups resumes with the role one of them grants; removing the request needs no role.
    cluster.as_user("kari@kommune.test", ["epj-approver:clinical-lead", "epj-approver:cutover-lead"])
    stored = await _resume_patch(cluster, {"by": "cutover-lead", "reason": "Training completed"})
    assert stored["spec"]["resume"]["user"] == "kari@kommune.test"
    await phase_is(cluster, "5035", "Freeze")
    cluster.as_user("ola@kommune.test", ["epj-approver:clinical-lead"])
    removed = await _resume_patch(cluster, None)
    assert "resume" not in removed["spec"]


@pytest.mark.parametrize("webhooks", [False, True], ids=["in-process", "webhook-server"])
async def test_a_json_patch_of_the_resume_is_stamped_too(
    cluster: LocalCluster, schedule: Schedule, webhooks: bool
) -> None:
    await _held(cluster, schedule, webhooks=webhooks)
    path = cluster.client  # the JSON-patch flavour kubectl sends with --type json
    ops = [{"op": "add", "path": "/spec/resume", "value": FORGED}]
    stored = await path.request(
        "PATCH", GOLIVES.path(cluster.namespace, "golive-5035"), ops, content_type="application/json-patch+json"
    )
    assert stored["spec"]["resume"]["at"] == _iso(cluster.clock.now())
    assert stored["spec"]["resume"]["user"] == "approver@epj.test"
    await phase_is(cluster, "5035", "Freeze")


async def test_the_same_words_again_after_a_second_hold_resume_it(cluster: LocalCluster, schedule: Schedule) -> None:
    """Two resumes in a row with the same role and reason: the second is a new request, stamped when written."""
    await _held(cluster, schedule)
    first = await cluster.resume("5035", "project-lead", "Training completed")
    await phase_is(cluster, "5035", "Freeze")
    cluster.advance(MINUTE)
    await cluster.approve("5035", "go-no-go", "cutover-lead", "Still not complete", reject=True)
    await phase_is(cluster, "5035", "OnHold")
    cluster.advance(MINUTE)
    second = await cluster.resume("5035", "project-lead", "Training completed")
    assert second["spec"]["resume"]["at"] > first["spec"]["resume"]["at"]
    status = await phase_is(cluster, "5035", "Freeze")
    assert [e["kind"] for e in status["history"]].count("Resume") == 2


async def test_an_operator_restart_right_after_a_resume_acts_on_it_once(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await _held(cluster, schedule)
    await cluster.stop_operator()
    await cluster.resume("5035", "cutover-lead", "Training completed")  # stamped while the operator was down
    cluster.advance(MINUTE)
    await cluster.start_operator()
    status = await phase_is(cluster, "5035", "Freeze")
    await cluster.stop_operator()
    await cluster.start_operator()
    cluster.wake_all()
    status = await phase_is(cluster, "5035", "Freeze")
    assert [e["kind"] for e in status["history"]].count("Resume") == 1


async def test_a_resume_written_during_the_night_does_not_resume_its_rollback(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """A resume while not held is stored (server time) and resumes nothing, now or at the next hold."""
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Cutover")
    await cluster.resume("5035", "project-lead", "Just in case")
    cluster.advance(MINUTE)
    await cluster.approve("5035", "go-no-go", "cutover-lead", "Reconciliation short", reject=True)
    cluster.advance(MINUTE)
    cluster.wake_all()
    status = await phase_is(cluster, "5035", "RolledBack")
    assert [e["kind"] for e in status["history"]].count("Resume") == 0


async def test_a_golive_created_with_a_resume_gets_it_stamped_whatever_its_body_says(cluster: LocalCluster) -> None:
    """CREATE (the CEL condition's oldObject == null): stamped too, also from a body that omits its kind."""
    body = {"metadata": {"name": "golive-5006"},
            "spec": {"kommunenummer": "5006", "wave": "w", "goLiveDate": "2027-09-06", "resume": FORGED}}  # fmt: skip
    created = await cluster.client.create(GOLIVES, cluster.namespace, body)
    assert created["spec"]["resume"] == {"by": "project-lead", "reason": "Extract re-run, reconciled",
                                         "at": _iso(cluster.clock.now()), "user": "approver@epj.test"}  # fmt: skip
