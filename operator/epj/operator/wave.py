"""RolloutWave adapter: one GoLive per member, and the wave's status from its members' phases.

Ordering and failure isolation are the core's (:mod:`epj.golive.wave`): the wave status
shows the deterministic processing order and which members a failed tenant blocks; each
GoLive's ``dependencies-live`` gate holds exactly the dependents. GoLives are created in
processing order. The wave's ``paused``/``aborted`` levers are folded into each member's
spec at reconcile time (not copied into the GoLive, so the wave lever and the tenant
lever stay separate and both visible).
"""

from __future__ import annotations

import logging
from typing import Any

from epj.golive.phases import MAIN_LINE, SERVING, Phase
from epj.golive.wave import FAILED, WaveSpec, blocked_by, tenants_by_phase
from epj.operator import resources
from epj.operator.context import OperatorContext
from epj.operator.crds import TIMING_FIELDS
from epj.operator.events import post_event
from epj.operator.kube import GOLIVES, ROLLOUT_WAVES, Body

logger = logging.getLogger(__name__)


def wave_spec(body: Body) -> WaveSpec:
    """The core's WaveSpec from a RolloutWave object (raises ValueError with the reason when invalid)."""
    return WaveSpec.model_validate({**dict(body.get("spec") or {}), "name": body["metadata"]["name"]})


def member_spec_fields(wave: WaveSpec, kommunenummer: str) -> dict[str, Any]:
    """The GoLive spec keys the wave owns (people's levers — approvals, pause, resume — are not among them)."""
    member = wave.member(kommunenummer)
    return {
        "wave": wave.name,
        "goLiveDate": wave.go_live_date.isoformat(),
        "dependsOn": list(member.depends_on) + [g.id for g in wave.gp_offices_of(kommunenummer)],
        "hypercareDays": wave.hypercare_days,
        "soakDays": wave.soak_days,
        "schedule": wave.schedule.to_dict(),
        "gates": wave.gates.to_dict(),
    }


async def ensure_members(ctx: OperatorContext, body: Body, wave: WaveSpec) -> list[str]:
    """Create missing GoLives (in processing order) and update wave-owned spec keys. Returns created names."""
    namespace = body["metadata"]["namespace"]
    created: list[str] = []
    refused: list[str] = []
    contested: list[str] = []
    served = set((body.get("status") or {}).get("served") or ())
    gone: list[str] = []
    for kommunenummer in wave.order():
        fields = member_spec_fields(wave, kommunenummer)
        manifest = resources.golive_manifest(body, {"kommunenummer": kommunenummer}, fields)
        name = manifest["metadata"]["name"]
        if kommunenummer in served and await ctx.client.get(GOLIVES, namespace, name) is None:
            # It went live and its GoLive was deleted: a fresh one would walk a serving tenant through a new
            # night (final migration into its sealed store, then a rollback that turns its traffic off).
            gone.append(kommunenummer)
            continue
        existing, was_created = await ctx.client.ensure(GOLIVES, namespace, manifest)
        if was_created:
            created.append(name)
            continue
        current = existing.get("spec") or {}
        if current.get("wave") != wave.name:
            if await _may_adopt(ctx, existing, kommunenummer):
                await _adopt(ctx, body, existing, fields)
                created.append(name)
            else:
                logger.warning("GoLive %s belongs to wave %s, not %s: left alone", name, current.get("wave"), wave.name)
                contested.append(f"{kommunenummer} (in wave {current.get('wave')})")
            continue
        changes = {k: v for k, v in fields.items() if k != "wave" and current.get(k) != v}
        phase = (existing.get("status") or {}).get("phase")
        held = sorted(k for k in changes if k in TIMING_FIELDS) if phase in TIMING_LOCKED else []
        if held:
            # The CRD refuses these edits under a running night (CEL); say so instead of failing the wave.
            refused.append(f"{kommunenummer} ({phase}: {', '.join(held)})")
            changes = {k: v for k, v in changes.items() if k not in held}
        if changes:
            await ctx.client.patch(GOLIVES, namespace, name, {"spec": changes})
    if refused:
        message = f"timing edits not applied to members whose night runs: {'; '.join(refused)}; re-apply after it"
        post_event(body, "Warning", "TimingChangeRefused", message)
    if gone:
        message = (
            f"members that went live have no GoLive (deleted): {', '.join(gone)}; not re-created (a new night would "
            "migrate into a live tenant). Remove them from the wave"
        )
        post_event(body, "Warning", "LiveMemberNotRecreated", message)
    if contested:
        message = (
            f"members claimed by another wave, not taken over: {', '.join(contested)}; remove them from one of "
            "the waves (a tenant goes live in one wave)"
        )
        post_event(body, "Warning", "MembersContested", message)
    return created


#: From Cutover on a GoLive carries an audit trail that outlives its wave (deleting a wave never deletes it).
KEPT_PHASES = frozenset({Phase.CUTOVER, Phase.LIVE, Phase.HYPERCARE, Phase.STABLE, Phase.ROLLED_BACK})


def without_owner(body: Body, uid: str | None = None) -> list[dict[str, Any]] | None:
    """The ownerReferences with the RolloutWave (``uid``, or any) removed; None when there is none to remove."""
    refs = list(body["metadata"].get("ownerReferences") or [])
    kept = [r for r in refs if not (r.get("kind") == "RolloutWave" and (uid is None or r.get("uid") == uid))]
    return kept if len(kept) != len(refs) else None


async def release_members(ctx: OperatorContext, wave: Body) -> list[str]:
    """Remove ``wave``'s ownerReference from members that reached Cutover or later; returns their names."""
    namespace, uid = wave["metadata"]["namespace"], wave["metadata"].get("uid")
    kept: list[str] = []
    for golive in await ctx.client.list(GOLIVES, namespace):
        phase = (golive.get("status") or {}).get("phase")
        refs = without_owner(golive, uid)
        if refs is None or phase not in KEPT_PHASES:
            continue
        await ctx.client.patch(GOLIVES, namespace, golive["metadata"]["name"], {"metadata": {"ownerReferences": refs}})
        kept.append(golive["metadata"]["name"])
    return sorted(kept)


#: While a member is in one of these, the wave's timing fields do not reach it (the CRDs refuse them too).
TIMING_LOCKED = frozenset({str(Phase.FREEZE), str(Phase.CUTOVER)})


#: A member may move to another wave only while nothing time-critical runs (before Freeze).
MOVABLE_PHASES = frozenset({Phase.PLANNED, Phase.PREPARING, Phase.TRAINING, Phase.REHEARSAL})


async def _may_adopt(ctx: OperatorContext, golive: Body, kommunenummer: str) -> bool:
    """A GoLive of another wave moves here when that wave no longer lists it (or is gone) and it is movable."""
    phase = (golive.get("status") or {}).get("phase") or str(Phase.PLANNED)
    if phase not in MOVABLE_PHASES:
        return False
    old = await ctx.client.get(ROLLOUT_WAVES, golive["metadata"]["namespace"], golive["spec"].get("wave", ""))
    members = ((old or {}).get("spec") or {}).get("members") or []
    return all(m.get("kommunenummer") != kommunenummer for m in members)


async def _adopt(ctx: OperatorContext, wave: Body, golive: Body, fields: dict[str, Any]) -> None:
    """Move the GoLive (same object: status and audit trail kept) under ``wave``."""
    meta = golive["metadata"]
    labels = {**(meta.get("labels") or {}), resources.WAVE_LABEL: wave["metadata"]["name"]}
    patch = {
        "metadata": {"labels": labels, "ownerReferences": [resources.owner_reference(wave)]},
        "spec": fields,
    }
    await ctx.client.patch(GOLIVES, meta["namespace"], meta["name"], patch)
    logger.info("GoLive %s moved from wave %s to %s", meta["name"], golive["spec"].get("wave"), fields["wave"])


def wave_phase(phases: list[Phase]) -> str:
    """The furthest main-line phase every member has reached, ``Blocked`` if any member is held/rolled back."""
    if any(p in (Phase.ON_HOLD, Phase.ROLLED_BACK) for p in phases):
        return "Blocked"
    active = [p for p in phases if p in MAIN_LINE]
    if not active:
        return str(Phase.ABORTED) if phases else str(Phase.PLANNED)
    return str(min(active, key=MAIN_LINE.index))


async def update_wave_status(ctx: OperatorContext, namespace: str, name: str) -> None:
    """Write tenantsByPhase, order, blocked, phase and conditions from the members' current phases."""
    wave = ctx.waves.get((namespace, name))
    if wave is None:
        return
    order = wave.order()
    phases = {
        k: view.phase for k in order if (view := ctx.tenants.get((namespace, k))) is not None and view.wave == name
    }
    contested = sorted(
        f"{k} (in wave {view.wave})"
        for k in order
        if (view := ctx.tenants.get((namespace, k))) is not None and view.wave != name
    )
    blocked = blocked_by(list(wave.members), phases)
    failed = sorted(k for k, p in phases.items() if p in FAILED)
    now = ctx.now().isoformat()
    all_stable = len(phases) == len(wave.members) and all(p == Phase.STABLE for p in phases.values())
    # A merge patch merges maps: phases and members no longer present are deleted explicitly.
    by_phase: dict[str, int | None] = {str(p): None for p in Phase}
    by_phase.update(tenants_by_phase(phases))
    blocked_patch: dict[str, list[str] | None] = {m.kommunenummer: None for m in wave.members}
    blocked_patch.update(blocked)
    current = await ctx.client.get(ROLLOUT_WAVES, namespace, name)
    served = set(((current or {}).get("status") or {}).get("served") or ())
    served |= {
        k
        for k in order
        if (view := ctx.tenants.get((namespace, k))) is not None
        and view.wave == name
        and (view.phase in SERVING or view.serving_since is not None)
    }
    status = {
        "order": order,
        "served": sorted(served),
        "timingLocked": sorted(k for k, p in phases.items() if p in TIMING_LOCKED),
        "tenantsByPhase": by_phase,
        "blocked": blocked_patch,
        "phase": wave_phase(list(phases.values())),
        "conditions": [
            _condition("Ready", all_stable, "AllStable" if all_stable else "NotAllStable", now),
            _condition(
                "Blocked",
                bool(failed),
                "MembersFailed" if failed else "NotBlocked",
                now,
                f"failed: {', '.join(failed)}; blocked: {', '.join(sorted(blocked))}" if failed else "",
            ),
            _condition(
                "Contested",
                bool(contested),
                "MembersInAnotherWave" if contested else "NoConflict",
                now,
                f"claimed by another wave (not taken over): {', '.join(contested)}" if contested else "",
            ),
        ],
    }
    try:
        await ctx.client.patch_status(ROLLOUT_WAVES, namespace, name, status)
    except Exception:  # the status is refreshed on the next member change; never fail a GoLive for it
        logger.exception("RolloutWave %s: could not update status", name)


def _condition(kind: str, status: bool, reason: str, now: str, message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
    }
