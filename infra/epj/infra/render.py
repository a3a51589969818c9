"""``epj render``: run the Pulumi program under mocks and capture what it registers.

No Pulumi CLI, no cluster: :func:`run_program` installs ``pulumi.runtime.set_mocks``
with mocks that echo every resource's inputs back, feeds the stack file's config
in, and calls the same :func:`epj.infra.program.main` that ``pulumi up`` runs. The
Kubernetes objects are exactly the inputs Pulumi would send to the provider.
Generated passwords are replaced by :data:`PASSWORD_PLACEHOLDER`: a rendered file
never holds a real secret.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epj.infra.config import BACKUP_CREDENTIALS_KEY, PROJECT, load_stack_config, read_stack_values
from epj.tenants import TenantSet, load_tenants
from epj.tenants.provisioned import Registry

Manifest = dict[str, Any]

PASSWORD_PLACEHOLDER = "generated-by-pulumi-random-at-deploy-time"
# Pulumi marks secret values on the wire with this signature key/value (see pulumi.runtime.rpc).
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

# Kind order inside a rendered file: what a reviewer (and `kubectl apply -f`) wants first.
_KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "Role",
    "RoleBinding",
    "Secret",
    "Cluster",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "ServiceMonitor",
    "PodMonitor",
    "PrometheusRule",
)


@dataclass(frozen=True)
class Registration:
    """One resource the program registered: Pulumi type token, logical name and inputs as sent."""

    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    #: Resource options as the engine received them (``protect``, ``retainOnDelete``).
    protect: bool = False
    retain_on_delete: bool = False
    #: The provider reference the engine received (``urn::id``; empty: the default provider).
    provider: str = ""

    @property
    def is_kubernetes(self) -> bool:
        return self.custom and self.type.startswith("kubernetes:") and not self.type.startswith("pulumi:providers")


def _clean(value: Any) -> Any:
    """Undo the wire format: unwrap secrets, turn whole floats back into ints (protobuf Struct has only doubles)."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG_KEY) == _SECRET_SIG and "value" in value:
            return _clean(value["value"])
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: What a render shows instead of a tenant's object-store key (the real ones are Pulumi secrets).
BACKUP_KEY_PLACEHOLDER = "pulumi-secret-backupCredentials"


def _stack_config_strings(environment: str, tenants: TenantSet) -> dict[str, str]:
    """The stack file's config as the Pulumi engine would hand it to the program (JSON for lists).

    The secret ``backupCredentials`` is never in a render: every tenant gets a placeholder key.
    """
    placeholder = {"accessKeyId": BACKUP_KEY_PLACEHOLDER, "secretAccessKey": BACKUP_KEY_PLACEHOLDER}
    out: dict[str, str] = {
        f"{PROJECT}:{BACKUP_CREDENTIALS_KEY}": json.dumps({t.kommunenummer: placeholder for t in tenants.tenants})
    }
    for key, value in read_stack_values(environment).items():
        if isinstance(value, str):
            out[f"{PROJECT}:{key}"] = value
        else:
            out[f"{PROJECT}:{key}"] = json.dumps(value)
    return out


def run_program(
    environment: str, tenants: TenantSet | None = None, registry: Registry | None = None, today: dt.date | None = None
) -> list[Registration]:
    """Run :func:`epj.infra.program.main` for one stack under Pulumi mocks; return every registration.

    ``registry`` replaces the environment's provisioned record (tests; default: the committed file),
    ``today`` the date leaving records are checked against.
    Raises ``TenantSetInvalid`` (nothing is run) when the tenant files have errors or would drop a
    provisioned tenant,
    and ``InfraConfigError`` when the stack file is wrong. Safe to call from async code:
    Pulumi drives its own event loop, so then the run happens in a worker thread.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        try:
            asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:  # an earlier asyncio.run() in this thread unset the loop Pulumi's mocks use
            asyncio.set_event_loop(asyncio.new_event_loop())
        return _run_program(environment, tenants, registry, today)
    from concurrent.futures import ThreadPoolExecutor

    def in_thread() -> list[Registration]:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return _run_program(environment, tenants, registry, today)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="epj-render") as pool:
        return pool.submit(in_thread).result()


def _run_program(
    environment: str, tenants: TenantSet | None, registry: Registry | None, today: dt.date | None
) -> list[Registration]:
    import pulumi
    from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, set_all_config, set_mocks
    from pulumi.runtime.mocks import MockMonitor

    from epj.infra.program import main

    load_stack_config(environment)  # fail on a bad stack file with its own message
    tenant_set = tenants if tenants is not None else load_tenants()
    seen: list[Registration] = []

    class EchoMocks(Mocks):
        """Echo inputs as outputs; a RandomPassword gets a placeholder, never a generated secret."""

        def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
            state = dict(args.inputs)
            if args.typ == "random:index/randomPassword:RandomPassword":
                state["result"] = PASSWORD_PLACEHOLDER
                state["bcryptHash"] = PASSWORD_PLACEHOLDER
            seen.append(Registration(args.typ, args.name, _clean(args.inputs), bool(args.custom)))
            return f"{args.name}-id", state

        def call(self, args: MockCallArgs) -> tuple[dict[str, Any], None]:
            return {}, None

    options: dict[tuple[str, str], tuple[bool, bool, str]] = {}

    class OptionsMonitor(MockMonitor):  # type: ignore[misc]  # pulumi's mocks are unannotated
        """Also record the resource options the engine would persist (protect, retainOnDelete)."""

        def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
            options[(request.type, request.name)] = (
                bool(request.protect),
                bool(request.retainOnDelete),
                str(request.provider or ""),
            )
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]  # unannotated upstream

    mocks = EchoMocks()
    set_mocks(mocks, project=PROJECT, stack=environment, preview=False, monitor=OptionsMonitor(mocks))
    set_all_config(_stack_config_strings(environment, tenant_set), [f"{PROJECT}:{BACKUP_CREDENTIALS_KEY}"])
    # pulumi.runtime.test runs the program and waits for every registration to finish.
    pulumi.runtime.test(lambda: main(tenants=tenant_set, registry=registry, today=today))()  # type: ignore[no-untyped-call]  # unannotated
    with_options = [
        Registration(r.type, r.name, r.inputs, r.custom, *options.get((r.type, r.name), (False, False, "")))
        for r in seen
    ]
    return sorted(with_options, key=lambda r: (r.type, r.name))


def _sort_key(obj: Manifest) -> tuple[str, int, str]:
    meta = obj["metadata"]
    kind = obj["kind"]
    order = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    return (meta.get("namespace", meta["name"] if kind == "Namespace" else ""), order, meta["name"])


_TOP_KEYS = ("apiVersion", "kind", "metadata")
_META_KEYS = ("name", "namespace", "labels", "annotations")


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def canonical(obj: Manifest) -> Manifest:
    """The object with a fixed key order: apiVersion, kind, metadata (name first), then the rest sorted.

    The wire format does not keep key order; a fixed order makes renders diffable and byte-stable.
    """
    rest = _sorted_keys({k: v for k, v in obj.items() if k not in _TOP_KEYS})
    meta = obj.get("metadata", {})
    ordered_meta = {k: _sorted_keys(meta[k]) for k in _META_KEYS if k in meta}
    ordered_meta.update(_sorted_keys({k: v for k, v in meta.items() if k not in _META_KEYS}))
    head = {k: obj[k] for k in ("apiVersion", "kind") if k in obj}
    return {**head, "metadata": ordered_meta, **rest}


def objects_from(registrations: Iterable[Registration]) -> list[Manifest]:
    """The Kubernetes objects among the registrations, in a stable order (by namespace, kind, name)."""
    return sorted((canonical(r.inputs) for r in registrations if r.is_kubernetes), key=_sort_key)


def render_objects(environment: str, tenants: TenantSet | None = None) -> list[Manifest]:
    """Every Kubernetes object the program creates for one environment, as plain dicts.

    ``tenants`` defaults to the tenant files; pass e.g. ``load_tenants().with_option_called("5049")``
    to preview an option. Platform objects have no namespace or the operator/monitoring namespace;
    tenant objects live in ``kommune-<kommunenummer>``.
    """
    return objects_from(run_program(environment, tenants))


def group_by_file(objs: Sequence[Manifest], tenant_namespaces: Iterable[str]) -> dict[str, list[Manifest]]:
    """``{file name: objects}``: one file per tenant namespace (``kommune-5035.yaml``), the rest in platform.yaml."""
    tenant_ns = set(tenant_namespaces)
    files: dict[str, list[Manifest]] = {}
    for obj in objs:
        meta = obj["metadata"]
        ns = meta["name"] if obj["kind"] == "Namespace" else meta.get("namespace")
        key = f"{ns}.yaml" if ns in tenant_ns else "platform.yaml"
        files.setdefault(key, []).append(obj)
    return dict(sorted(files.items()))


def to_yaml(objs: Sequence[Manifest]) -> str:
    """Multi-document YAML, keys in the order the program wrote them."""
    import yaml

    return "".join(
        "---\n" + yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, default_flow_style=False) for obj in objs
    )


def write_rendered(files: dict[str, list[Manifest]], out: Path, prune: bool = True) -> list[Path]:
    """Write the files into ``out``; with ``prune``, stale ``kommune-*.yaml``/``platform.yaml`` files go away."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("kommune-*.yaml"), out / "platform.yaml"]:
        if prune and stale.is_file() and stale.name not in files:
            stale.unlink()
    written = []
    for name, objs in files.items():
        path = out / name
        path.write_text(to_yaml(objs), encoding="utf-8")
        written.append(path)
    return written
