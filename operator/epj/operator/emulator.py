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

import copy
import datetime as dt
import itertools
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp.web
import kmock
from kmock._internal import parsing, rendering  # the request type of the overridden hook; see _fix_paths

from epj.operator.crds import GROUP, VERSION, crd_manifests

#: How many versions of each object the emulator keeps (kmock keeps all by default).
HISTORY_KEPT = 2

#: Resources the operator reads or writes besides its own kinds, with kind names for discovery.
CORE_RESOURCES: dict[str, dict[str, Any]] = {
    "apiextensions.k8s.io/v1/customresourcedefinitions": {"kind": "CustomResourceDefinition", "namespaced": False},
    "v1/namespaces": {"kind": "Namespace", "namespaced": False},
    "v1/events": {"kind": "Event", "namespaced": True},
    "v1/configmaps": {"kind": "ConfigMap", "namespaced": True},
    "v1/pods": {"kind": "Pod", "namespaced": True},
    "batch/v1/jobs": {"kind": "Job", "namespaced": True, "subresources": {"status"}},
    "coordination.k8s.io/v1/leases": {"kind": "Lease", "namespaced": True},
}


class Emulator(kmock.KubernetesEmulator):  # type: ignore[misc]  # kmock ships no stubs for attrs classes
    """kmock's emulator with uids, resource versions, generations, generateName and bounded history."""

    _counter = itertools.count(1)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
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
        try:
            response: aiohttp.web.StreamResponse = await super()._handle(request)
            return response
        finally:
            self._trim(request)

    def _current(self, request: rendering.Request) -> dict[str, Any] | None:
        key = (request.resource, request.namespace, request.name)
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
        key = (request.resource, request.namespace, name)
        if key in self.objects:
            history = self.objects[key].history
            if len(history) > HISTORY_KEPT:
                del history[:-HISTORY_KEPT]


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


@asynccontextmanager
async def start_emulator(namespace: str = "epj-golive") -> AsyncIterator[tuple[Emulator, str]]:
    """Serve an emulator with the CRDs and ``namespace`` on loopback; yields ``(emulator, base_url)``."""
    async with Emulator() as emulator, kmock.Server(emulator) as server:
        declare_resources(emulator)
        emulator.objects["v1/namespaces", None, namespace] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "uid": str(uuid.uuid4())},
        }
        yield emulator, str(server.url).rstrip("/")
