"""A local Kubernetes API for tests and the bench: ``kmock.KubernetesEmulator`` plus what kopf needs.

kmock's emulator is an in-memory object store over HTTP. kopf only starts watching
once the API also serves CRDs, namespaces and events, so :func:`start_emulator`
declares those next to our kinds and ``batch/v1`` Jobs. The subclass adds the bits
of a real API server that the operator relies on and kmock leaves out:

* ``metadata.uid``, ``creationTimestamp``, ``resourceVersion`` and ``generation``
  (owner references need the uid; ``generation`` grows on spec changes only);
* names for objects posted with ``generateName`` (kopf posts Events that way);
* a bounded object history (kmock keeps every version of every object, which would
  make the 400-tenant bench measure the emulator's memory, not the operator's).

kmock is a development dependency: import this module only from tests and the bench.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import queue
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp.web
import jsonpatch  # kmock's own dependency for JSON patches
import kmock
from kmock._internal import dsl, k8s_dicts, parsing, rendering  # the request type of the overridden hook

from epj import contract
from epj.operator.crds import GROUP, VERSION, crd_manifests

#: How many versions of each object the emulator keeps (kmock keeps all by default).
HISTORY_KEPT = 2

#: How many served requests kmock may remember (see Emulator._forget_requests).
REQUESTS_KEPT = 8

#: Resources the operator reads or writes besides its own kinds, with kind names for discovery.
CORE_RESOURCES: dict[str, dict[str, Any]] = {
    "apiextensions.k8s.io/v1/customresourcedefinitions": {"kind": "CustomResourceDefinition", "namespaced": False},
    "v1/namespaces": {"kind": "Namespace", "namespaced": False},
    "v1/events": {"kind": "Event", "namespaced": True},
    "v1/configmaps": {"kind": "ConfigMap", "namespaced": True},
    "v1/pods": {"kind": "Pod", "namespaced": True},
    "batch/v1/jobs": {"kind": "Job", "namespaced": True, "subresources": {"status"}},
    # Scaled by the rollback through the scale subresource.
    "apps/v1/deployments": {"kind": "Deployment", "namespaced": True, "subresources": {"scale"}},
    "coordination.k8s.io/v1/leases": {"kind": "Lease", "namespaced": True},
}


class Emulator(kmock.KubernetesEmulator):  # type: ignore[misc]  # kmock ships no stubs for attrs classes
    """kmock's emulator with uids, resource versions, generations, generateName and bounded history."""

    _counter = itertools.count(1)

    #: The API server's admission chain (set by :class:`epj.operator.testing.LocalCluster`), called as the
    #: deployed webhook configurations say: every GoLiveApproval create or update, and a GoLive create or
    #: update that changes ``spec.resume`` (:func:`resume_changed`).
    #: ``await admission(operation, new_object, old_object)`` returns the object to store, or raises
    #: ``kmock.KubernetesError`` (403) to refuse it. None: objects are stored as sent.
    admission: Callable[[str, dict[str, Any], dict[str, Any] | None], Awaitable[dict[str, Any]]] | None = None

    async def _admit(self, request: rendering.Request) -> None:
        """Run the admission chain on a create or merge-patch (as the API server does)."""
        data = request.data
        plural = getattr(request.resource, "plural", None)
        if self.admission is None or plural not in ("goliveapprovals", "golives") or request.subresource is not None:
            return
        if isinstance(data, list) and plural == "golives":
            if any(str(op.get("path", "")).startswith("/spec") for op in data if isinstance(op, dict)):
                await self._admit_json_patch(request, data)
            return  # kopf's own metadata patches never reach the webhooks (nor cost a copy of the object)
        if not isinstance(data, dict):
            return
        if plural == "golives" and request.action == kmock.action.UPDATE and "spec" not in data:
            return
        if request.action == kmock.action.CREATE:
            operation, new, old = "CREATE", copy.deepcopy(data), None
        elif request.action == kmock.action.UPDATE and request.name is not None:
            current = self._current(request)
            if current is None:
                return
            operation, new, old = "UPDATE", _merged(current, data), copy.deepcopy(current)
        else:
            return
        if plural == "golives":
            if not resume_changed(new, old):
                return  # the webhooks' matchCondition: other GoLive writes never reach the operator
            new.setdefault("kind", "GoLive")  # the review names the kind whatever the client's body says
            admitted = await self.admission(operation, new, old)
            # Only what the webhook patches changes: the rest of the request stays as the client sent it.
            data.setdefault("spec", {})["resume"] = (admitted.get("spec") or {}).get("resume")
            return
        admitted = await self.admission(operation, new, old)
        data.clear()
        data.update(admitted)

    async def _admit_json_patch(self, request: rendering.Request, ops: list[Any]) -> None:
        """A JSON patch of a GoLive that changes ``spec.resume`` goes through the resume webhooks too."""
        current = self._current(request) if request.action == kmock.action.UPDATE and request.name else None
        if current is None:
            return
        try:
            new = jsonpatch.apply_patch(copy.deepcopy(current), ops)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
            return  # the store refuses it as it would without admission
        if not resume_changed(new, current):
            return
        admitted = await self.admission("UPDATE", new, copy.deepcopy(current)) if self.admission else new
        ops.append({"op": "add", "path": "/spec/resume", "value": (admitted.get("spec") or {}).get("resume")})

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        await self._admit(request)
        action, data = request.action, request.data
        if request.resource is not None and isinstance(data, dict):
            now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
            if action == kmock.action.CREATE:
                meta = data.setdefault("metadata", {})
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = f"{meta['generateName']}{secrets.token_hex(4)}"
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now)
                meta.setdefault("generation", 1)
                if request.namespace and not meta.get("namespace"):
                    meta["namespace"] = request.namespace
                meta["resourceVersion"] = str(next(self._counter))
            elif action == kmock.action.UPDATE and request.name is not None:
                meta = data.setdefault("metadata", {})
                meta["resourceVersion"] = str(next(self._counter))
                if "spec" in data and request.subresource is None:
                    current = self._current(request)
                    if current is not None and current.get("spec") != _merged(current.get("spec"), data["spec"]):
                        meta["generation"] = int(current.get("metadata", {}).get("generation", 1)) + 1
                if request.subresource == "status":
                    # A status patch changes only the status (as on a real API server).
                    request = _only_status(request, meta["resourceVersion"])
                elif request.subresource == "scale":
                    # A scale patch changes only spec.replicas (as on a real API server).
                    replicas = (data.get("spec") or {}).get("replicas")
                    data.clear()
                    data.update({"metadata": {"resourceVersion": meta["resourceVersion"]}})
                    if replicas is not None:
                        data["spec"] = {"replicas": replicas}
        elif (
            request.resource is not None
            and action == kmock.action.UPDATE
            and request.name is not None
            and isinstance(data, list)
        ):
            # A JSON patch (kopf's finalizers and annotations): bump the resource version too.
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": str(next(self._counter))})
        try:
            response: aiohttp.web.StreamResponse = await super()._handle(request)
            return response
        except jsonpatch.JsonPatchException as error:
            # As a real API server: a failed ``test`` op (a stale resourceVersion) is 422, which kopf expects.
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(error)) from None
        finally:
            self._trim(request)
            self._forget_requests()

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        """kmock's error answer, without a formatted traceback in every 404 (a GET before each create)."""
        if isinstance(exc, kmock.KubernetesError) and not exc.details:
            object.__setattr__(exc, "details", {"kind": type(exc).__name__})  # kmock's errors are frozen attrs
        response: aiohttp.web.StreamResponse = await super()._render_error(exc)
        return response

    def _forget_requests(self) -> None:
        """Drop kmock's log of served requests (kept for assertions we do not use).

        kmock scans that log when matching, so every request gets slower the longer the
        emulator runs (10 ms at first, 200 ms after a thousand requests).
        """
        for root in (self, self.fallback, self.fallback.fallback):
            log = getattr(root, "_requests", None)
            if log is not None and len(log) > REQUESTS_KEPT:
                del log[:-REQUESTS_KEPT]
            for payload in getattr(root, "_payloads", ()):
                log = getattr(payload, "_requests", None)
                if log is not None and len(log) > REQUESTS_KEPT:
                    del log[:-REQUESTS_KEPT]

    def _KubernetesEmulator__get_objs(self, request: rendering.Request, strict: bool) -> list[k8s_dicts.Object]:
        """kmock's object lookup, without comparing the request with every stored object.

        kmock scans all objects (and compares resources attribute by attribute) on every get,
        patch and list: with 400 tenants and their Jobs, pods and Events each request cost
        milliseconds and the bench measured the emulator. A named request with its namespace is
        one dict lookup (the key kmock itself stores objects under); other requests skip objects
        of other namespaces and names before the resource comparison. Same results as kmock's.
        """
        table: dict[Any, k8s_dicts.Object] = self._objects._objects
        if request.name is not None and (strict or request.namespace is not None):
            found = table.get((request.resource, request.namespace, request.name))
            return [found] if found is not None else []
        wanted_ns, wanted_name, resource = request.namespace, request.name, request.resource
        keys: Any = table if wanted_ns is None else self._keys_in(table, wanted_ns)
        return [
            table[key]
            for key in keys
            if (key[1] == wanted_ns if strict else wanted_ns is None or key[1] == wanted_ns)
            and (wanted_name is None or key[2] == wanted_name)
            and key[0] == resource
        ]

    def _keys_in(self, table: dict[Any, Any], namespace: str) -> list[Any]:
        """The object keys of one namespace (a tenant's Job pods are listed on every poll of its Job).

        kmock only appends keys (a deleted object stays, marked deleted) except through
        ``del emulator.objects[...]``: the index grows with the table and is rebuilt when a key went.
        """
        seen: int = getattr(self, "_indexed", 0)
        index: dict[str, list[Any]] = getattr(self, "_by_namespace", {})
        last = getattr(self, "_indexed_last", None)
        intact = 0 < seen <= len(table) and next(itertools.islice(table, seen - 1, None)) == last
        if not intact:
            seen, index = 0, {}
        if seen < len(table):
            for key in itertools.islice(table, seen, None):
                index.setdefault(key[1], []).append(key)
            object.__setattr__(self, "_by_namespace", index)
            object.__setattr__(self, "_indexed", len(table))
            object.__setattr__(self, "_indexed_last", next(reversed(table)))
        return index.get(namespace, [])

    def _get_resources(self) -> list[Any]:
        """kmock's known resources: the declared ones and those of stored objects (kmock collects the latter
        from every object on every list; here from the keys added since the last call, as in :meth:`_keys_in`)."""
        table: dict[Any, Any] = self._objects._objects
        seen: int = getattr(self, "_resources_indexed", 0)
        found: set[Any] = getattr(self, "_resources_found", set())
        last = getattr(self, "_resources_last", None)
        if not (0 < seen <= len(table) and next(itertools.islice(table, seen - 1, None)) == last):
            seen, found = 0, set()
        if seen < len(table):
            found.update(resource for resource, _, _ in itertools.islice(table, seen, None))
            object.__setattr__(self, "_resources_found", found)
            object.__setattr__(self, "_resources_indexed", len(table))
            object.__setattr__(self, "_resources_last", next(reversed(table)))
        declared: list[Any] = kmock.KubernetesScaffold._get_resources(self)
        return list({*declared, *found})

    def _current(self, request: rendering.Request) -> dict[str, Any] | None:
        key: Any = (request.resource, request.namespace, request.name)  # kmock's key type omits None parts
        if key not in self.objects or self.objects[key].deleted:
            return None
        raw: dict[str, Any] = self.objects[key].raw
        return raw

    def _trim(self, request: rendering.Request) -> None:
        if request.resource is None or request.action not in (
            kmock.action.CREATE,
            kmock.action.UPDATE,
            kmock.action.DELETE,
        ):
            return
        name = request.name
        if name is None and isinstance(request.data, dict):
            name = request.data.get("metadata", {}).get("name")
        key: Any = (request.resource, request.namespace, name)  # kmock's key type omits None parts
        if key in self.objects:
            history = self.objects[key].history
            if len(history) > HISTORY_KEPT:
                del history[:-HISTORY_KEPT]


def resume_changed(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """The resume webhooks' CEL ``matchConditions`` (:func:`epj.operator.deploy.webhook_manifests`), in Python.

    ``has(object.spec.resume) && (oldObject == null || !has(oldObject.spec.resume)
    || object.spec.resume != oldObject.spec.resume)``
    """
    resume = (new.get("spec") or {}).get("resume")
    if resume is None:
        return False
    before = ((old or {}).get("spec") or {}).get("resume") if old is not None else None
    return old is None or before is None or resume != before


def _merged(old: Any, patch: Any) -> Any:
    """What a JSON merge patch makes of ``old`` (to tell whether a spec patch changes the spec)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(old) if isinstance(old, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merged(result.get(key), value)
    return result


def _only_status(request: rendering.Request, resource_version: str) -> rendering.Request:
    data = request.data
    cleaned = {"status": data.get("status", {}), "metadata": {"resourceVersion": resource_version}}
    data.clear()
    data.update(cleaned)
    return request


def _parse_path(path: str) -> parsing.ParsedPath:
    """kmock 0.8's path parser, except that ``/api/v1/namespaces[/NAME[/status]]`` is the Namespace resource.

    kmock reads the ``namespaces`` segment as the start of a namespaced path and fails on
    ``GET /api/v1/namespaces`` (kopf lists and watches namespaces when given ``--namespace``).
    """
    parts = path.strip("/").split("/")
    core = parts[:2] == ["api", "v1"]
    rest = parts[2:] if core else parts[3:] if parts[:1] == ["apis"] else []
    is_namespace_object = rest[:1] == ["namespaces"] and (len(rest) <= 2 or rest[2] in ("status", "finalize"))
    if core and is_namespace_object:
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        return parsing.ParsedPath("", "v1", "namespaces", None, name, subresource)
    return _original_parse_path(path)


def _holds(view: Any, request: rendering.Request) -> bool | None:
    """Whether ``view`` sees ``request``, for the plain chains kmock builds its reactions from (None: other views).

    kmock answers ``request in view`` by filtering every remembered request through the view's
    criteria and then comparing identities; on every request, for each of its 14 reactions. Here
    the identity comes first and the criteria run once, on this request only: the same answer.
    """
    kind = type(view)
    if kind is dsl.Filter:
        inner = _holds(view._source, request)
        return inner if not inner else bool(view.criteria(request))
    if kind is dsl.Priority:
        return _holds(view._source, request)
    if isinstance(view, dsl.Root) and kind.__iter__ is dsl.Root.__iter__:
        return any(seen is request for seen in view._requests)
    return None


def _contains(self: dsl.View, item: Any) -> bool:
    if isinstance(item, rendering.Request):
        held = _holds(self, item)
        if held is not None:
            return held
    return bool(_original_contains(self, item))


_original_contains = dsl.View.__contains__
dsl.View.__contains__ = _contains  # type: ignore[method-assign]  # see _holds

_original_parse_path = parsing.parse_path
parsing.parse_path = _parse_path  # the module attribute is looked up at call time by kmock's request parser


def declare_resources(emulator: kmock.KubernetesEmulator) -> None:
    """Declare every resource the operator touches, with discovery info (kinds, scope, subresources)."""
    for key, info in CORE_RESOURCES.items():
        emulator.resources[key] = kmock.ResourceInfo(
            kind=info["kind"],
            namespaced=info["namespaced"],
            subresources=info.get("subresources", set()),
            verbs={"list", "watch", "get", "create", "patch", "delete"},
        )
    for crd in crd_manifests():
        names = crd["spec"]["names"]
        emulator.resources[f"{GROUP}/{VERSION}/{names['plural']}"] = kmock.ResourceInfo(
            kind=names["kind"],
            singular=names["singular"],
            namespaced=True,
            shortnames=set(names.get("shortNames", [])),
            categories=set(names.get("categories", [])),
            subresources={"status"},
            verbs={"list", "watch", "get", "create", "patch", "delete"},
        )
        emulator.objects["apiextensions.k8s.io/v1/customresourcedefinitions", None, crd["metadata"]["name"]] = crd


@contextmanager
def emulator_thread(namespace: str = contract.GOLIVE_NAMESPACE) -> Iterator[tuple[Emulator, str]]:
    """Serve the emulator from its own thread and event loop; yields ``(emulator, base_url)``.

    kopf, when it stops, waits for (and then cancels) every task created in its event loop
    after it started, which would include the emulator's streaming responses to kopf's own
    watches: five seconds of every operator stop. In its own loop the emulator is out of
    kopf's way, and it keeps serving across operator restarts.
    """
    started: queue.Queue[tuple[Emulator, str] | BaseException] = queue.Queue()
    from epj.operator.runner import new_event_loop

    loop = new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with start_emulator(namespace) as served:
                started.put(served)
                await stop.wait()
        except BaseException as error:  # report start-up failures to the caller's thread
            started.put(error)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), name="kmock-emulator", daemon=True)
    thread.start()
    result = started.get(timeout=30)
    if isinstance(result, BaseException):
        raise result
    try:
        yield result
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


@asynccontextmanager
async def start_emulator(namespace: str = contract.GOLIVE_NAMESPACE) -> AsyncIterator[tuple[Emulator, str]]:
    """Serve an emulator with the CRDs and ``namespace`` on loopback; yields ``(emulator, base_url)``."""
    async with Emulator() as emulator, kmock.Server(emulator) as server:
        declare_resources(emulator)
        emulator.objects["v1/namespaces", None, namespace] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "uid": str(uuid.uuid4())},
        }
        yield emulator, str(server.url).rstrip("/")
