"""Showback: what each municipality's participation costs per month.

Pure domain logic: it receives what each tenant is allocated (and, when known,
what it used) and the cost model, and returns money. Where the numbers come from
(rendered Kubernetes objects, Prometheus) is the adapters' business.

Shared costs are split with the largest-remainder method on øre, so the sum of
the tenants' shares equals the platform total to the øre whatever the weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from epj.report.model import CostModel, SplitMethod

ORE = Decimal("0.01")


@dataclass(frozen=True)
class TenantFacts:
    """What the cost model needs to know about a municipality."""

    kommunenr: str
    name: str
    inhabitants: int
    end_users: int
    population_estimate: bool = False


@dataclass(frozen=True)
class Resources:
    """Infrastructure for a month: allocated (quota requests) or measured (average use)."""

    cpu_cores: Decimal
    memory_gib: Decimal
    storage_gib: Decimal


@dataclass(frozen=True)
class TenantCost:
    """One tenant's monthly bill, broken down so a council can see what drives it."""

    kommunenr: str
    infrastructure: Decimal
    licences: Decimal
    shared: Decimal

    @property
    def total(self) -> Decimal:
        return self.infrastructure + self.licences + self.shared


@dataclass(frozen=True)
class GpOfficeFacts:
    """What the cost model needs to know about a GP office (a private actor)."""

    id: str
    name: str
    municipality: str
    general_practitioners: int


@dataclass(frozen=True)
class PrivateActorCost:
    """A GP office's monthly bill: its own, never part of a municipality's."""

    id: str
    name: str
    municipality: str
    item: str
    total: Decimal


def private_actor_costs(model: CostModel, offices: Sequence[GpOfficeFacts]) -> dict[str, PrivateActorCost]:
    """Each GP office's monthly connection cost (empty when the cost model prices no private actors)."""
    prices = model.private_actors
    if prices is None:
        return {}
    return {
        o.id: PrivateActorCost(
            id=o.id,
            name=o.name,
            municipality=o.municipality,
            item=prices.gp_office_item,
            total=round_ore(prices.gp_office_nok_per_month + prices.per_gp_nok_per_month * o.general_practitioners),
        )
        for o in offices
    }


def estimate_warning(tenants: Sequence[TenantFacts]) -> str | None:
    """The note every cost output carries while a split rests on estimated population figures."""
    estimated = sorted(t.kommunenr for t in tenants if t.population_estimate)
    if not estimated:
        return None
    return (
        f"population figures of {len(estimated)} of {len(tenants)} tenants are ESTIMATES ({', '.join(estimated)}): "
        "shares split by population are estimates too; import Statistics Norway's table with "
        "`epj tenants population --from FILE` before invoicing"
    )


@dataclass(frozen=True)
class Showback:
    """A month's costs for every provisioned tenant, allocated and (if known) measured."""

    method: SplitMethod
    cost_model_version: str
    allocated: dict[str, TenantCost]
    measured: dict[str, TenantCost] | None
    shared_total: Decimal
    warnings: tuple[str, ...] = field(default=())
    private_actors: dict[str, PrivateActorCost] = field(default_factory=dict)

    @property
    def platform_total(self) -> Decimal:
        """Everything the region pays for the platform this month (the sum of all allocated bills)."""
        return sum((cost.total for cost in self.allocated.values()), Decimal(0))


def round_ore(amount: Decimal) -> Decimal:
    return amount.quantize(ORE, rounding=ROUND_HALF_UP)


def split_exact(total: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Split ``total`` (rounded to øre) in proportion to ``weights``; shares add up to it exactly.

    Each share is first floored to øre; the øre left over go one each to the
    largest remainders (ties broken by key, so the result is deterministic).
    """
    total_ore = int(round_ore(total) / ORE)
    if not weights:
        return {}
    weight_sum = sum(weights.values(), Decimal(0))
    keys = sorted(weights)
    if weight_sum <= 0:
        weights = {key: Decimal(1) for key in keys}
        weight_sum = Decimal(len(keys))
    exact = {key: Decimal(total_ore) * weights[key] / weight_sum for key in keys}
    floors = {key: int(exact[key].to_integral_value(rounding=ROUND_FLOOR)) for key in keys}
    left = total_ore - sum(floors.values())
    by_remainder = sorted(keys, key=lambda key: (-(exact[key] - floors[key]), key))
    for key in by_remainder[:left]:
        floors[key] += 1
    return {key: Decimal(floors[key]) * ORE for key in keys}


def infrastructure_cost(model: CostModel, resources: Resources) -> Decimal:
    prices = model.unit_prices
    return round_ore(
        resources.cpu_cores * prices.cpu_core_month
        + resources.memory_gib * prices.memory_gib_month
        + resources.storage_gib * prices.storage_gib_month
        + resources.storage_gib * model.backup_factor * prices.backup_gib_month
    )


def licence_cost(model: CostModel, tenant: TenantFacts) -> Decimal:
    total = Decimal(0)
    for licence in model.licences:
        units = tenant.end_users if licence.basis == "per_end_user" else tenant.inhabitants
        total += licence.monthly() * units
    return round_ore(total)


def split_weights(
    method: SplitMethod,
    tenants: Sequence[TenantFacts],
    model: CostModel,
    usage: Mapping[str, Resources] | None,
) -> dict[str, Decimal]:
    """The weight of each tenant in the shared-cost split, by the configured method."""
    if method is SplitMethod.population:
        return {t.kommunenr: Decimal(t.inhabitants) for t in tenants}
    if method is SplitMethod.end_users:
        return {t.kommunenr: Decimal(t.end_users) for t in tenants}
    if usage is None:
        raise ValueError("measured_usage split needs measured usage (Prometheus) for every tenant")
    return {t.kommunenr: infrastructure_cost(model, usage[t.kommunenr]) for t in tenants}


def showback(
    model: CostModel,
    tenants: Sequence[TenantFacts],
    allocated: Mapping[str, Resources],
    measured: Mapping[str, Resources] | None = None,
    method: SplitMethod | None = None,
    gp_offices: Sequence[GpOfficeFacts] = (),
) -> Showback:
    """Monthly bills for ``tenants`` from their allocations (and measurements, side by side).

    With the ``measured_usage`` method but no measurements, the split falls back to
    allocated resources and says so in ``warnings``: a bill is never left out.
    """
    chosen = method or model.shared.split
    warnings: list[str] = []
    missing = [t.kommunenr for t in tenants if t.kommunenr not in allocated]
    if missing:
        raise ValueError(f"no allocation for tenant(s) {', '.join(missing)}")
    have_measured = measured is not None and all(t.kommunenr in measured for t in tenants)
    if measured is not None and not have_measured:
        warnings.append("measured usage is missing for some tenants; measured bills are left out")
    usage_for_split: Mapping[str, Resources] | None = measured if have_measured else None
    if chosen is SplitMethod.measured_usage and usage_for_split is None:
        warnings.append("no measured usage: shared costs split by allocated resources instead")
        usage_for_split = allocated
    estimates = estimate_warning(tenants)
    if estimates:
        warnings.append(estimates)
    shared_total = round_ore(model.shared.monthly_total())
    shares = split_exact(shared_total, split_weights(chosen, tenants, model, usage_for_split))

    def bills(resources: Mapping[str, Resources]) -> dict[str, TenantCost]:
        return {
            t.kommunenr: TenantCost(
                kommunenr=t.kommunenr,
                infrastructure=infrastructure_cost(model, resources[t.kommunenr]),
                licences=licence_cost(model, t),
                shared=shares[t.kommunenr],
            )
            for t in tenants
        }

    return Showback(
        method=chosen,
        cost_model_version=model.version,
        allocated=bills(allocated),
        measured=bills(measured) if have_measured and measured is not None else None,
        shared_total=shared_total,
        warnings=tuple(warnings),
        private_actors=private_actor_costs(model, gp_offices),
    )


@dataclass(frozen=True)
class WhatIf:
    """What joining costs an option holder, and how everyone else's share moves."""

    kommunenr: str
    monthly: TenantCost
    one_time: Decimal
    others_change: dict[str, Decimal]


def one_time_cost(model: CostModel, tenant: TenantFacts) -> Decimal:
    one = model.one_time
    return round_ore(
        one.onboarding_per_tenant
        + one.migration_per_inhabitant * tenant.inhabitants
        + one.training_per_end_user * tenant.end_users
    )


def what_if(
    model: CostModel,
    current: Sequence[TenantFacts],
    candidate: TenantFacts,
    allocated: Mapping[str, Resources],
    method: SplitMethod | None = None,
) -> WhatIf:
    """Bills before and after ``candidate`` joins; ``allocated`` must include the candidate.

    A measured-usage split has no measurements for a tenant that is not running
    yet, so the what-if always splits by allocated resources for that method.
    """
    before = showback(model, current, allocated, method=method)
    after = showback(model, [*current, candidate], allocated, method=method)
    others = {t.kommunenr: after.allocated[t.kommunenr].total - before.allocated[t.kommunenr].total for t in current}
    return WhatIf(
        kommunenr=candidate.kommunenr,
        monthly=after.allocated[candidate.kommunenr],
        one_time=one_time_cost(model, candidate),
        others_change=others,
    )
