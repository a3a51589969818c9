"""Run the real operator against the kmock emulator: for e2e tests, the bench and scenario runs.

:class:`LocalCluster` owns an emulator on loopback, a simulated clock and an API client,
starts and stops the operator (embedded in the current event loop, standalone), and
plays the parts of the world the operator only observes: the Job controller and kubelet
(Job status, pod termination message with the reconciliation), the training system
(the training ConfigMap), Alertmanager (``GET /api/v2/alerts`` served by the emulator
itself) and the people who approve and resume (same calls as the CLI).

kmock is a development dependency; this module imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from epj import contract
from epj.golive.clock import SimulatedClock
from epj.golive.phases import JobState
from epj.migration.codes import PATIENT_UNIDENTIFIABLE, UNKNOWN_PARENT, profil_source
from epj.operator import commands
from epj.operator.context import TRAINING_CONFIGMAP, OperatorContext
from epj.operator.crds import API_VERSION
from epj.operator.emulator import Emulator, emulator_thread
from epj.operator.kube import (
    CONFIG_MAPS,
    EVENTS,
    GOLIVES,
    JOBS,
    MIGRATION_JOBS,
    ROLLOUT_WAVES,
    Body,
    KubeClient,
    Resource,
)
from epj.operator.metrics import OperatorMetrics
from epj.operator.resources import golive_name
from epj.operator.runner import new_event_loop, run_operator

T = TypeVar("T")
PODS = Resource("", "v1", "pods", "Pod")
NAMESPACE = contract.GOLIVE_NAMESPACE


class LocalCluster:
    """An emulated cluster plus the operator (see the module docstring). Use :func:`local_cluster`."""

    def __init__(self, emulator: Emulator, url: str, client: KubeClient, clock: SimulatedClock, namespace: str) -> None:
        self.emulator, self.url, self.client, self.clock, self.namespace = emulator, url, client, clock, namespace
        self.ctx: OperatorContext | None = None
        self.firing: list[dict[str, Any]] = []
        self._operator: OperatorThread | None = None
        emulator["get /api/v2/alerts"] << (lambda _request: list(self.firing))
        #: Who the API server says is calling (the ``userInfo`` of admission requests); see :meth:`as_user`.
        self.user: dict[str, Any] = default_user()
        #: Base URL of the operator's webhook server when it serves one (``start_operator(webhook_port=...)``).
        self.webhook_url: str | None = None
        #: Decisions a scripted scenario has recorded so far, per tenant (gate, at, role): each is recorded once.
        self.recorded: dict[str, set[tuple[str, str, str]]] = {}
        #: The time of the scripted resume a scenario last wrote, per tenant: each is written once.
        self.resumed: dict[str, str | None] = {}
        emulator.admission = self._admission

    # ---------------------------------------------------------------- operator

    async def start_operator(
        self, *, liveness: str | None = None, webhook_port: int | None = None, **options: Any
    ) -> OperatorContext:
        """Start a fresh operator (new memory, same clock) in its own thread and loop; wait until it watches.

        Its own thread, as in production its own process: kopf, when stopping, waits for and
        cancels every task its loop gained since it started, which would include the test's.
        With ``webhook_port`` it serves its admission webhooks there (plain HTTP on 127.0.0.1) and
        the emulator, as the API server, sends every GoLiveApproval through them.
        """
        defaults: dict[str, Any] = {
            "clock": self.clock,
            "metrics": OperatorMetrics.create(),
            "alertmanager_url": self.url,
            "alert_cache_seconds": 0.0,
            "resync_seconds": 2.0,
            "job_poll_seconds": 0.05,
            "backoff_base": 0.05,
            "backoff_max": 0.5,
            "finalizer_retry_seconds": 0.2,
        }
        ctx = OperatorContext(client=KubeClient(self.url), **{**defaults, **options})
        run: dict[str, Any] = {"liveness": liveness}
        if webhook_port is not None:
            import kopf

            run["webhook"] = kopf.WebhookServer(addr="127.0.0.1", port=webhook_port, insecure=True)
        self._operator = OperatorThread(ctx, self.url, self.namespace, **run)
        await asyncio.to_thread(self._operator.start)
        self.ctx = ctx
        if webhook_port is not None:
            self.webhook_url = f"http://127.0.0.1:{webhook_port}"
            await wait_for_webhooks(self.webhook_url)
        return ctx

    async def stop_operator(self) -> None:
        if self._operator is None:
            return
        try:
            await asyncio.to_thread(self._operator.stop)
        finally:
            self._operator, self.ctx, self.webhook_url = None, None, None

    def wake_all(self) -> None:
        if self._operator is not None:
            self._operator.call(self._operator.ctx.wake_all)

    def advance_to(self, instant: dt.datetime) -> None:
        """Move the simulated clock and wake the operator's GoLives."""
        self.clock.advance_to(instant)
        if self._operator is not None:
            self._operator.call(self._operator.ctx.wake_due)

    def advance(self, delta: dt.timedelta) -> None:
        self.advance_to(self.clock.now() + delta)

    # ---------------------------------------------------------------- objects

    async def apply_wave(self, name: str, spec: dict[str, Any]) -> Body:
        body = {"apiVersion": API_VERSION, "kind": "RolloutWave", "metadata": {"name": name}, "spec": spec}
        return await self.client.create(ROLLOUT_WAVES, self.namespace, body)

    async def golive(self, kommunenummer: str) -> Body | None:
        return await self.client.get(GOLIVES, self.namespace, golive_name(kommunenummer))

    async def wave(self, name: str) -> Body | None:
        return await self.client.get(ROLLOUT_WAVES, self.namespace, name)

    async def phase(self, kommunenummer: str) -> str | None:
        body = await self.golive(kommunenummer)
        return None if body is None else (body.get("status") or {}).get("phase")

    async def migration_jobs(self) -> list[Body]:
        return await self.client.list(MIGRATION_JOBS, self.namespace)

    async def jobs(self, namespace: str) -> list[Body]:
        return await self.client.list(JOBS, namespace)

    async def events(self, name: str | None = None) -> list[Body]:
        events = await self.client.list(EVENTS, self.namespace)
        return [e for e in events if name is None or e.get("involvedObject", {}).get("name") == name]

    async def set_training(self, shares: dict[str, float]) -> None:
        """The training system's export: completion share per kommunenummer."""
        data = {k: str(v) for k, v in shares.items()}
        existing = await self.client.get(CONFIG_MAPS, self.namespace, TRAINING_CONFIGMAP)
        if existing is None:
            body = {"metadata": {"name": TRAINING_CONFIGMAP}, "data": data}
            await self.client.create(CONFIG_MAPS, self.namespace, body)
        else:
            await self.client.patch(CONFIG_MAPS, self.namespace, TRAINING_CONFIGMAP, {"data": data})

    def set_alerts(self, alerts: dict[str, list[tuple[str, str]]]) -> None:
        """What Alertmanager reports as firing: kommunenummer → [(alertname, severity)]."""
        self.firing = [
            {"labels": {"alertname": name, "severity": severity, "tenant": tenant}, "status": {"state": "active"}}
            for tenant, items in alerts.items()
            for name, severity in items
        ]

    def as_user(self, username: str, groups: list[str]) -> None:
        """From now on the API server authenticates requests as ``username`` in ``groups``."""
        self.user = {"username": username, "groups": list(groups)}

    async def approve(self, kommunenummer: str, gate: str, by: str, reason: str, *, reject: bool = False) -> Body:
        """What ``epj golive approve`` does (the API server stamps user and time: see :meth:`_admission`)."""
        return await commands.approve(
            self.client, self.namespace, kommunenummer, gate=gate, by=by, reason=reason, reject=reject
        )

    async def _admission(self, operation: str, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """The API server's admission chain for a GoLiveApproval, or a GoLive whose ``spec.resume`` changes:
        the operator's webhooks when it serves them.

        Without a webhook server (most tests, the bench) the same rules run in-process on the
        simulated clock, so a decision or a resume is stamped exactly as the webhook would.
        """
        if self.webhook_url is not None:
            return await run_admission(self.webhook_url, operation, obj, old, self.user)
        from epj.golive.approvals import RoleMapping

        mapping = self.ctx.approver_roles if self.ctx is not None else RoleMapping()
        return await admit_in_process(operation, obj, old, user=self.user, now=self.clock.now(), mapping=mapping)

    async def resume(self, kommunenummer: str, by: str, reason: str) -> Body:
        return await commands.resume(
            self.client, self.namespace, kommunenummer, by=by, reason=reason, at=self.clock.now()
        )

    async def finish_job(
        self,
        namespace: str,
        name: str,
        *,
        succeeded: bool,
        reconciliation: dict[str, Any] | None = None,
        message: str = "",
        termination_message: str | None = None,
    ) -> None:
        """Play the Job controller and kubelet: a pod that terminated (with the report), then the Job status.

        ``termination_message`` is the container's message as the kubelet read it (e.g. the first 4 KiB of a
        real ``reconciliation.json``, as the Job's entry script writes it); otherwise ``reconciliation`` as JSON.
        """
        now = self.clock.now().isoformat().replace("+00:00", "Z")
        terminated: dict[str, Any] = {"exitCode": 0 if succeeded else 1, "finishedAt": now}
        if termination_message is not None:
            terminated["message"] = termination_message
        elif reconciliation is not None:
            terminated["message"] = json.dumps(reconciliation)
        pod = {
            "metadata": {"name": f"{name}-pod", "labels": {"job-name": name}},
            "status": {"phase": "Succeeded" if succeeded else "Failed",
                       "containerStatuses": [{"name": "migrate", "state": {"terminated": terminated}}]},
        }  # fmt: skip
        with contextlib.suppress(Exception):
            await self.client.create(PODS, namespace, pod)
        kind = "Complete" if succeeded else "Failed"
        condition = {"type": kind, "status": "True", "lastTransitionTime": now, "message": message}
        status = {"succeeded": 1} if succeeded else {"failed": 1}
        await self.client.patch_status(JOBS, namespace, name, {**status, "conditions": [condition], "startTime": now})

    async def collect_garbage(self) -> list[str]:
        """Play Kubernetes' garbage collector once: delete our objects whose owner no longer exists.

        Deletion respects finalizers as the emulator does (the object gets a ``deletionTimestamp``).
        Returns the names deleted.
        """
        owners = {
            o["metadata"].get("uid")
            for resource in (ROLLOUT_WAVES, GOLIVES)
            for o in await self.client.list(resource, self.namespace)
        }
        deleted: list[str] = []
        for resource in (GOLIVES, MIGRATION_JOBS):
            for item in await self.client.list(resource, self.namespace):
                refs = item["metadata"].get("ownerReferences") or []
                if refs and not any(r.get("uid") in owners for r in refs):
                    await self.client.delete(resource, self.namespace, item["metadata"]["name"])
                    deleted.append(item["metadata"]["name"])
        return deleted

    async def job_state(self, namespace: str, name: str) -> JobState | None:
        from epj.operator.resources import job_state

        job = await self.client.get(JOBS, namespace, name)
        return None if job is None else job_state(job)


class OperatorThread:
    """The operator in its own thread and event loop (see :meth:`LocalCluster.start_operator`)."""

    def __init__(
        self, ctx: OperatorContext, url: str, namespace: str, *, fast_loop: bool = False, **run_options: Any
    ) -> None:
        self.ctx, self.url, self.namespace, self.run_options = ctx, url, namespace, run_options
        self.loop = new_event_loop() if fast_loop else asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="epj-operator", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as error:  # reported to the starting/stopping thread
            self._error = error
            self._ready.set()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _main(self) -> None:
        self._stop, ready = asyncio.Event(), asyncio.Event()

        async def signal_ready() -> None:
            await ready.wait()
            self._ready.set()

        waiter = asyncio.create_task(signal_ready())
        options = {"standalone": True, **self.run_options}
        await run_operator(
            self.ctx, server=self.url, namespaces=[self.namespace], stop_flag=self._stop, ready_flag=ready, **options
        )
        waiter.cancel()

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"operator did not start: {self._error!r}")

    def call(self, function: Callable[[], Any]) -> None:
        """Run ``function`` in the operator's loop (thread-safe)."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(function)

    def stop(self, timeout: float = 20.0) -> None:
        if self._stop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("operator did not stop")
        if self._error is not None and not isinstance(self._error, asyncio.CancelledError):
            raise self._error


class CrashAt:
    """A deterministic crash point for :attr:`OperatorContext.fault` (one of ``FAULT_POINTS``).

    The first time the operator reaches ``point`` with details matching ``match``, the hook
    records the details, sets :attr:`reached` and blocks forever: the test then stops the
    operator, which is a process dying at exactly that instruction. ``raise_instead`` makes it
    raise once instead (a reconcile error the same process retries).
    """

    def __init__(
        self, point: str, match: Callable[[dict[str, Any]], bool] = lambda _: True, *, raise_instead: bool = False
    ) -> None:
        self.point, self.match, self.raise_instead = point, match, raise_instead
        self.reached = threading.Event()
        self.detail: dict[str, Any] = {}

    async def __call__(self, point: str, detail: dict[str, Any]) -> None:
        if point != self.point or self.reached.is_set() or not self.match(detail):
            return
        self.detail = dict(detail)
        self.reached.set()
        if self.raise_instead:
            raise RuntimeError(f"injected fault at {point}")
        await asyncio.Event().wait()  # until the operator is stopped (cancelled here)

    async def wait(self, timeout: float = 10.0) -> dict[str, Any]:
        """Until the operator reached the point; returns the details it passed."""
        await eventually(lambda: _now(self.reached.is_set()), timeout=timeout, what=f"fault point {self.point}")
        return self.detail


class Reached:
    """A fault hook that only records which points were reached (and how often); never interferes."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def __call__(self, point: str, detail: dict[str, Any]) -> None:
        self.counts[point] = self.counts.get(point, 0) + 1

    async def seen(self, point: str) -> bool:
        return self.counts.get(point, 0) > 0


class Blocked:
    """A fault hook that blocks every time one point is reached (e.g. a wave handler that never gets to run)."""

    def __init__(self, point: str) -> None:
        self.point = point
        self.hits = 0

    async def __call__(self, point: str, detail: dict[str, Any]) -> None:
        if point == self.point:
            self.hits += 1
            await asyncio.Event().wait()


async def _now(value: T) -> T:
    return value


async def record_decision(
    client: KubeClient, namespace: str, approval: Any, *, kommunenummer: str, user: str = "approver@epj.test"
) -> Body:
    """Store a core :class:`~epj.golive.model.Approval` as the API server would after admission (stamped).

    For the bench and scripted scenarios, whose emulator runs no admission chain: ``approval.at``
    plays the server's time of admission.
    """
    from epj.golive.approvals import DEFAULT_GROUP_PREFIX, RoleMapping, admit
    from epj.operator.kube import APPROVALS
    from epj.operator.resources import GOLIVE_LABEL, labels

    request = {"kommunenummer": kommunenummer, "gate": str(approval.gate), "by": str(approval.by),
               "decision": str(approval.decision), "reason": approval.reason}  # fmt: skip
    spec = admit(request, user=user, groups=[f"{DEFAULT_GROUP_PREFIX}{approval.by}"], now=approval.at,
                 mapping=RoleMapping())  # fmt: skip
    body = {
        "apiVersion": API_VERSION,
        "kind": "GoLiveApproval",
        "metadata": {
            "generateName": f"{golive_name(kommunenummer)}-{approval.gate}-",
            "labels": labels(kommunenummer, **{GOLIVE_LABEL: golive_name(kommunenummer)}),
        },
        "spec": spec,
    }
    return await client.create(APPROVALS, namespace, body)


async def admit_in_process(
    operation: str, obj: dict[str, Any], old: dict[str, Any] | None, *, user: dict[str, Any], now: dt.datetime,
    mapping: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """The webhooks' rules without the webhook server: stamp a new decision, refuse any change of one;
    stamp a GoLive's new ``spec.resume`` (server time, user) from a role that resumes."""
    import kmock

    from epj.golive.approvals import ApprovalRefused, RoleMapping, admit, admit_resume

    if obj.get("kind") == "GoLive":
        before = ((old or {}).get("spec") or {}).get("resume")
        try:
            stamped = admit_resume((obj.get("spec") or {}).get("resume"), before, user=user["username"],
                                   groups=user["groups"], now=now, mapping=mapping or RoleMapping())  # fmt: skip
        except ApprovalRefused as refused:
            raise kmock.KubernetesError(status=403, reason="Forbidden", message=str(refused)) from None
        if stamped is not None:
            obj.setdefault("spec", {})["resume"] = stamped
        return obj
    if operation != "CREATE":
        if old is not None and old.get("spec") != obj.get("spec"):
            raise kmock.KubernetesError(status=403, reason="Forbidden", message="a recorded decision is immutable")
        return obj
    try:
        obj["spec"] = admit(obj.get("spec") or {}, user=user["username"], groups=user["groups"], now=now,
                            mapping=mapping or RoleMapping())  # fmt: skip
    except ApprovalRefused as refused:
        raise kmock.KubernetesError(status=403, reason="Forbidden", message=str(refused)) from None
    return obj


def default_user() -> dict[str, Any]:
    """The test's API user: authenticated, in the approver group of every role."""
    from epj.golive.approvals import DEFAULT_GROUP_PREFIX
    from epj.golive.phases import ApproverRole

    return {"username": "approver@epj.test", "groups": ["system:authenticated",
            *(f"{DEFAULT_GROUP_PREFIX}{role}" for role in ApproverRole)]}  # fmt: skip


def admission_review(
    operation: str, obj: dict[str, Any], old: dict[str, Any] | None, user: dict[str, Any], *, uid: str = "review-1"
) -> dict[str, Any]:
    """An ``admission.k8s.io/v1`` AdmissionReview for a GoLiveApproval or GoLive, as the API server sends it."""
    from epj.operator.crds import GROUP, VERSION

    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind") or "GoLiveApproval")
    plural = {"GoLiveApproval": "goliveapprovals", "GoLive": "golives"}[kind]
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": GROUP, "version": VERSION, "kind": kind},
            "resource": {"group": GROUP, "version": VERSION, "resource": plural},
            "requestKind": {"group": GROUP, "version": VERSION, "kind": kind},
            "requestResource": {"group": GROUP, "version": VERSION, "resource": plural},
            "name": meta.get("name") or "",
            "namespace": meta.get("namespace") or "",
            "operation": operation,
            "userInfo": user,
            "object": obj,
            "oldObject": old,
            "dryRun": False,
        },
    }


async def post_review(url: str, review: dict[str, Any]) -> dict[str, Any]:
    """POST an AdmissionReview to a webhook URL; return its ``response``."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(url, json=review) as reply:
        reply.raise_for_status()
        answer: dict[str, Any] = await reply.json()
    return dict(answer["response"])


async def run_admission(
    base_url: str, operation: str, obj: dict[str, Any], old: dict[str, Any] | None, user: dict[str, Any]
) -> dict[str, Any]:
    """The API server's chain: the mutating webhook (apply its JSONPatch), then the validating one.

    A GoLive goes through the resume pair (mutating on create and update); a GoLiveApproval through the
    decision pair (mutating on create only), as :func:`epj.operator.deploy.webhook_manifests` configures them.
    """
    import base64

    import jsonpatch
    import kmock

    from epj.operator.admission import MUTATE_ID, RESUME_MUTATE_ID, RESUME_VALIDATE_ID, VALIDATE_ID

    golive = obj.get("kind") == "GoLive"
    mutate, validate = (RESUME_MUTATE_ID, RESUME_VALIDATE_ID) if golive else (MUTATE_ID, VALIDATE_ID)
    if operation == "CREATE" or golive:
        mutated = await post_review(f"{base_url}/{mutate}", admission_review(operation, obj, old, user))
        if not mutated.get("allowed"):
            message = (mutated.get("status") or {}).get("message", "refused")
            raise kmock.KubernetesError(status=403, reason="Forbidden", message=message)
        if mutated.get("patch"):
            ops = json.loads(base64.b64decode(mutated["patch"]))
            obj = jsonpatch.apply_patch(obj, ops)
    checked = await post_review(f"{base_url}/{validate}", admission_review(operation, obj, old, user))
    if not checked.get("allowed"):
        message = (checked.get("status") or {}).get("message", "refused")
        raise kmock.KubernetesError(status=403, reason="Forbidden", message=message)
    return obj


async def wait_for_webhooks(base_url: str, timeout: float = 10.0) -> None:
    """Until the webhook server answers (kopf starts it once it has scanned the API's resources)."""
    import aiohttp

    async def up() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.post(f"{base_url}/ping", data=b"{") as reply:
                return reply.status < 500
        except aiohttp.ClientError:
            return False

    await eventually(up, timeout=timeout, interval=0.05, what=f"webhook server at {base_url}")


def reconciliation_report(kommunenummer: str, *, complete: bool = True, unaccounted: int = 0) -> dict[str, Any]:
    """A ``reconciliation.json`` (SPEC §6 shape, SPEC file names and reason codes) as the migration Job reports it.

    Stjørdal-like figures: 1000 BRUKER rows of which 10 quarantined as PATIENT_UNIDENTIFIABLE, 4000
    LEGEMIDDEL rows of which 3 quarantined as UNKNOWN_PARENT; ``unaccounted`` BRUKER rows missing.
    """
    bruker, legemiddel = profil_source("BRUKER"), profil_source("LEGEMIDDEL")
    report: dict[str, Any] = {
        "kommunenr": kommunenummer,
        "complete": complete,
        "sources": {
            bruker: {"read": 1000, "migrated": 990 - unaccounted, "quarantined": 10},
            legemiddel: {"read": 4000, "migrated": 3997, "quarantined": 3},
        },
        "resources": {"Patient": 990 - unaccounted, "MedicationRequest": 3997},
        "quarantine": {PATIENT_UNIDENTIFIABLE: 10, UNKNOWN_PARENT: 3},
        "warnings": {},
        "patients_merged": 0,
    }
    if not complete:
        report["error"] = "EXTRACT_INCOMPLETE"
    return report


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool] = bool,
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until ``accept(result)``; raise AssertionError naming ``what`` and the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def local_cluster(start: dt.datetime, namespace: str = NAMESPACE) -> AsyncIterator[LocalCluster]:
    """An emulator with the CRDs, a simulated clock at ``start`` and an open API client (operator not started)."""
    with emulator_thread(namespace) as (emulator, url):
        async with KubeClient(url) as client:
            cluster = LocalCluster(emulator, url, client, SimulatedClock(start), namespace)
            try:
                yield cluster
            finally:
                await cluster.stop_operator()
