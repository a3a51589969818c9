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
from epj.operator.events import post_event
from epj.operator.kube import GOLIVES, JOBS, MIGRATION_JOBS, Body, Resource

PODS = Resource("", "v1", "pods", "Pod")
FINAL = (JobState.SUCCEEDED, JobState.FAILED)


async def sync_migration_job(ctx: OperatorContext, body: Body) -> JobState:
    """Run the batch Job once and mirror its state (and result) into the MigrationJob status.

    A result is recorded once and never run again: a MigrationJob whose status (or whose GoLive's
    ``status.results``) holds a final state creates no Job — not after its Job was garbage-collected
    (``ttlSecondsAfterFinished``), not after a restart, not when the object is deleted and re-created.
    A Job that vanishes before it finished is reported (Warning event, condition, state Failed); it is
    never re-created here: the GoLive decides, and a new run is a new, counted attempt.

    "Vanished" needs proof that the Job existed: its uid (or a state read off it) in the status. The name
    is saved before the create and the uid after it, so a restart between the two creates the Job (or
    finds it) instead of failing a cutover night for an operator restart. The one case that runs twice
    (created, then deleted by hand during that outage) is a reload before go-live: the store's seal
    (``epj.migration.store``) refuses every run once the tenant is live, so no clinical data is overwritten.
    """
    meta, spec = body["metadata"], body["spec"]
    key = (meta["namespace"], meta["name"])
    status = {**dict(body.get("status") or {}), **ctx.migration_status.get(key, {})}
    recorded = status.get("state")
    if recorded in FINAL:
        _remember(ctx, body, status, changed=key not in ctx.migration_status)
        return JobState(recorded)
    # A MigrationJob that recorded its Job's name has no result on its GoLive yet (results come from its own
    # final status): only a new or re-created one needs the GoLive's (large) object read.
    earlier = await _recorded_on_golive(ctx, body) if not status.get("jobName") else None
    if earlier is not None:
        message = f"result {earlier} already recorded for this attempt on GoLive {spec.get('goLive')}: not run again"
        restored: dict[str, Any] = {"state": str(earlier), "message": message,
                  "conditions": [_condition("Progressing", False, "ResultRecorded", message, ctx.now())]}  # fmt: skip
        await ctx.client.patch_status(MIGRATION_JOBS, meta["namespace"], meta["name"], restored)
        _remember(ctx, body, {**status, **restored}, changed=True)
        return earlier
    manifest = resources.migration_batch_job(body)
    job_ns, job_name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    job = await ctx.client.get(JOBS, job_ns, job_name)
    # Seen to exist: its uid saved, or a state read off it (saved by an operator that kept no uid).
    seen = bool(status.get("jobUid") or status.get("state"))
    if job is None and status.get("jobName") == job_name and seen:
        return await _vanished(ctx, body, status, job_name)
    saved_uid = status.get("jobUid")
    if job is not None and saved_uid and (job.get("metadata") or {}).get("uid") != saved_uid:
        # Another Job under that name (the one this object ran was deleted and a Job re-created by hand): it
        # is not this attempt's run, so its result is not read; the run it replaced is gone, as if vanished.
        return await _vanished(ctx, body, status, job_name)
    if job is None:
        if status.get("jobName") != job_name:
            # The intent is recorded before the Job exists, its uid once it does (below). A Job gone after its
            # uid was recorded is vanished (never run again); a name without a uid means the process stopped
            # around the create: the Job is created now (or found, if the create went through).
            await ctx.client.patch_status(MIGRATION_JOBS, meta["namespace"], meta["name"], {"jobName": job_name})
            status = {**status, "jobName": job_name}
            ctx.migration_status[key] = {**ctx.migration_status.get(key, {}), "jobName": job_name}
            await ctx.fault_point("migration.recorded", migration_job=meta["name"], job=job_name)
        job, _ = await ctx.client.ensure(JOBS, job_ns, manifest)
        await ctx.fault_point("migration.created", migration_job=meta["name"], job=job_name)
    state = resources.job_state(job)
    update: dict[str, Any] = {}
    if status.get("jobName") != job_name:
        update["jobName"] = job_name
    uid = (job.get("metadata") or {}).get("uid")
    if uid and status.get("jobUid") != uid:
        update["jobUid"] = uid
    if state not in FINAL:
        update.update(await _stalled(ctx, body, status, job_ns, job_name))
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
            pods = await job_pods(ctx, job_ns, job_name)
            reconciliation = resources.reconciliation_from_report(resources.termination_message(pods))
            if reconciliation is not None:
                update["reconciliation"] = reconciliation.to_dict()
    if update:
        await ctx.client.patch_status(MIGRATION_JOBS, meta["namespace"], meta["name"], update)
    _remember(ctx, body, {**status, **update}, changed=bool(update) or key not in ctx.migration_status)
    return state


async def _stalled(
    ctx: OperatorContext, body: Body, status: dict[str, Any], job_ns: str, job_name: str
) -> dict[str, Any]:
    """The Stalled condition of a running MigrationJob whose pod cannot start (and a Warning event when it starts).

    ImagePullBackOff or an unschedulable pod never resolves by waiting: reported at the next poll
    (``job_poll_seconds``), with the kubelet's or scheduler's reason, instead of at the gate's deadline.
    """
    stuck = resources.stuck_reason(await job_pods(ctx, job_ns, job_name))
    conditions = [dict(c) for c in status.get("conditions") or []]
    before = next((c for c in conditions if c.get("type") == "Stalled"), None)
    was_stuck = before is not None and before.get("status") == "True"
    if stuck is None and not was_stuck:
        return {}
    if stuck is not None and was_stuck and before is not None and before.get("message") == f"Job {job_name}: {stuck}":
        return {}
    if stuck is not None:
        message = f"Job {job_name}: {stuck}"
        new = _condition("Stalled", True, stuck.split(":", 1)[0], message, ctx.now())
        post_event(body, "Warning", "JobStuck", f"{message}; it will not start by waiting (fix, or delete the Job)")
    else:
        new = _condition("Stalled", False, "PodStarted", f"Job {job_name}: pod started", ctx.now())
    new["observedGeneration"] = body["metadata"].get("generation")
    rest = [c for c in conditions if c.get("type") != "Stalled"]
    return {"conditions": [*rest, new], "message": new["message"]}


def _remember(ctx: OperatorContext, body: Body, status: dict[str, Any], *, changed: bool) -> None:
    """Keep what was persisted (saves the GoLive a GET) and wake the GoLive when it changed."""
    meta, spec = body["metadata"], body.get("spec") or {}
    ctx.migration_status[(meta["namespace"], meta["name"])] = status
    # Prometheus sees the migration through this persisted status (the Job is short-lived, never scraped).
    ctx.metrics.migration(meta["name"], str(spec.get("kommunenummer", "")), str(spec.get("purpose", "")), status)
    golive = (body.get("spec") or {}).get("goLive")
    if changed and golive:
        ctx.wake(meta["namespace"], golive)


async def _recorded_on_golive(ctx: OperatorContext, body: Body) -> JobState | None:
    """The final result the owning GoLive recorded for this MigrationJob's name, if any."""
    golive = (body.get("spec") or {}).get("goLive")
    if not golive:
        return None
    owner = await ctx.client.get(GOLIVES, body["metadata"]["namespace"], golive)
    result = (((owner or {}).get("status") or {}).get("results") or {}).get(body["metadata"]["name"])
    return JobState(result) if result in FINAL else None


async def _vanished(ctx: OperatorContext, body: Body, status: dict[str, Any], job_name: str) -> JobState:
    """The batch Job this object created is gone before it finished: report it, mark Failed, create nothing."""
    meta = body["metadata"]
    message = f"Job {job_name} vanished before it finished (deleted?); not re-created: a resume starts a new attempt"
    now = _stamp(ctx.now())
    update = {"state": str(JobState.FAILED), "message": message, "finishedAt": now,
              "conditions": [_condition("Progressing", False, "JobVanished", message, ctx.now())]}  # fmt: skip
    post_event(body, "Warning", "JobVanished", message)
    await ctx.client.patch_status(MIGRATION_JOBS, meta["namespace"], meta["name"], update)
    _remember(ctx, body, {**status, **update}, changed=True)
    return JobState.FAILED


def _condition(kind: str, status: bool, reason: str, message: str, now: dt.datetime) -> dict[str, Any]:
    return {"type": kind, "status": "True" if status else "False", "reason": reason, "message": message,
            "lastTransitionTime": _stamp(now)}  # fmt: skip


async def job_pods(ctx: OperatorContext, namespace: str, job_name: str) -> list[Body]:
    pods = await ctx.client.list(PODS, namespace, label_selector=f"job-name={job_name}")
    return [p for p in pods if (p.get("metadata", {}).get("labels") or {}).get("job-name") == job_name]


async def settle_before_deletion(ctx: OperatorContext, body: Body) -> Body:
    """The MigrationJob with what its Job came to recorded, before the object goes (``body`` if nothing to add).

    kopf stops the daemon once deletion is requested, so a Job that finishes, or is deleted ("delete the Job
    to stop it"), while the deletion waits would otherwise be recorded nowhere: the GoLive would take the
    missing object for one never created and create it again, running the attempt a second time.
    Only a Job seen to exist is settled (its uid or a state saved); nothing is created here.
    """
    meta = body["metadata"]
    key = (meta["namespace"], meta["name"])
    status = {**dict(body.get("status") or {}), **ctx.migration_status.get(key, {})}
    if status.get("state") in FINAL or not (status.get("jobUid") or status.get("state")):
        return body
    manifest = resources.migration_batch_job(body)
    job_name = manifest["metadata"]["name"]
    job = await ctx.client.get(JOBS, manifest["metadata"]["namespace"], job_name)
    if job is None and status.get("jobName") == job_name:
        await _vanished(ctx, body, status, job_name)
    elif job is not None and resources.job_state(job) in FINAL:
        await sync_migration_job(ctx, {**body, "status": status})  # the Job exists: read, never created
    return {**body, "status": ctx.migration_status.get(key, status)}


async def unrecorded_result(ctx: OperatorContext, body: Body) -> str | None:
    """A final result the owning GoLive has not recorded yet (deleting the object now would lose it)."""
    state = (body.get("status") or {}).get("state")
    golive = (body.get("spec") or {}).get("goLive")
    if state not in FINAL or not golive:
        return None
    owner = await ctx.client.get(GOLIVES, body["metadata"]["namespace"], golive)
    if owner is None or owner["metadata"].get("deletionTimestamp"):
        return None
    status = owner.get("status") or {}
    current = (status.get("migration") or {}).get("jobName")
    if current != body["metadata"]["name"] or body["metadata"]["name"] in (status.get("results") or {}):
        return None
    return f"{state} of {body['metadata']['name']} is not yet recorded on GoLive {golive}"


async def running_job(ctx: OperatorContext, body: Body) -> str | None:
    """The name of this MigrationJob's batch Job if it is still running (a finalizer must not orphan it)."""
    manifest = resources.migration_batch_job(body)
    job = await ctx.client.get(JOBS, manifest["metadata"]["namespace"], manifest["metadata"]["name"])
    if job is not None and resources.job_state(job) not in FINAL:
        return f"{manifest['metadata']['namespace']}/{manifest['metadata']['name']}"
    return None


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
