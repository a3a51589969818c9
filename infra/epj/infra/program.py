"""The Pulumi program: read stack config and tenants, instantiate the components.

``infra/__main__.py`` calls :func:`main` under the Pulumi CLI (``pulumi up``);
``epj render`` calls the same :func:`main` under ``pulumi.runtime.set_mocks``.
The stack name is the environment (``test``, ``prod``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pulumi

from epj.catalog import ServiceCatalog, load_catalog
from epj.infra.components import MunicipalityTenant, MunicipalityTenantArgs, PlatformBase, PlatformBaseArgs
from epj.infra.config import InfraConfig, config_keys, infra_config_from_mapping
from epj.tenants import TenantSet, load_tenants
from epj.tenants.model import Tenant
from epj.tenants.sizing import tenant_sizing

Manifest = dict[str, Any]
#: Hook for alert rules (epj.monitoring): tenant → PrometheusRule objects placed in its namespace.
TenantRules = Callable[[Tenant], Sequence[Manifest]]


def config_from_pulumi() -> InfraConfig:
    """The stack's ``epj-platform:*`` config, checked (a missing key names the stack file)."""
    cfg = pulumi.Config()
    values: dict[str, Any] = {}
    for key in config_keys():
        value = cfg.get(key)
        if value is not None:
            values[key] = value
    stack = pulumi.get_stack()
    return infra_config_from_mapping(stack, values, source=f"Pulumi.{stack}.yaml")


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


def main(
    tenants: TenantSet | None = None,
    catalog: ServiceCatalog | None = None,
    platform_rules: Sequence[Manifest] | None = None,
    tenant_rules: TenantRules | None = None,
) -> dict[str, MunicipalityTenant]:
    """Create the platform and one ``MunicipalityTenant`` per active tenant of this stack's environment.

    ``tenants`` defaults to the validated tenant files (an invalid set raises
    ``TenantSetInvalid`` before any resource is registered). ``platform_rules`` defaults to
    :func:`default_platform_rules`; ``tenant_rules`` is a hook for per-tenant PrometheusRule
    objects (placed in the tenant's component; none today).
    """
    config = config_from_pulumi()
    tenant_set = tenants if tenants is not None else load_tenants()
    catalog = catalog or load_catalog()
    if platform_rules is None:
        platform_rules = default_platform_rules(catalog, config)
    active = tenant_set.active(config.environment)
    sized = [(t, tenant_sizing(t, catalog)) for t in active]  # size all first: fail before registering

    PlatformBase("platform", PlatformBaseArgs(config=config, crds=default_crds(), prometheus_rules=platform_rules))
    components: dict[str, MunicipalityTenant] = {}
    for tenant, sizing in sized:
        rules = tuple(tenant_rules(tenant)) if tenant_rules else ()
        components[tenant.kommunenummer] = MunicipalityTenant(
            tenant.namespace,
            MunicipalityTenantArgs(tenant=tenant, sizing=sizing, config=config, prometheus_rules=rules),
        )
    pulumi.export("environment", config.environment)
    pulumi.export("tenants", sorted(components))
    return components
