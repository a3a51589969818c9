"""What people do to a go-live through the API: approve or reject a gate, resume after a hold, look.

The CLI (``epj golive approve|resume|status``) and the tests call these functions, so
the e2e tests exercise exactly what a project lead runs. A decision is validated with the
core's model (gate, ROLE — never a name — and a reason) before anything is written, then
created as its own GoLiveApproval object: two people deciding at once never overwrite each
other, and the API server's admission webhook adds who and when (:mod:`epj.golive.approvals`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from epj.golive.approvals import ApprovalRequest, approval_from_object
from epj.golive.gates import round_position
from epj.golive.model import ResumeRequest
from epj.golive.phases import (
    APPROVAL_GATES,
    GATE_PHASE,
    HELD,
    RESUME_ROLES,
    ApprovalDecision,
    ApproverRole,
    GateName,
    Phase,
)
from epj.operator.crds import API_VERSION
from epj.operator.kube import APPROVALS, GOLIVES, Body, KubeClient
from epj.operator.resources import GOLIVE_LABEL, golive_name, labels

ROLLBACK = "RollbackComplete"
#: The phases a resume ends (OnHold, RolledBack), as the status spells them.
HELD_PHASES = frozenset(str(p) for p in HELD)


class CommandError(ValueError):
    """A user error: names the field and the reason (never echoes personal data)."""


async def find_golive(client: KubeClient, namespace: str, kommunenummer: str) -> Body:
    body = await client.get(GOLIVES, namespace, golive_name(kommunenummer))
    if body is None:
        matches = [g for g in await client.list(GOLIVES, namespace) if g["spec"].get("kommunenummer") == kommunenummer]
        if not matches:
            raise CommandError(f"no GoLive for tenant {kommunenummer} in namespace {namespace}")
        body = matches[-1]
    return body


def _role(by: str) -> ApproverRole:
    try:
        return ApproverRole(by)
    except ValueError:
        roles = ", ".join(r.value for r in ApproverRole)
        raise CommandError(f"--by {by!r} is not a role; use one of: {roles} (a role, never a person's name)") from None


def _gate(gate: str) -> GateName:
    allowed = ", ".join(sorted(str(g) for g in APPROVAL_GATES))
    try:
        name = GateName(gate)
    except ValueError:
        raise CommandError(f"--gate {gate!r} is not a gate that takes an approval; use one of: {allowed}") from None
    if name not in APPROVAL_GATES:
        raise CommandError(f"--gate {gate} is decided by evidence, not by approval; approvals go to: {allowed}")
    return name


def _validated(model: type[Any], **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as error:
        problems = "; ".join(f"--{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise CommandError(problems) from None


async def approve(
    client: KubeClient,
    namespace: str,
    kommunenummer: str,
    *,
    gate: str,
    by: str,
    reason: str,
    reject: bool = False,
) -> Body:
    """Record a go/no-go decision: a new GoLiveApproval object (one per decision: the audit trail).

    The client says only what was decided; the API server's admission webhook writes who (the
    authenticated user) and when (server time) and checks the role against the user's groups.
    Returns the stored object; a decision the webhook did not stamp is refused here (it would never count).
    """
    request: ApprovalRequest = _validated(
        ApprovalRequest,
        kommunenummer=kommunenummer,
        gate=_gate(gate),
        by=_role(by),
        reason=reason.strip(),
        decision=ApprovalDecision.REJECT if reject else ApprovalDecision.APPROVE,
    )
    await find_golive(client, namespace, kommunenummer)
    body = {
        "apiVersion": API_VERSION,
        "kind": APPROVALS.kind,
        "metadata": {
            "generateName": f"{golive_name(kommunenummer)}-{request.gate}-",
            "labels": labels(kommunenummer, **{GOLIVE_LABEL: golive_name(kommunenummer)}),
        },
        "spec": request.to_dict(),
    }
    created = await client.create(APPROVALS, namespace, body)
    if approval_from_object(created) is None:
        raise CommandError(
            "the decision was stored without the API server's user and time (the operator's admission webhook "
            "did not run): it will not count; check the operator and its webhook configuration, then approve again"
        )
    return created


def approval_note(golive: Body, gate: str) -> str | None:
    """Why a decision just recorded will not count where the tenant stands now (None: it counts in this round).

    A decision counts only in the round of its gate (go-no-go: Freeze through the night; extract-delivered: the
    night, from entering Cutover; hypercare-exit: Hypercare): one given before never counts in the next round.
    """
    status = golive.get("status") or {}
    try:
        phase = Phase(str(status.get("phase")))
        held_from = Phase(status["heldFrom"]) if status.get("heldFrom") else None
        name = GateName(gate)
    except ValueError:
        return None  # not reconciled yet, or a gate the API server refused anyway
    position = round_position(phase, held_from, name)
    if position == "before":
        return (
            f"the tenant is in {phase}: a decision on {name} counts only once {GATE_PHASE[name]} has begun for this "
            "round, so this one will not count; record it again then"
        )
    if position == "after":
        return f"the tenant is in {phase}: the round of {name} has ended, so this decision will not count"
    return None


async def approvals_of(client: KubeClient, namespace: str, kommunenummer: str | None = None) -> list[Body]:
    """The GoLiveApproval objects of a tenant (all tenants when None), oldest first."""
    found = await client.list(APPROVALS, namespace)
    mine = [a for a in found if kommunenummer is None or (a.get("spec") or {}).get("kommunenummer") == kommunenummer]
    return sorted(mine, key=lambda a: (str((a.get("spec") or {}).get("at", "")), a["metadata"]["name"]))


async def resume(
    client: KubeClient, namespace: str, kommunenummer: str, *, by: str, reason: str, at: dt.datetime | None = None
) -> Body:
    """Record a resume request (acted on once, when newer than the hold or rollback).

    The API server's webhook overwrites ``at`` with its own time and adds the authenticated user; a role
    that does not resume is refused here already, with the same words as the webhook.
    """
    role = _role(by)
    if role not in RESUME_ROLES:
        may = ", ".join(sorted(r.value for r in RESUME_ROLES))
        raise CommandError(f"--by {role} does not resume a go-live; roles that do: {may}")
    request: ResumeRequest = _validated(ResumeRequest, by=role, at=at or dt.datetime.now(dt.UTC), reason=reason.strip())
    body = await find_golive(client, namespace, kommunenummer)
    return await client.patch(GOLIVES, namespace, body["metadata"]["name"], {"spec": {"resume": request.to_dict()}})


def resume_note(golive: Body) -> str | None:
    """What a person must know about the resume just stored (None: the operator acts on it at once).

    A resume ends only a hold it is newer than: written while the tenant is not held it resumes nothing,
    now or later. One the webhook did not stamp carries the client's clock instead of the server's.
    """
    phase = (golive.get("status") or {}).get("phase")
    resume = (golive.get("spec") or {}).get("resume") or {}
    if not resume.get("user"):
        return (
            "the resume was stored without the API server's user and time (the operator's admission webhook did "
            "not run): check the operator and its webhook configuration"
        )
    if phase not in HELD_PHASES:
        return (
            f"the tenant is in {phase or 'no phase yet'}, not OnHold or RolledBack: this resume ends no hold "
            "(a later hold needs its own resume)"
        )
    return None


async def restore_after_rollback(client: KubeClient, golive: Body) -> tuple[dict[str, int], str | None]:
    """After a resume of a RolledBack tenant: give back the replicas the rollback scaled to zero (name → replicas).

    The rollback Job recorded each Deployment's replicas in its termination message before scaling
    (``epj.operator.rollback``); the Job is kept a week after it finished. An OnHold tenant was never
    scaled down: nothing to do. Returns (name → replicas restored, a note when they cannot be known).
    """
    status = golive.get("status") or {}
    # What the rollback rolled back names its Job (a night ended before its final migration: the night itself).
    job = status.get("rollbackOf") or (status.get("migration") or {}).get("jobName")
    if status.get("phase") != "RolledBack" or not job:
        return {}, None
    from epj.operator.kube import Resource
    from epj.operator.resources import tenant_namespace, termination_message
    from epj.operator.rollback import recorded_replicas, restore

    pods_resource = Resource("", "v1", "pods", "Pod")

    kommunenummer = str(golive["spec"]["kommunenummer"])
    namespace = tenant_namespace(kommunenummer)
    rollback_job = f"rollback-{job.removeprefix('golive-')}"
    pods = await client.list(pods_resource, namespace, label_selector=f"job-name={rollback_job}")
    mine = [p for p in pods if (p["metadata"].get("labels") or {}).get("job-name") == rollback_job]
    replicas = recorded_replicas(termination_message(mine))
    if not replicas:
        return {}, (
            f"the replicas before the rollback are unknown (rollback Job {rollback_job} gone or unreadable in "
            f"{namespace}): restore the declared ones with `pulumi up`"
        )
    return await restore(client, namespace, replicas), None


def summary(body: Body, approvals: list[Body] | None = None) -> dict[str, Any]:
    """One GoLive as the status command shows it (and ``--json`` prints it), with its recorded decisions."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    return {
        "tenant": spec.get("kommunenummer"),
        "wave": spec.get("wave"),
        "goLiveDate": spec.get("goLiveDate"),
        "phase": status.get("phase", "(not reconciled yet)"),
        "phaseReason": status.get("phaseReason", ""),
        "ready": conditions.get("Ready", {}).get("status", "Unknown"),
        "blocked": conditions.get("Blocked", {}).get("status", "Unknown"),
        "stalled": conditions.get("Stalled", {}).get("status", "False"),
        "rollback": {k: conditions[ROLLBACK].get(k) for k in ("status", "reason", "message")}
        if ROLLBACK in conditions
        else None,
        "nextAction": status.get("nextAction", ""),
        "gates": {g["name"]: g["outcome"] for g in status.get("gates") or []},
        "approvals": [
            {k: (a.get("spec") or {}).get(k) for k in ("gate", "decision", "by", "at", "reason")}
            for a in approvals or []
        ],
    }


async def status(client: KubeClient, namespace: str, kommunenummer: str | None = None) -> list[dict[str, Any]]:
    if kommunenummer is not None:
        body = await find_golive(client, namespace, kommunenummer)
        return [summary(body, await approvals_of(client, namespace, kommunenummer))]
    bodies = await client.list(GOLIVES, namespace)
    decisions: dict[str, list[Body]] = {}
    for approval in await approvals_of(client, namespace):
        decisions.setdefault(str(approval["spec"].get("kommunenummer")), []).append(approval)
    rows = (summary(b, decisions.get(str((b.get("spec") or {}).get("kommunenummer")))) for b in bodies)
    return sorted(rows, key=lambda s: (str(s["goLiveDate"]), str(s["tenant"])))
