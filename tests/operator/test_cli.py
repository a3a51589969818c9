"""``epj golive approve|resume|status`` against an emulated API server (no operator needed)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.operator.emulator import emulator_thread
from epj.operator.testing import NAMESPACE, admit_in_process, default_user

SERVER_TIME = dt.datetime(2027, 9, 4, 15, 0, tzinfo=dt.UTC)

runner = CliRunner()


async def _stamp(operation: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The API server's admission chain (the webhooks' rules, in-process), at a fixed server time."""
    return await admit_in_process(operation, obj, old, user=default_user(), now=SERVER_TIME)


@pytest.fixture()
def server() -> Iterator[str]:
    with emulator_thread(NAMESPACE) as (emulator, url):
        emulator.admission = _stamp
        golive = {
            "apiVersion": "epj.no/v1alpha1",
            "kind": "GoLive",
            "metadata": {"name": "golive-5035"},
            "spec": {"kommunenummer": "5035", "wave": "wave-2027-q3", "goLiveDate": "2027-09-06"},
            "status": {"phase": "Freeze", "nextAction": "Waiting for go-no-go"},
        }
        request = urllib.request.Request(
            f"{url}/apis/epj.no/v1alpha1/namespaces/{NAMESPACE}/golives",
            data=json.dumps(golive).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
        yield url


def test_approve_records_role_and_reason_then_status_shows_it(server: str) -> None:
    result = runner.invoke(
        app,
        [
            "golive",
            "approve",
            "--tenant",
            "5035",
            "--gate",
            "go-no-go",
            "--by",
            "project-lead",
            "--reason",
            "Rehearsal clean",
            "--server",
            server,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "go-no-go approved by project-lead at 2027-09-04T15:00:00Z" in result.output
    status = runner.invoke(app, ["golive", "status", "--tenant", "5035", "--json", "--server", server])
    assert status.exit_code == 0, status.output
    rows = json.loads(status.output)
    assert rows[0]["phase"] == "Freeze"
    assert [(a["gate"], a["decision"], a["by"], a["reason"], a["at"]) for a in rows[0]["approvals"]] == [
        ("go-no-go", "approve", "project-lead", "Rehearsal clean", "2027-09-04T15:00:00Z")
    ]


def test_cutover_lead_as_the_runbook_names_it_is_accepted(server: str) -> None:
    result = runner.invoke(
        app,
        ["golive", "approve", "5035", "--gate", "go-no-go", "--by", "cutover-lead", "--reason", "Reconciled",
         "--server", server],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_service_owner_is_refused_for_go_no_go_with_one_plain_message(server: str) -> None:
    result = runner.invoke(
        app,
        ["golive", "approve", "5035", "--gate", "go-no-go", "--by", "service-owner", "--reason", "looks fine",
         "--server", server],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "service-owner does not decide go-no-go" in result.output and "Traceback" not in result.output


def test_a_decision_without_the_servers_stamp_is_reported_not_counted() -> None:
    with emulator_thread(NAMESPACE) as (_, url):  # no admission chain: as if the webhook were bypassed
        golive = {"apiVersion": "epj.no/v1alpha1", "kind": "GoLive", "metadata": {"name": "golive-5035"},
                  "spec": {"kommunenummer": "5035", "wave": "w", "goLiveDate": "2027-09-06"}}  # fmt: skip
        request = urllib.request.Request(
            f"{url}/apis/epj.no/v1alpha1/namespaces/{NAMESPACE}/golives", data=json.dumps(golive).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10):
            pass
        result = runner.invoke(
            app, ["golive", "approve", "5035", "--gate", "go-no-go", "--by", "cutover-lead", "--reason", "all go",
                  "--server", url],
        )  # fmt: skip
    assert result.exit_code == 1
    assert "will not count" in result.output and "webhook" in result.output


def test_user_errors_name_the_field_and_exit_non_zero(server: str) -> None:
    by_name = runner.invoke(
        app,
        [
            "golive",
            "approve",
            "--tenant",
            "5035",
            "--gate",
            "go-no-go",
            "--by",
            "Kari Nordmann",
            "--reason",
            "ok go",
            "--server",
            server,
        ],
    )
    assert by_name.exit_code == 1
    assert "--by" in by_name.output and "never a person's name" in by_name.output
    wrong_gate = runner.invoke(
        app,
        [
            "golive",
            "approve",
            "--tenant",
            "5035",
            "--gate",
            "smoke-checks",
            "--by",
            "project-lead",
            "--reason",
            "ok go",
            "--server",
            server,
        ],
    )
    assert wrong_gate.exit_code == 1 and "decided by evidence" in wrong_gate.output
    missing = runner.invoke(
        app, ["golive", "resume", "--tenant", "5999", "--by", "project-lead", "--reason", "fixed", "--server", server]
    )
    assert missing.exit_code == 1 and "no GoLive for tenant 5999" in missing.output


def test_resume_writes_the_request_into_the_spec(server: str) -> None:
    result = runner.invoke(
        app,
        [
            "golive",
            "resume",
            "--tenant",
            "5035",
            "--by",
            "project-lead",
            "--reason",
            "Extract re-delivered",
            "--server",
            server,
        ],
    )
    assert result.exit_code == 0, result.output
    with urllib.request.urlopen(f"{server}/apis/epj.no/v1alpha1/namespaces/{NAMESPACE}/golives/golive-5035") as answer:
        body = json.loads(answer.read())
    assert body["spec"]["resume"]["by"] == "project-lead"
    assert body["spec"]["resume"]["reason"] == "Extract re-delivered"


def test_operator_run_requires_a_scope() -> None:
    result = runner.invoke(app, ["operator", "run", "--standalone"])
    assert result.exit_code == 1
    assert "--namespace" in result.output


def test_resume_after_a_rollback_restores_the_replicas_it_scaled_to_zero() -> None:
    import asyncio

    from epj.operator.kube import GOLIVES, KubeClient
    from epj.operator.rollback import DEPLOYMENTS, rollback
    from epj.operator.testing import PODS

    def deployment(name: str, replicas: int, component: str = "app") -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "labels": {"epj.no/component": component}},
                "spec": {"replicas": replicas}}  # fmt: skip

    async def scenario(url: str) -> None:
        async with KubeClient(url) as client:
            golive = {"apiVersion": "epj.no/v1alpha1", "kind": "GoLive", "metadata": {"name": "golive-5035"},
                      "spec": {"kommunenummer": "5035", "wave": "w", "goLiveDate": "2027-09-06"},
                      "status": {"phase": "RolledBack", "migration": {"jobName": "golive-5035-cutover-1"}}}  # fmt: skip
            await client.create(GOLIVES, NAMESPACE, golive)
            for obj in (deployment("epj-web", 3), deployment("epj-api", 2), deployment("epj-exporter", 1, "exporter")):
                await client.create(DEPLOYMENTS, "kommune-5035", obj)
            records: list[str] = []
            outcome = await rollback(client, "5035", "kommune-5035", record=records.append)
            assert outcome.scaled == ["epj-api", "epj-web"]
            assert json.loads(records[0])["replicas_before"] == {"epj-api": 2, "epj-web": 3}
            # The rollback Job's pod ends with that record as its termination message (kubelet's part).
            job = "rollback-5035-cutover-1"
            pod = {"metadata": {"name": f"{job}-p1", "labels": {"job-name": job}},
                   "status": {"containerStatuses": [{"name": "main", "state": {"terminated": {
                       "exitCode": 0, "message": records[0]}}}]}}  # fmt: skip
            await client.create(PODS, "kommune-5035", pod)
            scaled = {d["metadata"]["name"]: d for d in await client.list(DEPLOYMENTS, "kommune-5035")}
            assert scaled["epj-web"]["spec"]["replicas"] == 0 and scaled["epj-api"]["spec"]["replicas"] == 0

    with emulator_thread(NAMESPACE) as (_, url):
        asyncio.run(scenario(url))
        result = runner.invoke(
            app, ["golive", "resume", "--tenant", "5035", "--by", "project-lead", "--reason", "Extract re-run",
                  "--server", url],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "replicas restored as recorded before the rollback (epj-api=2, epj-web=3)" in result.output

        async def after() -> dict[str, Any]:
            async with KubeClient(url) as client:
                return {d["metadata"]["name"]: d for d in await client.list(DEPLOYMENTS, "kommune-5035")}

        restored = asyncio.run(after())
    assert restored["epj-web"]["spec"]["replicas"] == 3 and restored["epj-api"]["spec"]["replicas"] == 2
    assert restored["epj-exporter"]["spec"]["replicas"] == 1


def test_resume_by_a_role_that_does_not_resume_is_one_plain_message(server: str) -> None:
    result = runner.invoke(
        app, ["golive", "resume", "--tenant", "5035", "--by", "service-owner", "--reason", "Looks fine", "--server",
              server],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--by service-owner does not resume a go-live; roles that do: cutover-lead, project-lead" in result.output
    assert "Traceback" not in result.output
    with urllib.request.urlopen(f"{server}/apis/epj.no/v1alpha1/namespaces/{NAMESPACE}/golives/golive-5035") as answer:
        assert "resume" not in json.loads(answer.read())["spec"]  # nothing written


def test_resume_of_a_tenant_that_is_not_held_says_it_ends_no_hold(server: str) -> None:
    result = runner.invoke(
        app, ["golive", "resume", "--tenant", "5035", "--by", "cutover-lead", "--reason", "Just in case", "--server",
              server],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the operator acts on it at once" not in result.output
    assert "the tenant is in Freeze, not OnHold or RolledBack: this resume ends no hold" in result.output
    with urllib.request.urlopen(f"{server}/apis/epj.no/v1alpha1/namespaces/{NAMESPACE}/golives/golive-5035") as answer:
        resume = json.loads(answer.read())["spec"]["resume"]
    # The API server's time and user, not the CLI's clock.
    assert (resume["at"], resume["user"]) == (SERVER_TIME.isoformat().replace("+00:00", "Z"), "approver@epj.test")


def test_an_extract_recorded_before_the_night_is_said_not_to_count(server: str) -> None:
    """The fixture's tenant is in Freeze: extract-delivered belongs to the night (from Cutover), not to the freeze."""
    result = runner.invoke(
        app, ["golive", "approve", "--tenant", "5035", "--gate", "extract-delivered", "--by", "cutover-lead",
              "--reason", "UTTREKK.txt counts match", "--server", server],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "the tenant is in Freeze: a decision on extract-delivered counts only once Cutover has begun for this round, "
        "so this one will not count; record it again then"
    ) in result.output
    go = runner.invoke(
        app, ["golive", "approve", "--tenant", "5035", "--gate", "go-no-go", "--by", "cutover-lead", "--reason",
              "GO/NO-GO 1", "--server", server],
    )  # fmt: skip
    assert go.exit_code == 0 and "note:" not in go.output
