"""CustomResourceDefinitions for the go-live operator: RolloutWave, GoLive and MigrationJob (group ``epj.no``).

Each kind has its own section: the schema documents every field, holds defaults and
validation, states immutability with CEL (``self == oldSelf``) where changing a field
would be unsafe, and has printer columns so ``kubectl get`` answers the first question.
Enumerated values come from :mod:`epj.golive.phases`, so the CRDs, the core and the
CLI share one vocabulary. ``infra/`` renders :func:`crd_manifests` and validates them.
"""

from __future__ import annotations

import copy
from typing import Any

from epj.golive.model import DEFAULT_HYPERCARE_DAYS, DEFAULT_TIMEOUT_HOURS, DEFAULT_TRAINING_THRESHOLD
from epj.golive.phases import (
    APPROVAL_GATES,
    GATE_PHASE,
    ApprovalDecision,
    ApproverRole,
    ConditionType,
    GateName,
    GateOutcome,
    JobState,
    MigrationPurpose,
    Phase,
)

GROUP = "epj.no"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

Schema = dict[str, Any]

KOMMUNENR: Schema = {
    "type": "string",
    "pattern": "^[0-9]{4}$",
    "description": "Kommunenummer of the tenant (municipality), e.g. '5035'. Tenant = municipality = kommunenummer.",
}


def _immutable(field: str) -> list[Schema]:
    return [{"rule": "self == oldSelf", "message": f"{field} is immutable"}]


def _enum(values: type[Any], description: str) -> Schema:
    return {"type": "string", "enum": [str(v) for v in values], "description": description}


def _timestamp(description: str) -> Schema:
    return {"type": "string", "format": "date-time", "description": description}


def _gates_config() -> Schema:
    return {
        "type": "object",
        "description": "Gate settings. Every gate has a timeout counted from when its transition is due.",
        "default": {},
        "properties": {
            "trainingThreshold": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "default": DEFAULT_TRAINING_THRESHOLD,
                "description": "Share of end users who must have completed training before Freeze (0..1).",
            },
            "requireExtractDelivered": {
                "type": "boolean",
                "default": False,
                "description": "The cutover night waits for a recorded `extract-delivered` (the final extract, "
                "UTTREKK.txt with counts per file, delivered from the read-only legacy systems) before the final "
                "migration starts; no record by its timeout rolls the night back. The runbook's night sets it.",
            },
            "timeoutHours": {
                "type": "object",
                "default": {},
                "description": "Per-gate timeout in hours; a gate without decisive evidence by then is TimedOut "
                "and the tenant is held.",
                "properties": {
                    str(gate): {"type": "integer", "minimum": 1, "maximum": 24 * 60, "default": hours}
                    for gate, hours in DEFAULT_TIMEOUT_HOURS.items()
                },
            },
        },
    }


def _condition_list() -> Schema:
    return {
        "type": "array",
        "description": "Standard conditions: Ready (serving on the new EPJ), Progressing (advancing on its own), "
        "Blocked (a gate, hold, pause or dependency stops it), Stalled (the operator keeps failing).",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["type", "status"],
            "properties": {
                "type": _enum(ConditionType, "Condition type."),
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "reason": {"type": "string", "description": "CamelCase machine-readable reason."},
                "message": {"type": "string", "description": "Human-readable detail (no personal data)."},
                "lastTransitionTime": _timestamp("When status last changed."),
                "observedGeneration": {"type": "integer"},
            },
        },
    }


def _reconciliation() -> Schema:
    return {
        "type": "object",
        "description": "Reconciliation summary of a migration: every source record loaded, quarantined with a "
        "reason, or unaccounted for. Complete means nothing is unaccounted for.",
        "properties": {
            "complete": {"type": "boolean"},
            "counts": {
                "type": "object",
                "description": "Counts by category, e.g. source, loaded, quarantined, unaccounted.",
                "additionalProperties": {"type": "integer"},
            },
            "message": {"type": "string"},
        },
    }


#: Spec fields that time the night: from Freeze to the end of Cutover they may not change (see TIMING_RULES).
TIMING_FIELDS = ("goLiveDate", "schedule", "gates", "hypercareDays", "soakDays")


def _unchanged(fields: tuple[str, ...]) -> str:
    return " && ".join(
        f"(has(self.spec.{f}) == has(oldSelf.spec.{f}) && (!has(self.spec.{f}) || self.spec.{f} == oldSelf.spec.{f}))"
        for f in fields
    )


#: CEL transition rules (object level: they see the old status) refusing timing edits under a running night.
GOLIVE_TIMING_RULE: Schema = {
    "rule": "!has(oldSelf.status) || !has(oldSelf.status.phase) || !(oldSelf.status.phase in ['Freeze', 'Cutover'])"
    f" || ({_unchanged(TIMING_FIELDS)})",
    "message": "goLiveDate, schedule, gates, hypercareDays and soakDays cannot change while the tenant is in "
    "Freeze or Cutover (deadlines of a running night do not move); re-plan after the night or from a hold",
}
WAVE_TIMING_RULE: Schema = {
    "rule": "!has(oldSelf.status) || !has(oldSelf.status.timingLocked) || size(oldSelf.status.timingLocked) == 0"
    f" || ({_unchanged(TIMING_FIELDS)})",
    "message": "goLiveDate, schedule, gates, hypercareDays and soakDays cannot change while a member is in Freeze "
    "or Cutover (status.timingLocked); re-plan after the night or move the other members to another wave",
}


def _crd(
    kind: str,
    plural: str,
    short: list[str],
    spec: Schema,
    status: Schema,
    columns: list[Schema],
    rules: list[Schema] | None = None,
) -> Schema:
    root: Schema = {"x-kubernetes-validations": rules} if rules else {}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "epj-platform"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
                "categories": ["epj"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        *columns,
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                            **root,
                        }
                    },
                }
            ],
        },
    }


# --------------------------------------------------------------------------------------------------------------------
# RolloutWave: a set of tenants going live on one date inside a production window.
# --------------------------------------------------------------------------------------------------------------------


def _gp_offices() -> Schema:
    """GP offices that gate their municipality's cutover (they go live before or with it)."""
    return {
        "type": "array",
        "maxItems": 200,
        "default": [],
        "description": "GP offices (private actors with their own record systems) that must be ready to exchange "
        "e-messages with the new EPJ before their municipality cuts over. The municipality's dependencies-live "
        "gate waits for each one's readyAt.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["id"],
        "items": {
            "type": "object",
            "required": ["id", "name", "municipality"],
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9]{4}-[a-z0-9][a-z0-9-]*$", "maxLength": 63},
                "name": {"type": "string", "minLength": 1, "maxLength": 120},
                "municipality": KOMMUNENR,
                "readyAt": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the office confirmed it is ready (test e-messages exchanged, switch-over "
                    "no later than the cutover night). Set by the project lead.",
                },
            },
            "x-kubernetes-validations": [
                {"rule": "self.id.startsWith(self.municipality + '-')", "message": "id must start with municipality-"}
            ],
        },
    }


def _schedule() -> Schema:
    """The milestone offsets (one set for planner, operator, ICS and council report; see epj.golive.ScheduleSpec)."""

    def field(minimum: int, maximum: int, default: int, text: str) -> Schema:
        return {"type": "integer", "minimum": minimum, "maximum": maximum, "default": default, "description": text}

    return {
        "type": "object",
        "description": "How far before go-live each time-driven milestone lies, copied from the planner's "
        "scenario. Every date a person sees is computed from these in Europe/Oslo.",
        "properties": {
            "preProjectMonths": field(1, 60, 18, "Pre-project starts (Planned → Preparing), months before go-live."),
            "withdrawalLockMonths": field(1, 60, 13, "The place locks (no withdrawal from here), months before."),
            "mainProjectMonths": field(1, 60, 12, "Main project and training start, months before go-live."),
            "rehearsalDays": field(2, 365, 42, "Rehearsal migration (Training → Rehearsal), days before go-live."),
            "freezeDays": field(1, 60, 3, "Change freeze (Rehearsal → Freeze), days before go-live."),
        },
        "x-kubernetes-validations": [
            {
                "rule": "(has(self.preProjectMonths) ? self.preProjectMonths : 18)"
                " > (has(self.withdrawalLockMonths) ? self.withdrawalLockMonths : 13)"
                " && (has(self.withdrawalLockMonths) ? self.withdrawalLockMonths : 13)"
                " > (has(self.mainProjectMonths) ? self.mainProjectMonths : 12)",
                "message": "milestones out of order: preProjectMonths > withdrawalLockMonths > mainProjectMonths",
            },
            {
                "rule": "(has(self.rehearsalDays) ? self.rehearsalDays : 42)"
                " > (has(self.freezeDays) ? self.freezeDays : 3)",
                "message": "milestones out of order: rehearsalDays > freezeDays",
            },
        ],
    }


def rollout_wave_crd() -> Schema:
    """The RolloutWave kind: declared by project leads (usually rendered by the wave planner)."""
    spec: Schema = {
        "type": "object",
        "description": "A go-live wave: member tenants going live on one date inside a production window.",
        "required": ["goLiveDate", "productionWindow", "members"],
        "properties": {
            "goLiveDate": {
                "type": "string",
                "format": "date",
                "description": "The go-live date of every member (the first morning on the new EPJ). "
                "Must lie inside the production window.",
            },
            "productionWindow": {
                "type": "object",
                "description": "One of the four production windows a year. Go-lives happen only inside one.",
                "required": ["label", "start", "end"],
                "properties": {
                    "label": {"type": "string", "pattern": "^[0-9]{4}-Q[1-4]$", "description": "E.g. 2027-Q3."},
                    "start": {"type": "string", "format": "date", "description": "First day of the window."},
                    "end": {"type": "string", "format": "date", "description": "Last day of the window."},
                },
                "x-kubernetes-validations": [
                    {"rule": "self.start <= self.end", "message": "productionWindow.start must not be after end"}
                ],
            },
            "members": {
                "type": "array",
                "minItems": 1,
                "maxItems": 400,
                "description": "Member tenants in processing order (ties broken by kommunenummer).",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["kommunenummer"],
                "items": {
                    "type": "object",
                    "required": ["kommunenummer"],
                    "properties": {
                        "kommunenummer": KOMMUNENR,
                        "order": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Optional rank; members without one keep their list position. "
                            "Ties break by kommunenummer; dependencies always go first.",
                        },
                        "dependsOn": {
                            "type": "array",
                            "maxItems": 50,
                            "default": [],
                            "description": "Municipalities that must be live (and soaked) before this one cuts "
                            "over, e.g. the host of a shared service. A failed dependency holds this tenant. "
                            "GP offices are not listed here: see gpOffices.",
                            "items": KOMMUNENR,
                        },
                    },
                },
            },
            "hypercareDays": {
                "type": "integer",
                "minimum": 1,
                "maximum": 120,
                "default": DEFAULT_HYPERCARE_DAYS,
                "description": "Length of the command-centre (hypercare) period after go-live.",
            },
            "soakDays": {
                "type": "integer",
                "minimum": 0,
                "maximum": 120,
                "default": 0,
                "description": "Days a dependency must have been live before a dependent may cut over.",
            },
            "gpOffices": _gp_offices(),
            "schedule": _schedule(),
            "paused": {
                "type": "boolean",
                "default": False,
                "description": "Operator lever: no member advances past its next safe point while true.",
            },
            "aborted": {
                "type": "boolean",
                "default": False,
                "description": "Operator lever: every member not yet live is aborted at its next safe point.",
            },
            "gates": _gates_config(),
            "alertmanagerUrl": {
                "type": "string",
                "format": "uri",
                "description": "Alertmanager base URL read by the no-critical-alerts gate (API v2).",
            },
        },
        "x-kubernetes-validations": [
            {
                "rule": "self.goLiveDate >= self.productionWindow.start"
                " && self.goLiveDate <= self.productionWindow.end",
                "message": "goLiveDate must lie inside the production window",
            }
        ],
    }
    status: Schema = {
        "type": "object",
        "description": "Observed state of the wave, written by the operator.",
        "properties": {
            "observedGeneration": {"type": "integer"},
            "phase": {"type": "string", "description": "Furthest phase all members reached, or Blocked."},
            "order": {"type": "array", "items": KOMMUNENR, "description": "Deterministic processing order."},
            "timingLocked": {
                "type": "array",
                "items": KOMMUNENR,
                "description": "Members in Freeze or Cutover: while any, the wave's timing fields cannot change.",
            },
            "served": {
                "type": "array",
                "items": KOMMUNENR,
                "description": "Members that went live (sticky): a deleted GoLive of one is never re-created as new.",
            },
            "tenantsByPhase": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "How many members are in each phase.",
            },
            "blocked": {
                "type": "object",
                "description": "Members blocked by a failed tenant they depend on (transitively): "
                "kommunenummer → failed tenants.",
                "additionalProperties": {"type": "array", "items": KOMMUNENR},
            },
            "conditions": _condition_list(),
        },
    }
    columns: list[Schema] = [
        {"name": "Go-live date", "type": "string", "jsonPath": ".spec.goLiveDate"},
        {"name": "Window", "type": "string", "jsonPath": ".spec.productionWindow.label"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
        {"name": "Aborted", "type": "boolean", "jsonPath": ".spec.aborted", "priority": 1},
    ]
    return _crd("RolloutWave", "rolloutwaves", ["wave", "waves"], spec, status, columns, [WAVE_TIMING_RULE])


# --------------------------------------------------------------------------------------------------------------------
# GoLive: one tenant's way through the go-live phases.
# --------------------------------------------------------------------------------------------------------------------


def _resume() -> Schema:
    return {
        "type": "object",
        "description": "The latest request to resume after OnHold or RolledBack (`epj golive resume`). "
        "Acted on once, when newer than the hold.",
        "required": ["by", "at", "reason"],
        "properties": {
            "by": _enum(ApproverRole, "Role of the person who resumed."),
            "at": _timestamp("When the API server admitted the resume (stamped by the operator's webhook)."),
            "reason": {"type": "string", "minLength": 3, "maxLength": 500},
            "user": {
                "type": "string",
                "description": "The authenticated user who resumed (stamped by the operator's webhook).",
            },
        },
    }


def _gate_status() -> Schema:
    return {
        "type": "array",
        "description": "Every gate's last outcome with time and reason.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": {
            "type": "object",
            "required": ["name", "outcome"],
            "properties": {
                "name": _enum(GateName, "Gate."),
                "outcome": _enum(GateOutcome, "Last outcome."),
                "at": _timestamp("When this outcome was recorded."),
                "reason": {"type": "string"},
                "openedAt": _timestamp("When the guarded transition became due."),
                "deadline": _timestamp("When the gate times out."),
            },
        },
    }


def _history() -> Schema:
    return {
        "type": "array",
        "description": "Audit trail: transitions, approvals seen, holds and resumes (oldest first).",
        "items": {
            "type": "object",
            "required": ["at", "kind"],
            "properties": {
                "at": _timestamp("When."),
                "kind": {"type": "string", "enum": ["Transition", "Approval", "Resume", "Gate", "Event"]},
                "fromPhase": _enum(Phase, "Phase left (transitions)."),
                "toPhase": _enum(Phase, "Phase entered (transitions)."),
                "gate": _enum(GateName, "Gate concerned (gate outcomes, approvals)."),
                "outcome": _enum(GateOutcome, "Gate outcome."),
                "by": {"type": "string", "description": "Role that decided or resumed (never a person's name)."},
                "decision": _enum(ApprovalDecision, "Approval decision."),
                "reason": {"type": "string"},
            },
        },
    }


def _migration_status() -> Schema:
    return {
        "type": "object",
        "description": "The current migration job (rehearsal or cutover) this tenant waits for.",
        "properties": {
            "jobName": {"type": "string"},
            "purpose": _enum(MigrationPurpose, "rehearsal or cutover."),
            "attempt": {"type": "integer", "minimum": 1},
            "state": _enum(JobState, "Job state as last observed."),
            "requestedAt": _timestamp("When the job was requested."),
            "reconciliation": _reconciliation(),
            "message": {"type": "string", "description": "The job's own message when it failed."},
        },
    }


def golive_crd() -> Schema:
    """The GoLive kind: one per tenant and wave; people write pause/abort and resume into its spec.

    Go/no-go decisions are GoLiveApproval objects (:func:`golive_approval_crd`), not part of this spec.
    """
    spec: Schema = {
        "type": "object",
        "description": "One tenant's go-live. Created by the operator from a RolloutWave, or by hand.",
        "required": ["kommunenummer", "wave", "goLiveDate"],
        "properties": {
            "kommunenummer": {**KOMMUNENR, "x-kubernetes-validations": _immutable("kommunenummer")},
            "wave": {
                "type": "string",
                "minLength": 1,
                "maxLength": 63,
                "description": "Name of the RolloutWave this go-live belongs to. Changed by the operator only, "
                "when a member moves to another wave before Freeze; the move is kept in the status history.",
            },
            "goLiveDate": {"type": "string", "format": "date", "description": "Copied from the wave."},
            "dependsOn": {
                "type": "array",
                "maxItems": 80,
                "default": [],
                "description": "What must be live (or, for a GP office, ready) before this tenant cuts over: "
                "municipalities by kommunenummer and its GP offices by id. Copied from the wave.",
                "items": {"type": "string", "pattern": "^[0-9]{4}(-[a-z0-9][a-z0-9-]*)?$", "maxLength": 63},
            },
            "hypercareDays": {"type": "integer", "minimum": 1, "maximum": 120, "default": DEFAULT_HYPERCARE_DAYS},
            "soakDays": {"type": "integer", "minimum": 0, "maximum": 120, "default": 0},
            "schedule": _schedule(),
            "gates": _gates_config(),
            "paused": {
                "type": "boolean",
                "default": False,
                "description": "Operator lever: stop advancing at the next safe point (never mid-cutover).",
            },
            "aborted": {
                "type": "boolean",
                "default": False,
                "description": "Operator lever: end this go-live at the next safe point (only before Live).",
            },
            "withdraw": {
                "type": "boolean",
                "default": False,
                "description": "The municipality leaves the wave. Honoured only before the withdrawal lock "
                "(13 months before go-live); refused, with an event, after it.",
            },
            "resume": _resume(),
        },
    }
    status: Schema = {
        "type": "object",
        "description": "Observed state, written by the operator from the go-live core's decisions.",
        "properties": {
            "observedGeneration": {"type": "integer"},
            "phase": _enum(Phase, "Current go-live phase."),
            "phaseReason": {"type": "string", "description": "Why the tenant is in this phase."},
            "wave": {"type": "string", "description": "The wave last decided in (moves are in the history)."},
            "pinnedGoLiveDate": {
                "type": "string",
                "format": "date",
                "description": "From Freeze until Hypercare (or a hold) the night runs on this date; edits wait.",
            },
            "pinnedSchedule": {
                **_schedule(),
                "description": "The schedule offsets pinned with pinnedGoLiveDate.",
            },
            "phaseSince": _timestamp("When the current phase was entered."),
            "windowStart": _timestamp("From when gate timeouts count in this phase (entry, resume or unpause)."),
            "heldFrom": _enum(Phase, "The phase a hold started from (OnHold resumes there)."),
            "heldAt": _timestamp("When the current hold or rollback started."),
            "approvalsSince": _timestamp("Approvals recorded before this (the last hold) no longer count."),
            "decisionWindows": {
                "type": "object",
                "description": "When the current round of each approval gate opened (entry into the phase it "
                "decides: go-no-go at Freeze, hypercare-exit at Hypercare); earlier decisions do not count.",
                "properties": {str(gate): _timestamp(f"Round of {gate} opened.") for gate in GATE_PHASE},
            },
            "paused": {"type": "boolean", "description": "Paused at a safe point."},
            "hypercareStartedAt": _timestamp("When the command-centre (hypercare) period started."),
            "servingSince": _timestamp("Since when the tenant works on the new EPJ (cleared by a rollback)."),
            "smokeRequestedFor": {"type": "string", "description": "Cutover job the smoke checks were run for."},
            "rollbackOf": {
                "type": "string",
                "description": "What the latest rollback rolled back (its Job is rollback-<this without golive->): "
                "the night's final migration Job, or golive-<kommunenummer>-night-<time> for a night that ended "
                "before its final migration.",
            },
            "nextAction": {"type": "string", "description": "What happens next, or what a person must do."},
            "nextWakeAt": _timestamp("When the operator looks again at the latest."),
            "conditions": _condition_list(),
            "gates": _gate_status(),
            "migration": _migration_status(),
            "attempts": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Migration attempts by purpose.",
            },
            "results": {
                "type": "object",
                "additionalProperties": _enum(JobState, "Final state."),
                "description": "Final result of every migration job by MigrationJob name (purpose and attempt), "
                "recorded once: a job with a recorded result is never run again.",
            },
            "pending": {
                "type": "object",
                "description": "Deferred requests waiting for a safe point.",
                "properties": {
                    "pause": {"type": "boolean"},
                    "abort": {"type": "boolean"},
                    "abortIgnored": {"type": "boolean"},
                    "withdrawalRefused": {"type": "boolean"},
                    "alertsNotified": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Critical alerts a Warning event was given for while the tenant serves.",
                    },
                    "timingDeferred": {"type": "boolean"},
                },
            },
            "history": _history(),
        },
    }
    columns: list[Schema] = [
        {"name": "Tenant", "type": "string", "jsonPath": ".spec.kommunenummer"},
        {"name": "Wave", "type": "string", "jsonPath": ".spec.wave", "priority": 1},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Next action", "type": "string", "jsonPath": ".status.nextAction"},
        {"name": "Go-live date", "type": "string", "jsonPath": ".spec.goLiveDate"},
        {"name": "Reason", "type": "string", "jsonPath": ".status.phaseReason", "priority": 1},
    ]
    return _crd("GoLive", "golives", ["gl"], spec, status, columns, [GOLIVE_TIMING_RULE])


# --------------------------------------------------------------------------------------------------------------------
# MigrationJob: owns the Kubernetes Job that runs migration/ for a rehearsal or the cutover.
# --------------------------------------------------------------------------------------------------------------------


def migration_job_crd() -> Schema:
    """The MigrationJob kind: requested by the GoLive core's CreateMigrationJob action."""
    spec: Schema = {
        "type": "object",
        "description": "One migration run of a tenant's legacy extract into its EPJ database.",
        "required": ["kommunenummer", "purpose", "extract", "image"],
        "properties": {
            "kommunenummer": {**KOMMUNENR, "x-kubernetes-validations": _immutable("kommunenummer")},
            "purpose": {
                **_enum(MigrationPurpose, "rehearsal (prøvemigrering) or cutover (the real night)."),
                "x-kubernetes-validations": _immutable("purpose"),
            },
            "goLive": {"type": "string", "description": "Name of the GoLive that requested this job."},
            "attempt": {"type": "integer", "minimum": 1, "default": 1},
            "extract": {
                "type": "object",
                "required": ["location"],
                "description": "Where the frozen legacy extract is (Profil CSV + CGM XML, SPEC §1 layout).",
                "properties": {
                    "location": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Path inside the volume, e.g. /extracts/5035/2027-09-05.",
                    },
                    "volumeClaim": {"type": "string", "description": "PersistentVolumeClaim holding the extract."},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
                "x-kubernetes-validations": _immutable("extract"),
            },
            "image": {"type": "string", "minLength": 1, "description": "Container image running `epj migrate`."},
            "syntheticIds": {
                "type": "boolean",
                "default": False,
                "description": "Rehearsals on generated extracts carry synthetic national ids.",
            },
            "backoffLimit": {"type": "integer", "minimum": 0, "maximum": 6, "default": 0},
        },
    }
    status: Schema = {
        "type": "object",
        "properties": {
            "observedGeneration": {"type": "integer"},
            "jobName": {"type": "string", "description": "The batch/v1 Job this object owns."},
            "jobUid": {
                "type": "string",
                "description": "That Job's uid once it was seen to exist (a Job gone after this vanished).",
            },
            "state": _enum(JobState, "Job state."),
            "reconciliation": _reconciliation(),
            "startedAt": _timestamp("When the job started."),
            "finishedAt": _timestamp("When the job finished."),
            "message": {"type": "string"},
            "conditions": _condition_list(),
        },
    }
    columns: list[Schema] = [
        {"name": "Tenant", "type": "string", "jsonPath": ".spec.kommunenummer"},
        {"name": "Purpose", "type": "string", "jsonPath": ".spec.purpose"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        {"name": "Complete", "type": "boolean", "jsonPath": ".status.reconciliation.complete"},
        {"name": "Job", "type": "string", "jsonPath": ".status.jobName", "priority": 1},
    ]
    return _crd("MigrationJob", "migrationjobs", ["mj"], spec, status, columns)


# --------------------------------------------------------------------------------------------------------------------
# GoLiveApproval: one go/no-go decision, stamped by the API server's admission webhook.
# --------------------------------------------------------------------------------------------------------------------


def golive_approval_crd() -> Schema:
    """The GoLiveApproval kind: one object per decision (``epj golive approve``), the audit trail of go/no-go.

    The client writes tenant, gate, role, decision and reason; the operator's mutating webhook writes
    ``user`` (the authenticated Kubernetes user) and ``at`` (server time) and its validating webhook
    checks the role against the user's groups (:mod:`epj.golive.approvals`). Immutable once created.
    """
    spec: Schema = {
        "type": "object",
        "description": "A go/no-go decision. Immutable: a new decision is a new object.",
        "required": ["kommunenummer", "gate", "by", "decision", "reason"],
        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "a recorded decision is immutable"}],
        "properties": {
            "kommunenummer": KOMMUNENR,
            "gate": {
                "type": "string",
                "enum": sorted(str(g) for g in APPROVAL_GATES),
                "description": "The gate decided: go-no-go (the cutover night) or hypercare-exit.",
            },
            "by": _enum(ApproverRole, "Role of the person who decided (checked against their groups), never a name."),
            "decision": _enum(ApprovalDecision, "approve lets the gate pass; reject fails it (a NO-GO)."),
            "reason": {"type": "string", "minLength": 3, "maxLength": 500, "description": "Why (no personal data)."},
            "at": _timestamp("Server time of admission, written by the webhook (never the client)."),
            "user": {
                "type": "string",
                "description": "The authenticated Kubernetes user who decided, written by the webhook.",
            },
        },
    }
    status: Schema = {
        "type": "object",
        "description": "Unused: a decision has no state of its own (the GoLive records what it did with it).",
        "properties": {"observedGeneration": {"type": "integer"}},
    }
    columns: list[Schema] = [
        {"name": "Tenant", "type": "string", "jsonPath": ".spec.kommunenummer"},
        {"name": "Gate", "type": "string", "jsonPath": ".spec.gate"},
        {"name": "Decision", "type": "string", "jsonPath": ".spec.decision"},
        {"name": "By", "type": "string", "jsonPath": ".spec.by"},
        {"name": "At", "type": "date", "jsonPath": ".spec.at"},
        {"name": "User", "type": "string", "jsonPath": ".spec.user", "priority": 1},
    ]
    return _crd("GoLiveApproval", "goliveapprovals", ["gla"], spec, status, columns)


def crd_manifests() -> list[dict[str, Any]]:
    """All CRDs of the go-live operator, as plain dicts ready to render or apply (fresh copies each call)."""
    kinds = (rollout_wave_crd(), golive_crd(), migration_job_crd(), golive_approval_crd())
    return [copy.deepcopy(crd) for crd in kinds]


def status_schema(kind: str) -> Schema:
    """The openAPIV3Schema of ``kind``'s status (used to check the core's status dicts fit the CRD)."""
    for crd in crd_manifests():
        if crd["spec"]["names"]["kind"] == kind:
            schema: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
            return schema
    raise KeyError(kind)
