"""The go-live phase machine: ``decide(spec, state, observations, now) -> Decision``.

A pure function: no clock, no I/O. Each call takes at most ONE phase step (adapters
call again at once when ``decision.transition`` is set), evaluates the gates guarding
the way out of the current phase, and returns the new state plus actions.

Rules (DESIGN.md §4):

* Time-driven steps follow :class:`~epj.golive.schedule.Schedule`.
* Gates guarding a transition are evaluated continuously; their timeout counts from when
  the transition is due (or from the later resume/unpause). Failed or TimedOut → OnHold,
  except during Cutover, where they roll back (RolledBack, action RollBack).
* Held phases (OnHold, RolledBack) never advance on their own: only a ``spec.resume``
  newer than the hold does. OnHold resumes into the held phase; RolledBack into Freeze,
  where a NEW go/no-go approval is needed (approvals before a hold no longer count).
* Pause and abort take effect at once before the cutover night and after go-live. During
  Cutover (until Live) they are a NO-GO, like a recorded go-no-go rejection (or an extract-delivered
  rejection, also one recorded after the final migration started): the night ends
  safely — the unfinished final migration is stopped before it publishes, the tenant rolls
  back and holds (an abort then ends the go-live). Abort ends only go-lives that do not
  serve yet; after go-live it is refused with an event (use the rollback runbook).
* Withdrawal (``spec.withdraw``) is honoured only before the withdrawal lock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from epj.golive.actions import (
    Action,
    CreateMigrationJob,
    Decision,
    EmitEvent,
    RollBack,
    RunSmokeChecks,
    Transition,
)
from epj.golive.clock import ensure_utc
from epj.golive.gates import Check, check, check_approval, check_dependencies, decision_window, round_position, settle
from epj.golive.model import (
    HISTORY_LIMIT,
    Approval,
    Condition,
    GateRecord,
    GoLiveSpec,
    GoLiveState,
    HistoryEntry,
    MigrationRecord,
    Observations,
    Pending,
)
from epj.golive.phases import (
    APPROVAL_GATES,
    GATE_PHASE,
    GATE_ROLES,
    HELD,
    MAIN_LINE,
    PRE_LIVE,
    RESUME_ROLES,
    TERMINAL,
    ApprovalDecision,
    ConditionType,
    GateName,
    GateOutcome,
    JobState,
    MigrationPurpose,
    Phase,
    Reason,
    is_allowed,
)
from epj.golive.schedule import OSLO, Schedule

#: Gates guarding the way OUT of a phase (to the next phase on the main line).
EXIT_GATES: dict[Phase, tuple[GateName, ...]] = {
    Phase.REHEARSAL: (GateName.REHEARSAL_RECONCILED, GateName.TRAINING),
    Phase.FREEZE: (GateName.NO_CRITICAL_ALERTS, GateName.DEPENDENCIES, GateName.GO_NO_GO),
    Phase.CUTOVER: (GateName.CUTOVER_RECONCILED, GateName.SMOKE_CHECKS),
    Phase.HYPERCARE: (GateName.NO_CRITICAL_ALERTS, GateName.HYPERCARE_EXIT),
}


#: Prefix of the audit-trail reason of a decision that did not count (a role not allowed, or outside its round).
NOT_COUNTED = "not counted ("


class InvalidTransition(RuntimeError):
    """The machine tried a transition outside ALLOWED_TRANSITIONS (a bug, or a tampered status)."""


def job_name(kommunenummer: str, purpose: MigrationPurpose, attempt: int) -> str:
    """Deterministic migration job name: a restarted operator finds the job it created, never makes a second."""
    return f"golive-{kommunenummer}-{purpose}-{attempt}"


def _next_on_main_line(phase: Phase) -> Phase:
    return MAIN_LINE[MAIN_LINE.index(phase) + 1]


class _Step:
    """Mutable scratch space for one ``decide`` call; produces the frozen Decision."""

    def __init__(self, spec: GoLiveSpec, state: GoLiveState, observations: Observations, now: dt.datetime) -> None:
        self.spec, self.obs, self.now = spec, observations, now
        self.schedule = _schedule(spec, state)
        self.state = state
        self.updates: dict[str, Any] = {}
        self.history: list[HistoryEntry] = []
        self.actions: list[Action] = []
        self.transition: Transition | None = None
        self.gate_records: dict[GateName, GateRecord] = {g.name: g for g in state.gates}

    # ---------------------------------------------------------------- helpers

    def get(self, field: str) -> Any:
        return self.updates.get(field, getattr(self.state, field))

    @property
    def phase(self) -> Phase:
        phase: Phase = self.get("phase")
        return phase

    @property
    def pending(self) -> Pending:
        pending: Pending = self.get("pending")
        return pending

    def set_pending(self, **changes: bool) -> None:
        self.updates["pending"] = self.pending.model_copy(update=changes)

    def event(self, reason: Reason | str, message: str, *, warning: bool = False) -> None:
        self.actions.append(EmitEvent(type="Warning" if warning else "Normal", reason=str(reason), message=message))

    def gate_entry(self, record: GateRecord) -> None:
        self.history.append(
            HistoryEntry(at=self.now, kind="Gate", gate=record.name, outcome=record.outcome, reason=record.reason)
        )

    def move(self, target: Phase, reason: Reason, message: str, *, warning: bool = False) -> None:
        source = self.phase
        if not is_allowed(source, target):
            raise InvalidTransition(f"{self.spec.kommunenummer}: {source} → {target} is not allowed")
        self.transition = Transition(from_phase=source, to_phase=target, reason=message, at=self.now)
        self.updates.update(phase=target, phase_reason=message, phase_since=self.now, window_start=self.now)
        self.history.append(
            HistoryEntry(at=self.now, kind="Transition", from_phase=source, to_phase=target, reason=message)
        )
        self.event(reason, f"{source} → {target}: {message}", warning=warning)
        if target == Phase.FREEZE:
            self.updates.update(pinned_go_live_date=self.spec.go_live_date, pinned_schedule=self.spec.schedule)
        elif target not in PINNED:
            self.updates.update(pinned_go_live_date=None, pinned_schedule=None)
        if (target == Phase.FREEZE or target not in PINNED) and self.pending.timing_deferred:
            self.set_pending(timing_deferred=False)
        self.schedule = _schedule(self.spec, self.state.model_copy(update=self.updates))
        # A gate's round opens when the main line reaches the phase it decides; a resume from a hold keeps the
        # round (decisions recorded during the hold, after it began, count: ``approvals_since``).
        opened = [gate for gate, phase in GATE_PHASE.items() if phase == target and source not in HELD]
        if opened:
            self.updates["decision_windows"] = {**self.get("decision_windows"), **dict.fromkeys(opened, self.now)}
        for gate in EXIT_GATES.get(target, ()):
            self.gate_records[gate] = GateRecord(name=gate, outcome=GateOutcome.PENDING, at=self.now, reason="")

    def request_migration(self, purpose: MigrationPurpose) -> None:
        attempts = dict(self.get("attempts"))
        attempt = attempts.get(purpose, 0) + 1
        attempts[purpose] = attempt
        name = job_name(self.spec.kommunenummer, purpose, attempt)
        self.updates["attempts"] = attempts
        self.updates["migration"] = MigrationRecord(
            job_name=name, purpose=purpose, attempt=attempt, requested_at=self.now
        )
        self.updates["smoke_requested_for"] = None
        self.actions.append(
            CreateMigrationJob(kommunenummer=self.spec.kommunenummer, job_name=name, purpose=purpose, attempt=attempt)
        )

    def hold(self, record: GateRecord) -> None:
        held_from = self.phase
        self.gate_entry(record)
        self.move(Phase.ON_HOLD, Reason.HELD, f"gate {record.name} {record.outcome}: {record.reason}", warning=True)
        self.updates.update(held_from=held_from, held_at=self.now, approvals_since=self.now)

    def roll_back(self, record: GateRecord) -> None:
        """End the cutover night: RolledBack (held), the final migration stopped before it publishes.

        A night that ended before its final migration (no extract, a NO-GO while waiting for it) still
        needs traffic off: its rollback is named after the night itself (``rollback_of``), so a second
        such night never takes an earlier night's finished rollback Job for its own.
        """
        job: MigrationRecord | None = self.get("migration")
        ours = self._final_migration_requested()  # before the move: phase_since is still the night's start
        self.gate_entry(record)
        message = f"gate {record.name} {record.outcome}: {record.reason}"
        self.move(Phase.ROLLED_BACK, Reason.ROLLED_BACK, message, warning=True)
        self.updates.update(held_from=Phase.CUTOVER, held_at=self.now, approvals_since=self.now, serving_since=None)
        night = f"golive-{self.spec.kommunenummer}-night-{self.now:%Y%m%d%H%M%S}"
        self.updates["rollback_of"] = job.job_name if ours and job is not None else night
        unfinished = (
            job is not None
            and job.purpose == MigrationPurpose.CUTOVER
            and job.state in (JobState.PENDING, JobState.RUNNING)
        )
        self.actions.append(
            RollBack(
                kommunenummer=self.spec.kommunenummer,
                reason=message,
                stop_job=job.job_name if unfinished and job is not None else None,
            )
        )

    def no_go(self, reason: str) -> None:
        """A NO-GO during the cutover night (rejection, pause or abort): roll back, recorded on the go-no-go gate."""
        record = GateRecord(name=GateName.GO_NO_GO, outcome=GateOutcome.FAILED, at=self.now, reason=reason)
        self.gate_records[GateName.GO_NO_GO] = record
        self.roll_back(record)

    # ---------------------------------------------------------------- gates

    def gate_window(self, gate: GateName, due: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        opened = max(due, self.get("window_start"))
        return opened, opened + self.spec.gates.timeout(gate)

    def evaluate(self, gate: GateName, due: dt.datetime) -> GateRecord:
        opened, deadline = self.gate_window(gate, due)
        previous = self.gate_records.get(gate)
        if (
            previous is not None
            and previous.opened_at is not None
            and previous.deadline is not None
            and self.get("window_start") <= previous.opened_at <= self.now
        ):
            # Frozen when the gate opened: editing timeouts or dates never moves a running gate's deadline.
            opened, deadline = previous.opened_at, previous.deadline
        state = self.state.model_copy(update=self.updates)
        result: Check = check(gate, self.spec, state, self.obs, self.now, self.now >= opened)
        record = settle(gate, result, opened, deadline, self.now)
        previous = self.gate_records.get(gate)
        if previous is not None and previous.model_copy(update={"at": record.at}) == record:
            record = previous  # unchanged: keep its time, so the status does not churn on every call
        self.gate_records[gate] = record
        return record

    def through_gates(self, gates: tuple[GateName, ...], due: dt.datetime) -> tuple[str, GateRecord | None]:
        """Evaluate ``gates``: ('pass', None), ('fail', first failing record) or ('wait', None)."""
        records = [self.evaluate(gate, due) for gate in gates]
        failing = next((r for r in records if r.outcome in (GateOutcome.FAILED, GateOutcome.TIMED_OUT)), None)
        if failing is not None:
            return "fail", failing
        if all(r.outcome == GateOutcome.PASSED for r in records) and self.now >= due:
            for record in records:
                self.gate_entry(record)
            return "pass", None
        return "wait", None

    # ---------------------------------------------------------------- the step

    def record_approvals(self) -> None:
        """Add each new decision to the audit trail once; a repeat of the standing decision is a no-op.

        A decision that cannot count (a role that does not decide this gate, or given before the gate's
        round opened) is recorded too, marked as not counted, with a Warning event.
        """
        history = self.state.history
        seen = {(e.gate, e.at, e.by) for e in history if e.kind == "Approval"}
        state = self.state.model_copy(update=self.updates)
        # The standing decision of each gate is the latest of its current round (after the last hold): the same
        # words on a second night, or again after a hold, are a new decision that the audit trail must show.
        standing: dict[GateName, tuple[str | None, ApprovalDecision | None]] = {}
        for entry in history:
            if entry.kind != "Approval" or entry.gate is None or entry.reason.startswith(NOT_COUNTED):
                continue
            opened, since = decision_window(state, entry.gate), state.approvals_since
            if opened is not None and entry.at >= opened and (since is None or entry.at > since):
                standing[entry.gate] = (entry.by, entry.decision)
        for approval in sorted(self.spec.approvals, key=lambda a: a.at):
            key = (approval.gate, approval.at, str(approval.by))
            if approval.at > self.now or key in seen:
                continue
            seen.add(key)
            why_not = self._not_counted(approval, state)
            if why_not is None and standing.get(approval.gate) == (str(approval.by), approval.decision):
                continue  # the same decision again: nothing new to record
            reason = approval.reason if why_not is None else f"{NOT_COUNTED}{why_not}): {approval.reason}"
            self.history.append(
                HistoryEntry(
                    at=approval.at, kind="Approval", gate=approval.gate, by=str(approval.by),
                    decision=approval.decision, reason=reason,
                )
            )  # fmt: skip
            if why_not is None:
                standing[approval.gate] = (str(approval.by), approval.decision)
                self.event(Reason.APPROVAL_RECORDED, f"{approval.gate} {approval.decision} by {approval.by}")
            else:
                message = f"{approval.gate} {approval.decision} by {approval.by} does not count: {why_not}"
                self.event(Reason.APPROVAL_NOT_COUNTED, message, warning=True)

    def _not_counted(self, approval: Approval, state: GoLiveState) -> str | None:
        """Why ``approval`` can never count for its gate, or None (a later hold may still void it)."""
        if approval.by not in GATE_ROLES[approval.gate]:
            return f"{approval.by} does not decide {approval.gate}"
        opened = decision_window(state, approval.gate)
        if opened is None or approval.at < opened:
            return f"given before {GATE_PHASE[approval.gate]} began for this round"
        if approval.at >= state.phase_since:
            # Given in the current phase: outside its round it never counts, even where an earlier round's
            # window still stands (an extract recorded in the Freeze before a second night: that night's round
            # opens when it enters Cutover).
            position = round_position(state.phase, state.held_from, approval.gate)
            if position == "before":
                return f"given before {GATE_PHASE[approval.gate]} began for this round"
            if position == "after":
                return f"given in {state.phase}, after its round ended"
        return None

    def record_migration(self) -> None:
        job, seen = self.get("migration"), self.obs.migration
        if job is None or seen is None or seen.job_name != job.job_name:
            return
        recorded = self.get("results")
        if job.job_name in recorded:
            return  # a result is recorded once: nothing seen later (a re-created job) changes it
        if seen.state in (JobState.SUCCEEDED, JobState.FAILED):
            self.updates["results"] = {**recorded, job.job_name: seen.state}
        if seen.state != job.state or seen.reconciliation != job.reconciliation or seen.message != job.message:
            update = {
                "state": seen.state,
                "reconciliation": seen.reconciliation or job.reconciliation,
                "message": seen.message or job.message,
            }
            self.updates["migration"] = job.model_copy(update=update)

    def record_wave(self) -> None:
        """The first decision notes the wave; a later change is a move, kept in the audit trail."""
        old = self.state.wave
        if old == self.spec.wave:
            return
        self.updates["wave"] = self.spec.wave
        if old is not None:
            message = f"moved from wave {old} to wave {self.spec.wave}"
            self.history.append(HistoryEntry(at=self.now, kind="Event", reason=message))
            self.event(Reason.WAVE_CHANGED, message)

    def record_timing(self) -> None:
        """Timing edits during the night wait: say so once (the pinned schedule keeps deciding)."""
        date, schedule = self.get("pinned_go_live_date"), self.get("pinned_schedule")
        if date is None or self.pending.timing_deferred:
            return
        if (date, schedule) != (self.spec.go_live_date, self.spec.schedule):
            message = (
                f"goLiveDate/schedule edit deferred: the night runs on goLiveDate {date.isoformat()} until the "
                "tenant is in Hypercare or held"
            )
            self.event(Reason.TIMING_CHANGE_DEFERRED, message, warning=True)
            self.set_pending(timing_deferred=True)

    def run(self) -> None:
        self.record_wave()
        self.record_timing()
        self.record_approvals()
        self.record_migration()
        if self.phase in TERMINAL:
            return
        self.notice_alerts()
        if self.levers():
            return
        if self.phase in HELD:
            self.step_held()
            return
        self.step_phase()

    def notice_alerts(self) -> None:
        """While the tenant serves: a Warning event when a critical alert starts firing (not at the gate's deadline)."""
        if self.phase not in (Phase.LIVE, Phase.HYPERCARE) and self.get("held_from") != Phase.HYPERCARE:
            return
        firing = _critical(self.obs)
        if firing is None:
            return
        notified = self.pending.alerts_notified
        new = [name for name in firing if name not in notified]
        if new:
            message = f"critical alert firing in {self.phase}: {', '.join(new)} (see its runbook)"
            self.event(Reason.CRITICAL_ALERT, message, warning=True)
        if tuple(firing) != notified:
            self.updates["pending"] = self.pending.model_copy(update={"alerts_notified": tuple(firing)})

    def levers(self) -> bool:
        """Withdrawal, abort and pause. True when they took this step."""
        spec, phase = self.spec, self.phase
        serving = self.get("serving_since") is not None
        if spec.withdraw and phase in PRE_LIVE:
            if self.schedule.may_withdraw(self.now):
                self.move(Phase.ABORTED, Reason.WITHDRAWN, "withdrawn from the wave before the withdrawal lock")
                return True
            if not self.pending.withdrawal_refused:
                lock = self.schedule.local_dates()["withdrawal_lock"].isoformat()  # the Oslo day, as people see it
                self.event(
                    Reason.WITHDRAWAL_REFUSED, f"withdrawal lock passed on {lock}: place is locked", warning=True
                )
                self.set_pending(withdrawal_refused=True)
        if phase == Phase.CUTOVER and (spec.aborted or spec.paused):
            # Until Live, a lever is a NO-GO: the night ends safely here (an abort then ends the go-live).
            lever = "spec.aborted" if spec.aborted else "spec.paused"
            self.no_go(f"NO-GO: {lever} set during the cutover night")
            return True
        if spec.aborted:
            if phase in PRE_LIVE or (phase in HELD and not serving):
                self.move(Phase.ABORTED, Reason.ABORTED, "aborted by spec.aborted")
                return True
            if serving and not self.pending.abort_ignored:
                self.event(
                    Reason.ABORT_IGNORED, "tenant is live: abort ignored; use the rollback runbook", warning=True
                )
                self.set_pending(abort_ignored=True)
        if spec.paused:
            if not self.get("paused"):
                self.updates["paused"] = True
                self.set_pending(pause=False)
                self.event(Reason.PAUSED, f"paused in {phase}")
            return True
        if self.get("paused"):
            self.updates.update(paused=False, window_start=self.now)
            self.event(Reason.RESUMED, f"unpaused in {phase}; gate timeouts restart now")
        return False

    def window_missed(self, latest: dt.datetime) -> None:
        """Past the latest start the night no longer fits before the clinical morning: hold, say what to do."""
        local = latest.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
        reason = (
            f"cutover window missed: latest start {local} (Oslo) has passed; the night must not run into the "
            "clinical day. Re-plan the go-live (a later goLiveDate or wave), then resume"
        )
        record = GateRecord(name=GateName.CUTOVER_WINDOW, outcome=GateOutcome.FAILED, at=self.now, reason=reason)
        self.gate_records[GateName.CUTOVER_WINDOW] = record
        self.event(Reason.CUTOVER_WINDOW_MISSED, reason, warning=True)
        self.hold(record)

    def step_held(self) -> None:
        resume, held_at = self.spec.resume, self.get("held_at")
        if resume is None or held_at is None or not held_at < resume.at <= self.now:
            return
        if resume.by not in RESUME_ROLES:
            # The webhook refuses such a resume; one in the spec anyway (webhook bypassed) holds, said once.
            may = ", ".join(sorted(r.value for r in RESUME_ROLES))
            message = (
                f"resume by {resume.by} does not count: {resume.by} does not resume a go-live (roles that do: {may})"
            )
            noted = HistoryEntry(at=resume.at, kind="Event", reason=message)
            if noted not in self.state.history:
                self.history.append(noted)
                self.event(Reason.RESUME_NOT_COUNTED, message, warning=True)
            return
        target = self.get("held_from") if self.phase == Phase.ON_HOLD else Phase.FREEZE
        self.history.append(HistoryEntry(at=self.now, kind="Resume", by=str(resume.by), reason=resume.reason))
        self.move(target, Reason.RESUMED, f"resumed by {resume.by}: {resume.reason}")
        self.updates.update(held_from=None, held_at=None, pending=Pending())
        if target == Phase.REHEARSAL and not self._migration_passed(MigrationPurpose.REHEARSAL):
            self.request_migration(MigrationPurpose.REHEARSAL)

    def _migration_passed(self, purpose: MigrationPurpose) -> bool:
        job: MigrationRecord | None = self.get("migration")
        return (
            job is not None
            and job.purpose == purpose
            and job.state == JobState.SUCCEEDED
            and job.reconciliation is not None
            and job.reconciliation.complete
        )

    def step_phase(self) -> None:
        phase, schedule = self.phase, self.schedule
        if phase in (Phase.PLANNED, Phase.PREPARING, Phase.TRAINING):
            target = _next_on_main_line(phase)
            due = schedule.entry_due(target)
            assert due is not None
            if self.now >= due:
                self.move(target, Reason.SCHEDULED, f"{target} due {due.isoformat()}")
                if target == Phase.REHEARSAL:
                    self.request_migration(MigrationPurpose.REHEARSAL)
        elif phase == Phase.REHEARSAL:
            job = self.get("migration")
            if job is None or job.purpose != MigrationPurpose.REHEARSAL:
                self.request_migration(MigrationPurpose.REHEARSAL)
            self.gated_step(schedule.freeze_at, Phase.FREEZE)
        elif phase == Phase.FREEZE:
            if self.gated_step(schedule.cutover_at, Phase.CUTOVER, latest=schedule.cutover_latest_at):
                if self.spec.gates.require_extract_delivered:
                    self.event(Reason.GATES_PENDING, "legacy system read-only; waiting for the final extract")
                    self.evaluate(GateName.EXTRACT_DELIVERED, self.now)
                else:
                    self.event(Reason.MIGRATION_REQUESTED, "legacy system read-only; final extract and migration start")
                    self.request_migration(MigrationPurpose.CUTOVER)
        elif phase == Phase.CUTOVER:
            self.step_cutover()
        elif phase == Phase.LIVE:
            if self.now >= schedule.go_live_at:
                self.move(Phase.HYPERCARE, Reason.SCHEDULED, "go-live morning: command-centre period starts")
                self.updates["hypercare_started_at"] = self.now
        elif phase == Phase.HYPERCARE:
            self.gated_step(self.hypercare_end(), Phase.STABLE)

    def hypercare_end(self) -> dt.datetime:
        started = self.get("hypercare_started_at") or self.schedule.go_live_at
        end: dt.datetime = started + dt.timedelta(days=self.spec.hypercare_days)
        return end

    def gated_step(self, due: dt.datetime, target: Phase, *, latest: dt.datetime | None = None) -> bool:
        """Move to ``target`` when every exit gate passed and ``due`` is reached — but never after ``latest``."""
        verdict, failing = self.through_gates(EXIT_GATES[self.phase], due)
        if verdict == "fail" and failing is not None:
            self.hold(failing)
        elif verdict == "pass" and latest is not None and self.now > latest:
            self.window_missed(latest)
        elif verdict == "pass":
            self.move(target, Reason.GATES_PASSED, f"gates passed: {', '.join(EXIT_GATES[self.phase])}")
            return True
        return False

    def _final_migration_requested(self) -> bool:
        """A cutover migration was requested in THIS night (not a rolled-back earlier one)."""
        job: MigrationRecord | None = self.get("migration")
        return (
            job is not None and job.purpose == MigrationPurpose.CUTOVER and job.requested_at >= self.get("phase_since")
        )

    def _waits_for_extract(self) -> bool:
        """This night waits for ``extract-delivered`` before its final migration: the spec asks for it, or the
        night began waiting for it. The API server refuses ``gates`` edits under a running night; where that is
        bypassed the night runs as it began, never skipping the record nor waiting for a migration nobody asks.
        """
        if self.spec.gates.require_extract_delivered:
            return True
        record = self.gate_records.get(GateName.EXTRACT_DELIVERED)
        return record is not None and record.opened_at is not None and record.opened_at >= self.get("phase_since")

    def step_cutover(self) -> None:
        rejected = check_approval(self.spec, self.state, GateName.GO_NO_GO, self.now)
        if rejected.outcome == GateOutcome.FAILED:
            self.no_go(f"NO-GO during the cutover night: {rejected.reason}")
            return
        if self._final_migration_requested() or not self._waits_for_extract():
            # A recorded extract rejection is a NO-GO once the final migration runs (the extract was recorded,
            # then its counts found wrong), and on a night that did not wait for the record at all.
            withdrawn = check_approval(self.spec, self.state, GateName.EXTRACT_DELIVERED, self.now)
            if withdrawn.outcome == GateOutcome.FAILED:
                reason = f"NO-GO during the cutover night: {withdrawn.reason}"
                record = GateRecord(name=GateName.EXTRACT_DELIVERED, outcome=GateOutcome.FAILED, at=self.now,
                                    reason=reason)  # fmt: skip
                self.gate_records[GateName.EXTRACT_DELIVERED] = record
                self.roll_back(record)
                return
        if self._waits_for_extract() and not self._final_migration_requested():
            delivered = self.evaluate(GateName.EXTRACT_DELIVERED, self.get("window_start"))
            if delivered.outcome in (GateOutcome.FAILED, GateOutcome.TIMED_OUT):
                self.roll_back(delivered)  # nothing was migrated: legacy back to read-write
            elif delivered.outcome == GateOutcome.PASSED:
                self.gate_entry(delivered)
                self.event(Reason.MIGRATION_REQUESTED, "final extract delivered; the final migration starts")
                self.request_migration(MigrationPurpose.CUTOVER)
            return
        start = self.get("window_start")
        reconciled = self.evaluate(GateName.CUTOVER_RECONCILED, start)
        if reconciled.outcome in (GateOutcome.FAILED, GateOutcome.TIMED_OUT):
            self.roll_back(reconciled)
            return
        if reconciled.outcome != GateOutcome.PASSED:
            return
        job: MigrationRecord = self.get("migration")
        if self.get("smoke_requested_for") != job.job_name:
            self.gate_entry(reconciled)
            self.updates["smoke_requested_for"] = job.job_name
            self.gate_records[GateName.SMOKE_CHECKS] = GateRecord(
                name=GateName.SMOKE_CHECKS, outcome=GateOutcome.PENDING, at=self.now, opened_at=self.now
            )
            self.actions.append(RunSmokeChecks(kommunenummer=self.spec.kommunenummer, job_name=job.job_name))
        smoke_opened = self.gate_records[GateName.SMOKE_CHECKS].opened_at or self.now
        smoke = self.evaluate(GateName.SMOKE_CHECKS, smoke_opened)
        if smoke.outcome in (GateOutcome.FAILED, GateOutcome.TIMED_OUT):
            self.roll_back(smoke)
        elif smoke.outcome == GateOutcome.PASSED:
            self.gate_entry(smoke)
            self.move(Phase.LIVE, Reason.GATES_PASSED, "final migration reconciled and smoke checks passed")
            self.updates["serving_since"] = self.now

    # ---------------------------------------------------------------- outputs

    def finish(self) -> Decision:
        order = {gate: i for i, gate in enumerate(GateName)}
        self.updates["gates"] = tuple(sorted(self.gate_records.values(), key=lambda g: order[g.name]))
        history = (*self.state.history, *self.history)
        if len(history) > HISTORY_LIMIT:
            history = (history[0], *history[-(HISTORY_LIMIT - 1) :])
        self.updates["history"] = history
        state = self.state.model_copy(update=self.updates)
        conditions = _conditions(self.spec, state, self.obs, self.now)
        state = state.model_copy(
            update={
                "conditions": _merge_conditions(self.state.conditions, conditions),
                "next_action": _next_action(self.spec, state, self.schedule, self.now),
                "next_wake_at": _wake_at(self.spec, state, self.schedule, self.now),
            }
        )
        # Validate once at the end: catches a bad update early instead of in the adapter. The fields as they
        # are (not dumped): nested records already validated are type-checked, not rebuilt from dicts.
        state = GoLiveState.model_validate(dict(state))
        due = _due(self.spec, state, self.schedule)
        step_due = due is not None and due <= self.now and not state.paused and state.phase not in HELD | TERMINAL
        return Decision(state=state, transition=self.transition, actions=tuple(self.actions), step_due=step_due)


#: The night's timing is pinned in these phases (entered at Freeze; edits wait, see ``GoLiveState.pinned_*``).
PINNED = frozenset({Phase.FREEZE, Phase.CUTOVER, Phase.LIVE})


def _schedule(spec: GoLiveSpec, state: GoLiveState) -> Schedule:
    date = state.pinned_go_live_date or spec.go_live_date
    offsets = (state.pinned_schedule or spec.schedule).offsets(spec.hypercare_days)
    return Schedule.for_date(date, offsets)


def decide(spec: GoLiveSpec, state: GoLiveState | None, observations: Observations, now: dt.datetime) -> Decision:
    """Decide one step of ``spec.kommunenummer``'s go-live at ``now`` (see the module docstring)."""
    now = ensure_utc(now)
    step = _Step(spec, state or GoLiveState.initial(now), observations, now)
    step.run()
    return step.finish()


# -------------------------------------------------------------------- conditions, next action, wake-up


def _watched(phase: Phase) -> tuple[GateName, ...]:
    """Gates whose records matter in ``phase``: its exit gates, and in Cutover the extract gate before them."""
    extra = (GateName.EXTRACT_DELIVERED,) if phase == Phase.CUTOVER else ()
    return (*extra, *EXIT_GATES.get(phase, ()))


def _open_pending(state: GoLiveState, now: dt.datetime) -> list[GateRecord]:
    gates = _watched(state.phase)
    return [
        g
        for g in state.gates
        if g.name in gates and g.outcome == GateOutcome.PENDING and g.opened_at is not None and g.opened_at <= now
    ]


def _dependency_failed(spec: GoLiveSpec, observations: Observations, now: dt.datetime) -> str | None:
    if not spec.depends_on:
        return None
    result = check_dependencies(spec, observations, now, is_open=True)
    return result.reason if result.outcome == GateOutcome.FAILED else None


def _conditions(spec: GoLiveSpec, state: GoLiveState, obs: Observations, now: dt.datetime) -> list[Condition]:
    phase = state.phase

    def cond(kind: ConditionType, status: bool, reason: Reason, message: str = "") -> Condition:
        return Condition(
            type=kind, status="True" if status else "False", reason=str(reason), message=message,
            last_transition_time=now,
        )  # fmt: skip

    serving = state.serving_since is not None and phase not in (Phase.ROLLED_BACK, Phase.ABORTED)
    ready = cond(ConditionType.READY, serving, Reason.SERVING if serving else Reason.NOT_SERVING, f"phase {phase}")
    job = state.migration
    job_running = job is not None and job.state in (JobState.PENDING, JobState.RUNNING)
    pending = _open_pending(state, now)
    dependency = _dependency_failed(spec, obs, now) if phase in PRE_LIVE else None

    if phase in TERMINAL:
        reason = Reason.COMPLETED if phase == Phase.STABLE else Reason.ABORTED
        progressing = cond(ConditionType.PROGRESSING, False, reason, state.phase_reason)
    elif phase in HELD:
        progressing = cond(ConditionType.PROGRESSING, False, Reason.HELD, state.phase_reason)
    elif state.paused:
        progressing = cond(ConditionType.PROGRESSING, False, Reason.PAUSED, f"paused in {phase}")
    elif job_running and phase in (Phase.REHEARSAL, Phase.CUTOVER) and job is not None:
        progressing = cond(ConditionType.PROGRESSING, True, Reason.MIGRATION_RUNNING, job.job_name)
    elif pending:
        progressing = cond(ConditionType.PROGRESSING, True, Reason.GATES_PENDING, _gate_summary(pending))
    else:
        progressing = cond(ConditionType.PROGRESSING, True, Reason.WAITING_FOR_SCHEDULE, f"in {phase}")

    if phase in HELD:
        reason = Reason.ROLLED_BACK if phase == Phase.ROLLED_BACK else Reason.HELD
        blocked = cond(ConditionType.BLOCKED, True, reason, state.phase_reason)
    elif state.paused:
        blocked = cond(ConditionType.BLOCKED, True, Reason.PAUSED, "spec.paused is true")
    elif dependency:
        blocked = cond(ConditionType.BLOCKED, True, Reason.DEPENDENCY_FAILED, dependency)
    elif phase in (Phase.LIVE, Phase.HYPERCARE) and _critical(obs):
        firing = ", ".join(_critical(obs) or ())
        blocked = cond(ConditionType.BLOCKED, True, Reason.CRITICAL_ALERT, f"critical alert firing: {firing}")
    elif pending:
        blocked = cond(ConditionType.BLOCKED, True, Reason.GATES_PENDING, _gate_summary(pending))
    elif phase in TERMINAL:
        blocked = cond(ConditionType.BLOCKED, False, Reason.COMPLETED if phase == Phase.STABLE else Reason.ABORTED)
    else:
        blocked = cond(ConditionType.BLOCKED, False, Reason.NOT_BLOCKED)
    return [ready, progressing, blocked]


def _critical(obs: Observations) -> list[str] | None:
    """Names of the critical alerts firing for the tenant (None: the alert source is unavailable)."""
    if obs.alerts is None:
        return None
    return sorted({a.name for a in obs.alerts if a.severity == "critical"})


def _gate_summary(records: list[GateRecord]) -> str:
    return "; ".join(f"{g.name}: {g.reason or 'pending'}" for g in records)


def _merge_conditions(old: tuple[Condition, ...], new: list[Condition]) -> tuple[Condition, ...]:
    """Keep ``lastTransitionTime`` when a condition's status did not change (Kubernetes convention)."""
    previous = {c.type: c for c in old}
    merged = []
    for condition in new:
        before = previous.pop(condition.type, None)
        if before is not None and before.status == condition.status:
            condition = condition.model_copy(update={"last_transition_time": before.last_transition_time})
        merged.append(condition)
    merged += previous.values()  # conditions the core does not own (e.g. an adapter's Stalled) are kept
    return tuple(merged)


def set_condition(
    conditions: tuple[Condition, ...], kind: ConditionType, status: bool, reason: str, message: str, now: dt.datetime
) -> tuple[Condition, ...]:
    """Set one condition (for adapters, e.g. ``Stalled`` after repeated errors), keeping the others."""
    new = Condition(
        type=kind, status="True" if status else "False", reason=reason, message=message, last_transition_time=now
    )
    rest = [c for c in conditions if c.type != kind]
    return _merge_conditions(conditions, [new, *rest])


def _cli_resume(kommunenummer: str) -> str:
    return f"`epj golive resume --tenant {kommunenummer} --by ROLE --reason ...`"


def _next_action(spec: GoLiveSpec, state: GoLiveState, schedule: Schedule, now: dt.datetime) -> str:
    phase, tenant = state.phase, spec.kommunenummer
    if phase == Phase.STABLE:
        return "None: ordinary operations"
    if phase == Phase.ABORTED:
        return "None: go-live ended"
    if state.paused:
        # The lever may be the tenant's or its wave's (folded into one spec): name both, or someone clears the
        # GoLive's spec.paused, which was never set, and waits. Before the hold's advice: a pause holds a resume too.
        return f"Paused: set spec.paused to false on the GoLive or on its RolloutWave {spec.wave} (whichever is set)"
    if phase in HELD:
        return f"Fix the cause ({state.phase_reason}), then {_cli_resume(tenant)}"
    pending = _open_pending(state, now)
    if pending:
        parts = []
        for gate in pending:
            hint = ""
            if gate.name in APPROVAL_GATES and "no " in gate.reason:
                hint = f" (`epj golive approve --tenant {tenant} --gate {gate.name} --by ROLE --reason ...`)"
            deadline = f" by {gate.deadline.isoformat()}" if gate.deadline else ""
            parts.append(f"{gate.name}: {gate.reason}{hint}{deadline}")
        return "Waiting for " + "; ".join(parts)
    job = state.migration
    if (
        phase in (Phase.REHEARSAL, Phase.CUTOVER)
        and job is not None
        and job.state in (JobState.PENDING, JobState.RUNNING)
    ):
        return f"Waiting for {job.purpose} migration {job.job_name}"
    if phase == Phase.CUTOVER:
        return "Waiting for smoke checks"
    target = _next_on_main_line(phase)
    due = _due(spec, state, schedule)
    when = f" at {due.isoformat()}" if due else ""
    gates = EXIT_GATES.get(phase)
    return f"{target}{when}" + (f" if gates pass: {', '.join(gates)}" if gates else "")


def _due(spec: GoLiveSpec, state: GoLiveState, schedule: Schedule) -> dt.datetime | None:
    phase = state.phase
    if phase == Phase.HYPERCARE:
        started = state.hypercare_started_at or schedule.go_live_at
        return started + dt.timedelta(days=spec.hypercare_days)
    if phase == Phase.REHEARSAL:
        return schedule.freeze_at
    if phase in MAIN_LINE[:-1]:
        return schedule.entry_due(_next_on_main_line(phase))
    return None


def _wake_at(spec: GoLiveSpec, state: GoLiveState, schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The latest moment to call ``decide`` again without new observations (None: only on changes)."""
    if state.phase in HELD and not state.paused:
        # A resume newer than the hold but stamped a moment ahead of this clock (the webhook ran on another
        # replica): nothing else wakes a held tenant, so look again when it is due.
        resume = spec.resume
        due = (
            resume is not None
            and resume.by in RESUME_ROLES
            and state.held_at is not None
            and state.held_at < resume.at
            and resume.at > now
        )
        return resume.at if due and resume is not None else None
    if state.phase in TERMINAL or state.phase in HELD or state.paused:
        return None
    candidates = [_due(spec, state, schedule)]
    gates = _watched(state.phase)
    for record in state.gates:
        if record.name in gates:
            candidates += [record.opened_at, record.deadline]
    future = [c for c in candidates if c is not None and c > now]
    return min(future) if future else None
