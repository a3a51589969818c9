"""Reconcile one GoLive: observe the world, call the core's ``decide``, persist, act.

This is the whole GoLive adapter; the phase machine itself is :func:`epj.golive.machine.decide`.
One reconcile:

1. reads the spec, folding in the pause/abort levers of the RolloutWave as the API server
   has it now (never a cache a handler filled), and the state (the last status this process
   wrote, or the object's status after a restart);
2. observes: the MigrationJob's status, the smoke-check Job, dependencies' phases,
   training completion, Alertmanager;
3. calls ``decide`` — again at once while it reports a transition (one step per call);
4. after each decision: persists the status (merge patch; keys the core dropped are
   deleted), then performs the actions in order — create the MigrationJob, start the
   smoke checks, start the rollback Job, post Events — all idempotent by name, so a
   restart between persisting and acting repeats the action harmlessly and never creates
   a second migration Job.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from epj.golive.actions import CreateMigrationJob, Decision, EmitEvent, RollBack, RunSmokeChecks
from epj.golive.approvals import approval_from_object
from epj.golive.machine import decide, set_condition
from epj.golive.model import (
    Approval,
    DependencyStatus,
    GoLiveSpec,
    GoLiveState,
    MigrationObservation,
    Observations,
    Reconciliation,
    SmokeResult,
)
from epj.golive.phases import ConditionType, JobState, MigrationPurpose, Phase
from epj.golive.wave import GpOfficeMember
from epj.operator import resources
from epj.operator.context import OperatorContext, TenantView
from epj.operator.events import post_event
from epj.operator.kube import GOLIVES, JOBS, MIGRATION_JOBS, ROLLOUT_WAVES, Body
from epj.operator.migration import job_pods
from epj.operator.wave import KEPT_PHASES, without_owner

logger = logging.getLogger(__name__)

#: At most this many phase steps per reconcile (a fresh GoLive months late walks Planned → Rehearsal at once).
MAX_STEPS = 20


class Reconciler:
    """Per-GoLive reconcile state kept between calls (kopf's per-object memo holds one)."""

    def __init__(self, ctx: OperatorContext) -> None:
        self.ctx = ctx
        self.state: GoLiveState | None = None
        self.persisted: dict[str, Any] | None = None
        self.errors = 0
        self.counted = False
        #: True while a smoke-check Job runs: its watch event wakes us; poll it slowly as well (safety net).
        self.polling = False
        #: Awaited after a decision is persisted and before it is carried out (the daemon's reconcile slot
        #: lets reconciles still waiting to decide go first, see :mod:`epj.operator.slots`).
        self.before_act: Callable[[], Awaitable[None]] | None = None
        #: True while the rollback Job this operator ordered runs (polled like the smoke Job).
        self.rollback_running = False
        #: The stamped decisions of the current reconcile (from the GoLiveApproval objects).
        self.approvals: tuple[Approval, ...] = ()
        #: The wave's ownerReference was removed (Cutover reached); see :meth:`release_from_wave`.
        self.released = False
        #: The wave's spec as read at the start of the current reconcile (levers, Alertmanager URL).
        self.wave: dict[str, Any] = {}
        #: Why the current smoke-check Job cannot start (None: it is not stuck), and the cause last reported.
        self.smoke_stuck: str | None = None
        self.smoke_stuck_reported: str | None = None
        #: Chained steps' events, posted once a later step is saved (a crash replays the unsaved chain, events and all;
        #: a reconcile error keeps them for the next reconcile's write).
        self.deferred: list[Decision] = []

    # ---------------------------------------------------------------- inputs

    async def spec(self, body: Body) -> GoLiveSpec:
        """The GoLive spec with its wave's levers folded in, the wave read from the API server now.

        Never from what the RolloutWave handler cached: after a restart the GoLive may be reconciled
        before (or without) that handler running, and a lever missed once un-pauses the tenant.
        A wave that is gone (or names no levers) adds none.
        """
        raw = {k: v for k, v in dict(body.get("spec") or {}).items() if k != "approvals"}
        spec = GoLiveSpec.model_validate({**raw, "approvals": [a.to_dict() for a in self.approvals]})
        wave = await self.ctx.read_now(ROLLOUT_WAVES, body["metadata"]["namespace"], spec.wave)
        self.wave = dict((wave or {}).get("spec") or {})
        paused, aborted = bool(self.wave.get("paused")), bool(self.wave.get("aborted"))
        if paused or aborted:
            spec = spec.model_copy(update={"paused": spec.paused or paused, "aborted": spec.aborted or aborted})
        return spec

    def load_state(self, body: Body) -> GoLiveState | None:
        if self.state is not None:
            return self.state
        status = dict(body.get("status") or {})
        if status.get("phase"):
            self.state = GoLiveState.from_status(status)
            self.persisted = self.state.to_status()
        return self.state

    async def observe(self, body: Body, spec: GoLiveSpec, state: GoLiveState | None) -> Observations:
        ctx, namespace = self.ctx, body["metadata"]["namespace"]
        self.smoke_stuck = None
        migration: MigrationObservation | None = None
        smoke: SmokeResult | None = None
        if state is not None and state.migration is not None:
            record = state.migration
            cached = ctx.migration_status.get((namespace, record.job_name))
            mj = (
                {"status": cached}
                if cached is not None
                else await ctx.client.get(MIGRATION_JOBS, namespace, record.job_name)
            )
            if mj is None and record.state == JobState.PENDING and record.job_name not in state.results:
                # Persisted but never created (a crash between the two): create it now, same name.
                await self.create_migration_job(
                    body, CreateMigrationJob(
                        kommunenummer=spec.kommunenummer, job_name=record.job_name,
                        purpose=record.purpose, attempt=record.attempt,
                    ),
                )  # fmt: skip
            elif mj is None and record.state == JobState.RUNNING and record.job_name not in state.results:
                # Deleted while its Job ran (the finalizer was forced): report it, never re-create it.
                message = f"MigrationJob {record.job_name} vanished while running; a resume starts a new attempt"
                post_event(body, "Warning", "MigrationJobVanished", message)
                migration = MigrationObservation(job_name=record.job_name, state=JobState.FAILED, message=message)
            elif mj is None:
                pass  # its result is recorded in the status: nothing to observe, nothing to run again
            else:
                mj_status = mj.get("status") or {}
                rec = mj_status.get("reconciliation")
                migration = MigrationObservation(
                    job_name=record.job_name,
                    state=JobState(mj_status.get("state") or JobState.PENDING),
                    reconciliation=Reconciliation.model_validate(rec) if rec else None,
                    message=mj_status.get("message"),
                )
            if state.phase == Phase.CUTOVER and state.smoke_requested_for == record.job_name:
                # Only the Cutover's gate reads the smoke check (after it the Job is history, never re-created).
                smoke = await self.observe_smoke(body, spec, record.job_name)
        alert_url = self.wave.get("alertmanagerUrl")
        dependencies: dict[str, DependencyStatus] = {}
        for office in self.wave.get("gpOffices") or ():
            if office.get("municipality") == spec.kommunenummer:
                dependencies[office["id"]] = GpOfficeMember.model_validate(office).status()
        for dep in spec.depends_on:
            view = ctx.tenants.get((namespace, dep))
            if view is not None:
                dependencies[dep] = view.dependency_status()
        return Observations(
            training_completion=ctx.training.get((namespace, spec.kommunenummer)),
            alerts=await ctx.alerts_for(alert_url, spec.kommunenummer),
            migration=migration,
            smoke=smoke,
            dependencies=dependencies,
        )

    async def observe_smoke(self, body: Body, spec: GoLiveSpec, job_name: str) -> SmokeResult | None:
        manifest = resources.smoke_job(spec.kommunenummer, job_name, body["metadata"]["name"], self.ctx.image)
        job, _ = await self.ctx.client.ensure(JOBS, manifest["metadata"]["namespace"], manifest)
        state = resources.job_state(job)
        if state == JobState.SUCCEEDED:
            return SmokeResult(job_name=job_name, passed=True, reason=f"Job {manifest['metadata']['name']} succeeded")
        if state == JobState.FAILED:
            reason = resources.job_message(job) or f"Job {manifest['metadata']['name']} failed"
            return SmokeResult(job_name=job_name, passed=False, reason=reason)
        meta = manifest["metadata"]
        stuck = resources.stuck_reason(await job_pods(self.ctx, meta["namespace"], meta["name"]))
        if stuck is not None:
            # It will not start by waiting: report it now (not at the gate's deadline), once per cause.
            self.smoke_stuck = f"smoke-check Job {meta['name']} cannot start: {stuck}"
            if self.smoke_stuck_reported != self.smoke_stuck:
                post_event(body, "Warning", "JobStuck", f"{self.smoke_stuck}; fix it or delete the Job (re-created)")
                self.smoke_stuck_reported = self.smoke_stuck
        return None

    # ---------------------------------------------------------------- the loop

    async def reconcile(self, body: Body, approvals: Iterable[Mapping[str, Any]] = ()) -> dt.datetime | None:
        """One reconcile (see the module docstring). Returns when to look again at the latest (clock time).

        ``approvals``: the tenant's GoLiveApproval objects (kopf's index over the API server's objects);
        only decisions the admission webhook stamped count.
        """
        self.approvals = tuple(a for a in map(approval_from_object, approvals) if a is not None)
        return await self._reconcile(body)

    def _timed(self, started: float) -> None:
        """Handler latency of one step (observe → decide → persist → act), for the metric and the bench."""
        elapsed = time.perf_counter() - started
        self.ctx.metrics.reconcile_duration.labels(kind="GoLive").observe(elapsed)
        if self.ctx.record_latencies:
            self.ctx.latencies.append(elapsed)

    async def _reconcile(self, body: Body) -> dt.datetime | None:
        spec = await self.spec(body)
        state = self.load_state(body)
        generation = body["metadata"].get("generation")
        decision: Decision | None = None
        unsaved = False
        for _ in range(MAX_STEPS):
            started = time.perf_counter()
            observations = await self.observe(body, spec, state)
            now = self.ctx.now()
            decision = decide(spec, state, observations, now)
            new_state = decision.state
            if self.errors:
                new_state = self.clear_stalled(new_state, now, spec.kommunenummer)
            ordering = any(isinstance(a, RollBack) for a in decision.actions)
            new_state = await self.verify_rollback(body, spec, new_state, now, ordering=ordering)
            if self.smoke_stuck is not None and new_state.phase == Phase.CUTOVER:
                new_state = new_state.model_copy(
                    update={"next_action": f"{self.smoke_stuck}: fix the cause or delete the Job (it is re-created)"}
                )
            if generation is not None:
                new_state = with_generation(new_state, int(generation))
            # A step of a clock jump's chain (more steps due at once) that only posts events is saved with the
            # step that ends the chain: one status write per jump, not one per phase it crosses. Steps that
            # create or delete objects are always saved first (persist, then act).
            chained = decision.transition is not None and decision.step_due and not _changes_objects(decision)
            wrote = await self.persist(body, spec, state, new_state, decision, write=not chained)
            unsaved = chained
            state = new_state
            releasing = not self.released and new_state.phase in KEPT_PHASES
            if self.before_act is not None and wrote and (releasing or _changes_objects(decision)):
                # The decision is persisted: creating what it asks for waits behind reconciles that have not
                # decided yet (a chain of transitions after a clock jump goes on: its last step is the one
                # that shows). That wait is queueing, not handler time.
                waiting_since = time.perf_counter()
                await self.before_act()
                started += time.perf_counter() - waiting_since
            await self.release_from_wave(body, new_state)
            detail = {"golive": body["metadata"]["name"], "phase": str(new_state.phase),
                      "actions": [a.kind for a in decision.actions]}  # fmt: skip
            if chained:
                self.deferred.append(decision)
            else:
                await self.ctx.fault_point("golive.saved", **detail)
                await self.act_deferred(body, spec)
                await self.act(body, spec, decision)
            await self.ctx.fault_point("golive.acted", **detail)
            self._timed(started)
            if decision.transition is None:
                break
            if self.before_act is not None and not decision.step_due:
                # A transition with nothing else due now: the step that confirms it waits behind reconciles that
                # have not decided yet (a clock jump's chain of due steps goes on at once).
                await self.before_act()
        if unsaved and state is not None:
            await self.persist(body, spec, state, state, Decision(state=state))  # MAX_STEPS ended a chain
            await self.act_deferred(body, spec)
        if state is None:
            return None
        smoke_running = state.phase == Phase.CUTOVER and state.smoke_requested_for is not None
        self.polling = smoke_running or self.rollback_running
        return state.next_wake_at

    async def act_deferred(self, body: Body, spec: GoLiveSpec) -> None:
        """Carry out the chained steps saved by the write just made (their events), in order."""
        for earlier in self.deferred:
            await self.act(body, spec, earlier)
        self.deferred.clear()

    async def verify_rollback(
        self, body: Body, spec: GoLiveSpec, state: GoLiveState, now: dt.datetime, *, ordering: bool = False
    ) -> GoLiveState:
        """What the operator ordered, it verifies: RolledBack is clean only when the rollback Job succeeded.

        Sets ``RollbackComplete`` (True: Job succeeded; False: running, or failed with the Job's own
        message, e.g. RBAC ``forbidden``), posts a Warning event once when it fails, and says in
        ``nextAction`` that traffic may still reach the new EPJ. Polls the Job while it runs.

        The Job's outcome, once recorded in the condition, stays when the Job is collected (its TTL). A Job
        that is missing with no outcome recorded was never created (the process died between saving
        RolledBack and acting, ``ordering`` is False): it is ordered now, and an unfinished final migration
        is stopped before it publishes.
        """
        self.rollback_running = False
        # An abort during the night rolls back first, then ends the go-live: the rollback Job still counts.
        rolled_back_then_aborted = state.phase == Phase.ABORTED and (
            state.held_from == Phase.CUTOVER or state.condition(ConditionType.ROLLBACK_COMPLETE) is not None
        )
        rolled_back = rolled_back_of(state)
        if (state.phase != Phase.ROLLED_BACK and not rolled_back_then_aborted) or rolled_back is None:
            return state
        manifest = resources.rollback_job(spec.kommunenummer, rolled_back, body["metadata"]["name"], self.ctx.image)
        meta = manifest["metadata"]
        job = await self.ctx.client.get(JOBS, meta["namespace"], meta["name"])
        before = state.condition(ConditionType.ROLLBACK_COMPLETE)
        if (
            job is None
            and before is not None
            and before.reason in ("RollbackJobSucceeded", "RollbackJobFailed")
            and before.message.startswith(f"Job {meta['name']} ")
        ):
            return state  # collected after it finished: its outcome is recorded (an earlier night's says nothing)
        if job is None and not ordering:
            record = state.migration
            if (
                record is not None
                and record.purpose == MigrationPurpose.CUTOVER
                and record.state in (JobState.PENDING, JobState.RUNNING)
                and record.job_name not in state.results
            ):
                await self.stop_migration(body, record.job_name)
            job, _ = await self.ctx.client.ensure(JOBS, meta["namespace"], manifest)
        job_state = resources.job_state(job) if job is not None else JobState.PENDING
        if job_state == JobState.SUCCEEDED:
            ok, reason, message = True, "RollbackJobSucceeded", f"Job {meta['name']} succeeded: traffic off"
        elif job_state == JobState.FAILED:
            detail = resources.job_message(job) or "no message"
            ok, reason, message = False, "RollbackJobFailed", f"Job {meta['name']} failed: {detail}"
        else:
            self.rollback_running = True
            stuck = resources.stuck_reason(await job_pods(self.ctx, meta["namespace"], meta["name"]))
            if stuck is not None:
                ok, reason, message = False, "RollbackJobStuck", f"Job {meta['name']} cannot start: {stuck}"
            else:
                ok, reason, message = False, "RollbackRunning", f"Job {meta['name']} is {job_state}"
        if before is not None and (before.reason, before.message) == (reason, message):
            conditions = state.conditions
        else:
            conditions = set_condition(state.conditions, ConditionType.ROLLBACK_COMPLETE, ok, reason, message, now)
        update: dict[str, Any] = {"conditions": conditions}
        if reason in ("RollbackJobFailed", "RollbackJobStuck"):
            update["next_action"] = (
                f"ROLLBACK FAILED ({message}): traffic may still reach the new EPJ. Turn it off by hand "
                f"(`epj golive rollback --tenant {spec.kommunenummer}`, runbooks/process/rollback.md), fix the "
                "cause, then resume"
            )
            if before is None or before.reason not in ("RollbackJobFailed", "RollbackJobStuck"):
                post_event(body, "Warning", "RollbackFailed", message)
        return state.model_copy(update=update)

    async def persist(
        self,
        body: Body,
        spec: GoLiveSpec,
        old: GoLiveState | None,
        new: GoLiveState,
        decision: Decision,
        *,
        write: bool = True,
    ) -> bool:
        """Write the status if it changed (a merge patch of the difference); True when it wrote.

        ``write=False`` takes the decision in (metrics, tenant view) and leaves the write to the next call.
        """
        wrote = False
        status = new.to_status() if write else None
        if status is not None and status != self.persisted:
            patch = merge_patch(self.persisted or {}, status)
            meta = body["metadata"]
            await self.ctx.client.patch_status(GOLIVES, meta["namespace"], meta["name"], patch, answer=False)
            self.persisted, wrote = status, True
            if self.ctx.record_latencies:
                self.ctx.persisted(meta["namespace"], spec.kommunenummer, new)
        self.state = new
        self.record(body, spec, old, new, decision)
        return wrote

    def record(
        self, body: Body, spec: GoLiveSpec, old: GoLiveState | None, new: GoLiveState, decision: Decision
    ) -> None:
        """Metrics, spans and the in-memory tenant view other GoLives and the wave read."""
        ctx, namespace, tenant = self.ctx, body["metadata"]["namespace"], spec.kommunenummer
        # The first record of this process counts the tenant in its phase (also after a restart).
        old_phase = old.phase if old is not None and self.counted else None
        self.counted = True
        ctx.metrics.set_phase(tenant, old_phase, new.phase)
        ctx.metrics.wave(tenant, spec.wave)
        seen = set(old.history) if old is not None else set()
        for entry in new.history:
            if entry.kind == "Gate" and entry not in seen and entry.gate and entry.outcome:
                ctx.metrics.gate(tenant, str(entry.gate), str(entry.outcome))
        key = (namespace, tenant)
        previous = ctx.tenants.get(key)
        view = TenantView(
            name=body["metadata"]["name"],
            wave=spec.wave,
            phase=new.phase,
            serving_since=new.serving_since,
            depends_on=spec.depends_on,
            wake_at=new.next_wake_at,
        )
        ctx.set_tenant(key, view)
        changed = previous is None or (previous.phase, previous.serving_since) != (view.phase, view.serving_since)
        if changed:
            ctx.wake_dependents(namespace, tenant)
            ctx.schedule_wave_update(namespace, spec.wave, self._wave_updater())
        transition = decision.transition
        if transition is not None and old is not None:
            ctx.metrics.transition(tenant, transition.from_phase, transition.to_phase, transition.at - old.phase_since)
            from epj.telemetry import tracer

            with tracer("epj.operator").start_as_current_span("golive.transition") as span:
                span.set_attribute("tenant", tenant)
                span.set_attribute("wave", spec.wave)
                span.set_attribute("golive.from_phase", str(transition.from_phase))
                span.set_attribute("golive.to_phase", str(transition.to_phase))
                span.set_attribute("golive.at", transition.at.isoformat())

    def _wave_updater(self) -> Any:
        from epj.operator.wave import update_wave_status

        ctx = self.ctx

        async def update(namespace: str, wave: str) -> None:
            await update_wave_status(ctx, namespace, wave)

        return update

    # ---------------------------------------------------------------- actions

    async def act(self, body: Body, spec: GoLiveSpec, decision: Decision) -> None:
        for action in decision.actions:
            if isinstance(action, CreateMigrationJob):
                await self.create_migration_job(body, action)
            elif isinstance(action, RunSmokeChecks):
                manifest = resources.smoke_job(
                    action.kommunenummer, action.job_name, body["metadata"]["name"], self.ctx.image
                )
                await self.ctx.client.ensure(JOBS, manifest["metadata"]["namespace"], manifest)
            elif isinstance(action, RollBack):
                if action.stop_job:
                    await self.stop_migration(body, action.stop_job)
                job_name = rolled_back_of(decision.state) or f"golive-{action.kommunenummer}"
                manifest = resources.rollback_job(
                    action.kommunenummer, job_name, body["metadata"]["name"], self.ctx.image
                )
                await self.ctx.client.ensure(JOBS, manifest["metadata"]["namespace"], manifest)
            elif isinstance(action, EmitEvent):
                post_event(body, action.type, action.reason, action.message)
        record = decision.state.migration
        if decision.state.phase == Phase.LIVE:
            # Going live seals the tenant's store: from now on every migration run into it is refused. Ensured
            # on every decision in Live (by name: created once), so a crash between saving Live and acting
            # still gets the seal; the seal itself is idempotent.
            job_name = record.job_name if record is not None else f"golive-{spec.kommunenummer}"
            manifest = resources.seal_job(spec.kommunenummer, job_name, body["metadata"]["name"], self.ctx.image)
            await self.ctx.client.ensure(JOBS, manifest["metadata"]["namespace"], manifest)

    async def release_from_wave(self, body: Body, state: GoLiveState) -> None:
        """From Cutover on, the GoLive no longer belongs to its wave for garbage collection (deleting the
        wave must not delete a tenant's go-live record once the night has started)."""
        if self.released or state.phase not in KEPT_PHASES:
            return
        refs = without_owner(body)
        if refs is not None:
            meta = body["metadata"]
            await self.ctx.client.patch(
                GOLIVES, meta["namespace"], meta["name"], {"metadata": {"ownerReferences": refs}}
            )
        self.released = True

    async def stop_migration(self, body: Body, migration_job: str) -> None:
        """Delete the running batch Job of a cutover the night has ended (its pod dies before it publishes).

        The MigrationJob stays, and its daemon reports the vanished Job as failed; nothing re-creates it.
        """
        mj = await self.ctx.client.get(MIGRATION_JOBS, body["metadata"]["namespace"], migration_job)
        if mj is None:
            return
        manifest = resources.migration_batch_job(mj)
        meta = manifest["metadata"]
        await self.ctx.client.delete(JOBS, meta["namespace"], meta["name"], propagation="Background")
        post_event(body, "Warning", "MigrationStopped", f"final migration Job {meta['name']} stopped: the night ended")

    async def create_migration_job(self, body: Body, action: CreateMigrationJob) -> None:
        manifest = resources.migration_job_cr(
            body, job_name=action.job_name, purpose=action.purpose, attempt=action.attempt, image=self.ctx.image
        )
        await self.ctx.client.ensure(MIGRATION_JOBS, body["metadata"]["namespace"], manifest)

    # ---------------------------------------------------------------- errors

    async def failed(self, body: Body, error: BaseException) -> float:
        """Count a failed reconcile; after ``stall_after`` in a row set Stalled. Returns the backoff delay."""
        ctx = self.ctx
        self.errors += 1
        tenant = str((body.get("spec") or {}).get("kommunenummer", ""))
        ctx.metrics.error(tenant if len(tenant) == 4 else "", "GoLive")
        delay = float(min(ctx.backoff_base * 2.0 ** (self.errors - 1), ctx.backoff_max))
        message = f"{self.errors} consecutive reconcile errors; last: {type(error).__name__}: {str(error)[:200]}"
        logger.warning("GoLive %s: %s; retrying in %.1fs", body["metadata"]["name"], message, delay)
        if self.errors >= ctx.stall_after:
            now = ctx.now()
            previous = self.state.conditions if self.state is not None else ()
            conditions = set_condition(previous, ConditionType.STALLED, True, "ReconcileErrors", message, now)
            if self.state is not None:
                self.state = self.state.model_copy(update={"conditions": conditions})
            ctx.metrics.stalled(tenant, True)
            # Record the condition when it starts, then at every power of two (not on every retry).
            n = self.errors
            if n != ctx.stall_after and n & (n - 1):
                return delay
            try:
                meta = body["metadata"]
                wire = [c.to_dict() for c in conditions]
                await ctx.client.patch_status(GOLIVES, meta["namespace"], meta["name"], {"conditions": wire})
                if self.state is not None:
                    self.persisted = self.state.to_status()
                if self.errors == ctx.stall_after:
                    post_event(body, "Warning", "Stalled", message)
            except Exception:  # the API itself may be what fails; the next attempt tries again
                logger.exception("GoLive %s: could not record the Stalled condition", body["metadata"]["name"])
        return delay

    def clear_stalled(self, state: GoLiveState, now: dt.datetime, tenant: str) -> GoLiveState:
        published = self.errors >= self.ctx.stall_after
        self.errors = 0
        stalled = state.condition(ConditionType.STALLED)
        if not published and (stalled is None or stalled.status != "True"):
            return state
        conditions = set_condition(
            state.conditions, ConditionType.STALLED, False, "Reconciled", "reconciling again", now
        )
        self.ctx.metrics.stalled(tenant, False)
        return state.model_copy(update={"conditions": conditions})


def rolled_back_of(state: GoLiveState) -> str | None:
    """What the latest rollback rolled back (its Job is ``rollback-<this without golive->``).

    The core records it with the rollback (a night ended before its final migration is named after the
    night); a status written before that names none, and the migration record's job is used as then.
    """
    if state.rollback_of is not None:
        return state.rollback_of
    return state.migration.job_name if state.migration is not None else None


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) turning ``old`` into ``new``: keys gone at ANY depth are deleted.

    A merge patch merges nested maps: without the explicit nulls a new migration record would keep the
    previous record's keys it does not set (e.g. the rehearsal's ``reconciliation`` on the cutover record,
    read back after a restart as if the final migration had reconciled).
    """
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            patch[key] = merge_patch(before, value)
        else:
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


def with_generation(state: GoLiveState, generation: int) -> GoLiveState:
    """The state with ``observedGeneration`` on the status and on every condition (what ``kubectl wait`` reads)."""
    conditions = tuple(
        c if c.observed_generation == generation else c.model_copy(update={"observed_generation": generation})
        for c in state.conditions
    )
    if state.observed_generation == generation and conditions == state.conditions:
        return state
    return state.model_copy(update={"observed_generation": generation, "conditions": conditions})


def _changes_objects(decision: Decision) -> bool:
    """Whether carrying out ``decision`` creates or deletes objects (events are posted in the background)."""
    return decision.state.phase == Phase.LIVE or any(not isinstance(a, EmitEvent) for a in decision.actions)
