"""Glue between the cost core and its sources: tenant files, rendered objects, Prometheus.

The CLI, the council report and the cost exporter all call these functions, so a
figure in a council PDF is the same figure the operator sees in ``epj report cost``.
"""

from __future__ import annotations

from dataclasses import dataclass

from epj.report.allocation import allocations_from_objects
from epj.report.cost import GpOfficeFacts, Resources, Showback, TenantFacts, WhatIf, showback, what_if
from epj.report.model import CostModel, SplitMethod, load_cost_model
from epj.report.usage import PrometheusUnavailable, measured_usage
from epj.tenants import Tenant, TenantSet, load_tenants


def facts(tenant: Tenant) -> TenantFacts:
    return TenantFacts(
        kommunenr=tenant.kommunenummer,
        name=tenant.name,
        inhabitants=tenant.population.inhabitants,
        end_users=tenant.expected_end_users,
        population_estimate=tenant.population.estimate,
    )


def allocated_resources(tenant_set: TenantSet, env: str) -> dict[str, Resources]:
    """Quota requests per tenant, from the objects the Pulumi program would create."""
    from epj.infra.render import render_objects

    return allocations_from_objects(render_objects(env, tenant_set))


@dataclass(frozen=True)
class CostReport:
    month: str
    env: str
    showback: Showback
    tenants: tuple[TenantFacts, ...]
    prometheus_note: str | None


def cost_report(
    month: str,
    *,
    env: str = "prod",
    method: SplitMethod | None = None,
    prometheus_url: str | None = None,
    cost_model: CostModel | None = None,
    tenant_set: TenantSet | None = None,
) -> CostReport:
    """Showback for a month: allocated always, measured when Prometheus answers."""
    model = cost_model or load_cost_model()
    tenants = tenant_set or load_tenants()
    active = tuple(facts(t) for t in tenants.active(env))
    allocated = allocated_resources(tenants, env)
    measured: dict[str, Resources] | None = None
    note: str | None = None
    if prometheus_url:
        try:
            measured = measured_usage(prometheus_url, month)
        except PrometheusUnavailable as exc:
            note = f"{exc}; measured costs are left out"
    else:
        note = "no Prometheus URL given; measured costs are left out"
    provisioned = {t.kommunenr for t in active}
    offices = tuple(
        GpOfficeFacts(id=g.id, name=g.name, municipality=g.municipality, general_practitioners=g.general_practitioners)
        for g in tenants.gp_offices
        if g.municipality in provisioned
    )
    result = showback(model, active, allocated, measured, method, offices)
    return CostReport(month=month, env=env, showback=result, tenants=active, prometheus_note=note)


def what_if_report(
    kommunenr: str,
    *,
    env: str = "prod",
    method: SplitMethod | None = None,
    cost_model: CostModel | None = None,
    tenant_set: TenantSet | None = None,
) -> WhatIf:
    """What an option holder's joining would cost it, and how it moves everyone else's share."""
    model = cost_model or load_cost_model()
    tenants = tenant_set or load_tenants()
    candidate = tenants.get(kommunenr)
    if candidate.active:
        raise ValueError(f"{kommunenr} ({candidate.name}) is already provisioned; what-if is for uncalled options")
    joined = tenants.with_option_called(kommunenr)
    allocated = allocated_resources(joined, env)
    current = [facts(t) for t in tenants.active(env)]
    # A measured-usage split has nothing measured for a tenant not yet running: the core
    # falls back to allocated resources for everyone, so before and after compare alike.
    return what_if(model, current, facts(joined.get(kommunenr)), allocated, method or model.shared.split)
