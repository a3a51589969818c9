"""The night's timing: deadlines do not move under a running night, and the night starts only in its window."""

from __future__ import annotations

import datetime as dt

from epj.golive.schedule import Schedule
from epj.operator.kube import GOLIVES, ROLLOUT_WAVES
from epj.operator.testing import LocalCluster, eventually

from .conftest import WAVE_NAME, wave_spec
from .faults import MINUTE, drive_to, enter, events_of, finish_migration, finish_smoke, phase_is, status_of


def _gate(status: dict[str, object], name: str) -> dict[str, str]:
    gates = status["gates"]
    assert isinstance(gates, list)
    found: dict[str, str] = next(g for g in gates if g["name"] == name)
    return found


async def test_editing_the_waves_timing_during_cutover_does_not_roll_back_a_healthy_night(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Cutover")
    before = _gate(await status_of(cluster, "5035"), "cutover-reconciled")
    wave = await eventually(
        lambda: cluster.wave(WAVE_NAME),
        lambda w: (w or {}).get("status", {}).get("timingLocked") == ["5035"],
        what="wave status says the member's timing is locked",
    )
    assert wave is not None

    # Someone shortens the migration gate to 1 h and moves the date (the API server's CEL would refuse this).
    edit = {"spec": {"goLiveDate": "2027-09-20", "gates": {"timeoutHours": {"cutover-reconciled": 1}}}}
    await cluster.client.patch(ROLLOUT_WAVES, cluster.namespace, WAVE_NAME, edit)
    await eventually(
        lambda: cluster.events(WAVE_NAME),
        lambda events: any(e["reason"] == "TimingChangeRefused" for e in events),
        what="TimingChangeRefused on the wave",
    )
    golive = await cluster.golive("5035")
    assert golive is not None and golive["spec"]["goLiveDate"] == "2027-09-06"

    # The same edits made directly on the GoLive: the core keeps the deadline it froze, and the date it pinned.
    await cluster.client.patch(GOLIVES, cluster.namespace, "golive-5035", edit)
    await eventually(
        lambda: events_of(cluster, "5035"),
        lambda events: any(e["reason"] == "TimingChangeDeferred" for e in events),
        what="TimingChangeDeferred on the GoLive",
    )
    cluster.advance(dt.timedelta(hours=3))  # the migration takes 3 h: past the edited 1 h, within the frozen 10 h
    await finish_migration(cluster, "5035", "cutover")
    await finish_smoke(cluster, "5035")
    status = await phase_is(cluster, "5035", "Live")
    after = _gate(status, "cutover-reconciled")
    assert after["deadline"] == before["deadline"] and after["outcome"] == "Passed"
    cluster.advance_to(schedule.go_live_at + MINUTE)  # Hypercare on the pinned morning, not the edited date
    await phase_is(cluster, "5035", "Hypercare")


async def test_a_late_approval_holds_with_the_reason_and_what_to_do(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Freeze")
    assert schedule.cutover_latest_at is not None
    cluster.advance_to(schedule.cutover_latest_at + dt.timedelta(hours=1))
    await cluster.approve("5035", "go-no-go", "project-lead", "Finally green at 21:00")
    status = await phase_is(cluster, "5035", "OnHold")
    assert status["heldFrom"] == "Freeze"
    assert _gate(status, "cutover-window")["outcome"] == "Failed"
    assert "latest start 2027-09-05 20:00 (Oslo)" in status["phaseReason"]
    assert "Re-plan the go-live" in status["nextAction"] and "resume" in status["nextAction"]
    await eventually(
        lambda: events_of(cluster, "5035"),
        lambda events: any(e["reason"] == "CutoverWindowMissed" and e["type"] == "Warning" for e in events),
        what="CutoverWindowMissed warning event",
    )


async def test_after_an_operator_outage_the_night_does_not_start_in_the_morning(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator()
    await drive_to(cluster, schedule, "5035", "Freeze")
    await cluster.approve("5035", "go-no-go", "project-lead", "Go for the cutover night")
    await cluster.stop_operator()
    cluster.advance_to(schedule.go_live_at + dt.timedelta(hours=4))  # back at 11:00 on go-live day
    await cluster.start_operator()
    status = await phase_is(cluster, "5035", "OnHold")
    assert "Cutover" not in [e["toPhase"] for e in status["history"] if e["kind"] == "Transition"]
    assert _gate(status, "cutover-window")["outcome"] == "Failed"
    assert [m["metadata"]["name"] for m in await cluster.migration_jobs()] == ["golive-5035-rehearsal-1"]


async def test_the_final_migration_starts_only_after_the_extract_is_recorded(
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
    status = await phase_is(cluster, "5035", "Cutover")
    assert _gate(status, "extract-delivered")["outcome"] == "Pending"
    assert "extract-delivered" in status["nextAction"]
    assert [m["metadata"]["name"] for m in await cluster.migration_jobs()] == ["golive-5035-rehearsal-1"]

    cluster.advance(dt.timedelta(hours=1))
    await cluster.approve("5035", "extract-delivered", "cutover-lead", "UTTREKK.txt counts match")
    await finish_migration(cluster, "5035", "cutover")
    await finish_smoke(cluster, "5035")
    status = await phase_is(cluster, "5035", "Live")
    assert _gate(status, "extract-delivered")["outcome"] == "Passed"
