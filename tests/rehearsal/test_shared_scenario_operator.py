"""The shared scenario through the kopf operator: the same phases and gate outcomes as the rehearsal's core run.

The test plays the world from the scenario file against the real operator on the kmock
emulator (``epj.operator.testing``): training shares into the training ConfigMap, firing
alerts into the fake Alertmanager, approvals and resumes as the CLI writes them, and the
Job controller finishing migration and smoke-check Jobs after the scenario's durations with
the scenario's faults. The simulated clock only moves when everything has settled, to the
next instant anything can change; the final GoLive statuses must give the same traces as
``epj.golive.run_wave`` (which ``epj rehearse`` drives with real migrations).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import Any

import pytest

from epj.golive import Fault, GoLiveState, Scenario, load_scenario, run_wave, trace
from epj.golive.schedule import parse_instant
from epj.operator.kube import GOLIVES
from epj.operator.resources import golive_name
from epj.operator.testing import LocalCluster, local_cluster, reconciliation_report

MIGRATE = re.compile(r"^migrate-(rehearsal|cutover)-(\d{4})-(\d+)$")
SMOKE = re.compile(r"^smoke-(\d{4})-cutover-(\d+)$")


class World:
    """Everything outside the operator, scripted by the scenario."""

    def __init__(self, cluster: LocalCluster, scenario: Scenario) -> None:
        self.cluster, self.scenario = cluster, scenario
        self.tenants = [m.kommunenummer for m in scenario.wave.members]
        self.seen: dict[str, dt.datetime] = {}  # job name → when it first existed (simulated)
        self.finished: set[str] = set()
        self.approvals_done: set[tuple[str, int]] = set()
        self.levers_done: set[tuple[str, int]] = set()

    async def apply(self, now: dt.datetime) -> None:
        """Bring training, alerts, approvals and levers to what the scenario says at ``now``."""
        shares = {k: self.scenario.training(k, now) for k in self.tenants}
        await self.cluster.set_training({k: v for k, v in shares.items() if v is not None})
        self.cluster.set_alerts({k: [(a.name, a.severity) for a in self.scenario.alerts(k, now)] for k in self.tenants})
        for k in self.tenants:
            script = self.scenario.script(k)
            for i, item in enumerate(script.approvals or ()):
                if (k, i) not in self.approvals_done and self.scenario.at(item.at) <= now:
                    self.approvals_done.add((k, i))
                    reject = str(item.decision) == "reject"
                    await self.cluster.approve(k, str(item.gate), str(item.by), item.reason, reject=reject)
            for i, lever in enumerate(script.levers or ()):
                if (k, i) not in self.levers_done and self.scenario.at(lever.at) <= now:
                    self.levers_done.add((k, i))
                    patch = {f: getattr(lever, f) for f in ("paused", "aborted", "withdraw")}
                    patch = {f: v for f, v in patch.items() if v is not None}
                    if patch:
                        await self.cluster.client.patch(
                            GOLIVES, self.cluster.namespace, golive_name(k), {"spec": patch}
                        )
                    if lever.resume is not None:
                        await self.cluster.resume(k, str(lever.resume.by), lever.resume.reason)

    def _due(self, name: str) -> tuple[dt.datetime, Fault] | None:
        if (m := MIGRATE.match(name)) is not None:
            purpose, k, attempt = m.group(1), m.group(2), int(m.group(3))
            fault = self.scenario.faults(k).for_attempt(purpose, attempt)
            return self.seen[name] + self.scenario.job_duration(k, purpose), fault
        if (m := SMOKE.match(name)) is not None:
            k, attempt = m.group(1), int(m.group(2))
            fault = self.scenario.faults(k).for_attempt("smoke", attempt)
            return self.seen[name] + self.scenario.job_duration(k, "smoke"), fault
        return None

    async def jobs(self, now: dt.datetime) -> tuple[int, list[dt.datetime]]:
        """Play the Job controller: finish due Jobs as their fault says; return (how many, later completions)."""
        later: list[dt.datetime] = []
        finished = 0
        for k in self.tenants:
            namespace = f"kommune-{k}"
            for job in await self.cluster.jobs(namespace):
                name = job["metadata"]["name"]
                self.seen.setdefault(name, now)
                due = self._due(name)
                if due is None or name in self.finished or due[1] == Fault.NEVER_FINISHES:
                    continue
                at, fault = due
                if at > now:
                    later.append(at)
                    continue
                self.finished.add(name)
                finished += 1
                await self._finish(namespace, name, k, fault)
        return finished, later

    async def _finish(self, namespace: str, name: str, k: str, fault: Fault) -> None:
        finish = self.cluster.finish_job
        if name.startswith("smoke-"):
            await finish(namespace, name, succeeded=fault != Fault.FAILED, message=f"smoke checks: {fault}")
        elif fault == Fault.TRUNCATED_EXTRACT:
            report = reconciliation_report(k, complete=False, unaccounted=25)
            await finish(namespace, name, succeeded=False, reconciliation=report)
        elif fault == Fault.JOB_FAILED:
            await finish(namespace, name, succeeded=False, message="job process failed")
        elif fault == Fault.RECONCILIATION_INCOMPLETE:
            report = reconciliation_report(k, complete=False, unaccounted=3)
            await finish(namespace, name, succeeded=True, reconciliation=report)
        else:
            await finish(namespace, name, succeeded=True, reconciliation=reconciliation_report(k))


async def _snapshot(world: World) -> tuple[Any, ...]:
    bodies = [await world.cluster.golive(k) for k in world.tenants]
    statuses = tuple(repr((b or {}).get("status")) for b in bodies)
    generations = tuple(
        (b or {}).get("metadata", {}).get("generation") == (b or {}).get("status", {}).get("observedGeneration")
        for b in bodies
    )
    names = []
    for k in world.tenants:
        names += [j["metadata"]["name"] for j in await world.cluster.jobs(f"kommune-{k}")]
    jobs = tuple(sorted(names))
    return statuses, generations, jobs


async def _settle(world: World, *, quiet: float = 1.2, timeout: float = 30.0) -> None:
    """Wait until GoLive statuses, generations and Jobs stop changing for ``quiet`` seconds.

    Every change wakes all GoLives, so a dependent re-decides as soon as its dependency moved
    (the operator would otherwise see it at its next resync, after we might have moved the clock).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    world.cluster.wake_all()
    last = await _snapshot(world)
    stable_since = loop.time()
    while loop.time() - stable_since < quiet:
        if loop.time() > deadline:
            raise AssertionError(f"operator did not settle at {world.cluster.clock.now().isoformat()}")
        await asyncio.sleep(0.1)
        current = await _snapshot(world)
        if current != last or not all(current[1]):
            world.cluster.wake_all()
            last, stable_since = current, loop.time()


async def play(cluster: LocalCluster, scenario: Scenario) -> dict[str, GoLiveState]:
    """Play ``scenario`` against the running operator; return the final GoLive states."""
    world = World(cluster, scenario)
    spec = scenario.wave.to_dict()
    spec.pop("name")
    await world.apply(cluster.clock.now())
    await cluster.apply_wave(scenario.wave.name, spec)
    for _ in range(200):
        now = cluster.clock.now()
        await world.apply(now)
        await _settle(world)
        while True:  # finishing a Job can make the operator create the next one at the same instant
            finished, later = await world.jobs(now)
            if not finished:
                break
            await _settle(world)
        bodies = [await cluster.golive(k) for k in world.tenants]
        wakes = [parse_instant(w) for b in bodies if (w := (b or {}).get("status", {}).get("nextWakeAt"))]
        event = scenario.next_event_after(now)
        future = [t for t in [*later, *wakes, event] if t is not None and t > now]
        if not future or min(future) > scenario.until_at:
            break
        cluster.advance_to(min(future))
    states = {}
    for k in world.tenants:
        body = await cluster.golive(k)
        assert body is not None
        states[k] = GoLiveState.from_status(body["status"])
    return states


@pytest.mark.slow
async def test_shared_scenario_gives_the_same_phases_and_gates_through_the_operator() -> None:
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    scenario = load_scenario("shared-wave")
    reference = run_wave(scenario)
    async with local_cluster(scenario.start_at) as cluster:
        await cluster.start_operator(resync_seconds=0.5)
        states = await play(cluster, scenario)
    for k, expectation in scenario.expect.items():
        state = states[k]
        assert trace(state) == reference.trace(k), k
        assert expectation.mismatches(state.phase_trail(), state.gate_trail(), state.phase, state.phase_reason) == []
