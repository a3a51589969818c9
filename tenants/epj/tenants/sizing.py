"""How big a municipality's slice of the platform is: quota, limits, database and replicas.

One pure function, :func:`tenant_sizing`, turns a tenant (population, expected end
users, chosen services) and the service catalog into numbers. The Pulumi program
turns those numbers into ResourceQuota, LimitRange, the CloudNativePG ``Cluster``
and Deployments; the cost report turns the same numbers into a showback. Keeping
the rules in one place means the bill and the cluster can never disagree.

All numbers are integers in base units (CPU in millicores, memory in MiB, storage
in GiB); :func:`cpu_quantity`, :func:`memory_quantity` and :func:`storage_quantity`
format them as Kubernetes quantity strings. This module is domain core: no Pulumi,
no Kubernetes client.

The rules (deliberately simple, so a municipality can check its own bill):

- **Replicas** of each deployed service the tenant chose:
  ``ceil(expected_end_users / 1000 * replicas_per_1000_users)``, at least
  :data:`MIN_REPLICAS` for its criticality (critical and high services always run
  two, so a node drain never takes them down), at most :data:`MAX_REPLICAS`.
- **PostgreSQL** (CloudNativePG): three instances from :data:`DB_THREE_INSTANCES_FROM_USERS`
  expected end users, else two (primary + standby). Storage per instance
  ``10 GiB + 1 GiB per 1,000 inhabitants``, rounded up to 5 GiB. CPU request
  ``500m + 100m per started 100 end users`` (max 4 cores), limit twice that;
  memory ``1 GiB + 256 MiB per started 100 end users`` (max 16 GiB), request = limit
  (Guaranteed QoS: the database is the last thing the kubelet should evict).
- **ResourceQuota**: the services (plus one surge pod per Deployment for rolling
  updates), the database instances and room for :data:`MIGRATION_JOBS` migration
  Jobs; storage is the database volumes plus the migration's volumes (extract and
  report, :data:`MIGRATION_VOLUMES` claims) sharing one database volume's size.
- **LimitRange**: defaults for a container that states nothing (100m/128Mi
  requested, 500m/512Mi limit) and a per-container maximum equal to the largest
  container this tenant legitimately runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from epj.catalog import Criticality, Service, ServiceCatalog
from epj.tenants.model import Tenant

MIN_REPLICAS: dict[Criticality, int] = {
    Criticality.critical: 2,
    Criticality.high: 2,
    Criticality.medium: 1,
    Criticality.low: 1,
}
MAX_REPLICAS = 10

DB_THREE_INSTANCES_FROM_USERS = 300
DB_BASE_STORAGE_GIB = 10
DB_STORAGE_GIB_PER_1000_INHABITANTS = 1
DB_STORAGE_STEP_GIB = 5
DB_BASE_CPU_MILLICORES = 500
DB_CPU_MILLICORES_PER_100_USERS = 100
DB_MAX_CPU_MILLICORES = 4000
DB_BASE_MEMORY_MIB = 1024
DB_MEMORY_MIB_PER_100_USERS = 256
DB_MAX_MEMORY_MIB = 16 * 1024

# A migration Job (epj migrate, started by the operator in the tenant namespace).
MIGRATION_JOBS = 1
MIGRATION_VOLUMES = 2  # the frozen extract and the migration report
MIGRATION_CPU_REQUEST_MILLICORES = 500
MIGRATION_CPU_LIMIT_MILLICORES = 2000
MIGRATION_MEMORY_REQUEST_MIB = 1024
MIGRATION_MEMORY_LIMIT_MIB = 2048

# Defaults a LimitRange gives a container that states no resources.
DEFAULT_CPU_REQUEST_MILLICORES = 100
DEFAULT_CPU_LIMIT_MILLICORES = 500
DEFAULT_MEMORY_REQUEST_MIB = 128
DEFAULT_MEMORY_LIMIT_MIB = 512

# Pods beyond the computed ones (CNPG's short-lived join/initdb pods, a debug pod).
EXTRA_PODS = 4

# The tenant's KPI exporter (infra deploys one per tenant namespace, epj.infra.observability): one replica
# plus one rolling-update surge pod, counted in the quota like a service.
KPI_EXPORTER_CPU_REQUEST_MILLICORES = 50
KPI_EXPORTER_CPU_LIMIT_MILLICORES = 250
KPI_EXPORTER_MEMORY_REQUEST_MIB = 128
KPI_EXPORTER_MEMORY_LIMIT_MIB = 256
KPI_EXPORTER_PODS = 2

_CPU_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m?)$")
_MEM_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEM_FACTOR: dict[str, int] = {
    "": 1,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
}


# --------------------------------------------------------------------------- quantities


def parse_cpu(quantity: str) -> int:
    """A Kubernetes CPU quantity (``"250m"``, ``"1"``, ``"0.5"``) in millicores, rounded up."""
    match = _CPU_RE.match(quantity.strip())
    if match is None:
        raise ValueError(f"not a CPU quantity: {quantity!r} (use e.g. 250m or 1)")
    number, milli = float(match.group(1)), match.group(2)
    return math.ceil(number if milli else number * 1000)


def parse_memory(quantity: str) -> int:
    """A Kubernetes memory quantity (``"512Mi"``, ``"1Gi"``, ``"1G"``) in MiB, rounded up."""
    match = _MEM_RE.match(quantity.strip())
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r} (use e.g. 512Mi or 1Gi)")
    number, suffix = float(match.group(1)), match.group(2) or ""
    return math.ceil(number * _MEM_FACTOR[suffix] / 1024**2)


def cpu_quantity(millicores: int) -> str:
    """Millicores as a Kubernetes quantity: whole cores as ``"2"``, else ``"1200m"``."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(mib: int) -> str:
    """MiB as a Kubernetes quantity: whole GiB as ``"3Gi"``, else ``"2816Mi"``."""
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def storage_quantity(gib: int) -> str:
    """GiB as a Kubernetes quantity, e.g. ``"35Gi"``."""
    return f"{gib}Gi"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ServiceSizing:
    """One deployed clinical service in one tenant: replicas and per-replica resources."""

    name: str
    image: str
    port: int
    health_path: str
    replicas: int
    cpu_request_millicores: int
    cpu_limit_millicores: int
    memory_request_mib: int
    memory_limit_mib: int
    egress: tuple[str, ...]
    public: bool
    uses_database: bool
    #: Other catalog services this one calls (catalog ``depends_on`` without ``database``).
    depends_on: tuple[str, ...] = ()
    #: ``(network, catalog entry)``: each external network this service must reach and the catalog
    #: service that says so (its own ``egress``, or an integration it depends on). The
    #: NetworkPolicies are built from these, each flow justified by its entry.
    network_egress: tuple[tuple[str, str], ...] = ()

    @property
    def total_cpu_request_millicores(self) -> int:
        return self.replicas * self.cpu_request_millicores

    @property
    def total_memory_request_mib(self) -> int:
        return self.replicas * self.memory_request_mib


@dataclass(frozen=True)
class DatabaseSizing:
    """The tenant's CloudNativePG cluster: per-instance resources and volume size."""

    instances: int
    storage_gib: int
    cpu_request_millicores: int
    cpu_limit_millicores: int
    memory_mib: int
    #: What the rules alone give; smaller than ``storage_gib`` when a provisioned volume is kept (never shrinks).
    computed_storage_gib: int | None = None

    @property
    def total_storage_gib(self) -> int:
        return self.instances * self.storage_gib

    @property
    def storage_kept(self) -> bool:
        """Whether the volume size is the provisioned one, above what the sizing rules compute today."""
        return self.computed_storage_gib is not None and self.computed_storage_gib < self.storage_gib


@dataclass(frozen=True)
class QuotaSizing:
    """The tenant's ResourceQuota. ``cpu_millicores``/``memory_mib`` are the requests."""

    cpu_millicores: int
    cpu_limit_millicores: int
    memory_mib: int
    memory_limit_mib: int
    storage_gib: int
    pods: int
    pvcs: int

    def hard(self) -> dict[str, str]:
        """The ``spec.hard`` map of a Kubernetes ResourceQuota (keys sorted)."""
        return {
            "limits.cpu": cpu_quantity(self.cpu_limit_millicores),
            "limits.memory": memory_quantity(self.memory_limit_mib),
            "persistentvolumeclaims": str(self.pvcs),
            "pods": str(self.pods),
            "requests.cpu": cpu_quantity(self.cpu_millicores),
            "requests.memory": memory_quantity(self.memory_mib),
            "requests.storage": storage_quantity(self.storage_gib),
        }


@dataclass(frozen=True)
class LimitRangeSizing:
    """Container defaults and maximum for the tenant's LimitRange."""

    default_cpu_request_millicores: int
    default_cpu_limit_millicores: int
    default_memory_request_mib: int
    default_memory_limit_mib: int
    max_cpu_millicores: int
    max_memory_mib: int

    def container_limit(self) -> dict[str, dict[str, str]]:
        """The ``Container`` item of a LimitRange ``spec.limits`` (without ``type``)."""
        return {
            "default": {
                "cpu": cpu_quantity(self.default_cpu_limit_millicores),
                "memory": memory_quantity(self.default_memory_limit_mib),
            },
            "defaultRequest": {
                "cpu": cpu_quantity(self.default_cpu_request_millicores),
                "memory": memory_quantity(self.default_memory_request_mib),
            },
            "max": {
                "cpu": cpu_quantity(self.max_cpu_millicores),
                "memory": memory_quantity(self.max_memory_mib),
            },
        }


@dataclass(frozen=True)
class TenantSizing:
    """Everything sized for one tenant; the same object feeds Pulumi and the cost report."""

    kommunenummer: str
    services: tuple[ServiceSizing, ...]
    database: DatabaseSizing
    quota: QuotaSizing
    limits: LimitRangeSizing

    def service(self, name: str) -> ServiceSizing:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(f"tenant {self.kommunenummer} does not run service {name!r}")


# --------------------------------------------------------------------------- rules


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


def service_replicas(service: Service, expected_end_users: int) -> int:
    """Replicas of one service for a tenant with this many expected end users."""
    wanted = math.ceil(expected_end_users / 1000 * service.replicas_per_1000_users)
    return max(MIN_REPLICAS[service.criticality], min(MAX_REPLICAS, wanted))


def database_sizing(tenant: Tenant, min_storage_gib: int | None = None) -> DatabaseSizing:
    """The PostgreSQL cluster size for one tenant (see the module docstring for the rules).

    ``min_storage_gib``: the volume size already provisioned (``tenants/provisioned/<env>.yaml``).
    Volumes never shrink: when the computed size is smaller (fewer inhabitants), the provisioned
    size is kept and ``computed_storage_gib`` records what the rules alone would give.
    """
    users = tenant.expected_end_users
    hundreds = math.ceil(users / 100)
    storage = DB_BASE_STORAGE_GIB + DB_STORAGE_GIB_PER_1000_INHABITANTS * math.ceil(
        tenant.population.inhabitants / 1000
    )
    cpu = min(DB_MAX_CPU_MILLICORES, DB_BASE_CPU_MILLICORES + DB_CPU_MILLICORES_PER_100_USERS * hundreds)
    return DatabaseSizing(
        instances=3 if users >= DB_THREE_INSTANCES_FROM_USERS else 2,
        storage_gib=max(_round_up(storage, DB_STORAGE_STEP_GIB), min_storage_gib or 0),
        computed_storage_gib=_round_up(storage, DB_STORAGE_STEP_GIB),
        cpu_request_millicores=cpu,
        cpu_limit_millicores=2 * cpu,
        memory_mib=min(DB_MAX_MEMORY_MIB, DB_BASE_MEMORY_MIB + DB_MEMORY_MIB_PER_100_USERS * hundreds),
    )


def _network_egress(
    service: Service, catalog: ServiceCatalog | None, chosen: frozenset[str]
) -> tuple[tuple[str, str], ...]:
    """Own ``egress`` plus that of each integration it depends on and the tenant has chosen."""
    pairs = {(network, service.name) for network in service.egress}
    for dep in service.depends_on:
        target = catalog.services.get(dep) if catalog is not None else None
        if target is not None and target.kind == "integration" and dep in chosen:
            pairs |= {(network, target.name) for network in target.egress}
    return tuple(sorted(pairs))


def _service_sizing(
    service: Service,
    expected_end_users: int,
    catalog: ServiceCatalog | None = None,
    chosen: frozenset[str] = frozenset(),
) -> ServiceSizing:
    if service.image is None or service.port is None or service.resources is None:
        raise ValueError(f"service {service.name}: a deployed service needs image, port and resources")
    res = service.resources
    return ServiceSizing(
        name=service.name,
        image=service.image,
        port=service.port,
        health_path=service.health_path or "/healthz",
        replicas=service_replicas(service, expected_end_users),
        cpu_request_millicores=parse_cpu(res.cpu_request),
        cpu_limit_millicores=parse_cpu(res.cpu_limit),
        memory_request_mib=parse_memory(res.memory_request),
        memory_limit_mib=parse_memory(res.memory_limit),
        egress=tuple(service.egress),
        public=service.public,
        uses_database="database" in service.depends_on,
        depends_on=tuple(sorted(d for d in service.depends_on if d != "database")),
        network_egress=_network_egress(service, catalog, chosen),
    )


def deployed_services(tenant: Tenant, catalog: ServiceCatalog) -> tuple[Service, ...]:
    """The catalog's deployed services this tenant chose, sorted by name (a stable order).

    Raises ValueError when the tenant names a service the catalog does not know: sizing a
    tenant with a silently dropped service would under-provision it.
    """
    unknown = sorted(set(tenant.services) - set(catalog.names()))
    if unknown:
        raise ValueError(f"tenant {tenant.kommunenummer}: services: unknown service(s) {', '.join(unknown)}")
    deployed = catalog.deployed()
    return tuple(deployed[name] for name in sorted(set(tenant.services) & set(deployed)))


def tenant_sizing(tenant: Tenant, catalog: ServiceCatalog, min_storage_gib: int | None = None) -> TenantSizing:
    """Size one tenant: services, database, ResourceQuota and LimitRange (``min_storage_gib``: see database_sizing)."""
    services = tuple(
        _service_sizing(svc, tenant.expected_end_users, catalog, frozenset(tenant.services))
        for svc in deployed_services(tenant, catalog)
    )
    db = database_sizing(tenant, min_storage_gib)

    # Services at full replicas plus one surge pod each (rolling update), database, migration Jobs.
    cpu_req = sum((s.replicas + 1) * s.cpu_request_millicores for s in services)
    cpu_lim = sum((s.replicas + 1) * s.cpu_limit_millicores for s in services)
    mem_req = sum((s.replicas + 1) * s.memory_request_mib for s in services)
    mem_lim = sum((s.replicas + 1) * s.memory_limit_mib for s in services)
    cpu_req += db.instances * db.cpu_request_millicores + MIGRATION_JOBS * MIGRATION_CPU_REQUEST_MILLICORES
    cpu_lim += db.instances * db.cpu_limit_millicores + MIGRATION_JOBS * MIGRATION_CPU_LIMIT_MILLICORES
    mem_req += db.instances * db.memory_mib + MIGRATION_JOBS * MIGRATION_MEMORY_REQUEST_MIB
    mem_lim += db.instances * db.memory_mib + MIGRATION_JOBS * MIGRATION_MEMORY_LIMIT_MIB
    cpu_req += KPI_EXPORTER_PODS * KPI_EXPORTER_CPU_REQUEST_MILLICORES
    cpu_lim += KPI_EXPORTER_PODS * KPI_EXPORTER_CPU_LIMIT_MILLICORES
    mem_req += KPI_EXPORTER_PODS * KPI_EXPORTER_MEMORY_REQUEST_MIB
    mem_lim += KPI_EXPORTER_PODS * KPI_EXPORTER_MEMORY_LIMIT_MIB

    quota = QuotaSizing(
        cpu_millicores=_round_up(cpu_req, 100),
        cpu_limit_millicores=_round_up(cpu_lim, 100),
        memory_mib=_round_up(mem_req, 256),
        memory_limit_mib=_round_up(mem_lim, 256),
        storage_gib=db.total_storage_gib + db.storage_gib,
        pods=sum(s.replicas + 1 for s in services) + db.instances + MIGRATION_JOBS + KPI_EXPORTER_PODS + EXTRA_PODS,
        pvcs=db.instances + MIGRATION_VOLUMES,
    )
    limits = LimitRangeSizing(
        default_cpu_request_millicores=DEFAULT_CPU_REQUEST_MILLICORES,
        default_cpu_limit_millicores=DEFAULT_CPU_LIMIT_MILLICORES,
        default_memory_request_mib=DEFAULT_MEMORY_REQUEST_MIB,
        default_memory_limit_mib=DEFAULT_MEMORY_LIMIT_MIB,
        max_cpu_millicores=max(
            [db.cpu_limit_millicores, MIGRATION_CPU_LIMIT_MILLICORES, *(s.cpu_limit_millicores for s in services)]
        ),
        max_memory_mib=max([db.memory_mib, MIGRATION_MEMORY_LIMIT_MIB, *(s.memory_limit_mib for s in services)]),
    )
    return TenantSizing(
        kommunenummer=tenant.kommunenummer,
        services=services,
        database=db,
        quota=quota,
        limits=limits,
    )
