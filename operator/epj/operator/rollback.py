"""Cutover rollback in the tenant's namespace (``epj golive rollback --tenant TENANT``, the rollback Job).

DESIGN §4: on a failed cutover the tenant goes back to the legacy system. From inside the
cluster we can do half of it: turn the tenant's traffic off the new EPJ by scaling its clinical
Deployments (``epj.no/component=app``) to zero through the ``deployments/scale`` subresource
(the rollback role may not patch anything else of a Deployment), printing the replica counts it
found so the way back is known (``pulumi up`` restores the declared ones). Setting the legacy
system back to read-write is outside our reach:
the command prints the exact instruction and succeeds, so the operator holds the tenant
(RolledBack) until a person resumes it. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from epj.operator.kube import KubeClient, Resource

DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
APP_LABEL, APP_VALUE = "epj.no/component", "app"
APP_SELECTOR = f"{APP_LABEL}={APP_VALUE}"


@dataclass(frozen=True)
class RollbackOutcome:
    tenant: str
    namespace: str
    scaled: list[str]
    already_off: list[str]
    replicas_before: dict[str, int] | None = None

    def instruction(self) -> str:
        return (
            f"ACTION REQUIRED: set the legacy record system of kommune {self.tenant} back to read-write "
            "(runbooks/process/rollback.md), then tell the staff to use it again; "
            f"the new EPJ stays off until 'epj golive resume --tenant {self.tenant}'."
        )

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "tenant": self.tenant,
            "namespace": self.namespace,
            "traffic": "off",
            "scaled_to_zero": self.scaled,
            "already_off": self.already_off,
            "replicas_before": dict(sorted((self.replicas_before or {}).items())),
            "legacy_read_write": "manual",
        }
        return json.dumps(data, sort_keys=True)


#: Where a container's termination message goes (Kubernetes' default ``terminationMessagePath``).
TERMINATION_LOG = "/dev/termination-log"


async def rollback(
    client: KubeClient, tenant: str, namespace: str, *, record: Callable[[str], None] | None = None
) -> RollbackOutcome:
    """Scale every clinical Deployment of ``namespace`` to zero (idempotent), recording the old replica count.

    The replica counts are recorded (``record``: the rollback Job's termination message) BEFORE anything
    is scaled, so ``epj golive resume`` can give them back even if the Job dies half-way.
    """
    already_off: list[str] = []
    before: dict[str, int] = {}
    for deployment in await client.list(DEPLOYMENTS, namespace, label_selector=APP_SELECTOR):
        meta = deployment["metadata"]
        if (meta.get("labels") or {}).get(APP_LABEL) != APP_VALUE:  # the selector is the server's; check anyway
            continue
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        if replicas == 0:
            already_off.append(meta["name"])
        else:
            before[meta["name"]] = replicas
    planned = RollbackOutcome(tenant, namespace, sorted(before), sorted(already_off), before)
    if record is not None:
        record(planned.to_json())
    for name in sorted(before):
        await client.patch(DEPLOYMENTS, namespace, name, {"spec": {"replicas": 0}}, subresource="scale")
    return planned


def record_to_termination_log(text: str) -> None:
    """Write ``text`` as this container's termination message when running in a pod (no-op elsewhere)."""
    if os.path.exists(TERMINATION_LOG) and os.access(TERMINATION_LOG, os.W_OK):
        with open(TERMINATION_LOG, "w", encoding="utf-8") as log:
            log.write(text)


def recorded_replicas(termination_message: str | None) -> dict[str, int]:
    """The replicas a rollback recorded (its termination message), name → replicas; empty when unreadable."""
    try:
        data = json.loads(termination_message or "")
    except ValueError:
        return {}
    before = data.get("replicas_before") if isinstance(data, dict) else None
    if not isinstance(before, dict):
        return {}
    return {str(k): int(v) for k, v in before.items() if isinstance(v, int) and v > 0}


async def restore(client: KubeClient, namespace: str, replicas: dict[str, int]) -> dict[str, int]:
    """Give back the recorded replicas to Deployments still at zero (through ``scale``); name → replicas."""
    restored: dict[str, int] = {}
    current = {d["metadata"]["name"]: d for d in await client.list(DEPLOYMENTS, namespace, label_selector=APP_SELECTOR)}
    for name, count in sorted(replicas.items()):
        deployment = current.get(name)
        if deployment is None or int((deployment.get("spec") or {}).get("replicas", 0)) != 0:
            continue  # gone, or someone already scaled it: never override a person
        await client.patch(DEPLOYMENTS, namespace, name, {"spec": {"replicas": count}}, subresource="scale")
        restored[name] = count
    return restored
