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

from epj.golive.phases import MAIN_LINE, Phase
from epj.golive.wave import FAILED, WaveSpec, blocked_by, tenants_by_phase
from epj.operator import resources
from epj.operator.context import OperatorContext
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
        "dependsOn": list(member.depends_on),
        "hypercareDays": wave.hypercare_days,
        "soakDays": wave.soak_days,
        "schedule": wave.schedule.to_dict(),
        "gates": wave.gates.to_dict(),
    }


async def ensure_members(ctx: OperatorContext, body: Body, wave: WaveSpec) -> list[str]:
    """Create missing GoLives (in processing order) and update wave-owned spec keys. Returns created names."""
    namespace = body["metadata"]["namespace"]
    created: list[str] = []
    for kommunenummer in wave.order():
        fields = member_spec_fields(wave, kommunenummer)
        manifest = resources.golive_manifest(body, {"kommunenummer": kommunenummer}, fields)
        name = manifest["metadata"]["name"]
        existing, was_created = await ctx.client.ensure(GOLIVES, namespace, manifest)
        if was_created:
            created.append(name)
            continue
        current = existing.get("spec") or {}
        if current.get("wave") != wave.name:
            logger.warning("GoLive %s belongs to wave %s, not %s: left alone", name, current.get("wave"), wave.name)
            continue
        changes = {k: v for k, v in fields.items() if k != "wave" and current.get(k) != v}
        if changes:
            await ctx.client.patch(GOLIVES, namespace, name, {"spec": changes})
    return created


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
    phases = {
        k: view.phase
        for k in wave.order()
        if (view := ctx.tenants.get((namespace, k))) is not None and view.wave == name
    }
    blocked = blocked_by(list(wave.members), phases)
    failed = sorted(k for k, p in phases.items() if p in FAILED)
    now = ctx.now().isoformat()
    all_stable = len(phases) == len(wave.members) and all(p == Phase.STABLE for p in phases.values())
    # A merge patch merges maps: phases and members no longer present are deleted explicitly.
    by_phase: dict[str, int | None] = {str(p): None for p in Phase}
    by_phase.update(tenants_by_phase(phases))
    blocked_patch: dict[str, list[str] | None] = {m.kommunenummer: None for m in wave.members}
    blocked_patch.update(blocked)
    status = {
        "order": wave.order(),
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
