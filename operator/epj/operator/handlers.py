"""The kopf handlers: thin wiring from Kubernetes events to the adapters in this package.

``register(registry)`` adds every handler to a kopf registry, so tests and the bench
run a fresh operator per test with its own :class:`~epj.operator.context.OperatorContext`
(passed as kopf's ``memo``), and :mod:`epj.operator.app` registers the same handlers
on kopf's default registry for ``kopf run``.

Per kind:

* **RolloutWave** — create/update/resume: validate with the core, remember the spec, create or
  update one GoLive per member (adopting a member moved here from another wave); delete (finalizer):
  release members that reached Cutover or later (their audit trail stays), the garbage collector
  takes the rest. GoLives never read a wave's levers from this handler: they GET the wave.
* **GoLive** — a daemon per object runs the reconcile loop (:mod:`epj.operator.golive`): it sleeps
  until the core's ``next_wake_at``, a spec change, a MigrationJob update, a dependency's
  transition or a clock advance (simulated clock) wakes it. The daemon is the only writer of
  the status. A finalizer refuses deletion for the whole Cutover (reconciling meanwhile, so the
  night still ends in Live or RolledBack) and while the tenant's migration Job runs.
* **MigrationJob** — a daemon per object creates the batch Job and follows it until it finishes.
  A finalizer refuses deletion while the Job runs (it is never orphaned).
* **batch Jobs** the operator created — one label-selected watch for the process (started at kopf's
  startup) wakes the MigrationJob or GoLive a Job reports to when its status changes; the daemons
  still GET the Job before deciding, and poll slowly as a safety net.
* **ConfigMap** ``epj-training-completion`` — training completion per tenant (data: kommunenummer
  → share 0..1), written by the training system's export.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any

import kopf

from epj.golive.phases import JobState, Phase
from epj.operator import golive as golive_adapter
from epj.operator import migration as migration_adapter
from epj.operator import wave as wave_adapter
from epj.operator.context import TRAINING_CONFIGMAP, OperatorContext
from epj.operator.crds import GROUP, VERSION
from epj.operator.events import EventQueue, post_directly
from epj.operator.jobwatch import JobWatch
from epj.operator.kube import MIGRATION_JOBS
from epj.operator.slots import DECIDE

logger = logging.getLogger(__name__)


def context_of(memo: Any) -> OperatorContext:
    ctx = getattr(memo, "ctx", None)
    if not isinstance(ctx, OperatorContext):
        raise kopf.PermanentError("operator context missing from memo (start the operator via epj.operator.runner)")
    return ctx


# -------------------------------------------------------------------- RolloutWave


async def wave_changed(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    ctx = context_of(memo)
    await ctx.fault_point("wave.changed", wave=str(body.metadata.name))
    raw = dict(body)
    try:
        spec = wave_adapter.wave_spec(raw)
    except ValueError as error:
        reason = str(error).splitlines()[0][:300]
        kopf.warn(body, reason="InvalidWave", message=reason)
        raise kopf.PermanentError(f"RolloutWave {body.metadata.name}: {reason}") from None
    namespace = str(body.metadata.namespace)
    previous = ctx.waves.get((namespace, spec.name))
    ctx.waves[(namespace, spec.name)] = spec
    created = await wave_adapter.ensure_members(ctx, raw, spec)
    if created:
        kopf.info(
            body, reason="MembersCreated", message=f"GoLives created or moved here, in order: {', '.join(created)}"
        )
    if previous is not None and (previous.paused, previous.aborted) != (spec.paused, spec.aborted):
        kopf.info(body, reason="LeversChanged", message=f"paused={spec.paused} aborted={spec.aborted}")
    ctx.wake_wave(namespace, spec.name)
    await wave_adapter.update_wave_status(ctx, namespace, spec.name)


async def wave_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Before the wave goes, release the members that reached Cutover: the garbage collector takes only the rest."""
    ctx = context_of(memo)
    kept = await wave_adapter.release_members(ctx, dict(body))
    if kept:
        kopf.info(body, reason="MembersKept", message=f"GoLives kept (reached Cutover or later): {', '.join(kept)}")
    ctx.waves.pop((str(body.metadata.namespace), str(body.metadata.name)), None)


# -------------------------------------------------------------------- GoLive


async def golive_daemon(
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    ctx = context_of(memo)
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    approvals: kopf.Index[tuple[str, str], dict[str, Any]] = kwargs["approvals"]  # the kopf index below
    reconciler = golive_adapter.Reconciler(ctx)
    waker = ctx.waker(namespace, name)
    try:
        while not stopped:
            waker.clear()
            try:
                queued = time.perf_counter()
                async with ctx.slots().hold() as slot:
                    if ctx.record_latencies:
                        ctx.queue_waits.append(time.perf_counter() - queued)
                    reconciler.before_act = slot.lower
                    key = (namespace, str((body.get("spec") or {}).get("kommunenummer", "")))
                    wake_at = await reconciler.reconcile(dict(body), approvals=list(approvals.get(key, ())))
                delay = _delay(ctx, wake_at)
                if reconciler.polling:
                    delay = min(delay, ctx.job_poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                delay = await reconciler.failed(dict(body), error)
            await _sleep(stopped, waker, delay)
    finally:
        ctx.wakers.pop((namespace, name), None)


def _delay(ctx: OperatorContext, wake_at: dt.datetime | None) -> float:
    if wake_at is None:
        return ctx.resync_seconds
    seconds = (wake_at - ctx.now()).total_seconds()
    return min(max(seconds, 0.05), ctx.resync_seconds)


async def _sleep(stopped: kopf.DaemonStopped, waker: asyncio.Event, delay: float) -> None:
    async def until_stopped() -> None:
        await stopped.wait()

    tasks = {asyncio.ensure_future(waker.wait()), asyncio.ensure_future(until_stopped())}
    try:
        await asyncio.wait(tasks, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def golive_spec_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    context_of(memo).wake(str(body.metadata.namespace), str(body.metadata.name))


async def golive_deleted(body: kopf.Body, status: kopf.Status, memo: kopf.Memo, **kwargs: Any) -> None:
    """Deletion waits for the whole cutover night (until Live or RolledBack) and for a running migration Job.

    kopf stops the daemon once deletion is requested, so while the night runs this handler
    reconciles instead (a failed final migration or a recorded NO-GO still rolls back: it reads the
    tenant's decisions from the same index as the daemon) and asks kopf to retry.
    """
    ctx = context_of(memo)
    raw = dict(body)
    if (raw.get("status") or {}).get("phase") == str(Phase.CUTOVER):
        reconciler = golive_adapter.Reconciler(ctx)
        approvals: kopf.Index[tuple[str, str], dict[str, Any]] = kwargs["approvals"]
        key = (str(body.metadata.namespace), str((raw.get("spec") or {}).get("kommunenummer", "")))
        wake_at = await reconciler.reconcile(raw, approvals=list(approvals.get(key, ())))
        state = reconciler.state
        if state is not None and state.phase == Phase.CUTOVER:
            await ctx.fault_point("golive.deletion_held", golive=str(body.metadata.name))
            delay = ctx.job_poll_seconds if wake_at is None else min(ctx.job_poll_seconds, _delay(ctx, wake_at))
            raise kopf.TemporaryError(
                f"GoLive {body.metadata.name} is in Cutover: deletion waits until Live or RolledBack", delay=delay
            )
        current: dict[str, Any] = state.to_status() if state is not None else {}
    else:
        current = dict(status)
    migration = dict(current.get("migration") or {})
    if migration.get("state") in (str(JobState.PENDING), str(JobState.RUNNING)) and migration.get("jobName"):
        mj = await ctx.client.get(MIGRATION_JOBS, str(body.metadata.namespace), migration["jobName"])
        if mj is not None and await migration_adapter.running_job(ctx, mj):
            raise kopf.TemporaryError(
                f"migration {migration['jobName']} is still running; deletion waits", delay=ctx.finalizer_retry_seconds
            )
    key = (str(body.metadata.namespace), str(body.get("spec", {}).get("kommunenummer", "")))
    ctx.forget_tenant(key)


# -------------------------------------------------------------------- GoLiveApproval


def index_approval(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """kopf index (namespace, kommunenummer) → the tenant's GoLiveApproval objects.

    An informer over the API server's objects, not a handler's memory: kopf fills every index
    completely before it starts any handler, also after a restart.
    """
    key = (str(body.metadata.namespace), str(body.spec.get("kommunenummer", "")))
    return {key: {"metadata": {"name": body.metadata.name}, "spec": dict(body.spec)}}


async def approval_seen(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A decision was recorded (or removed): the tenant's GoLive looks at once."""
    context_of(memo).wake_tenant(str(body.metadata.namespace), str(body.spec.get("kommunenummer", "")))


# -------------------------------------------------------------------- MigrationJob


async def migration_job_daemon(
    stopped: kopf.DaemonStopped, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    ctx = context_of(memo)
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    waker = ctx.waker(namespace, name)
    errors = 0
    try:
        while not stopped:
            waker.clear()
            try:
                state = await migration_adapter.sync_migration_job(ctx, dict(body))
                errors = 0
            except Exception as error:
                errors += 1
                ctx.metrics.error(str(body.get("spec", {}).get("kommunenummer", "")), "MigrationJob")
                logger.warning(f"MigrationJob sync failed ({errors} in a row): {error}")
                await _sleep(stopped, waker, min(ctx.backoff_base * 2.0 ** (errors - 1), ctx.backoff_max))
                continue
            if state in migration_adapter.FINAL:
                return
            await _sleep(stopped, waker, ctx.job_poll_seconds)
    finally:
        ctx.wakers.pop((namespace, name), None)


async def migration_job_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    ctx = context_of(memo)
    running = await migration_adapter.running_job(ctx, dict(body))
    if running:
        raise kopf.TemporaryError(
            f"Job {running} is still running: the MigrationJob stays until it ends (delete the Job to stop it)",
            delay=ctx.finalizer_retry_seconds,
        )
    settled = await migration_adapter.settle_before_deletion(ctx, dict(body))
    unrecorded = await migration_adapter.unrecorded_result(ctx, settled)
    if unrecorded:
        ctx.wake(str(body.metadata.namespace), str(body.spec.get("goLive", "")))
        raise kopf.TemporaryError(f"{unrecorded}; deletion waits", delay=ctx.finalizer_retry_seconds)
    ctx.migration_status.pop((str(body.metadata.namespace), str(body.metadata.name)), None)


# -------------------------------------------------------------------- training completion


async def training_changed(body: kopf.Body, memo: kopf.Memo, type: str | None, **_: Any) -> None:
    ctx = context_of(memo)
    namespace = str(body.metadata.namespace)
    data = dict(body.get("data") or {}) if type != "DELETED" else {}
    seen = {k for (ns, k) in ctx.training if ns == namespace}
    for kommunenummer in seen - set(data):
        ctx.training.pop((namespace, kommunenummer), None)
    for kommunenummer, value in data.items():
        try:
            share = float(value)
        except ValueError:
            logger.warning("%s: value for %s is not a number; ignored", TRAINING_CONFIGMAP, kommunenummer)
            continue
        if not 0.0 <= share <= 1.0:
            logger.warning("%s: value for %s is outside 0..1; ignored", TRAINING_CONFIGMAP, kommunenummer)
            continue
        if ctx.training.get((namespace, kommunenummer)) != share:
            ctx.training[(namespace, kommunenummer)] = share
            ctx.wake_tenant(namespace, kommunenummer)


def _is_training_configmap(name: str, **_: Any) -> bool:
    return name == TRAINING_CONFIGMAP


# -------------------------------------------------------------------- batch Jobs


async def start_job_watch(memo: kopf.Memo, **_: Any) -> None:
    """Follow the operator's batch Jobs with one watch for the whole process (see :mod:`epj.operator.jobwatch`)."""
    ctx = context_of(memo)
    ctx.job_watch = JobWatch(ctx)
    ctx.start_background(ctx.job_watch.run(), name="job-watch")


async def start_event_queue(memo: kopf.Memo, **_: Any) -> None:
    """Our Kubernetes Events wait while decisions wait for a slot (see :mod:`epj.operator.events`)."""
    ctx = context_of(memo)
    queue = EventQueue(
        lambda: ctx.slots().waiting(DECIDE) > 0,
        direct=lambda body, type_, reason, message: post_directly(ctx.client, body, type_, reason, message),
    )
    queue.register()
    ctx.start_background(queue.run(), name="events")


async def stop_background(memo: kopf.Memo, **_: Any) -> None:
    await context_of(memo).stop_background()


# -------------------------------------------------------------------- probes


async def probe_tenants(memo: kopf.Memo, **_: Any) -> int:
    """Liveness detail: how many GoLives this process reconciles."""
    return len(context_of(memo).wakers)


def register(registry: kopf.OperatorRegistry) -> kopf.OperatorRegistry:
    """Add every handler to ``registry`` (see the module docstring)."""
    waves = (GROUP, VERSION, "rolloutwaves")
    golives = (GROUP, VERSION, "golives")
    jobs = (GROUP, VERSION, "migrationjobs")
    kopf.on.create(*waves, registry=registry, id="wave")(wave_changed)
    kopf.on.update(*waves, registry=registry, id="wave", field="spec")(wave_changed)
    kopf.on.resume(*waves, registry=registry, id="wave")(wave_changed)
    kopf.on.delete(*waves, registry=registry, id="release", optional=True)(wave_deleted)
    approvals = (GROUP, VERSION, "goliveapprovals")
    kopf.index(*approvals, registry=registry, id="approvals")(index_approval)
    kopf.on.event(*approvals, registry=registry, id="approval-seen")(approval_seen)
    kopf.daemon(*golives, registry=registry, id="reconcile", cancellation_timeout=1.0)(golive_daemon)
    kopf.on.update(*golives, registry=registry, id="spec", field="spec")(golive_spec_changed)
    kopf.on.delete(*golives, registry=registry, id="guard")(golive_deleted)
    kopf.daemon(*jobs, registry=registry, id="follow", cancellation_timeout=5.0)(migration_job_daemon)
    kopf.on.delete(*jobs, registry=registry, id="guard")(migration_job_deleted)
    kopf.on.event("", "v1", "configmaps", registry=registry, id="training", when=_is_training_configmap)(
        training_changed
    )
    kopf.on.probe(registry=registry, id="golives")(probe_tenants)
    kopf.on.startup(registry=registry, id="job-watch")(start_job_watch)
    kopf.on.startup(registry=registry, id="events")(start_event_queue)
    kopf.on.cleanup(registry=registry, id="background")(stop_background)
    return registry
