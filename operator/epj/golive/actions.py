"""Actions the core asks an adapter to perform, and the Decision it returns.

The core decides; adapters act. Every action is idempotent by construction
(a migration job has a deterministic name, so a restarted operator that repeats
``CreateMigrationJob`` finds the existing job instead of creating a second one).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from epj.golive.model import Condition, CoreModel, GateRecord, GoLiveState, UtcDatetime
from epj.golive.phases import MigrationPurpose, Phase


class CreateMigrationJob(CoreModel):
    """Start a migration run of the tenant's extract (rehearsal) or the freshly frozen extract (cutover).

    Adapter: the kopf operator creates a MigrationJob (owning a batch/v1 Job) named ``job_name``;
    the rehearsal runs ``epj.migration`` locally. Report its result as a ``MigrationObservation``.
    """

    kind: Literal["CreateMigrationJob"] = "CreateMigrationJob"
    kommunenummer: str
    job_name: str
    purpose: MigrationPurpose
    attempt: int


class RunSmokeChecks(CoreModel):
    """Run the post-cutover smoke checks against the tenant's new EPJ; report a ``SmokeResult`` for ``job_name``."""

    kind: Literal["RunSmokeChecks"] = "RunSmokeChecks"
    kommunenummer: str
    job_name: str


class RollBack(CoreModel):
    """Roll the cutover back: legacy system back to read-write, tenant traffic off the new EPJ."""

    kind: Literal["RollBack"] = "RollBack"
    kommunenummer: str
    reason: str
    #: The final migration job still running when the night ended: stop it before it publishes.
    stop_job: str | None = None


class EmitEvent(CoreModel):
    """Record a Kubernetes Event (or a rehearsal log line) on the tenant's GoLive."""

    kind: Literal["EmitEvent"] = "EmitEvent"
    type: Literal["Normal", "Warning"] = "Normal"
    reason: str
    message: str


Action = CreateMigrationJob | RunSmokeChecks | RollBack | EmitEvent


class Transition(CoreModel):
    """A phase change with its reason."""

    from_phase: Phase
    to_phase: Phase
    reason: str
    at: UtcDatetime


class Decision(CoreModel):
    """What ``decide`` concluded for one tenant at one instant.

    ``state`` is the new status to persist. ``actions`` are to be performed in order
    after persisting it. Call ``decide`` again immediately when ``transition`` is set
    (one step per call), otherwise no later than ``wake_at`` (None: only when spec or
    observations change), and whenever observations change.
    """

    state: GoLiveState
    transition: Transition | None = None
    actions: tuple[Action, ...] = ()
    #: The new state's next time-driven step is already due (a clock jump: more steps may follow at once).
    step_due: bool = False

    @property
    def phase(self) -> Phase:
        return self.state.phase

    @property
    def gates(self) -> tuple[GateRecord, ...]:
        return self.state.gates

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.state.conditions

    @property
    def next_action(self) -> str:
        return self.state.next_action

    @property
    def wake_at(self) -> dt.datetime | None:
        return self.state.next_wake_at
