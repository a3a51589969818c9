"""Who may decide a gate, and what the API server — not the client — writes on each decision.

A go/no-go decision is a ``GoLiveApproval`` object, one per decision (the audit trail is the set of
those objects: complete, never an ever-growing list in the GoLive). The client (``epj golive
approve``) writes only what a person decides: tenant, gate, role (``by``), approve or reject, why.
The operator's admission webhook, called by the API server, then

* **stamps** ``user`` (the authenticated Kubernetes user from the admission request) and ``at``
  (the webhook's clock at admission, i.e. server time), overwriting anything the client sent;
* **checks** the role against the user's groups with a :class:`RoleMapping` (group → roles, from
  the operator's configuration) and against the gate (:data:`~epj.golive.phases.GATE_ROLES`:
  ``service-owner`` never decides a go-no-go);
* refuses any change afterwards (decisions are immutable; a new decision is a new object).

An object that was not stamped (created while the webhook was bypassed) never counts:
:func:`approval_from_object` returns None for it. Which round a decision belongs to (the phase and
attempt it decides) follows from its server time: see :func:`epj.golive.gates.counts`.

Pure: no kopf, no I/O. The kopf adapter is :mod:`epj.operator.admission`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from epj.golive.clock import ensure_utc
from epj.golive.model import KOMMUNENR_PATTERN, Approval, CoreModel
from epj.golive.phases import APPROVAL_GATES, GATE_ROLES, RESUME_ROLES, ApprovalDecision, ApproverRole, GateName

#: Without configuration, membership of the group ``epj-approver:<role>`` grants ``<role>``
#: (e.g. ``epj-approver:cutover-lead``); the identity provider maps people to these groups.
DEFAULT_GROUP_PREFIX = "epj-approver:"


class ApprovalRefused(ValueError):
    """The admission webhook refuses the decision; the message says what is wrong and what to do."""


class RoleMapping(CoreModel):
    """Kubernetes groups → approver roles.

    ``groups`` maps a group name to the roles it grants; every group named ``prefix + <role>``
    grants that role as well (set ``prefix`` to null to allow only the explicit map).
    Configured as JSON in ``EPJ_APPROVER_ROLES`` (see :meth:`from_json`). Unknown keys are refused: a
    misspelt ``groups`` or ``prefix`` would otherwise leave the defaults in force without a word.
    """

    model_config = ConfigDict(**{**CoreModel.model_config, "extra": "forbid"})

    groups: dict[str, tuple[ApproverRole, ...]] = Field(default_factory=dict)
    prefix: str | None = DEFAULT_GROUP_PREFIX

    def roles(self, groups: Iterable[str]) -> frozenset[ApproverRole]:
        """Every role the given groups grant."""
        granted: set[ApproverRole] = set()
        for group in groups:
            granted.update(self.groups.get(group, ()))
            if self.prefix and group.startswith(self.prefix):
                try:
                    granted.add(ApproverRole(group.removeprefix(self.prefix)))
                except ValueError:
                    continue
        return frozenset(granted)

    @classmethod
    def from_json(cls, text: str | None) -> RoleMapping:
        """Parse ``{"groups": {"<group>": ["<role>", ...]}, "prefix": "epj-approver:"}``; empty → defaults."""
        if not text or not text.strip():
            return cls()
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, ValidationError) as error:
            roles = ", ".join(r.value for r in ApproverRole)
            if isinstance(error, ValidationError):  # name the part that is wrong, not only how many errors
                problem = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg']}" for e in error.errors()
                )
            else:
                problem = str(error).splitlines()[0]
            raise ValueError(
                'approver role mapping is not valid: expected {"groups": {"<group>": ["<role>", ...]}} '
                f"with roles among {roles} ({problem})"
            ) from None


class ApprovalRequest(CoreModel):
    """A ``GoLiveApproval`` spec as the client writes it (``at`` and ``user`` are the server's to set)."""

    kommunenummer: str = Field(pattern=KOMMUNENR_PATTERN)
    gate: GateName
    by: ApproverRole
    decision: ApprovalDecision
    reason: str = Field(min_length=3, max_length=500)


def admit(
    spec: Mapping[str, Any], *, user: str, groups: Iterable[str], now: dt.datetime, mapping: RoleMapping
) -> dict[str, Any]:
    """The stamped spec of a new decision, or :class:`ApprovalRefused` saying why not and what to do."""
    try:
        request = ApprovalRequest.model_validate(
            {k: v.strip() if isinstance(v, str) else v for k, v in spec.items() if k not in ("at", "user")}
        )
    except ValidationError as error:
        problems = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ApprovalRefused(f"approval refused: {problems}") from None
    if request.gate not in APPROVAL_GATES:
        allowed = ", ".join(sorted(str(g) for g in APPROVAL_GATES))
        raise ApprovalRefused(
            f"approval refused: gate {request.gate} is decided by evidence; approvals go to {allowed}"
        )
    if not user:
        raise ApprovalRefused("approval refused: the request carries no authenticated user")
    if request.by not in GATE_ROLES[request.gate]:
        may = ", ".join(sorted(r.value for r in GATE_ROLES[request.gate]))
        raise ApprovalRefused(f"approval refused: {request.by} does not decide {request.gate}; roles that do: {may}")
    granted = mapping.roles(groups)
    if request.by not in granted:
        held = ", ".join(sorted(r.value for r in granted)) or "none"
        raise ApprovalRefused(
            f"approval refused: your groups do not grant the role {request.by} (they grant: {held}); "
            f"ask for membership of the group for {request.by}, or decide with a role you hold"
        )
    stamped = request.to_dict()
    stamped.update(at=_stamp(now), user=user)
    return stamped


def approval_from_object(body: Mapping[str, Any]) -> Approval | None:
    """The core's :class:`Approval` from a ``GoLiveApproval`` object; None unless the webhook stamped it."""
    spec = dict(body.get("spec") or {})
    if not spec.get("user") or not spec.get("at"):
        return None
    try:
        return Approval.model_validate({k: spec.get(k) for k in ("gate", "by", "at", "reason", "decision", "user")})
    except ValidationError:
        return None


def _stamp(now: dt.datetime) -> str:
    return ensure_utc(now).isoformat().replace("+00:00", "Z")


def admit_resume(
    new: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    *,
    user: str,
    groups: Iterable[str],
    now: dt.datetime,
    mapping: RoleMapping,
) -> dict[str, Any] | None:
    """The stamped ``spec.resume`` of a GoLive update, or None when the update does not resume.

    A resume is acted on when its time is newer than the hold (:mod:`epj.golive.machine`), so a
    client-written ``at`` could resume a future hold, or none at all with a skewed clock: the
    server's time and user are written instead, like on a gate decision. An update that leaves
    ``spec.resume`` exactly as stored keeps the recorded stamp (editing a lever next to it must not
    re-date an old resume); any other write of it is a new request, stamped now: resuming a second
    hold with the same role and reason as the first must work. Removing the request is allowed.
    """
    if new is None:
        return None
    if not isinstance(new, Mapping):
        # Admission runs before the schema: a scalar or a list reaches the webhook and must not crash it.
        raise ApprovalRefused("resume refused: spec.resume must be an object with by and reason")
    if isinstance(old, Mapping) and dict(new) == dict(old):
        return dict(old)  # untouched by this write (e.g. a pause next to it): the recorded stamp stands
    raw_reason = new.get("reason")
    by, reason = new.get("by"), raw_reason.strip() if isinstance(raw_reason, str) else ""
    try:
        role = ApproverRole(str(by))
    except ValueError:
        roles = ", ".join(sorted(r.value for r in RESUME_ROLES))
        raise ApprovalRefused(
            f"resume refused: spec.resume.by {by!r} is not a role; roles that resume: {roles}"
        ) from None
    if len(reason) < 3:
        raise ApprovalRefused("resume refused: spec.resume.reason must say why (at least 3 characters)")
    if len(reason) > 500:
        raise ApprovalRefused("resume refused: spec.resume.reason must be at most 500 characters")
    if not user:
        raise ApprovalRefused("resume refused: the request carries no authenticated user")
    if role not in RESUME_ROLES:
        may = ", ".join(sorted(r.value for r in RESUME_ROLES))
        raise ApprovalRefused(f"resume refused: {role} does not resume a go-live; roles that do: {may}")
    granted = mapping.roles(groups)
    if role not in granted:
        held = ", ".join(sorted(r.value for r in granted)) or "none"
        raise ApprovalRefused(
            f"resume refused: your groups do not grant the role {role} (they grant: {held}); "
            f"ask for membership of the group for {role}, or resume with a role you hold"
        )
    return {"by": str(role), "reason": reason, "at": _stamp(now), "user": user}


def resume_is_stamped(new: Mapping[str, Any] | None, old: Mapping[str, Any] | None, *, user: str) -> bool:
    """Validating side: an unchanged resume, or a changed one the mutating webhook stamped for this user."""
    if not new or new == old:
        return True
    if not isinstance(new, Mapping):
        return False
    return bool(new.get("at")) and new.get("user") == user
