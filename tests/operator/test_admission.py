"""Approvals are facts from the API server: AdmissionReviews sent to kopf's webhook server on loopback.

The operator runs with its real admission webhooks (``kopf.WebhookServer`` on 127.0.0.1, plain
HTTP on a port of the test's own). The tests post AdmissionReview requests as the API server
does, and also let the emulator (playing the API server) route ``epj golive approve`` through them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import socket
from typing import Any

import jsonpatch
import pytest

from epj.golive.approvals import RoleMapping
from epj.golive.schedule import Schedule
from epj.operator.admission import MUTATE_ID, VALIDATE_ID
from epj.operator.testing import LocalCluster, admission_review, eventually, post_review

from .conftest import WAVE_NAME, wave_spec
from .test_e2e import MINUTE, phase_is, through_rehearsal


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def decision(**overrides: Any) -> dict[str, Any]:
    spec = {"kommunenummer": "5035", "gate": "go-no-go", "by": "cutover-lead", "decision": "approve",
            "reason": "Reconciled, smoke checks green"}  # fmt: skip
    spec.update(overrides)
    return {"apiVersion": "epj.no/v1alpha1", "kind": "GoLiveApproval",
            "metadata": {"name": "golive-5035-go-no-go-a1", "namespace": "epj-system"}, "spec": spec}  # fmt: skip


LEAD = {"username": "kari@kommune.test", "groups": ["system:authenticated", "epj-approver:cutover-lead"]}


async def test_mutating_webhook_writes_the_servers_user_and_time_over_the_clients(cluster: LocalCluster) -> None:
    port = free_port()
    ctx = await cluster.start_operator(webhook_port=port)
    forged = decision(at="2020-01-01T00:00:00Z", user="someone-else")
    review = admission_review("CREATE", forged, None, LEAD, uid="u-1")
    response = await post_review(f"http://127.0.0.1:{port}/{MUTATE_ID}", review)
    assert response["uid"] == "u-1" and response["allowed"] is True
    stamped = jsonpatch.apply_patch(forged, json.loads(base64.b64decode(response["patch"])))
    assert stamped["spec"]["user"] == "kari@kommune.test"
    server_time = ctx.now().isoformat().replace("+00:00", "Z")
    assert stamped["spec"]["at"] == server_time != "2020-01-01T00:00:00Z"
    # The validating webhook accepts exactly that stamped object from that user ...
    checked = await post_review(
        f"http://127.0.0.1:{port}/{VALIDATE_ID}", admission_review("CREATE", stamped, None, LEAD)
    )
    assert checked["allowed"] is True
    # ... and not one the mutating webhook did not stamp for this user.
    unstamped = await post_review(
        f"http://127.0.0.1:{port}/{VALIDATE_ID}", admission_review("CREATE", forged, None, LEAD)
    )
    assert unstamped["allowed"] is False and "not stamped" in unstamped["status"]["message"]


@pytest.mark.parametrize(
    ("user", "spec", "message"),
    [
        (
            {"username": "ola@kommune.test", "groups": ["epj-approver:service-owner"]},
            {"by": "service-owner"},
            "service-owner does not decide go-no-go",
        ),
        (
            {"username": "ola@kommune.test", "groups": ["epj-approver:clinical-lead"]},
            {"by": "cutover-lead"},
            "your groups do not grant the role cutover-lead (they grant: clinical-lead)",
        ),
        ({"username": "", "groups": ["epj-approver:cutover-lead"]}, {}, "no authenticated user"),
        (LEAD, {"reason": "x"}, "spec.reason"),
    ],
    ids=["service-owner-for-go-no-go", "role-not-granted", "anonymous", "short-reason"],
)
async def test_mutating_webhook_refuses_with_one_plain_message(
    cluster: LocalCluster, user: dict[str, Any], spec: dict[str, Any], message: str
) -> None:
    port = free_port()
    await cluster.start_operator(webhook_port=port)
    response = await post_review(
        f"http://127.0.0.1:{port}/{MUTATE_ID}", admission_review("CREATE", decision(**spec), None, user)
    )
    assert response["allowed"] is False
    assert message in response["status"]["message"]
    assert response["status"]["code"] == 403


async def test_group_to_role_mapping_comes_from_configuration(cluster: LocalCluster) -> None:
    port = free_port()
    mapping = RoleMapping.from_json('{"groups": {"trondelag-cutover": ["cutover-lead"]}, "prefix": null}')
    await cluster.start_operator(webhook_port=port, approver_roles=mapping)
    mapped = {"username": "kari@kommune.test", "groups": ["trondelag-cutover"]}
    ok = await post_review(f"http://127.0.0.1:{port}/{MUTATE_ID}", admission_review("CREATE", decision(), None, mapped))
    assert ok["allowed"] is True
    # With the prefix switched off, the conventional group grants nothing.
    refused = await post_review(
        f"http://127.0.0.1:{port}/{MUTATE_ID}", admission_review("CREATE", decision(), None, LEAD)
    )
    assert refused["allowed"] is False


async def test_a_recorded_decision_cannot_be_changed(cluster: LocalCluster) -> None:
    port = free_port()
    await cluster.start_operator(webhook_port=port)
    old = decision(at="2027-09-04T15:00:00Z", user="kari@kommune.test")
    new = decision(at="2027-09-04T15:00:00Z", user="kari@kommune.test", decision="reject")
    response = await post_review(f"http://127.0.0.1:{port}/{VALIDATE_ID}", admission_review("UPDATE", new, old, LEAD))
    assert response["allowed"] is False and "immutable" in response["status"]["message"]


def test_a_bad_role_mapping_is_one_plain_message() -> None:
    with pytest.raises(ValueError, match="approver role mapping is not valid"):
        RoleMapping.from_json('{"groups": {"g": ["chief-of-everything"]}}')


async def test_approve_through_the_api_server_and_webhooks_lets_the_tenant_cut_over(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """The whole path: CLI function → API server (emulator) → kopf webhooks → stored, stamped → counted."""
    await cluster.start_operator(webhook_port=free_port())
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await through_rehearsal(cluster, schedule, ("5035",))

    cluster.as_user("ola@kommune.test", ["epj-approver:service-owner"])
    with pytest.raises(Exception, match="service-owner does not decide go-no-go"):
        await cluster.approve("5035", "go-no-go", "service-owner", "Looks fine to me")
    cluster.as_user("kari@kommune.test", ["epj-approver:cutover-lead"])
    stored = await cluster.approve("5035", "go-no-go", "cutover-lead", "Rehearsal reconciled; training 95 %")
    assert stored["spec"]["user"] == "kari@kommune.test"
    assert dt.datetime.fromisoformat(stored["spec"]["at"]) == cluster.clock.now()

    cluster.advance_to(schedule.cutover_at + MINUTE)
    body = await phase_is(cluster, "5035", "Cutover")
    approvals = [e for e in body["status"]["history"] if e["kind"] == "Approval"]
    assert [(e["gate"], e["by"], e["decision"]) for e in approvals] == [("go-no-go", "cutover-lead", "approve")]
    # No user name in the GoLive status: the role only (the person is on the GoLiveApproval object).
    assert "kari@kommune.test" not in json.dumps(body["status"])


async def test_unstamped_decisions_never_count(cluster: LocalCluster, schedule: Schedule) -> None:
    """A GoLiveApproval stored without the webhook (bypassed) does not let the tenant cut over."""
    from epj.operator.kube import APPROVALS

    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await through_rehearsal(cluster, schedule, ("5035",))
    cluster.emulator.admission = None  # the API server without the operator's webhooks
    await cluster.client.create(APPROVALS, cluster.namespace, decision(at=cluster.clock.now().isoformat()))
    cluster.advance_to(schedule.cutover_at + MINUTE)
    body = await eventually(
        lambda: cluster.golive("5035"),
        lambda b: "go-no-go" in (b or {}).get("status", {}).get("nextAction", ""),
        what="waiting for go-no-go",
    )
    assert body is not None and body["status"]["phase"] == "Freeze"


def test_rendered_webhook_configurations_call_the_paths_kopf_serves() -> None:
    import kubernetes_validate

    from epj.operator.deploy import WEBHOOK_TLS_SECRET, webhook_manifests

    objs = {o["kind"]: o for o in webhook_manifests("epj-system", {"app.kubernetes.io/name": "epj-operator"})}
    mutating, validating = objs["MutatingWebhookConfiguration"], objs["ValidatingWebhookConfiguration"]
    for obj in (mutating, validating, objs["Service"]):
        kubernetes_validate.validate(obj, "1.30", strict=True)
    stamp, resume_stamp = mutating["webhooks"]
    check, resume_check = validating["webhooks"]
    assert stamp["clientConfig"]["service"]["path"] == "/approval-stamp" == f"/{MUTATE_ID}"
    assert check["clientConfig"]["service"]["path"] == "/approval-check" == f"/{VALIDATE_ID}"
    assert stamp["rules"][0]["operations"] == ["CREATE"]
    assert check["rules"][0]["operations"] == ["CREATE", "UPDATE"]
    assert stamp["rules"][0]["resources"] == check["rules"][0]["resources"] == ["goliveapprovals"]
    assert stamp["failurePolicy"] == check["failurePolicy"] == "Fail"
    assert objs["Service"]["spec"]["ports"][0]["targetPort"] == 9443
    # GoLive writes go through the resume webhooks only when spec.resume changes (pause/abort never wait on them).
    assert resume_stamp["clientConfig"]["service"]["path"] == "/resume-stamp"
    assert resume_check["clientConfig"]["service"]["path"] == "/resume-check"
    for hook in (resume_stamp, resume_check):
        assert hook["rules"][0]["resources"] == ["golives"]
        assert hook["rules"][0]["operations"] == ["CREATE", "UPDATE"]
        assert hook["failurePolicy"] == "Fail"
        assert [c["name"] for c in hook["matchConditions"]] == ["resume-changed"]
        assert "oldObject.spec.resume" in hook["matchConditions"][0]["expression"]
    assert objs["Certificate"]["spec"]["secretName"] == WEBHOOK_TLS_SECRET
    assert mutating["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "epj-system/epj-golive-webhook"


# ------------------------------------------------------------------------------------ resume: the server's fact


def golive(resume: dict[str, Any] | None, *, paused: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"kommunenummer": "5035", "wave": "wave-2027-q3", "goLiveDate": "2027-09-06",
                            "paused": paused}  # fmt: skip
    if resume is not None:
        spec["resume"] = resume
    return {"apiVersion": "epj.no/v1alpha1", "kind": "GoLive",
            "metadata": {"name": "golive-5035", "namespace": "epj-system"}, "spec": spec}  # fmt: skip


PROJECT_LEAD = {"username": "per@region.test", "groups": ["system:authenticated", "epj-approver:project-lead"]}


async def test_resume_gets_the_servers_user_and_time_and_only_from_a_role_that_resumes(
    cluster: LocalCluster,
) -> None:
    port = free_port()
    ctx = await cluster.start_operator(webhook_port=port)
    base = f"http://127.0.0.1:{port}"
    held = golive(None)
    # The client claims a time in the future (it would resume a hold that has not happened yet) and another user.
    claimed = golive({"by": "project-lead", "reason": "Extract re-run, reconciled", "at": "2031-01-01T00:00:00Z",
                      "user": "someone-else"})  # fmt: skip
    response = await post_review(f"{base}/resume-stamp", admission_review("UPDATE", claimed, held, PROJECT_LEAD))
    assert response["allowed"] is True
    stamped = jsonpatch.apply_patch(claimed, json.loads(base64.b64decode(response["patch"])))
    server_time = ctx.now().isoformat().replace("+00:00", "Z")
    assert stamped["spec"]["resume"] == {"by": "project-lead", "reason": "Extract re-run, reconciled",
                                         "at": server_time, "user": "per@region.test"}  # fmt: skip
    checked = await post_review(f"{base}/resume-check", admission_review("UPDATE", stamped, held, PROJECT_LEAD))
    assert checked["allowed"] is True
    # What the mutating webhook did not stamp is refused by the validating one.
    forged = await post_review(f"{base}/resume-check", admission_review("UPDATE", claimed, held, PROJECT_LEAD))
    assert forged["allowed"] is False and "not stamped" in forged["status"]["message"]
    # A client re-dating the recorded resume gets the server's time, not its own.
    redated = {**stamped, "spec": {**stamped["spec"], "paused": True,
                                   "resume": {**stamped["spec"]["resume"], "at": "2031-01-01T00:00:00Z"}}}  # fmt: skip
    kept = await post_review(f"{base}/resume-stamp", admission_review("UPDATE", redated, stamped, PROJECT_LEAD))
    restored = jsonpatch.apply_patch(redated, json.loads(base64.b64decode(kept["patch"])))
    assert restored["spec"]["resume"]["at"] == server_time and restored["spec"]["paused"] is True
    # A service owner does not resume a go-live; a clinical lead's groups do not grant project-lead.
    owner = {"username": "ola@kommune.test", "groups": ["epj-approver:service-owner"]}
    as_owner = golive({"by": "service-owner", "reason": "Looks fine now", "at": server_time})
    refused = await post_review(f"{base}/resume-stamp", admission_review("UPDATE", as_owner, held, owner))
    assert refused["allowed"] is False
    assert refused["status"]["message"] == (
        "resume refused: service-owner does not resume a go-live; roles that do: cutover-lead, project-lead"
    )
    clinical = {"username": "ola@kommune.test", "groups": ["epj-approver:clinical-lead"]}
    as_clinical = golive({"by": "project-lead", "reason": "Looks fine now", "at": server_time})
    refused = await post_review(f"{base}/resume-stamp", admission_review("UPDATE", as_clinical, held, clinical))
    assert refused["allowed"] is False
    assert "your groups do not grant the role project-lead (they grant: clinical-lead)" in refused["status"]["message"]


def test_only_a_changed_resume_calls_the_resume_webhooks() -> None:
    """The configurations' CEL matchCondition, evaluated as the API server would (cel-python)."""
    import celpy

    from epj.operator.deploy import webhook_manifests

    objs = {o["kind"]: o for o in webhook_manifests("epj-system", {"app.kubernetes.io/name": "epj-operator"})}
    (condition,) = objs["MutatingWebhookConfiguration"]["webhooks"][1]["matchConditions"]
    env = celpy.Environment()
    program = env.program(env.compile(condition["expression"]))

    def calls(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
        activation = {"object": celpy.json_to_cel(new), "oldObject": celpy.json_to_cel(old)}
        return bool(program.evaluate(activation))

    first = {"by": "project-lead", "reason": "Extract re-run", "at": "2027-09-05T10:00:00Z", "user": "per"}
    assert calls(golive(first), golive(None)) is True  # a new resume
    assert calls(golive(first), None) is True  # created with a resume
    assert calls(golive({**first, "reason": "Again"}), golive(first)) is True  # a second resume
    assert calls(golive(first, paused=True), golive(first)) is False  # pausing does not depend on the operator
    assert calls(golive(None, paused=True), golive(None)) is False


def test_the_emulators_admission_calls_the_resume_webhooks_when_the_cel_condition_does() -> None:
    """The e2e tests' API server must call the resume webhooks exactly when the deployed matchCondition does."""
    import celpy

    from epj.operator.deploy import webhook_manifests
    from epj.operator.emulator import resume_changed

    objs = {o["kind"]: o for o in webhook_manifests("epj-system", {"app.kubernetes.io/name": "epj-operator"})}
    (condition,) = objs["ValidatingWebhookConfiguration"]["webhooks"][1]["matchConditions"]
    env = celpy.Environment()
    program = env.program(env.compile(condition["expression"]))
    first = {"by": "project-lead", "reason": "Extract re-run", "at": "2027-09-05T10:00:00Z", "user": "per"}
    cases = [
        (golive(first), None),
        (golive(first), golive(None)),
        (golive(first), golive(first)),
        (golive(first, paused=True), golive(first)),
        (golive({**first, "at": "2027-09-05T11:00:00Z"}), golive(first)),
        (golive({k: v for k, v in first.items() if k != "user"}), golive(first)),
        (golive(None), golive(first)),
        (golive(None), None),
        (golive(None, paused=True), golive(None)),
    ]
    for new, old in cases:
        activation = {"object": celpy.json_to_cel(new), "oldObject": celpy.json_to_cel(old)}
        assert resume_changed(new, old) is bool(program.evaluate(activation)), (new["spec"], old)
