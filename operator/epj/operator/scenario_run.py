"""Run a shared go-live scenario through the kopf operator (the rehearsal runs the same one through the core).

``run_scenario_through_operator(scenario)`` applies the scenario's wave to the emulator,
starts the real operator on a simulated clock and plays the world as the scenario scripts
it: people write approvals and levers into the GoLive spec at their times, the training
ConfigMap and Alertmanager report what the scenario says, and the Job controller finishes
each migration and smoke-check Job after the scenario's durations with the scenario's
faults (the same mapping as :func:`epj.golive.sim.scripted_migration`). The clock jumps
from one instant where anything can change to the next, after the operator has settled.
Returns the core's :class:`~epj.golive.sim.Trace` per tenant (phases and gate outcomes),
so a test can compare it with :func:`epj.golive.sim.run_wave` on the same scenario.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from epj.golive.model import GoLiveState
from epj.golive.phases import TERMINAL, JobState, MigrationPurpose
from epj.golive.scenario import Fault, Scenario
from epj.golive.schedule import parse_instant
from epj.golive.sim import Trace, scripted_migration, scripted_smoke, trace
from epj.operator.kube import GOLIVES, JOBS, MIGRATION_JOBS, ROLLOUT_WAVES
from epj.operator.resources import batch_job_name, golive_name, tenant_namespace
from epj.operator.testing import LocalCluster, local_cluster, record_decision

ScenarioTrace = dict[str, Trace]


@dataclass
class _Job:
    namespace: str
    name: str
    done: dt.datetime
    kind: str  # migration | smoke
    key: str  # MigrationJob name
    fault: Fault
    finished: bool = False


async def _settle(cluster: LocalCluster, rounds: int = 3, interval: float = 0.1) -> list[dict[str, Any]]:
    """Wait until the GoLives stop changing (same resource versions ``rounds`` polls in a row)."""
    previous: list[str] = []
    same = 0
    for _ in range(400):
        items = await cluster.client.list(GOLIVES, cluster.namespace)
        versions = sorted(f"{g['metadata']['name']}@{g['metadata'].get('resourceVersion')}" for g in items)
        same = same + 1 if versions == previous else 0
        if same >= rounds:
            return items
        previous = versions
        await asyncio.sleep(interval)
    return items


async def run_scenario_async(scenario: Scenario) -> ScenarioTrace:
    members = scenario.wave.order()
    spec = scenario.wave.to_dict()
    spec.pop("name", None)
    jobs: dict[str, _Job] = {}
    async with local_cluster(scenario.start_at) as cluster:
        await cluster.start_operator()
        body = {"metadata": {"name": scenario.wave.name}, "spec": spec}
        await cluster.client.create(ROLLOUT_WAVES, cluster.namespace, body)
        until = scenario.until_at
        while True:
            now = cluster.clock.now()
            await _play_people(cluster, scenario, members, now)
            cluster.wake_all()
            items = await _settle(cluster)
            # Finishing a Job can make the operator start another (the smoke checks after the cutover
            # migration): play the Job controller until nothing new appears at this instant.
            while await _play_jobs(cluster, scenario, jobs, now):
                items = await _settle(cluster)
            states = {g["spec"]["kommunenummer"]: g.get("status") or {} for g in items}
            if all(states.get(k, {}).get("phase") in {str(p) for p in TERMINAL} for k in members):
                break
            candidates = [parse_instant(s["nextWakeAt"]) for s in states.values() if s.get("nextWakeAt")]
            candidates += [j.done for j in jobs.values() if not j.finished and j.fault != Fault.NEVER_FINISHES]
            nxt = scenario.next_event_after(now)
            if nxt is not None:
                candidates.append(nxt)
            future = [c for c in candidates if c > now]
            if not future or min(future) > until:
                break
            cluster.advance_to(min(future))
        final = {g["spec"]["kommunenummer"]: g for g in await cluster.client.list(GOLIVES, cluster.namespace)}
    return {k: trace(GoLiveState.from_status(final[k]["status"])) for k in members if k in final}


async def _play_people(cluster: LocalCluster, scenario: Scenario, members: list[str], now: dt.datetime) -> None:
    """Spec levers and approvals as people will have written them by ``now``; training; alerts."""
    for k in members:
        body = await cluster.client.get(GOLIVES, cluster.namespace, golive_name(k))
        if body is None:
            continue
        spec = scenario.spec_for(k, now)
        wanted = spec.to_dict()
        patch = {
            key: wanted.get(key)
            for key in ("paused", "aborted", "withdraw")
            if body["spec"].get(key) != wanted.get(key)
        }
        # Each scripted resume once: the API server stamps it (its time, the user), so the stored one never
        # equals the script's, and writing it again would be a new resume of whatever hold came since.
        resume = wanted.get("resume")
        if resume is None and body["spec"].get("resume") is not None:
            patch["resume"] = None
        elif resume is not None and cluster.resumed.get(k) != resume.get("at"):
            cluster.resumed[k] = resume.get("at")
            patch["resume"] = resume
        # Each decision once, as its own GoLiveApproval, at the time the scenario gives it.
        recorded = cluster.recorded.setdefault(k, set())
        for approval in spec.approvals:
            key = (str(approval.gate), approval.at.isoformat(), str(approval.by))
            if key not in recorded:
                recorded.add(key)
                await record_decision(cluster.client, cluster.namespace, approval, kommunenummer=k)
        if patch:
            await cluster.client.patch(GOLIVES, cluster.namespace, golive_name(k), {"spec": patch})
    shares = {k: share for k in members if (share := scenario.training(k, now)) is not None}
    if shares:
        await cluster.set_training(shares)
    cluster.set_alerts({k: [(a.name, a.severity) for a in scenario.alerts(k, now)] for k in members})


async def _play_jobs(cluster: LocalCluster, scenario: Scenario, jobs: dict[str, _Job], now: dt.datetime) -> bool:
    """The Job controller: start new Jobs on the scenario's durations, finish due ones with their faults.

    Returns whether anything changed (a Job seen for the first time or finished).
    """
    known = len(jobs)
    finished = 0
    for mj in await cluster.client.list(MIGRATION_JOBS, cluster.namespace):
        spec = mj["spec"]
        k, purpose, attempt = spec["kommunenummer"], spec["purpose"], int(spec.get("attempt", 1))
        name = mj["metadata"]["name"]
        if name not in jobs:
            duration = scenario.job_duration(k, purpose)
            fault = scenario.faults(k).for_attempt(MigrationPurpose(purpose), attempt)
            jobs[name] = _Job(tenant_namespace(k), batch_job_name(spec), now + duration, "migration", name, fault)
        smoke = f"smoke-{name.removeprefix('golive-')}"
        if smoke not in jobs and await cluster.client.get(JOBS, tenant_namespace(k), smoke) is not None:
            done = now + scenario.job_duration(k, "smoke")
            fault = scenario.faults(k).for_attempt("smoke", attempt)
            jobs[smoke] = _Job(tenant_namespace(k), smoke, done, "smoke", name, fault)
    for job in jobs.values():
        if job.finished or now < job.done or job.fault == Fault.NEVER_FINISHES:
            continue
        if await cluster.client.get(JOBS, job.namespace, job.name) is None:
            continue
        job.finished = True
        finished += 1
        if job.kind == "smoke":
            result = scripted_smoke(job.key, job.fault)
            if result is not None:
                await cluster.finish_job(job.namespace, job.name, succeeded=result.passed, message=result.reason)
            continue
        seen = scripted_migration(job.key, job.fault, True)
        report = None
        if seen.reconciliation is not None:
            counts = seen.reconciliation.counts
            report = {
                "complete": seen.reconciliation.complete,
                "sources": {"extract": {"read": counts.get("read", 0) + counts.get("unaccounted", 0),
                                        "migrated": counts.get("migrated", 0),
                                        "quarantined": counts.get("quarantined", 0)}},
            }  # fmt: skip
            if seen.reconciliation.message:
                report["error"] = seen.reconciliation.message
        await cluster.finish_job(
            job.namespace, job.name, succeeded=seen.state == JobState.SUCCEEDED, reconciliation=report,
            message=seen.message or "",
        )  # fmt: skip
    return finished > 0 or len(jobs) > known


def run_scenario_through_operator(scenario: Scenario) -> ScenarioTrace:
    """Phases and gate outcomes per tenant after playing ``scenario`` through the kopf operator."""
    return asyncio.run(run_scenario_async(scenario))
