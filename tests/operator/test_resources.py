"""The objects the operator writes and reads, without an API server: Jobs, reconciliation, peering."""

from __future__ import annotations

import json

import kubernetes_validate

from epj.golive.phases import JobState, MigrationPurpose
from epj.operator import resources
from epj.operator.deploy import peering_manifests
from epj.operator.testing import reconciliation_report

GOLIVE = {
    "apiVersion": "epj.no/v1alpha1",
    "kind": "GoLive",
    "metadata": {"name": "golive-5035", "namespace": "epj-golive", "uid": "u-1"},
    "spec": {"kommunenummer": "5035", "wave": "w", "goLiveDate": "2027-09-06"},
}


def test_migration_job_for_a_known_tenant_uses_the_migration_area_manifest() -> None:
    mj = resources.migration_job_cr(
        GOLIVE, job_name="golive-5035-cutover-1", purpose=MigrationPurpose.CUTOVER, attempt=1, image="img:1"
    )
    mj["metadata"]["uid"] = "u-2"
    assert mj["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    job = resources.migration_batch_job(mj)
    assert job["metadata"]["name"] == "migrate-cutover-5035-1"
    assert job["metadata"]["namespace"] == "kommune-5035"
    assert job["metadata"]["labels"][resources.MIGRATION_JOB_LABEL] == "golive-5035-cutover-1"
    kubernetes_validate.validate(job, "1.31", strict=True)


def test_minimal_jobs_validate_against_the_kubernetes_schema() -> None:
    for job in (
        resources.smoke_job("5035", "golive-5035-cutover-1", "golive-5035", "img:1"),
        resources.rollback_job("3001", "golive-3001-cutover-2", "golive-3001", "img:1"),
    ):
        kubernetes_validate.validate(job, "1.31", strict=True)
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["securityContext"]["runAsNonRoot"] is True


def test_job_state_follows_the_job_controller() -> None:
    assert resources.job_state(None) == JobState.PENDING
    assert resources.job_state({"status": {"active": 1}}) == JobState.RUNNING
    done = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert resources.job_state(done) == JobState.SUCCEEDED
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}}
    assert resources.job_state(failed) == JobState.FAILED
    assert resources.job_message(failed) == "BackoffLimitExceeded"


def test_reconciliation_is_read_from_the_newest_termination_message() -> None:
    old = {"status": {"containerStatuses": [{"state": {"terminated": {"finishedAt": "1", "message": "{}"}}}]}}
    report = reconciliation_report("5035", complete=False, unaccounted=7)
    new = {
        "status": {"containerStatuses": [{"state": {"terminated": {"finishedAt": "2", "message": json.dumps(report)}}}]}
    }
    rec = resources.reconciliation_from_report(resources.termination_message([old, new]))
    assert rec is not None and not rec.complete
    assert rec.counts["unaccounted"] == 7 and rec.message == "EXTRACT_INCOMPLETE"
    truncated = resources.reconciliation_from_report('{"complete": tr')
    assert truncated is not None and not truncated.complete and "unreadable" in (truncated.message or "")
    assert resources.reconciliation_from_report(None) is None


def test_peering_manifests_name_the_operators_peering_object() -> None:
    crd, peering = peering_manifests("epj-golive")
    assert crd["metadata"]["name"] == "kopfpeerings.kopf.dev"
    assert peering["metadata"] == {"name": "epj-golive-operator", "namespace": "epj-golive"}
