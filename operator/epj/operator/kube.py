"""A tiny async Kubernetes API client (aiohttp) for the operator's own writes, the CLI and the tests.

Why not the ``kubernetes`` package: it is not a dependency, and kopf already brings
aiohttp and knows how to read a kubeconfig or a service account
(``kopf.login_with_kubeconfig`` / ``kopf.login_with_service_account``), so this
client only turns a :class:`kopf.ConnectionInfo` into an HTTP session and speaks
JSON merge patches. Objects are plain dicts, as kopf hands them to handlers.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from epj.operator.crds import GROUP, VERSION

Body = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """A Kubernetes resource by group, version and plural (``group=''`` for the core API)."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [base]
        if namespace is not None:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
        if subresource is not None:
            parts.append(subresource)
        return "/".join(parts)


ROLLOUT_WAVES = Resource(GROUP, VERSION, "rolloutwaves", "RolloutWave")
GOLIVES = Resource(GROUP, VERSION, "golives", "GoLive")
APPROVALS = Resource(GROUP, VERSION, "goliveapprovals", "GoLiveApproval")
MIGRATION_JOBS = Resource(GROUP, VERSION, "migrationjobs", "MigrationJob")
JOBS = Resource("batch", "v1", "jobs", "Job")
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
EVENTS = Resource("", "v1", "events", "Event")
NAMESPACES = Resource("", "v1", "namespaces", "Namespace")


class ApiError(RuntimeError):
    """A non-2xx answer from the API server, with its status code and the server's message."""

    def __init__(self, status: int, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status


class KubeClient:
    """JSON over HTTP to one API server. Use as ``async with KubeClient(...) as client``."""

    def __init__(
        self,
        server: str,
        *,
        headers: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | bool | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self._headers = dict(headers or {})
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_connection(cls, info: Any) -> KubeClient:
        """Build from a ``kopf.ConnectionInfo`` (token or basic auth, CA, client certificate)."""
        headers: dict[str, str] = {}
        if info.token:
            headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        elif info.username and info.password:
            pair = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        context: ssl.SSLContext | bool | None = None
        if info.server.startswith("https"):
            if info.insecure:
                context = False
            else:
                context = ssl.create_default_context(
                    cafile=info.ca_path or None, cadata=_text(info.ca_data) if info.ca_data else None
                )
                cert, key = (
                    _file(info.certificate_path, info.certificate_data),
                    _file(info.private_key_path, info.private_key_data),
                )
                if cert:
                    context.load_cert_chain(cert, key)
        return cls(info.server, headers=headers, ssl_context=context)

    async def __aenter__(self) -> KubeClient:
        self._session = aiohttp.ClientSession(
            headers={**self._headers, "User-Agent": "epj-golive-operator"},
            timeout=aiohttp.ClientTimeout(total=30),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json", answer: bool = True
    ) -> Body:
        """One API call; the decoded answer (``answer=False``: not decoded, ``{}``, for writers that never read it)."""
        if self._session is None:
            raise RuntimeError("KubeClient is not open (use `async with`)")
        kwargs: dict[str, Any] = {"ssl": self._ssl} if self._ssl is not None else {}
        if body is not None:
            kwargs["json"] = body
            kwargs["headers"] = {"Content-Type": content_type}
        async with self._session.request(method, self.server + path, **kwargs) as response:
            raw = await response.read()
            if response.status >= 400:
                raise ApiError(response.status, method, path, _error_message(raw, response.reason))
            if not answer or (method == "DELETE" and not raw.strip()):
                return {}
            # orjson: the wave and GoLive objects are read on every reconcile; it decodes them several times faster.
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
            if not isinstance(data, dict):
                # An API server answers with an object; anything else comes from something in between (a proxy's
                # login or error page, a wrong --server). Said as an API error, not taken as an empty object.
                raise ApiError(
                    response.status,
                    method,
                    path,
                    f"the answer is not a Kubernetes object (not the API server, or a proxy's page?): {_snippet(raw)}",
                )
            return data

    async def get(self, resource: Resource, namespace: str | None, name: str) -> Body | None:
        """The object, or None when it does not exist."""
        try:
            return await self.request("GET", resource.path(namespace, name))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[Body]:
        path = resource.path(namespace)
        if label_selector:
            path += "?labelSelector=" + urllib.parse.quote(label_selector)
        data = await self.request("GET", path)
        items: list[Body] = data.get("items", [])
        return items

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[Body]:
        """The events (``{"type", "object"}``) of one watch request, until the server ends the stream.

        Without ``resource_version`` the server first sends every existing object as ``ADDED`` (the
        watch's own initial list). Bookmarks are asked for, so a reconnect can resume where it left off.
        """
        if self._session is None:
            raise RuntimeError("KubeClient is not open (use `async with`)")
        params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        if label_selector:
            params["labelSelector"] = label_selector
        if resource_version:
            params["resourceVersion"] = resource_version
        path = resource.path(namespace) + "?" + urllib.parse.urlencode(params)
        kwargs: dict[str, Any] = {"ssl": self._ssl} if self._ssl is not None else {}
        # The server ends the stream after timeoutSeconds; a silent connection beyond that is dead.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=timeout_seconds + 30)
        async with self._session.get(self.server + path, timeout=timeout, **kwargs) as response:
            if response.status >= 400:
                raise ApiError(response.status, "WATCH", path, _error_message(await response.read(), response.reason))
            async for line in response.content:
                if line.strip():
                    event: Body = orjson.loads(line)
                    yield event

    async def create(self, resource: Resource, namespace: str | None, body: Body) -> Body:
        """Create ``body``. Raises :class:`ApiError` with status 409 if it already exists."""
        body = {"apiVersion": resource.api_version, "kind": resource.kind, **body}
        return await self.request("POST", resource.path(namespace), body)

    async def ensure(self, resource: Resource, namespace: str | None, body: Body) -> tuple[Body, bool]:
        """Create ``body`` unless an object of that name exists: ``(object, created)``. Idempotent."""
        name = body["metadata"]["name"]
        existing = await self.get(resource, namespace, name)
        if existing is not None:
            return existing, False
        try:
            return await self.create(resource, namespace, body), True
        except ApiError as error:
            if error.status != 409:
                raise
            found = await self.get(resource, namespace, name)
            if found is None:
                raise
            return found, False

    async def patch(
        self, resource: Resource, namespace: str | None, name: str, patch: Body, *, subresource: str | None = None
    ) -> Body:
        """JSON merge patch of the object (spec, metadata), or of one of its subresources (e.g. ``scale``)."""
        path = resource.path(namespace, name, subresource) if subresource else resource.path(namespace, name)
        return await self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    async def patch_status(
        self, resource: Resource, namespace: str | None, name: str, status: Body, *, answer: bool = True
    ) -> Body:
        """JSON merge patch of the ``status`` subresource (``None`` values delete keys)."""
        path = resource.path(namespace, name, "status")
        return await self.request(
            "PATCH", path, {"status": status}, content_type="application/merge-patch+json", answer=answer
        )

    async def delete(
        self, resource: Resource, namespace: str | None, name: str, *, propagation: str | None = None
    ) -> None:
        """Delete (absent is fine). ``propagation`` e.g. ``Background``: a batch Job's pods go too."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation} if propagation else None
        try:
            await self.request("DELETE", resource.path(namespace, name), body)
        except ApiError as error:
            if error.status != 404:
                raise


def _text(data: str | bytes) -> str:
    raw = data if isinstance(data, bytes) else data.encode()
    try:
        return base64.b64decode(raw, validate=True).decode()
    except ValueError:
        return raw.decode()


def _file(path: Any, data: str | bytes | None) -> str | None:
    """A certificate or key as a file path (ssl wants files); inline data goes to a private temp file."""
    if path:
        return str(path)
    if not data:
        return None
    handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115  # kept for ssl
    with handle:
        handle.write(_text(data))
    return handle.name


def _one_line(raw: bytes) -> str:
    """An answer as one line of text (a proxy's HTML page may be long, binary or not UTF-8)."""
    return " ".join(raw.decode("utf-8", errors="replace").split())


def _snippet(raw: bytes) -> str:
    """The start of an answer, quoted."""
    text = _one_line(raw)
    return repr(text[:120]) if text else "(empty)"


def _error_message(raw: bytes, reason: str | None) -> str:
    """The server's message from an error answer: a Status object's ``message``, else the start of the body."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:300]
    return (_one_line(raw) or reason or "no message")[:300]


async def connect(server: str | None = None) -> KubeClient:
    """A client for ``server`` (tests, the bench) or for the cluster in kubeconfig / the service account."""
    if server is not None:
        return KubeClient(server)
    import kopf

    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise RuntimeError("no Kubernetes credentials: set KUBECONFIG or ~/.kube/config (or run in a pod)")
    return KubeClient.from_connection(info)
