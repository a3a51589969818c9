"""Start the operator: kopf settings, login, registry and context in one place.

Used by ``epj operator run`` (a real cluster), by the e2e tests and the bench (the kmock
emulator, embedded in the test's event loop) and by :mod:`epj.operator.app` (``kopf run``).

Operating choices:

* **One active replica:** kopf peering (``KopfPeering`` object ``epj-golive-operator``) unless
  ``standalone``. All replicas have the same priority, and kopf then pauses EVERY replica (itself
  included) while it sees another one alive, until the other's heartbeat expires: a second replica
  means a pause, never two writers (see :mod:`epj.operator.deploy`). Tests run standalone.
* **Own finalizer and annotation prefix** (``epj.no/...``) instead of kopf's defaults, so a
  person at 03:00 recognises them.
* **Liveness:** kopf's probe endpoint (``--liveness http://0.0.0.0:8080/healthz``); in the
  cluster the Deployment sets ``EPJ_OPERATOR_HEALTH_PORT`` and :func:`default_liveness_endpoint`
  turns it into that URL, so the probe path lives here only (:data:`HEALTH_PATH`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any, cast

import aiohttp
import kopf
from kopf._cogs.structs import dicts  # the FieldSpec type of DiffBaseStorage.build's signature

from epj import contract
from epj.operator import admission, handlers
from epj.operator.context import FINALIZER, OperatorContext
from epj.operator.kube import NAMESPACES, ApiError, KubeClient

PEERING_NAME = "epj-golive-operator"
HEALTH_PORT_ENV = contract.ENV_OPERATOR_HEALTH_PORT
HEALTH_PATH = "/healthz"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The operator's event loop: uvloop's (kopf supports it) when installed, else asyncio's.

    The operator's time goes mostly to small API calls and watch events; uvloop's transports cost
    a fraction of asyncio's per call, which is what lets a whole wave due at once be recorded quickly.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; a bare install still runs
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


#: Allocations between two collections of the youngest generation (CPython's default is 700).
GC_YOUNG_THRESHOLD = 200_000


def tune_garbage_collector() -> None:
    """Collect garbage less often than CPython's defaults, which suit short scripts, not a long-running operator.

    Every reconcile and watch event allocates thousands of small objects (parsed JSON, pydantic models).
    With CPython's default (a young collection every 700 allocations, and the older generations after it)
    the collector took about a third of a 400-tenant operator's CPU when a wave was due at once (the bench,
    ``epj golive bench --tenants 400 --waves 1``: 42 → 26 CPU seconds, e2e p95 1.4 → 0.85 s). Nothing here
    relies on prompt collection of cycles; memory stays well within the Deployment's 512 Mi limit (bench
    peak 215 MB at 400 tenants, the bench's driver included).
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


def default_liveness_endpoint(environ: Mapping[str, str]) -> str | None:
    """kopf's liveness URL on all interfaces when ``EPJ_OPERATOR_HEALTH_PORT`` is set (the cluster's Deployment)."""
    port = (environ.get(HEALTH_PORT_ENV) or "").strip()
    if not port:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{HEALTH_PORT_ENV}={port!r} is not a TCP port")
    return f"http://0.0.0.0:{int(port)}{HEALTH_PATH}"


class EssenceStorage(kopf.AnnotationsDiffBaseStorage):
    """kopf's annotation diff-base, built without deep-copying what it then throws away.

    kopf derives an object's "essence" (spec, labels, annotations) on every watch event by deep-copying
    the whole body and then dropping ``status`` and most of ``metadata``. A GoLive's status (history,
    gates, conditions) is most of the object and changes with every reconcile (and a real API server's
    ``managedFields`` are large), so with a wave in Cutover that copy was the largest cost of each event.
    The same essence is built from the parts kopf keeps (no handler here reacts to status fields).
    """

    def build(self, *, body: kopf.Body, extra_fields: Iterable[dicts.FieldSpec] | None = None) -> kopf.BodyEssence:
        extra = list(extra_fields or ())
        if extra:
            return super().build(body=body, extra_fields=extra)
        # What kopf's build reads: the top level without status, and of the metadata the labels and annotations
        # (kept) and the ownerReferences (they name the annotation key). Everything else it copies and drops.
        meta = body.get("metadata") or {}
        slim: dict[str, Any] = {key: value for key, value in body.items() if key not in ("status", "metadata")}
        slim["metadata"] = {key: meta[key] for key in ("labels", "annotations", "ownerReferences") if key in meta}
        return super().build(body=kopf.Body(cast(kopf.RawBody, slim)), extra_fields=extra)


class StartRefused(ValueError):
    """The operator cannot do its work as started (e.g. it was told to watch a namespace that does not exist)."""


async def missing_namespaces(client: KubeClient, names: Iterable[str]) -> list[str]:
    """The given namespaces the API server says do not exist.

    kopf watches a namespace that does not exist without a word, so ``--namespace epj-sytem`` would run an
    operator that never sees a GoLive. Only a definite 404 counts: a refused read (RBAC) or an API server not
    answering yet says nothing about the namespace (kopf waits for the API), and glob patterns are kopf's.
    """
    missing: list[str] = []
    for name in names:
        if any(char in name for char in "*?[!"):
            continue
        try:
            if await client.get(NAMESPACES, None, name) is None:
                missing.append(name)
        except (ApiError, aiohttp.ClientError, OSError):
            continue
    return missing


def operator_settings(*, verbose: bool = False) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.peering.name = PEERING_NAME
    settings.peering.stealth = True
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="epj.no")
    settings.persistence.diffbase_storage = EssenceStorage(prefix="epj.no", key="last-handled-configuration")
    settings.posting.level = logging.INFO
    settings.posting.reporting_component = "epj-golive-operator"
    settings.posting.event_name_prefix = "epj-golive-"
    settings.watching.server_timeout = 600
    settings.networking.request_timeout = 60
    settings.queueing.exit_timeout = 0.5
    settings.queueing.idle_timeout = 30.0
    if not verbose:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return settings


def build_registry(server: str | None = None, *, webhooks: bool = False) -> kopf.OperatorRegistry:
    """A registry with every handler; with ``server``, log in to that URL (tests, bench) instead of kubeconfig.

    ``webhooks`` adds the GoLiveApproval admission webhooks (kopf refuses to start with admission
    handlers but no webhook server, so they come only with one).
    """
    registry = kopf.OperatorRegistry()
    handlers.register(registry)
    if webhooks:
        admission.register(registry)
    if server is not None:

        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=server, insecure=True, default_namespace="default")

        kopf.on.login(registry=registry, id="local")(login)
    else:
        kopf.on.login(registry=registry, id="cluster")(_cluster_login)
    return registry


def _cluster_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


async def run_operator(
    ctx: OperatorContext,
    *,
    server: str | None = None,
    namespaces: Collection[str] = (),
    clusterwide: bool = False,
    standalone: bool = False,
    liveness: str | None = None,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
    verbose: bool = False,
    webhook: kopf.WebhookServer | None = None,
) -> None:
    """Run the operator in the current event loop until ``stop_flag`` is set (or forever).

    ``webhook``: serve the GoLiveApproval admission webhooks there (:mod:`epj.operator.admission`).
    Logged in through kubeconfig or the service account (no ``server``), it first checks that the namespaces exist
    (:class:`StartRefused` if not).
    """
    if not clusterwide and not namespaces:
        raise ValueError("give namespaces or clusterwide=True")
    tune_garbage_collector()
    settings = operator_settings(verbose=verbose)
    settings.admission.server = webhook
    try:
        async with ctx.client:
            missing = [] if server is not None or clusterwide else await missing_namespaces(ctx.client, namespaces)
            if missing:
                raise StartRefused(
                    f"namespace {', '.join(missing)} does not exist: give the namespace of the GoLive objects "
                    f"(--namespace {contract.GOLIVE_NAMESPACE} in the standard install)"
                )
            await kopf.operator(
                registry=build_registry(server, webhooks=webhook is not None),
                settings=settings,
                standalone=standalone,
                clusterwide=clusterwide,
                namespaces=list(namespaces),
                liveness_endpoint=liveness,
                stop_flag=stop_flag,
                ready_flag=ready_flag,
                memo=kopf.Memo(ctx=ctx),
            )
    finally:
        await ctx.close()
