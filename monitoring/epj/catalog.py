"""The service catalog: one file that names every clinical service and integration.

Tenants pick services from it, infra deploys the ``deployed`` ones, monitoring
generates SLO rules, alerts, dashboards and routes from it. Keeping it one typed
model means a service renamed here fails validation everywhere at once instead of
silently dropping out of alerting.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from epj.paths import service_catalog_path


class Criticality(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Strict):
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str


class LatencyObjective(_Strict):
    threshold_seconds: float = Field(gt=0)
    objective: float = Field(gt=0, lt=1)


class Slo(_Strict):
    availability: float = Field(gt=0, lt=1)
    latency: LatencyObjective
    min_requests_per_hour: int = Field(
        default=300,
        gt=0,
        description=(
            "Low-traffic guard: a tenant's own burn-rate alert needs at least this request rate (per hour, "
            "averaged over the alert's long window); quieter tenants are pooled (see epj.monitoring.rules)."
        ),
    )


class Freshness(_Strict):
    last_success_max_seconds: int = Field(gt=0)
    oldest_unacknowledged_max_seconds: int | None = Field(default=None, gt=0)


class Service(_Strict):
    name: str = ""
    title: str
    description: str
    criticality: Criticality
    hours: Literal["24/7", "07-23", "business"]
    deployed: bool
    kind: Literal["app", "integration"] = "app"
    image: str | None = None
    port: int | None = None
    health_path: str | None = None
    public: bool = False
    resources: Resources | None = None
    replicas_per_1000_users: float = 1
    depends_on: tuple[str, ...] = ()
    egress: tuple[str, ...] = ()
    slo: Slo
    freshness: Freshness | None = None
    metrics: dict[str, str]


class ServiceCatalog(_Strict):
    version: int
    services: dict[str, Service]

    def names(self) -> tuple[str, ...]:
        return tuple(self.services)

    def deployed(self) -> dict[str, Service]:
        return {name: svc for name, svc in self.services.items() if svc.deployed}


def parse_catalog(raw: object) -> ServiceCatalog:
    """Validate a catalog document; each service learns its own name from its key."""
    catalog = ServiceCatalog.model_validate(raw)
    named = {key: svc.model_copy(update={"name": key}) for key, svc in catalog.services.items()}
    for key, svc in named.items():
        if svc.deployed and (svc.image is None or svc.port is None or svc.resources is None):
            raise ValueError(f"service {key}: a deployed service needs image, port and resources")
        for dep in svc.depends_on:
            if dep != "database" and dep not in named:
                raise ValueError(f"service {key}: depends_on names unknown service {dep!r}")
    return catalog.model_copy(update={"services": named})


def load_catalog(path: Path | None = None) -> ServiceCatalog:
    """Read the catalog file (default: the repository's monitoring/service-catalog.yaml)."""
    return _load_cached(path or service_catalog_path())


@lru_cache(maxsize=4)
def _load_cached(path: Path) -> ServiceCatalog:
    with path.open(encoding="utf-8") as fh:
        return parse_catalog(yaml.safe_load(fh))
