"""The admission webhooks for GoLiveApproval: the API server's facts on every go/no-go decision.

Thin kopf wiring around :mod:`epj.golive.approvals` (the rules live there):

* ``@kopf.on.mutate`` (:data:`MUTATE_ID`, CREATE): write ``spec.user`` from the request's
  authenticated user and ``spec.at`` from the operator's clock (server time), or refuse;
* ``@kopf.on.validate`` (:data:`VALIDATE_ID`, CREATE and UPDATE): the stored object must carry the
  requesting user and a role their groups grant; any change of a recorded decision is refused;
* the same pair for a GoLive's ``spec.resume`` (:data:`RESUME_MUTATE_ID`, :data:`RESUME_VALIDATE_ID`):
  a resume is acted on when newer than the hold, so its time and user are the server's too. The
  configurations call these only when ``spec.resume`` changes (``matchConditions``), so other
  GoLive edits (pause, abort) never depend on the operator being up.

The API server calls them through the ``ValidatingWebhookConfiguration`` and
``MutatingWebhookConfiguration`` rendered by :func:`epj.operator.deploy.webhook_manifests`; the
operator serves them with kopf's :class:`kopf.WebhookServer` (:func:`webhook_server`), HTTPS with
the certificate mounted from the Secret cert-manager issues. Both webhooks fail closed
(``failurePolicy: Fail``): with the operator down, no decision can be recorded, never an
unverified one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Literal

import kopf

from epj import contract
from epj.golive.approvals import ApprovalRefused, RoleMapping, admit, admit_resume, resume_is_stamped
from epj.operator.context import OperatorContext
from epj.operator.crds import GROUP, VERSION

logger = logging.getLogger(__name__)

PLURAL = "goliveapprovals"
GOLIVE_PLURAL = "golives"
#: kopf serves each handler at ``/<id>``; the webhook configurations name these paths.
MUTATE_ID = "approval-stamp"
VALIDATE_ID = "approval-check"
RESUME_MUTATE_ID = "resume-stamp"
RESUME_VALIDATE_ID = "resume-check"


def role_mapping(environ: Mapping[str, str] | None = None) -> RoleMapping:
    """The group → role mapping from ``EPJ_APPROVER_ROLES`` (JSON; empty → the ``epj-approver:<role>`` groups)."""
    env = os.environ if environ is None else environ
    return RoleMapping.from_json(env.get(contract.ENV_APPROVER_ROLES))


def _user(userinfo: Mapping[str, Any]) -> tuple[str, list[str]]:
    return str(userinfo.get("username") or ""), [str(g) for g in userinfo.get("groups") or []]


def _context(memo: Any) -> OperatorContext:
    from epj.operator.handlers import context_of

    return context_of(memo)


async def stamp(
    spec: kopf.Spec, userinfo: kopf.UserInfo, patch: kopf.Patch, memo: kopf.Memo, dryrun: bool, **_: Any
) -> None:
    """Mutating: the server's user and time on the new decision (the client's values are overwritten)."""
    ctx = _context(memo)
    user, groups = _user(userinfo)
    try:
        stamped = admit(dict(spec), user=user, groups=groups, now=ctx.now(), mapping=ctx.approver_roles)
    except ApprovalRefused as refused:
        raise kopf.AdmissionError(str(refused), code=403) from None
    patch.spec["at"] = stamped["at"]
    patch.spec["user"] = stamped["user"]
    if not dryrun:
        logger.info("GoLiveApproval for %s: %s %s by role %s", stamped["kommunenummer"], stamped["gate"],
                    stamped["decision"], stamped["by"])  # fmt: skip  # role only: no user name in a log line


async def check(spec: kopf.Spec, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any) -> None:
    """Validating: what will be stored is a stamped decision by the requesting user, in a role they hold."""
    if kwargs.get("operation") == "UPDATE":
        old: Mapping[str, Any] = kwargs.get("old") or {}
        before = dict(old.get("spec") or {})
        if before != dict(spec):
            raise kopf.AdmissionError("a recorded decision is immutable: record a new decision instead", code=403)
        return
    ctx = _context(memo)
    user, groups = _user(userinfo)
    try:
        admit(dict(spec), user=user, groups=groups, now=ctx.now(), mapping=ctx.approver_roles)
    except ApprovalRefused as refused:
        raise kopf.AdmissionError(str(refused), code=403) from None
    if spec.get("user") != user or not spec.get("at"):
        raise kopf.AdmissionError("approval refused: not stamped by the operator's mutating webhook", code=403)


def _resumes(spec: Mapping[str, Any], old: Mapping[str, Any] | None) -> tuple[Any, Any]:
    before = ((old or {}).get("spec") or {}).get("resume")
    return spec.get("resume"), before


async def stamp_resume(
    spec: kopf.Spec, userinfo: kopf.UserInfo, patch: kopf.Patch, memo: kopf.Memo, dryrun: bool, **kwargs: Any
) -> None:
    """Mutating, GoLive: a new ``spec.resume`` gets the server's user and time (the client's are overwritten)."""
    new, old = _resumes(spec, kwargs.get("old"))
    ctx = _context(memo)
    user, groups = _user(userinfo)
    try:
        stamped = admit_resume(new, old, user=user, groups=groups, now=ctx.now(), mapping=ctx.approver_roles)
    except ApprovalRefused as refused:
        raise kopf.AdmissionError(str(refused), code=403) from None
    if stamped is None or stamped == new:
        return
    patch.spec["resume"] = stamped
    if not dryrun and stamped != old:
        logger.info("GoLive resume for %s by role %s", spec.get("kommunenummer"), stamped["by"])  # role only


async def check_resume(spec: kopf.Spec, userinfo: kopf.UserInfo, **kwargs: Any) -> None:
    """Validating, GoLive: a changed ``spec.resume`` is stored only as the mutating webhook stamped it."""
    new, old = _resumes(spec, kwargs.get("old"))
    user, _ = _user(userinfo)
    if not resume_is_stamped(new, old, user=user):
        raise kopf.AdmissionError("resume refused: not stamped by the operator's mutating webhook", code=403)


def register(registry: kopf.OperatorRegistry) -> None:
    """Add the webhooks to ``registry`` (served only when the operator's settings name a webhook server)."""
    kopf.on.mutate(GROUP, VERSION, PLURAL, registry=registry, id=MUTATE_ID, operations={"CREATE"})(stamp)
    kopf.on.validate(GROUP, VERSION, PLURAL, registry=registry, id=VALIDATE_ID)(check)
    both: set[Literal["CREATE", "UPDATE"]] = {"CREATE", "UPDATE"}
    kopf.on.mutate(GROUP, VERSION, GOLIVE_PLURAL, registry=registry, id=RESUME_MUTATE_ID, operations=both)(stamp_resume)
    kopf.on.validate(GROUP, VERSION, GOLIVE_PLURAL, registry=registry, id=RESUME_VALIDATE_ID, operations=both)(
        check_resume
    )


def webhook_server(
    *, addr: str = "0.0.0.0", port: int = contract.OPERATOR_WEBHOOK_PORT, certs: str | None = None,
    insecure: bool = False,
) -> kopf.WebhookServer:  # fmt: skip
    """kopf's webhook server: HTTPS with ``tls.crt``/``tls.key`` from ``certs`` (the mounted Secret).

    ``insecure`` serves plain HTTP — only for tests on loopback; the API server requires HTTPS.
    """
    if insecure:
        return kopf.WebhookServer(addr=addr, port=port, insecure=True)
    if certs is None:
        raise ValueError(f"the webhook server needs its certificate directory (set {contract.ENV_WEBHOOK_CERT_DIR})")
    return kopf.WebhookServer(
        addr=addr, port=port, certfile=os.path.join(certs, "tls.crt"), pkeyfile=os.path.join(certs, "tls.key")
    )
