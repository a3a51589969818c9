"""MigrationJob adapter: create its batch Job, follow the Job, read the reconciliation, wake the GoLive.

The batch Job runs in the tenant's namespace, so the operator polls it by name instead
of watching every namespace. The result of a finished Job is read once from its pod's
termination message (see :mod:`epj.operator.resources`) and written to the MigrationJob
status, where the GoLive reconcile finds it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from epj.golive.phases import JobState
from epj.operator import resources
from epj.operator.context import OperatorContext
from epj.operator.kube import JOBS, MIGRATION_JOBS, Body, Resource

PODS = Resource("", "v1", "pods", "Pod")
FINAL = (JobState.SUCCEEDED, JobState.FAILED)


async def sync_migration_job(ctx: OperatorContext, body: Body) -> JobState:
    """Ensure the batch Job exists, mirror its state (and result) into the MigrationJob status."""
    meta, spec = body["metadata"], body["spec"]
    status = dict(body.get("status") or {})
    manifest = resources.migration_batch_job(body)
    job_ns, job_name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    job, _ = await ctx.client.ensure(JOBS, job_ns, manifest)
    state = resources.job_state(job)
    update: dict[str, Any] = {}
    if status.get("jobName") != job_name:
        update["jobName"] = job_name
    if status.get("state") != str(state):
        update["state"] = str(state)
        now = _stamp(ctx.now())
        if state == JobState.RUNNING and not status.get("startedAt"):
            update["startedAt"] = now
        if state in FINAL:
            update["finishedAt"] = now
            update.setdefault("startedAt", status.get("startedAt") or now)
            message = resources.job_message(job)
            if message:
                update["message"] = message
            pods = await _job_pods(ctx, job_ns, job_name)
            reconciliation = resources.reconciliation_from_report(resources.termination_message(pods))
            if reconciliation is not None:
                update["reconciliation"] = reconciliation.to_dict()
    key = (meta["namespace"], meta["name"])
    ctx.metrics.migration(
        meta["name"], str(spec.get("kommunenummer", "")), str(spec.get("purpose", "")), {**status, **update}
    )
    if update:
        await ctx.client.patch_status(MIGRATION_JOBS, meta["namespace"], meta["name"], update)
    if update or key not in ctx.migration_status:
        ctx.migration_status[key] = {**status, **update}
        golive = spec.get("goLive")
        if golive:
            ctx.wake(meta["namespace"], golive)
    return state


async def _job_pods(ctx: OperatorContext, namespace: str, job_name: str) -> list[Body]:
    pods = await ctx.client.list(PODS, namespace, label_selector=f"job-name={job_name}")
    return [p for p in pods if (p.get("metadata", {}).get("labels") or {}).get("job-name") == job_name]


async def running_job(ctx: OperatorContext, body: Body) -> str | None:
    """The name of this MigrationJob's batch Job if it is still running (a finalizer must not orphan it)."""
    manifest = resources.migration_batch_job(body)
    job = await ctx.client.get(JOBS, manifest["metadata"]["namespace"], manifest["metadata"]["name"])
    if job is not None and resources.job_state(job) not in FINAL:
        return f"{manifest['metadata']['namespace']}/{manifest['metadata']['name']}"
    return None


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
