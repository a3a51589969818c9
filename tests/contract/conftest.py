"""The prod render, run once under Pulumi mocks, and helpers to read it as a deployed system."""

from __future__ import annotations

import re
from typing import Any

import pytest

from epj.infra.render import render_objects

Obj = dict[str, Any]


@pytest.fixture(scope="session")
def prod_objects() -> list[Obj]:
    """Everything `epj render --env prod` deploys (tenant files as committed)."""
    return render_objects("prod")


class Helpers:
    """The helpers below as a fixture (tests are imported by path, not as a package)."""

    def __init__(self) -> None:
        self.of_kind = of_kind
        self.selector_matches = selector_matches
        self.monitor_namespaces = monitor_namespaces
        self.placeholder_args = placeholder_args
        self.scrape_targets = scrape_targets


@pytest.fixture(scope="session")
def helpers() -> Helpers:
    return Helpers()


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions), written out here."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def monitor_namespaces(monitor: Obj) -> set[str] | None:
    """Namespaces a monitor selects from (None: any)."""
    sel = monitor["spec"].get("namespaceSelector") or {}
    if sel.get("any"):
        return None
    return set(sel.get("matchNames") or [monitor["metadata"]["namespace"]])


def placeholder_args(command: str) -> str:
    """Runbook placeholders (``<KOMMUNENR>``, ``<pod>``) replaced by plausible values for parsing."""
    command = command.replace("<KOMMUNENR>", "5035").replace("<kommunenummer>", "5035")
    return re.sub(r"<[^<>]+>", "x", command)


def _pod_template(deployment: Obj) -> tuple[dict[str, str], Obj]:
    template = deployment["spec"]["template"]
    return dict(template["metadata"].get("labels") or {}), template["spec"]


def scrape_targets(objs: list[Obj]) -> list[dict[str, Any]]:
    """What Prometheus (prometheus-operator) would scrape from the rendered monitors.

    One entry per (monitor endpoint, Deployment whose pods it selects and that has the named port):
    ``job`` (prometheus-operator: the value of the pod/service label named by ``jobLabel``, else
    ``<namespace>/<PodMonitor name>`` or the Service name), ``namespace``, ``deployment``, ``port``
    (container port number), ``path`` and the static labels the relabelings set.
    """
    deployments = of_kind(objs, "Deployment")
    services = of_kind(objs, "Service")
    out: list[dict[str, Any]] = []
    for monitor in of_kind(objs, "PodMonitor") + of_kind(objs, "ServiceMonitor"):
        spec, namespaces = monitor["spec"], monitor_namespaces(monitor)
        endpoints = spec.get("podMetricsEndpoints") or spec.get("endpoints") or []
        for dep in deployments:
            ns = dep["metadata"]["namespace"]
            if namespaces is not None and ns not in namespaces:
                continue
            labels, pod = _pod_template(dep)
            job_source = labels
            if monitor["kind"] == "PodMonitor":
                if not selector_matches(spec["selector"], labels):
                    continue
                default_job = f"{monitor['metadata']['namespace']}/{monitor['metadata']['name']}"
                port_names = {p.get("name"): p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])}
                resolve = port_names.get
            else:
                svc = next(
                    (
                        s
                        for s in services
                        if s["metadata"]["namespace"] == ns
                        and selector_matches(spec["selector"], s["metadata"].get("labels") or {})
                        and selector_matches({"matchLabels": s["spec"].get("selector") or {}}, labels)
                    ),
                    None,
                )
                if svc is None:
                    continue
                job_source = svc["metadata"].get("labels") or {}
                default_job = svc["metadata"]["name"]
                container_ports = {
                    p.get("name"): p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])
                }
                svc_ports = {p.get("name"): p.get("targetPort") for p in svc["spec"]["ports"]}

                def resolve(name: str, _s: dict = svc_ports, _c: dict = container_ports) -> int | None:
                    target = _s.get(name)
                    return _c.get(target) if isinstance(target, str) else target

            job = job_source.get(spec["jobLabel"]) if spec.get("jobLabel") else default_job
            for endpoint in endpoints:
                port = resolve(endpoint["port"])
                if port is None:
                    continue
                static = {
                    r["targetLabel"]: r["replacement"]
                    for r in endpoint.get("relabelings") or []
                    if r.get("action", "replace") == "replace" and "replacement" in r and not r.get("sourceLabels")
                }
                out.append(
                    {
                        "job": static.pop("job", job),
                        "namespace": ns,
                        "deployment": dep["metadata"]["name"],
                        "port": port,
                        "path": endpoint.get("path", "/metrics"),
                        "labels": static,
                        "pod_labels": labels,
                    }
                )
    return out
