"""``epj golive bench``: N tenants across waves, reconciled by the real operator against the emulator.

The emulator runs in a child process (so ``peak_rss_mb`` is the operator's memory, not the
emulator's); the operator runs here with a simulated clock. The bench walks every wave
through rehearsal, freeze, cutover and go-live: training reported, every migration and
smoke Job marked succeeded, go/no-go recorded. Handler latency is the wall time of each
GoLive reconcile (observe → decide → persist → act).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import multiprocessing
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from epj.golive.model import Approval, GoLiveState
from epj.golive.phases import ApprovalDecision, ApproverRole, GateName
from epj.golive.schedule import Schedule
from epj.operator.kube import CONFIG_MAPS, JOBS, ROLLOUT_WAVES, KubeClient
from epj.operator.resources import tenant_namespace
from epj.operator.testing import NAMESPACE, PODS, OperatorThread, reconciliation_report, record_decision

WAVES_PER_YEAR = 4


def _serve_emulator(pipe: Any) -> None:
    """Child process: serve the emulator until the parent closes the pipe."""
    from epj.operator.emulator import emulator_thread

    with emulator_thread(NAMESPACE) as (_, url):
        pipe.send(url)
        with contextlib.suppress(EOFError):
            pipe.recv()


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[94]


def _count(ctx: Any) -> Callable[[], Any]:
    async def count() -> int:
        return len(ctx.tenants)

    return count


async def _no_alerts(url: str) -> list[dict[str, Any]]:
    """The bench's Alertmanager: nothing firing."""
    return []


def wave_specs(tenants: int, waves: int) -> list[tuple[str, dict[str, Any]]]:
    """``waves`` waves in consecutive quarters of 2027–2028, tenants spread evenly (synthetic numbers 3001…)."""
    numbers = [f"{3001 + i:04d}" for i in range(tenants)]
    specs = []
    for w in range(waves):
        year, quarter = 2027 + w // 4, w % 4 + 1
        start = dt.date(year, 3 * quarter - 2, 1)
        go_live = start + dt.timedelta(days=35)
        end = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
        members = [{"kommunenummer": k} for k in numbers[w::waves]]
        spec = {
            "goLiveDate": go_live.isoformat(),
            "productionWindow": {"label": f"{year}-Q{quarter}", "start": start.isoformat(), "end": end.isoformat()},
            "members": members,
        }
        specs.append((f"bench-wave-{w + 1}", spec))
    return specs


async def _wait(
    probe: Callable[[], Any], accept: Callable[[Any], bool], timeout: float, what: str, progress: Callable[[str], None]
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def run_bench(tenants: int, waves: int, progress: Callable[[str], None]) -> dict[str, Any]:
    from epj.golive.clock import SimulatedClock
    from epj.operator.context import OperatorContext
    from epj.operator.metrics import OperatorMetrics

    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_emulator, args=(child,), daemon=True)
    process.start()
    url = parent.recv()
    specs = wave_specs(tenants, waves)
    first = Schedule.for_date(dt.date.fromisoformat(specs[0][1]["goLiveDate"]))
    clock = SimulatedClock(first.pre_project_at - dt.timedelta(days=1))
    started = time.monotonic()
    async with KubeClient(url) as client:
        ctx = OperatorContext(
            client=KubeClient(url), clock=clock, metrics=OperatorMetrics.create(),
            alertmanager_url="http://alertmanager.bench.invalid", alert_fetcher=_no_alerts,
            resync_seconds=30.0, job_poll_seconds=15.0, record_latencies=True,
        )  # fmt: skip
        operator = OperatorThread(ctx, url, NAMESPACE, fast_loop=True)
        await asyncio.to_thread(operator.start)
        try:
            for name, spec in specs:
                await client.create(ROLLOUT_WAVES, NAMESPACE, {"metadata": {"name": name}, "spec": spec})
            await _wait(_count(ctx), lambda n: n == tenants, 120, "GoLives reconciled", progress)
            training = {"metadata": {"name": "epj-training-completion"}, "data": {}}
            training["data"] = {m["kommunenummer"]: "0.95" for _, s in specs for m in s["members"]}
            await client.create(CONFIG_MAPS, NAMESPACE, training)
            for name, spec in specs:
                progress(f"{name}: {len(spec['members'])} tenants")
                await _walk_wave(client, ctx, operator, spec, progress)
        finally:
            await asyncio.to_thread(operator.stop)
            parent.send("stop")
            process.join(10)
    latencies = sorted(ctx.latencies)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "tenants": tenants,
        "waves": waves,
        "reconciles": len(latencies),
        "handler_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "handler_p95_ms": round(quantiles[94] * 1000, 1),
        "handler_max_ms": round(latencies[-1] * 1000, 1),
        "queue_p95_ms": round(_p95(ctx.queue_waits) * 1000, 1),
        # From a change being observable (due time reached, Job finished, decision recorded) to the status
        # showing it persisted, queueing included: what a project lead waits for.
        "e2e_changes": len(ctx.e2e),
        "e2e_p50_ms": round(statistics.median(ctx.e2e) * 1000, 1) if ctx.e2e else None,
        "e2e_p95_ms": round(_p95(sorted(ctx.e2e)) * 1000, 1),
        "e2e_max_ms": round(max(ctx.e2e, default=0.0) * 1000, 1),
        "e2e_unfinished": len(ctx.awaiting),
        # Where the tail is: due times reached by a whole wave at once, Jobs finishing, decisions recorded.
        "e2e_p95_ms_by_change": {
            change: round(_p95(sorted(values)) * 1000, 1) for change, values in sorted(ctx.e2e_by_change.items())
        },
        "max_concurrent_reconciles": ctx.max_concurrent_reconciles,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # CPU seconds of this process (the operator and the bench's driver; the emulator runs in another): less
        # sensitive than wall time to other work on a shared machine.
        "cpu_s": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1),
        "wall_s": round(time.monotonic() - started, 1),
    }


async def _walk_wave(
    client: KubeClient, ctx: Any, operator: Any, spec: dict[str, Any], progress: Callable[[str], None]
) -> None:
    schedule = Schedule.for_date(dt.date.fromisoformat(spec["goLiveDate"]))
    members = [m["kommunenummer"] for m in spec["members"]]
    minute = dt.timedelta(minutes=1)

    def expect(k: str, shows: Callable[[GoLiveState], bool], change: str) -> None:
        ctx.expect(NAMESPACE, k, shows, change)

    async def settle() -> None:
        """Let the previous step's follow-up work finish (seal Jobs, wave status) before the next due time.

        On a real night the next due time is hours away; without this the bench would time one step's
        burst together with the tail of the one before.
        """
        quiet, deadline = 0, time.monotonic() + 60
        while quiet < 5 and time.monotonic() < deadline:
            busy = ctx.slots().in_use > 0
            quiet = 0 if busy else quiet + 1
            await asyncio.sleep(0.1)

    def advance(instant: dt.datetime, phase: str) -> None:
        """Due time reached for every member at once: each is timed until its status shows ``phase``."""
        for k in members:
            expect(k, lambda state: str(state.phase) == phase, f"due:{phase}")
        ctx.clock.advance_to(instant)
        operator.call(ctx.wake_due)

    async def phases() -> dict[str, str]:
        # The operator's own view of what it persisted (listing 400 large GoLives would load the emulator).
        return {k: str(view.phase) for (_, k), view in list(ctx.tenants.items())}

    async def all_in(phase: str, timeout: float = 300) -> None:
        await _wait(phases, lambda p: all(p.get(k) == phase for k in members), timeout, f"all in {phase}", progress)

    async def finish(kind: str) -> None:
        for k in members:
            name = f"migrate-{kind}-{k}-1" if kind != "smoke" else f"smoke-{k}-cutover-1"
            ns = tenant_namespace(k)
            await _wait(functools.partial(client.get, JOBS, ns, name), bool, 300, f"Job {name}", progress)
            pod = {
                "metadata": {"name": f"{name}-pod", "labels": {"job-name": name}},
                "status": {"containerStatuses": [{"name": "migrate", "state": {"terminated": {
                    "exitCode": 0, "message": json.dumps(reconciliation_report(k))}}}]},
            }  # fmt: skip
            if kind != "smoke":
                await client.create(PODS, ns, pod)
            expect(k, _shows_done(kind), f"job:{kind}")
            await client.patch_status(
                JOBS, ns, name, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
            )

    async def rehearsals_done() -> int:
        statuses = list(ctx.migration_status.items())
        return sum(1 for (_, name), st in statuses if "rehearsal" in name and st.get("state") == "Succeeded")

    await settle()
    advance(schedule.rehearsal_at + minute, "Rehearsal")
    await all_in("Rehearsal")
    done_before = await rehearsals_done()
    await finish("rehearsal")
    await _wait(rehearsals_done, lambda n: n >= done_before + len(members), 300, "rehearsal results", progress)
    await settle()
    advance(schedule.freeze_at + minute, "Freeze")
    await all_in("Freeze")
    go = Approval(gate=GateName.GO_NO_GO, by=ApproverRole.CUTOVER_LEAD, at=ctx.clock.now(), reason="bench go",
                  decision=ApprovalDecision.APPROVE)  # fmt: skip
    for k in members:
        expect(k, lambda state: any(e.kind == "Approval" for e in state.history), "decision")
        await record_decision(client, NAMESPACE, go, kommunenummer=k)
    await settle()
    advance(schedule.cutover_at + minute, "Cutover")
    await all_in("Cutover")
    await finish("cutover")
    await finish("smoke")
    await all_in("Live")
    await settle()
    advance(schedule.go_live_at + minute, "Hypercare")
    await all_in("Hypercare")
    progress(f"wave live: {len(members)} tenants in Hypercare")


def _shows_done(kind: str) -> Callable[[GoLiveState], bool]:
    """What a persisted status shows once a finished Job of ``kind`` is taken into account."""
    if kind == "smoke":
        return lambda state: str(state.phase) == "Live"
    if kind == "cutover":
        return lambda state: state.smoke_requested_for is not None
    return lambda state: state.migration is not None and str(state.migration.state) == "Succeeded"


def bench(tenants: int, waves: int | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    report = progress or (lambda line: print(line, file=sys.stderr))
    return asyncio.run(run_bench(tenants, waves or max(1, min(8, tenants // 50)), report))
