"""What people do to a go-live through the API: approve or reject a gate, resume after a hold, look.

The CLI (``epj golive approve|resume|status``) and the tests call these functions, so
the e2e tests exercise exactly what a project lead runs. Approvals are validated with
the core's model (gate, ROLE — never a name — and a reason) before anything is written,
and appended with the object's ``resourceVersion`` so two people approving at once cannot
overwrite each other (the API server answers 409 and the command says so).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from epj.golive.model import Approval, ResumeRequest
from epj.golive.phases import APPROVAL_GATES, ApprovalDecision, ApproverRole, GateName
from epj.operator.kube import GOLIVES, Body, KubeClient
from epj.operator.resources import golive_name


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
    at: dt.datetime | None = None,
) -> Body:
    """Append a go/no-go decision to the tenant's GoLive ``spec.approvals`` (an audit trail)."""
    approval: Approval = _validated(
        Approval,
        gate=_gate(gate),
        by=_role(by),
        at=at or dt.datetime.now(dt.UTC),
        reason=reason.strip(),
        decision=ApprovalDecision.REJECT if reject else ApprovalDecision.APPROVE,
    )
    body = await find_golive(client, namespace, kommunenummer)
    approvals = list((body.get("spec") or {}).get("approvals") or [])
    approvals.append(approval.to_dict())
    patch = {"metadata": {"resourceVersion": body["metadata"].get("resourceVersion")}, "spec": {"approvals": approvals}}
    return await client.patch(GOLIVES, namespace, body["metadata"]["name"], patch)


async def resume(
    client: KubeClient, namespace: str, kommunenummer: str, *, by: str, reason: str, at: dt.datetime | None = None
) -> Body:
    """Record a resume request (acted on once, when newer than the hold or rollback)."""
    request: ResumeRequest = _validated(
        ResumeRequest, by=_role(by), at=at or dt.datetime.now(dt.UTC), reason=reason.strip()
    )
    body = await find_golive(client, namespace, kommunenummer)
    return await client.patch(GOLIVES, namespace, body["metadata"]["name"], {"spec": {"resume": request.to_dict()}})


def summary(body: Body) -> dict[str, Any]:
    """One GoLive as the status command shows it (and ``--json`` prints it)."""
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
        "nextAction": status.get("nextAction", ""),
        "gates": {g["name"]: g["outcome"] for g in status.get("gates") or []},
        "approvals": [
            {k: a.get(k) for k in ("gate", "decision", "by", "at", "reason")} for a in spec.get("approvals") or []
        ],
    }


async def status(client: KubeClient, namespace: str, kommunenummer: str | None = None) -> list[dict[str, Any]]:
    if kommunenummer is not None:
        return [summary(await find_golive(client, namespace, kommunenummer))]
    bodies = await client.list(GOLIVES, namespace)
    return sorted((summary(b) for b in bodies), key=lambda s: (str(s["goLiveDate"]), str(s["tenant"])))
