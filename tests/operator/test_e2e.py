"""End-to-end: the real kopf operator against the kmock emulator, months played out on a simulated clock.

The tests act as the world does: the project lead applies a RolloutWave and records
approvals (the CLI's functions), the Job controller marks Jobs finished (with the
migration's reconciliation report in the pod's termination message), the training
system writes its ConfigMap, Alertmanager answers from the emulator. They assert what
people see: phases, conditions, gates, events, the approval trail and the wave status.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import urllib.request
from typing import Any

from epj.golive.schedule import Schedule
from epj.operator.kube import GOLIVES, MIGRATION_JOBS, ROLLOUT_WAVES
from epj.operator.testing import LocalCluster, eventually, reconciliation_report

from .conftest import TENANTS, WAVE_NAME, wave_spec

MINUTE = dt.timedelta(minutes=1)


async def phase_is(cluster: LocalCluster, kommunenummer: str, phase: str, timeout: float = 10.0) -> dict[str, Any]:
    body = await eventually(
        lambda: cluster.golive(kommunenummer),
        lambda b: b is not None and (b.get("status") or {}).get("phase") == phase,
        what=f"GoLive {kommunenummer} in {phase}",
        timeout=timeout,
    )
    assert body is not None
    return body


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in body["status"]["conditions"] if c["type"] == kind)


def gate(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in body["status"]["gates"] if g["name"] == name)


async def through_rehearsal(cluster: LocalCluster, schedule: Schedule, tenants: tuple[str, ...]) -> None:
    """Training done, rehearsal migrations reconciled complete, into Freeze."""
    await cluster.set_training(dict.fromkeys(tenants, 0.95))
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    for k in tenants:
        await phase_is(cluster, k, "Rehearsal")
        await eventually(
            lambda k=k: cluster.job_state(f"kommune-{k}", f"migrate-rehearsal-{k}-1"), what="rehearsal Job"
        )
        await cluster.finish_job(
            f"kommune-{k}", f"migrate-rehearsal-{k}-1", succeeded=True, reconciliation=reconciliation_report(k)
        )
    for k in tenants:
        await eventually(
            lambda k=k: cluster.golive(k),
            lambda b: (b or {}).get("status", {}).get("migration", {}).get("state") == "Succeeded",
            what=f"{k} rehearsal result recorded",
        )
    cluster.advance_to(schedule.freeze_at + MINUTE)
    for k in tenants:
        await phase_is(cluster, k, "Freeze")


async def cutover_job_done(cluster: LocalCluster, k: str, *, complete: bool = True, attempt: int = 1) -> None:
    name = f"migrate-cutover-{k}-{attempt}"
    await eventually(lambda: cluster.job_state(f"kommune-{k}", name), what=f"cutover Job {name}")
    report = reconciliation_report(k, complete=complete, unaccounted=0 if complete else 7)
    await cluster.finish_job(f"kommune-{k}", name, succeeded=complete, reconciliation=report)


async def test_wave_of_three_goes_live_with_jobs_events_and_approval_trail(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    ctx = await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec())
    for k in TENANTS:
        body = await phase_is(cluster, k, "Planned")
        assert body["metadata"]["ownerReferences"][0]["kind"] == "RolloutWave"

    await through_rehearsal(cluster, schedule, TENANTS)
    migration_jobs = await cluster.migration_jobs()
    assert sorted(m["metadata"]["name"] for m in migration_jobs) == sorted(f"golive-{k}-rehearsal-1" for k in TENANTS)
    assert all(m["status"]["reconciliation"]["counts"]["unaccounted"] == 0 for m in migration_jobs)

    # No go/no-go yet: at the cutover instant the gate waits, the tenant stays in Freeze and says what to do.
    cluster.advance_to(schedule.cutover_at + MINUTE)
    body = await eventually(
        lambda: cluster.golive("5035"), lambda b: "golive approve" in b["status"]["nextAction"], what="next action"
    )
    assert body["status"]["phase"] == "Freeze"
    assert "epj golive approve --tenant 5035 --gate go-no-go" in body["status"]["nextAction"]
    assert condition(body, "Blocked")["status"] == "True"

    for k in TENANTS:
        await cluster.approve(k, "go-no-go", "project-lead", "Rehearsal reconciled; training 95 %")
    for k in ("5035", "5006"):
        await phase_is(cluster, k, "Cutover")
        await cutover_job_done(cluster, k)
    # Malvik waits for Stjørdal (its dependency) to be live before its own cutover.
    malvik = await cluster.golive("5031")
    assert malvik is not None and malvik["status"]["phase"] == "Freeze"
    for k in ("5035", "5006"):
        await eventually(lambda k=k: cluster.job_state(f"kommune-{k}", f"smoke-{k}-cutover-1"), what="smoke Job")
        await cluster.finish_job(f"kommune-{k}", f"smoke-{k}-cutover-1", succeeded=True)
        body = await phase_is(cluster, k, "Live")
        assert condition(body, "Ready")["status"] == "True"
    await phase_is(cluster, "5031", "Cutover")
    await cutover_job_done(cluster, "5031")
    await eventually(lambda: cluster.job_state("kommune-5031", "smoke-5031-cutover-1"), what="smoke Job")
    await cluster.finish_job("kommune-5031", "smoke-5031-cutover-1", succeeded=True)
    await phase_is(cluster, "5031", "Live")

    cluster.advance_to(schedule.go_live_at + MINUTE)
    for k in TENANTS:
        await phase_is(cluster, k, "Hypercare")
        await cluster.approve(k, "hypercare-exit", "command-centre-lead", "Three calm weeks in the command centre")
    cluster.advance_to(schedule.go_live_at + dt.timedelta(days=21, minutes=2))
    for k in TENANTS:
        body = await phase_is(cluster, k, "Stable")
        assert condition(body, "Ready")["status"] == "True"
        assert condition(body, "Progressing")["reason"] == "Completed"
        assert {g["name"]: g["outcome"] for g in body["status"]["gates"]}["go-no-go"] == "Passed"

    stjordal = await cluster.golive("5035")
    assert stjordal is not None
    history = stjordal["status"]["history"]
    trail = [e["toPhase"] for e in history if e["kind"] == "Transition"]
    assert trail == ["Preparing", "Training", "Rehearsal", "Freeze", "Cutover", "Live", "Hypercare", "Stable"]
    approvals = [e for e in history if e["kind"] == "Approval"]
    assert [(a["gate"], a["by"], a["decision"]) for a in approvals] == [
        ("go-no-go", "project-lead", "approve"),
        ("hypercare-exit", "command-centre-lead", "approve"),
    ]
    assert approvals[0]["reason"] == "Rehearsal reconciled; training 95 %"

    events = await eventually(
        lambda: cluster.events("golive-5035"),
        lambda items: any("Hypercare → Stable" in e["message"] for e in items),
        what="events up to Stable",
    )
    reasons = [e["reason"] for e in events]
    assert reasons.count("Scheduled") >= 4 and reasons.count("GatesPassed") >= 3
    assert "ApprovalRecorded" in reasons and "MigrationRequested" in reasons
    assert any("Cutover → Live" in e["message"] for e in events)

    wave = await eventually(
        lambda: cluster.wave(WAVE_NAME), lambda w: (w or {}).get("status", {}).get("phase") == "Stable", what="wave"
    )
    assert wave is not None
    assert wave["status"]["order"] == ["5035", "5031", "5006"]
    assert wave["status"]["tenantsByPhase"] == {"Stable": 3}

    registry = ctx.metrics.registry
    assert registry.get_sample_value("epj_golive_tenants", {"phase": "Stable"}) == 3
    assert registry.get_sample_value("epj_golive_phase", {"tenant": "5035", "phase": "Stable"}) == 1
    assert (
        registry.get_sample_value(
            "epj_golive_gate_outcomes_total", {"tenant": "5035", "gate": "go-no-go", "outcome": "Passed"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "epj_golive_transitions_total", {"tenant": "5031", "from_phase": "Cutover", "to_phase": "Live"}
        )
        == 1
    )


async def test_failed_cutover_rolls_back_holds_and_blocks_only_its_dependent(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec())
    await through_rehearsal(cluster, schedule, TENANTS)
    for k in TENANTS:
        await cluster.approve(k, "go-no-go", "project-lead", "Go for cutover")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    await phase_is(cluster, "5006", "Cutover")

    # Stjørdal's final extract was truncated: the migration reports records unaccounted for.
    await cutover_job_done(cluster, "5035", complete=False)
    body = await phase_is(cluster, "5035", "RolledBack")
    assert gate(body, "cutover-reconciled")["outcome"] == "Failed"
    assert "7 records unaccounted for" in gate(body, "cutover-reconciled")["reason"]
    assert condition(body, "Blocked")["reason"] == "RolledBack"
    assert "epj golive resume --tenant 5035" in body["status"]["nextAction"]
    # The rollback Job (legacy read-write, traffic off) and a Warning event follow the persisted status.
    await eventually(lambda: cluster.job_state("kommune-5035", "rollback-5035-cutover-1"), what="rollback Job")
    await eventually(
        lambda: cluster.events("golive-5035"),
        lambda events: any(e["type"] == "Warning" and e["reason"] == "RolledBack" for e in events),
        what="RolledBack warning event",
    )

    # Malvik depends on Stjørdal: held. Steinkjer does not: goes live.
    malvik = await phase_is(cluster, "5031", "OnHold")
    assert gate(malvik, "dependencies-live")["outcome"] == "Failed"
    await cutover_job_done(cluster, "5006")
    await eventually(lambda: cluster.job_state("kommune-5006", "smoke-5006-cutover-1"), what="smoke Job")
    await cluster.finish_job("kommune-5006", "smoke-5006-cutover-1", succeeded=True)
    await phase_is(cluster, "5006", "Live")
    wave = await eventually(
        lambda: cluster.wave(WAVE_NAME), lambda w: (w or {}).get("status", {}).get("blocked"), what="wave blocked"
    )
    assert wave is not None and wave["status"]["blocked"] == {"5031": ["5035"]}
    assert wave["status"]["phase"] == "Blocked"

    # Nothing advances after a rollback until a person resumes, whatever the clock says.
    cluster.advance_to(schedule.go_live_at + dt.timedelta(days=2))
    body = await phase_is(cluster, "5035", "RolledBack")
    assert len([m for m in await cluster.migration_jobs() if "cutover" in m["metadata"]["name"]]) == 2

    await cluster.resume("5035", "project-lead", "Extract re-delivered and verified")
    body = await phase_is(cluster, "5035", "Freeze")
    assert [e["kind"] for e in body["status"]["history"]].count("Resume") == 1
    # The earlier go/no-go no longer counts after a rollback: a new decision is needed.
    assert gate(body, "go-no-go")["outcome"] == "Pending"


async def test_restart_mid_cutover_resumes_without_a_second_migration_job(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await through_rehearsal(cluster, schedule, ("5035",))
    await cluster.approve("5035", "go-no-go", "project-lead", "Go for cutover")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    await eventually(lambda: cluster.job_state("kommune-5035", "migrate-cutover-5035-1"), what="cutover Job")

    await cluster.stop_operator()
    cluster.advance(dt.timedelta(hours=1))  # the night goes on while the operator is away
    restarted = await cluster.start_operator()
    body = await phase_is(cluster, "5035", "Cutover")
    assert body["status"]["migration"]["jobName"] == "golive-5035-cutover-1"

    await cutover_job_done(cluster, "5035")
    await eventually(lambda: cluster.job_state("kommune-5035", "smoke-5035-cutover-1"), what="smoke Job")
    await cluster.finish_job("kommune-5035", "smoke-5035-cutover-1", succeeded=True)
    body = await phase_is(cluster, "5035", "Live")
    cutover_jobs = [m["metadata"]["name"] for m in await cluster.migration_jobs() if "cutover" in m["metadata"]["name"]]
    assert cutover_jobs == ["golive-5035-cutover-1"]
    # Going live seals the store (a Job started right after the Live status is saved).
    await eventually(lambda: cluster.job_state("kommune-5035", "seal-5035-cutover-1"), what="seal Job")
    batch = [j["metadata"]["name"] for j in await cluster.jobs("kommune-5035") if "cutover" in j["metadata"]["name"]]
    assert sorted(batch) == ["migrate-cutover-5035-1", "seal-5035-cutover-1", "smoke-5035-cutover-1"]
    assert body["status"]["attempts"] == {"rehearsal": 1, "cutover": 1}
    registry = restarted.metrics.registry

    async def live_count() -> float | None:
        return registry.get_sample_value("epj_golive_tenants", {"phase": "Live"})

    await eventually(live_count, lambda n: n == 1, what="tenant counted in Live after the restart")
    assert registry.get_sample_value("epj_golive_tenants", {"phase": "Cutover"}) == 0


async def test_rejected_go_no_go_holds_until_resumed(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5006"}]))
    await through_rehearsal(cluster, schedule, ("5006",))
    await cluster.approve(
        "5006", "go-no-go", "municipality-director", "Staffing gap on the cutover weekend", reject=True
    )
    body = await phase_is(cluster, "5006", "OnHold")
    assert gate(body, "go-no-go")["outcome"] == "Failed"
    assert body["status"]["heldFrom"] == "Freeze"
    trail = [(e["gate"], e["decision"], e["by"]) for e in body["status"]["history"] if e["kind"] == "Approval"]
    assert trail == [("go-no-go", "reject", "municipality-director")]

    cluster.advance(dt.timedelta(hours=2))
    await cluster.resume("5006", "project-lead", "Staffing sorted out")
    body = await phase_is(cluster, "5006", "Freeze")
    assert condition(body, "Blocked")["status"] in ("True", "False")


async def test_wave_pause_is_a_lever_every_member_honours(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(paused=True))
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    for k in TENANTS:
        body = await eventually(
            lambda k=k: cluster.golive(k),
            lambda b: any(c["reason"] == "Paused" for c in (b or {}).get("status", {}).get("conditions", [])),
            what=f"{k} paused",
        )
        assert body is not None and body["status"]["phase"] == "Planned"
    await cluster.client.patch(ROLLOUT_WAVES, cluster.namespace, WAVE_NAME, {"spec": {"paused": False}})
    for k in TENANTS:
        await phase_is(cluster, k, "Rehearsal")


async def test_repeated_reconcile_errors_set_stalled_and_clear_on_recovery(cluster: LocalCluster) -> None:
    await cluster.start_operator(stall_after=2)
    # A GoLive made by hand with a date the core cannot read (a real API server's schema would refuse it;
    # here it stands for any persistent failure).
    body = {
        "metadata": {"name": "golive-5059"},
        "spec": {"kommunenummer": "5059", "wave": "manual", "goLiveDate": "2027-02-30"},
    }
    await cluster.client.create(GOLIVES, cluster.namespace, body)
    stalled = await eventually(
        lambda: cluster.golive("5059"),
        lambda b: any(
            c["type"] == "Stalled" and c["status"] == "True" for c in (b or {}).get("status", {}).get("conditions", [])
        ),
        what="Stalled condition",
    )
    assert stalled is not None
    message = next(c["message"] for c in stalled["status"]["conditions"] if c["type"] == "Stalled")
    assert "consecutive reconcile errors" in message
    await cluster.client.patch(GOLIVES, cluster.namespace, "golive-5059", {"spec": {"goLiveDate": "2027-03-01"}})
    recovered = await eventually(
        lambda: cluster.golive("5059"),
        lambda b: any(
            c["type"] == "Stalled" and c["status"] == "False" for c in (b or {}).get("status", {}).get("conditions", [])
        ),
        what="Stalled cleared",
    )
    assert recovered is not None and recovered["status"]["phase"] == "Preparing"  # 18 months before 2027-03-01


async def test_migration_job_deletion_waits_for_its_running_job(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    cluster.advance_to(schedule.rehearsal_at + MINUTE)
    await eventually(lambda: cluster.job_state("kommune-5035", "migrate-rehearsal-5035-1"), what="rehearsal Job")
    mj = await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: "epj.no/golive-operator" in ((b or {}).get("metadata", {}).get("finalizers") or []),
        what="finalizer on the MigrationJob",
    )
    assert mj is not None
    await cluster.client.delete(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    held = await cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1")
    assert held is not None and held["metadata"].get("deletionTimestamp")
    await cluster.finish_job("kommune-5035", "migrate-rehearsal-5035-1", succeeded=True)
    await eventually(
        lambda: cluster.client.get(MIGRATION_JOBS, cluster.namespace, "golive-5035-rehearsal-1"),
        lambda b: b is None,
        what="MigrationJob gone after its Job finished",
        timeout=45,
    )


async def test_liveness_endpoint_reports_the_probe(cluster: LocalCluster) -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    await cluster.start_operator(liveness=f"http://127.0.0.1:{port}/healthz")
    await cluster.apply_wave(WAVE_NAME, wave_spec(members=[{"kommunenummer": "5035"}]))
    await phase_is(cluster, "5035", "Planned")

    def fetch() -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
            data: dict[str, Any] = json.loads(answer.read())
            return data

    health = await asyncio.to_thread(fetch)
    assert health.get("golives") == 1
