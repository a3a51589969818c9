"""The Pulumi program: read stack config and tenants, instantiate the components.

``infra/__main__.py`` calls :func:`main` under the Pulumi CLI (``pulumi up``);
``epj render`` calls the same :func:`main` under ``pulumi.runtime.set_mocks``.
The stack name is the environment (``test``, ``prod``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pulumi

from epj.catalog import ServiceCatalog, load_catalog
from epj.infra.components import MunicipalityTenant, MunicipalityTenantArgs, PlatformBase, PlatformBaseArgs
from epj.infra.config import (
    BACKUP_CREDENTIALS_KEY,
    PROJECT,
    InfraConfig,
    InfraConfigError,
    infra_config_from_mapping,
)
from epj.paths import tenants_dir
from epj.tenants import TenantSet, TenantSetInvalid, load_tenants
from epj.tenants.model import Tenant
from epj.tenants.provisioned import Registry, check_registry, provisioned_tenants, read_registry, registry_path
from epj.tenants.sizing import tenant_sizing

Manifest = dict[str, Any]
#: Hook for alert rules (epj.monitoring): tenant → PrometheusRule objects placed in its namespace.
TenantRules = Callable[[Tenant], Sequence[Manifest]]


def config_from_pulumi() -> InfraConfig:
    """The stack's ``epj-platform:*`` config, checked exactly as ``epj render`` checks the stack file.

    Every key of the project the engine handed over is passed on (not only the known ones), so a
    typo such as ``epj-platform:storageClas`` stops ``pulumi up`` with the key named instead of
    being ignored. Only the secret ``backupCredentials`` is read separately (never into the config).
    """
    from pulumi.runtime.config import CONFIG

    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    for full_key, value in CONFIG.get().items():
        if not full_key.startswith(prefix) or full_key[len(prefix) :] == BACKUP_CREDENTIALS_KEY:
            continue
        values[full_key[len(prefix) :]] = value
    stack = pulumi.get_stack()
    return infra_config_from_mapping(stack, values, source=f"Pulumi.{stack}.yaml")


def kubernetes_provider(config: InfraConfig) -> pulumi.ProviderResource:
    """The stack's explicit Kubernetes provider: the kubeconfig context named in the stack (``kubeContext``).

    Every resource of the program goes through it, so ``pulumi up`` can never land on whatever
    cluster ``kubectl`` happens to point at; the stack config refuses to load without a context.
    """
    import pulumi_kubernetes as k8s

    return k8s.Provider(f"k8s-{config.environment}", context=config.kube_context, enable_server_side_apply=True)


def backup_credentials(kommunenummer: str) -> tuple[pulumi.Output[Any], pulumi.Output[Any]]:
    """One tenant's object-store key from the Pulumi secret ``backupCredentials`` (values stay secret).

    Per tenant, so that a key found in one namespace opens only that tenant's prefix of the bucket.
    """
    stack = pulumi.get_stack()
    secret = pulumi.Config().get_secret_object(BACKUP_CREDENTIALS_KEY)
    how = (
        f"pulumi config set --secret --path '{PROJECT}:{BACKUP_CREDENTIALS_KEY}.{kommunenummer}.accessKeyId' <id> "
        f"(and .secretAccessKey)"
    )
    if secret is None:
        raise InfraConfigError(f"Pulumi.{stack}.yaml: missing secret {PROJECT}:{BACKUP_CREDENTIALS_KEY}: {how}")

    def pick(value: Any, field: str) -> Any:
        entry = value.get(kommunenummer) if isinstance(value, dict) else None
        if not isinstance(entry, dict) or not entry.get(field):
            raise InfraConfigError(
                f"Pulumi.{stack}.yaml: secret {PROJECT}:{BACKUP_CREDENTIALS_KEY} has no {field} for "
                f"{kommunenummer}: {how}"
            )
        return entry[field]

    return secret.apply(lambda v: pick(v, "accessKeyId")), secret.apply(lambda v: pick(v, "secretAccessKey"))


def default_crds() -> list[Manifest]:
    """The go-live operator's CRDs, owned by ``epj.operator.crds`` (imported here so epj.infra loads fast)."""
    from epj.operator.crds import crd_manifests

    return crd_manifests()


def default_platform_rules(catalog: ServiceCatalog, config: InfraConfig) -> list[Manifest]:
    """SLO and alert rules generated from the service catalog by ``epj.monitoring`` (PrometheusRule objects).

    The rules select by the ``tenant`` label on the series, so they are platform-wide and do
    not change when a tenant is added.
    """
    from epj.monitoring.rules import prometheus_rule_objects

    return prometheus_rule_objects(catalog, namespace=config.monitoring_namespace, base_url=config.runbook_base_url)


def load_registry(environment: str, tenants: TenantSet | None) -> tuple[Registry, str]:
    """The environment's provisioned record (``tenants/provisioned/<env>.yaml``).

    When the caller hands in its own tenant set (a preview such as ``--tenant N --what-if`` or
    ``--tenant``, a what-if report), only the record's lines for tenants in that set apply:
    the files were validated against the whole record when they were loaded.
    """
    folder = tenants_dir()
    registry, errors = read_registry(folder, environment)
    if errors:
        raise TenantSetInvalid(errors)
    if tenants is not None:
        present = {t.kommunenummer for t in tenants.tenants}
        registry = registry.model_copy(
            update={"tenants": tuple(e for e in registry.tenants if e.kommunenummer in present)}
        )
    return registry, str(registry_path(folder, environment).relative_to(folder.parent))


def main(
    tenants: TenantSet | None = None,
    catalog: ServiceCatalog | None = None,
    platform_rules: Sequence[Manifest] | None = None,
    tenant_rules: TenantRules | None = None,
    registry: Registry | None = None,
    today: dt.date | None = None,
) -> dict[str, MunicipalityTenant]:
    """Create the platform and one ``MunicipalityTenant`` per provisioned tenant of this stack's environment.

    Provisioned = every tenant in the environment's record (``tenants/provisioned/<env>.yaml``)
    until its file records ``leaving.released_on``, plus active tenants not yet recorded.
    An edit that would drop a recorded tenant (file deleted, environment removed, principal
    turned into an uncalled option) raises ``TenantSetInvalid`` before any resource is
    registered, as does an invalid tenant set. Each database keeps at least its recorded
    volume size (a log line says when that is above the computed size).

    ``platform_rules`` defaults to :func:`default_platform_rules`; ``tenant_rules`` is a hook
    for per-tenant PrometheusRule objects (placed in the tenant's component; none today).
    """
    config = config_from_pulumi()
    tenant_set = tenants if tenants is not None else load_tenants()
    if registry is None:
        registry, registry_file = load_registry(config.environment, tenants)
    else:
        registry_file = f"provisioned/{registry.environment.value}.yaml"
    problems = check_registry(
        tenant_set, registry, registry_file=registry_file, today=today or dt.date.today(), require_recorded=False
    )
    if problems:
        raise TenantSetInvalid(problems)
    catalog = catalog or load_catalog()
    if platform_rules is None:
        platform_rules = default_platform_rules(catalog, config)
    chosen = provisioned_tenants(tenant_set, registry)
    # Size all first: fail before registering anything.
    sized = [(p, tenant_sizing(p.tenant, catalog, p.storage_floor_gib)) for p in chosen]

    for _, sizing in sized:  # every image pinned by digest: a missing digest fails before anything registers
        for svc in sizing.services:
            config.image(svc.image)
    provider = kubernetes_provider(config)
    on_cluster = pulumi.ResourceOptions(providers=[provider])
    PlatformBase(
        "platform",
        PlatformBaseArgs(config=config, crds=default_crds(), prometheus_rules=platform_rules),
        opts=on_cluster,
    )
    components: dict[str, MunicipalityTenant] = {}
    for entry, sizing in sized:
        tenant = entry.tenant
        if sizing.database.storage_kept:
            pulumi.log.info(
                f"{tenant.namespace}: database volumes stay {sizing.database.storage_gib} GiB (computed "
                f"{sizing.database.computed_storage_gib} GiB): volumes never shrink below the provisioned size"
            )
        if not entry.protect:
            pulumi.log.warn(
                f"{tenant.namespace}: released ({tenant.leaving.released_on if tenant.leaving else ''}): "
                "protection lifted, resources are kept in the cluster when it leaves the program"
            )
        rules = tuple(tenant_rules(tenant)) if tenant_rules else ()
        components[tenant.kommunenummer] = MunicipalityTenant(
            tenant.namespace,
            MunicipalityTenantArgs(
                tenant=tenant,
                sizing=sizing,
                config=config,
                prometheus_rules=rules,
                protect=entry.protect,
                backup_credentials=backup_credentials(tenant.kommunenummer),
            ),
            opts=on_cluster,
        )
    pulumi.export("environment", config.environment)
    pulumi.export("tenants", sorted(components))
    pulumi.export(
        "provisioned",
        {k: {"storageGib": c.storage_gib, "protected": c.protected} for k, c in sorted(components.items())},
    )
    return components
