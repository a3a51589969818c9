"""The runbook's night (``gates.requireExtractDelivered``) ended before its final migration, more than once.

Every planned wave waits for ``extract-delivered`` before the final migration Job: a night can now end (no
extract by the deadline, a rejected extract, a NO-GO) with no final migration of its own. Each such night
still turns tenant traffic off with its OWN rollback Job; a finished Job of an earlier night never stands in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from epj.golive.schedule import Schedule
from epj.operator.testing import LocalCluster, eventually

from .conftest import WAVE_NAME, wave_spec
from .faults import MINUTE, enter, phase_is

TENANT_NS = "kommune-5035"


def _rollback(body: dict[str, Any] | None) -> dict[str, Any]:
    conditions = ((body or {}).get("status") or {}).get("conditions") or []
    return next((dict(c) for c in conditions if c["type"] == "RollbackComplete"), {})


async def _rollback_jobs(cluster: LocalCluster) -> list[str]:
    from epj.operator.kube import JOBS

    jobs = await cluster.client.list(JOBS, TENANT_NS)
    return sorted(j["metadata"]["name"] for j in jobs if j["metadata"]["name"].startswith("rollback-"))


async def _night_without_extract(cluster: LocalCluster, schedule: Schedule, reason: str) -> None:
    """GO for the night, then the extract is rejected: RolledBack before any final migration."""
    await cluster.approve("5035", "go-no-go", "cutover-lead", "GO/NO-GO 1: go for the freeze")
    cluster.advance_to(max(cluster.clock.now(), schedule.cutover_at) + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    cluster.advance(MINUTE)
    await cluster.approve("5035", "extract-delivered", "cutover-lead", reason, reject=True)
    await phase_is(cluster, "5035", "RolledBack")


async def test_each_night_ended_before_its_final_migration_runs_its_own_rollback_job(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(
        WAVE_NAME, {**wave_spec(members=[{"kommunenummer": "5035"}]), "gates": {"requireExtractDelivered": True}}
    )
    for phase in ("Preparing", "Training", "Rehearsal", "Freeze"):
        await enter(cluster, schedule, "5035", phase)

    await _night_without_extract(cluster, schedule, "UTTREKK.txt counts short for CGM")
    first = await eventually(lambda: _rollback_jobs(cluster), lambda jobs: len(jobs) == 1, what="first rollback Job")
    await cluster.finish_job(TENANT_NS, first[0], succeeded=True)
    await eventually(
        lambda: cluster.golive("5035"), lambda b: _rollback(b).get("status") == "True", what="first rollback done"
    )

    # The extract is re-run; a person resumes, and the same evening's second attempt ends the same way.
    cluster.advance(MINUTE)
    await cluster.resume("5035", "project-lead", "Extract re-run by the vendor")
    await phase_is(cluster, "5035", "Freeze")
    cluster.advance(MINUTE)
    await _night_without_extract(cluster, schedule, "UTTREKK.txt counts short again")

    jobs = await eventually(lambda: _rollback_jobs(cluster), lambda jobs: len(jobs) == 2, what="second rollback Job")
    (second,) = set(jobs) - set(first)
    body = await cluster.golive("5035")
    # Traffic is not off until the second night's own Job says so (the first night's success does not count).
    assert _rollback(body).get("status") != "True", _rollback(body)
    await cluster.finish_job(TENANT_NS, second, succeeded=True)
    done = await eventually(
        lambda: cluster.golive("5035"), lambda b: _rollback(b).get("status") == "True", what="second rollback done"
    )
    assert second in _rollback(done)["message"]


async def test_a_crash_before_the_second_nights_rollback_job_still_orders_it(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    """RolledBack saved, the process dies before acting: the first night's recorded success does not stand in."""
    from epj.operator.testing import CrashAt

    rollbacks: list[str] = []

    def second_rollback(detail: dict[str, Any]) -> bool:
        if detail["phase"] == "RolledBack" and "RollBack" in detail["actions"]:
            rollbacks.append(detail["golive"])
        return len(rollbacks) == 2

    crash = CrashAt("golive.saved", second_rollback)
    await cluster.start_operator(fault=crash)
    await cluster.apply_wave(
        WAVE_NAME, {**wave_spec(members=[{"kommunenummer": "5035"}]), "gates": {"requireExtractDelivered": True}}
    )
    for phase in ("Preparing", "Training", "Rehearsal", "Freeze"):
        await enter(cluster, schedule, "5035", phase)
    await _night_without_extract(cluster, schedule, "UTTREKK.txt counts short for CGM")
    first = await eventually(lambda: _rollback_jobs(cluster), lambda jobs: len(jobs) == 1, what="first rollback Job")
    await cluster.finish_job(TENANT_NS, first[0], succeeded=True)
    await eventually(
        lambda: cluster.golive("5035"), lambda b: _rollback(b).get("status") == "True", what="first rollback done"
    )
    cluster.advance(MINUTE)
    await cluster.resume("5035", "project-lead", "Extract re-run by the vendor")
    await phase_is(cluster, "5035", "Freeze")
    cluster.advance(MINUTE)
    await _night_without_extract(cluster, schedule, "UTTREKK.txt counts short again")
    await crash.wait()
    await cluster.stop_operator()
    assert await _rollback_jobs(cluster) == first  # the crash came first

    await cluster.start_operator()
    jobs = await eventually(lambda: _rollback_jobs(cluster), lambda jobs: len(jobs) == 2, what="second rollback Job")
    (second,) = set(jobs) - set(first)
    body = await cluster.golive("5035")
    assert _rollback(body).get("status") != "True" and second in _rollback(body)["message"], _rollback(body)


async def test_an_operator_restart_while_waiting_for_the_extract_starts_the_migration_once(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(
        WAVE_NAME, {**wave_spec(members=[{"kommunenummer": "5035"}]), "gates": {"requireExtractDelivered": True}}
    )
    for phase in ("Preparing", "Training", "Rehearsal", "Freeze"):
        await enter(cluster, schedule, "5035", phase)
    await cluster.approve("5035", "go-no-go", "cutover-lead", "GO/NO-GO 1: go for the freeze")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    await cluster.stop_operator()
    cluster.advance(dt.timedelta(hours=1))
    await cluster.approve("5035", "extract-delivered", "cutover-lead", "UTTREKK.txt counts match")
    await cluster.start_operator()
    migrations = await eventually(
        cluster.migration_jobs, lambda mjs: len(mjs) == 2, what="the final MigrationJob after the restart"
    )
    assert sorted(m["metadata"]["name"] for m in migrations) == ["golive-5035-cutover-1", "golive-5035-rehearsal-1"]
    await cluster.stop_operator()
    await cluster.start_operator()
    cluster.wake_all()
    await phase_is(cluster, "5035", "Cutover")
    assert len(await cluster.migration_jobs()) == 2


async def test_an_operator_down_past_the_extract_deadline_rolls_the_night_back_on_restart(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(
        WAVE_NAME, {**wave_spec(members=[{"kommunenummer": "5035"}]), "gates": {"requireExtractDelivered": True}}
    )
    for phase in ("Preparing", "Training", "Rehearsal", "Freeze"):
        await enter(cluster, schedule, "5035", phase)
    await cluster.approve("5035", "go-no-go", "cutover-lead", "GO/NO-GO 1: go for the freeze")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    await cluster.stop_operator()
    cluster.advance(dt.timedelta(hours=4))
    await cluster.start_operator()
    status = await phase_is(cluster, "5035", "RolledBack")
    assert any(g["name"] == "extract-delivered" and g["outcome"] == "TimedOut" for g in status["gates"])
    assert [m["metadata"]["name"] for m in await cluster.migration_jobs()] == ["golive-5035-rehearsal-1"]


async def test_an_extract_rejected_while_the_final_migration_runs_stops_it_and_rolls_back(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await cluster.apply_wave(
        WAVE_NAME, {**wave_spec(members=[{"kommunenummer": "5035"}]), "gates": {"requireExtractDelivered": True}}
    )
    for phase in ("Preparing", "Training", "Rehearsal", "Freeze"):
        await enter(cluster, schedule, "5035", phase)
    await cluster.approve("5035", "go-no-go", "cutover-lead", "GO/NO-GO 1: go for the freeze")
    cluster.advance_to(schedule.cutover_at + MINUTE)
    await phase_is(cluster, "5035", "Cutover")
    cluster.advance(dt.timedelta(hours=1))
    await cluster.approve("5035", "extract-delivered", "cutover-lead", "UTTREKK.txt counts match")
    await eventually(lambda: cluster.job_state(TENANT_NS, "migrate-cutover-5035-1"), what="final migration Job")
    cluster.advance(dt.timedelta(minutes=20))
    await cluster.approve("5035", "extract-delivered", "cutover-lead", "CGM counts were from Tuesday", reject=True)
    status = await phase_is(cluster, "5035", "RolledBack")
    assert "CGM counts were from Tuesday" in status["phaseReason"]
    await eventually(
        lambda: cluster.job_state(TENANT_NS, "migrate-cutover-5035-1"), lambda s: s is None, what="migration stopped"
    )
    # The rollback Job is created right after the migration Job is stopped (same act, next request).
    await eventually(lambda: _rollback_jobs(cluster), lambda jobs: jobs == ["rollback-5035-cutover-1"], what="rollback")
