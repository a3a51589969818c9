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


async def rollback(client: KubeClient, tenant: str, namespace: str) -> RollbackOutcome:
    """Scale every clinical Deployment of ``namespace`` to zero (idempotent), recording the old replica count."""
    scaled: list[str] = []
    already_off: list[str] = []
    before: dict[str, int] = {}
    for deployment in await client.list(DEPLOYMENTS, namespace, label_selector=APP_SELECTOR):
        meta = deployment["metadata"]
        if (meta.get("labels") or {}).get(APP_LABEL) != APP_VALUE:  # the selector is the server's; check anyway
            continue
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        if replicas == 0:
            already_off.append(meta["name"])
            continue
        await client.patch(DEPLOYMENTS, namespace, meta["name"], {"spec": {"replicas": 0}}, subresource="scale")
        scaled.append(meta["name"])
        before[meta["name"]] = replicas
    return RollbackOutcome(tenant, namespace, sorted(scaled), sorted(already_off), before)
