"""What every handler of one operator process shares: clock, API client, settings, wake-ups, registries.

The go-live core is pure; everything impure the kopf adapter needs lives here and is
injected, so tests and the bench run the real handlers with a simulated clock, a
local API (the kmock emulator) and a fake Alertmanager. One :class:`OperatorContext`
is passed to kopf as the operator-wide ``memo`` (kopf gives each object a shallow copy,
so ``memo.ctx`` is the same object everywhere).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from epj import contract
from epj.golive.approvals import RoleMapping
from epj.golive.clock import Clock, SimulatedClock, SystemClock
from epj.golive.model import Alert, DependencyStatus
from epj.golive.phases import Phase
from epj.golive.wave import WaveSpec
from epj.operator.kube import Body, KubeClient, Resource
from epj.operator.metrics import OperatorMetrics
from epj.operator.slots import PrioritySlots

#: The ConfigMap (in each watched namespace) where the training system reports completion per tenant.
TRAINING_CONFIGMAP = "epj-training-completion"
#: Finalizer kopf puts on GoLives and MigrationJobs (never orphan a running Job).
FINALIZER = "epj.no/golive-operator"
#: Image the migration Jobs run unless the MigrationJob names another.
DEFAULT_IMAGE = contract.DEFAULT_MIGRATION_IMAGE

TenantKey = tuple[str, str]  # (namespace, kommunenummer)
ObjectKey = tuple[str, str]  # (namespace, name)


@dataclass
class TenantView:
    """What dependents and the wave need to know about one GoLive (kept current by its reconciles)."""

    name: str
    wave: str
    phase: Phase
    serving_since: dt.datetime | None
    depends_on: tuple[str, ...] = ()
    #: The core's next_wake_at: when a time-driven step or gate deadline is due (None: only on events).
    wake_at: dt.datetime | None = None

    def dependency_status(self) -> DependencyStatus:
        return DependencyStatus(phase=self.phase, serving_since=self.serving_since)


AlertFetcher = Callable[[str], Awaitable[list[dict[str, Any]]]]
FaultHook = Callable[[str, dict[str, Any]], Awaitable[None]]

#: Where a test can crash the operator (``OperatorContext.fault``), with the details passed:
#: ``wave.changed`` (wave) — a RolloutWave handler starts, before anything is remembered or written;
#: ``golive.saved`` (golive, phase, actions) — a decision's status is persisted, its actions not yet performed;
#: ``golive.acted`` (golive, phase, actions) — its actions are performed, the next status not yet persisted;
#: ``migration.recorded`` (migration_job, job) — a MigrationJob's Job name is saved, the Job not yet created;
#: ``migration.created`` (migration_job, job) — a MigrationJob's batch Job exists, its uid not yet saved;
#: ``golive.deletion_held`` (golive) — a GoLive's deletion was refused because its cutover night still runs.
FAULT_POINTS = (
    "wave.changed",
    "golive.saved",
    "golive.acted",
    "migration.recorded",
    "migration.created",
    "golive.deletion_held",
)


@dataclass
class OperatorContext:
    """Shared state of one operator process (see the module docstring)."""

    client: KubeClient
    clock: Clock = field(default_factory=SystemClock)
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics.default)
    #: Alertmanager base URL when neither the wave nor the GoLive names one.
    alertmanager_url: str | None = None
    #: How long fetched alerts are reused (seconds of real time); 0 in tests.
    alert_cache_seconds: float = 15.0
    image: str = DEFAULT_IMAGE
    #: Longest real-time sleep of a GoLive daemon between reconciles (also the resync period).
    resync_seconds: float = 300.0
    #: How often a MigrationJob looks at its running batch Job (seconds of real time).
    job_poll_seconds: float = 15.0
    #: How soon a finalizer that waits for a running Job looks again (seconds of real time).
    finalizer_retry_seconds: float = 30.0
    #: Consecutive reconcile errors before the Stalled condition is set.
    stall_after: int = 3
    #: Backoff after a reconcile error: base * 2**(n-1) seconds, capped.
    backoff_base: float = 5.0
    backoff_max: float = 600.0
    #: Record handler latencies (seconds) for the bench.
    record_latencies: bool = False
    latencies: list[float] = field(default_factory=list)
    #: Time reconciles waited for a free slot (seconds; recorded with the latencies).
    queue_waits: list[float] = field(default_factory=list)
    #: Bench: changes made observable but not yet seen persisted, by tenant: (since, what the status must show).
    awaiting: dict[TenantKey, tuple[float, Callable[[Any], bool], str]] = field(default_factory=dict)
    #: Bench: seconds from a change being observable to the status showing it persisted (queueing included).
    e2e: list[float] = field(default_factory=list)
    #: Bench: the same, by kind of change (e.g. ``due:Cutover``, ``job:smoke``, ``decision``).
    e2e_by_change: dict[str, list[float]] = field(default_factory=dict)
    #: At most this many GoLive reconciles talk to the API server at once (like kopf's worker limit):
    #: a clock jump that wakes a whole wave queues it instead of flooding the API server.
    max_concurrent_reconciles: int = 16
    #: A wave's status (members by phase, blocked, order) is rewritten at most this often (seconds): a wave of
    #: 400 moving at once is one object read and written a few times, not 400 (each copied by every watcher).
    wave_status_delay_seconds: float = 1.0
    _slots: PrioritySlots | None = None

    wakers: dict[ObjectKey, asyncio.Event] = field(default_factory=dict)
    tenants: dict[TenantKey, TenantView] = field(default_factory=dict)
    _depending: set[TenantKey] = field(default_factory=set)
    waves: dict[ObjectKey, WaveSpec] = field(default_factory=dict)
    training: dict[TenantKey, float] = field(default_factory=dict)
    #: Last MigrationJob status this process wrote or read, by (namespace, name): saves a GET per reconcile.
    migration_status: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    _alerts: dict[str, tuple[float, dict[str, list[Alert]] | None]] = field(default_factory=dict)
    _wave_updates: dict[ObjectKey, asyncio.Task[None]] = field(default_factory=dict)
    #: GETs asked for and not yet sent, by (plural, namespace, name): see :meth:`read_now`.
    _unsent_reads: dict[tuple[str, str, str], asyncio.Future[Body | None]] = field(default_factory=dict)
    _read_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    alert_fetcher: AlertFetcher | None = None
    #: Fault injection for tests (None in production): awaited at each named point in :data:`FAULT_POINTS`
    #: with details; it may block (the test then stops the operator: a crash at exactly that point) or raise.
    fault: FaultHook | None = None
    #: Which Kubernetes groups grant which approver roles (checked by the admission webhook).
    approver_roles: RoleMapping = field(default_factory=RoleMapping)
    #: The batch-Job watch of this process (:mod:`epj.operator.jobwatch`), once kopf started it.
    job_watch: Any = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def start_background(self, work: Awaitable[None], *, name: str) -> None:
        """Run ``work`` for the life of the operator (cancelled by :meth:`stop_background` or :meth:`close`)."""
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        task.set_name(name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop_background(self) -> None:
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def fault_point(self, point: str, **detail: Any) -> None:
        """A deterministic place where a test may crash the operator (see :data:`FAULT_POINTS`)."""
        if self.fault is not None:
            await self.fault(point, detail)

    # ---------------------------------------------------------------- end-to-end latency (bench)

    def expect(self, namespace: str, kommunenummer: str, shows: Callable[[Any], bool], change: str = "") -> None:
        """Bench: from now, a change is observable; time it until a persisted status ``shows`` it."""
        self.awaiting[(namespace, kommunenummer)] = (time.perf_counter(), shows, change)

    def persisted(self, namespace: str, kommunenummer: str, state: Any) -> None:
        """Called after each status write: close the tenant's pending measurement when the status shows it."""
        pending = self.awaiting.get((namespace, kommunenummer))
        if pending is not None and pending[1](state):
            elapsed = time.perf_counter() - pending[0]
            self.e2e.append(elapsed)
            self.e2e_by_change.setdefault(pending[2], []).append(elapsed)
            self.awaiting.pop((namespace, kommunenummer), None)

    # ---------------------------------------------------------------- time

    def now(self) -> dt.datetime:
        return self.clock.now()

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move a simulated clock and wake every GoLive (tests, the bench, scenario runs)."""
        if not isinstance(self.clock, SimulatedClock):
            raise TypeError("only a SimulatedClock can be advanced")
        now = self.clock.advance(delta)
        self.wake_due()
        return now

    def advance_to(self, instant: dt.datetime) -> dt.datetime:
        if not isinstance(self.clock, SimulatedClock):
            raise TypeError("only a SimulatedClock can be advanced")
        now = self.clock.advance_to(instant)
        self.wake_due()
        return now

    def slots(self) -> PrioritySlots:
        """The reconcile slots (see :mod:`epj.operator.slots`)."""
        if self._slots is None:
            self._slots = PrioritySlots(self.max_concurrent_reconciles)
        return self._slots

    # ---------------------------------------------------------------- wake-ups

    def waker(self, namespace: str, name: str) -> asyncio.Event:
        return self.wakers.setdefault((namespace, name), asyncio.Event())

    def wake(self, namespace: str, name: str) -> None:
        event = self.wakers.get((namespace, name))
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        for event in self.wakers.values():
            event.set()

    def wake_due(self) -> None:
        """After a simulated clock jump: wake the GoLives whose next time-driven step is now due.

        Waking every GoLive on every jump would make the 400-tenant bench measure a thundering
        herd that a real clock never produces.
        """
        now = self.now()
        for (namespace, _), view in list(self.tenants.items()):
            if view.wake_at is not None and view.wake_at <= now:
                self.wake(namespace, view.name)

    def wake_tenant(self, namespace: str, kommunenummer: str) -> None:
        view = self.tenants.get((namespace, kommunenummer))
        if view is not None:
            self.wake(namespace, view.name)

    def wake_dependents(self, namespace: str, kommunenummer: str) -> None:
        for key in list(self._depending):
            view = self.tenants.get(key)
            if view is not None and key[0] == namespace and kommunenummer in view.depends_on:
                self.wake(key[0], view.name)

    def set_tenant(self, key: TenantKey, view: TenantView) -> None:
        """Record a tenant's view; counts who depends on others (most waves: nobody, so no scan per transition)."""
        self.tenants[key] = view
        if view.depends_on:
            self._depending.add(key)
        else:
            self._depending.discard(key)

    def forget_tenant(self, key: TenantKey) -> None:
        self.tenants.pop(key, None)
        self._depending.discard(key)

    def wake_wave(self, namespace: str, wave: str) -> None:
        for (ns, _), view in self.tenants.items():
            if ns == namespace and view.wave == wave:
                self.wake(ns, view.name)

    # ---------------------------------------------------------------- reads at decision time

    async def read_now(self, resource: Resource, namespace: str, name: str) -> Body | None:
        """The object as the API server has it now: from a GET sent after this call (None: it does not exist).

        Reconciles that ask for the same object before that GET is sent share it (a wave's 400 members
        woken by one clock jump read their wave's levers with a few GETs instead of 400). Nobody joins a GET
        that was already sent, so every caller sees what the API server held after it asked: a decision is
        still made on persisted state, never on a copy a handler kept.
        """
        key = (resource.plural, namespace, name)
        pending = self._unsent_reads.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._unsent_reads[key] = pending
            task = asyncio.get_running_loop().create_task(self._send_read(key, pending, resource, namespace, name))
            self._read_tasks.add(task)
            task.add_done_callback(self._read_tasks.discard)
        # Shared by the callers of one GET: read it, never change it (a wave's 400 members copied per caller
        # cost more than the GET).
        return await asyncio.shield(pending)

    async def _send_read(
        self,
        key: tuple[str, str, str],
        pending: asyncio.Future[Body | None],
        resource: Resource,
        namespace: str,
        name: str,
    ) -> None:
        await asyncio.sleep(0)  # callers woken in the same loop iteration join before the GET is sent
        if self._unsent_reads.get(key) is pending:
            del self._unsent_reads[key]  # from here on, a new caller waits for the next GET
        try:
            result = await self.client.get(resource, namespace, name)
        except BaseException as error:
            if not pending.done():
                pending.set_exception(error)
                pending.exception()  # retrieved by the callers; no warning when all were cancelled
            if isinstance(error, asyncio.CancelledError):
                raise
        else:
            if not pending.done():
                pending.set_result(result)

    # ---------------------------------------------------------------- alerts

    async def alerts_for(self, url: str | None, kommunenummer: str) -> tuple[Alert, ...] | None:
        """Active alerts labelled ``tenant=<kommunenummer>`` from Alertmanager API v2 (None: unavailable)."""
        url = url or self.alertmanager_url
        if not url:
            return None
        cached = self._alerts.get(url)
        if cached is None or time.monotonic() - cached[0] >= self.alert_cache_seconds:
            grouped: dict[str, list[Alert]] | None
            try:
                raw = await (self.alert_fetcher or _fetch_alerts)(url)
                grouped = {}
                for item in raw:
                    labels = item.get("labels", {})
                    tenant = labels.get("tenant")
                    if tenant:
                        grouped.setdefault(tenant, []).append(
                            Alert(name=labels.get("alertname", "unknown"), severity=labels.get("severity", "none"))
                        )
            except (TimeoutError, aiohttp.ClientError, ValueError):
                grouped = None
            cached = (time.monotonic(), grouped)
            self._alerts[url] = cached
        alerts = cached[1]
        return None if alerts is None else tuple(alerts.get(kommunenummer, ()))

    # ---------------------------------------------------------------- wave status (debounced)

    def schedule_wave_update(
        self, namespace: str, wave: str, update: Callable[[str, str], Awaitable[None]], delay: float | None = None
    ) -> None:
        """Run ``update(namespace, wave)`` once shortly, however many members changed meanwhile."""
        delay = self.wave_status_delay_seconds if delay is None else delay
        key = (namespace, wave)
        task = self._wave_updates.get(key)
        if task is not None and not task.done():
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            self._wave_updates.pop(key, None)
            await update(namespace, wave)

        self._wave_updates[key] = asyncio.get_running_loop().create_task(later())

    async def close(self) -> None:
        await self.stop_background()
        for task in self._wave_updates.values():
            task.cancel()
        self._wave_updates.clear()
        for task in list(self._read_tasks):
            task.cancel()
        self._unsent_reads.clear()


async def _fetch_alerts(url: str) -> list[dict[str, Any]]:
    """GET ``{url}/api/v2/alerts?active=true`` from Alertmanager."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url.rstrip("/") + "/api/v2/alerts", params={"active": "true", "silenced": "false"}) as response,
    ):
        response.raise_for_status()
        data = json.loads(await response.text())
    if not isinstance(data, list):
        raise ValueError("Alertmanager answered something other than a list of alerts")
    return data
