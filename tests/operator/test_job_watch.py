"""The batch-Job watch: a finished Job is seen when it finishes, not at the next poll.

With polling set to a minute, each test below would time out (10 s) without the watch; the
woken reconcile still reads the Job from the API server, so what it decides is unchanged.
"""

from __future__ import annotations

from typing import Any

from epj.golive.schedule import Schedule
from epj.operator import resources
from epj.operator.context import OperatorContext
from epj.operator.jobwatch import SELECTOR, JobWatch
from epj.operator.kube import KubeClient
from epj.operator.testing import LocalCluster, eventually

from .faults import drive_to, finish_migration, finish_smoke, phase_is, status_of

SLOW_POLL: dict[str, Any] = {"job_poll_seconds": 60.0, "resync_seconds": 60.0}


async def test_finished_jobs_reach_the_golive_without_polling(cluster: LocalCluster, schedule: Schedule) -> None:
    await cluster.start_operator(**SLOW_POLL)
    await drive_to(cluster, schedule, "5035", "Rehearsal")
    await finish_migration(cluster, "5035", "rehearsal")
    status = await eventually(
        lambda: status_of(cluster, "5035"),
        lambda s: s.get("results") == {"golive-5035-rehearsal-1": "Succeeded"},
        what="rehearsal result recorded by the watch",
    )
    assert status["migration"]["reconciliation"]["complete"] is True


async def test_a_smoke_check_passing_takes_the_tenant_live_without_polling(
    cluster: LocalCluster, schedule: Schedule
) -> None:
    await cluster.start_operator(**SLOW_POLL)
    await drive_to(cluster, schedule, "5035", "Cutover")
    await finish_migration(cluster, "5035", "cutover")
    await finish_smoke(cluster, "5035")
    status = await phase_is(cluster, "5035", "Live")
    assert [e["toPhase"] for e in status["history"] if e["kind"] == "Transition"][-2:] == ["Cutover", "Live"]
    assert cluster.ctx is not None and cluster.ctx.job_watch is not None and cluster.ctx.job_watch.wakes >= 2


# ------------------------------------------------------------------------------------------ the event rules


def _ctx_with_wakers(*keys: tuple[str, str]) -> OperatorContext:
    ctx = OperatorContext(client=KubeClient("http://127.0.0.1:1"))
    for namespace, name in keys:
        ctx.waker(namespace, name)
    return ctx


def _job(kind: str, role: str, owner: str, *, uid: str = "u1", rv: str = "7", status: Any = None) -> dict[str, Any]:
    owner_label = resources.MIGRATION_JOB_LABEL if role == "migration" else resources.GOLIVE_LABEL
    labels = {"app.kubernetes.io/managed-by": "epj-golive-operator", resources.ROLE_LABEL: role, owner_label: owner}
    return {
        "type": kind,
        "object": {
            "metadata": {"name": "j", "namespace": "kommune-5035", "uid": uid, "resourceVersion": rv, "labels": labels},
            "status": status or {},
        },
    }


def test_a_migration_job_wakes_its_migration_job_object_only_when_its_status_changes() -> None:
    ctx = _ctx_with_wakers(("epj-system", "golive-5035-cutover-1"), ("epj-system", "golive-5035"))
    watch = JobWatch(ctx)
    mj, golive = ctx.wakers[("epj-system", "golive-5035-cutover-1")], ctx.wakers[("epj-system", "golive-5035")]

    assert watch.handle(_job("ADDED", "migration", "golive-5035-cutover-1"))
    assert not mj.is_set()  # just created: nothing to look at yet
    assert watch.handle(_job("MODIFIED", "migration", "golive-5035-cutover-1", status={"active": 1}))
    assert mj.is_set() and not golive.is_set()  # the MigrationJob records it and wakes the GoLive itself
    mj.clear()
    watch.handle(_job("MODIFIED", "migration", "golive-5035-cutover-1", rv="8", status={"active": 1}))
    assert not mj.is_set()  # metadata-only change (finalizers, annotations)
    watch.handle(_job("DELETED", "migration", "golive-5035-cutover-1", rv="9", status={"active": 1}))
    assert mj.is_set()  # a vanished Job matters


def test_smoke_and_rollback_jobs_wake_their_golive() -> None:
    ctx = _ctx_with_wakers(("epj-system", "golive-5035"), ("epj-system", "golive-5031"))
    watch = JobWatch(ctx)
    watch.handle(_job("MODIFIED", "smoke", "golive-5035", status={"succeeded": 1}))
    assert ctx.wakers[("epj-system", "golive-5035")].is_set()
    assert not ctx.wakers[("epj-system", "golive-5031")].is_set()
    watch.handle(_job("MODIFIED", "rollback", "golive-5031", uid="u2", status={"failed": 1}))
    assert ctx.wakers[("epj-system", "golive-5031")].is_set()
    assert watch.wakes == 2


def test_foreign_jobs_bookmarks_and_expired_versions() -> None:
    ctx = _ctx_with_wakers(("epj-system", "golive-5035"))
    watch = JobWatch(ctx)
    foreign = _job("MODIFIED", "smoke", "golive-5035", status={"succeeded": 1})
    foreign["object"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "someone-else"
    assert watch.handle(foreign)
    assert not ctx.wakers[("epj-system", "golive-5035")].is_set()
    assert watch.handle({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "42"}}})
    assert watch._resource_version == "42"
    # 410 Gone: the stream ends and the next one starts from a fresh list (no resource version).
    assert not watch.handle({"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}})
    assert watch._resource_version is None
    assert SELECTOR == "app.kubernetes.io/managed-by=epj-golive-operator"
