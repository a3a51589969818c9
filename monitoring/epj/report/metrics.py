"""Cost per tenant as Prometheus gauges, so dashboards show it next to the clinical figures.

A custom collector renders the latest showback on every scrape; the showback is
recomputed by the exporter loop, not per scrape (rendering the Pulumi program
takes seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from epj.report.cost import Showback


class CostCollector(Collector):
    """Exposes ``epj_tenant_cost_nok{tenant, basis, component}`` and the platform total."""

    def __init__(self, current: Callable[[], Showback | None]) -> None:
        self._current = current

    def collect(self) -> Iterator[GaugeMetricFamily]:
        showback = self._current()
        per_tenant = GaugeMetricFamily(
            "epj_tenant_cost_nok",
            "Monthly cost of a tenant in NOK, by basis (allocated or measured) and component.",
            labels=["tenant", "basis", "component"],
        )
        total = GaugeMetricFamily("epj_platform_cost_nok", "Monthly cost of the whole platform in NOK (allocated).")
        if showback is not None:
            bases = [("allocated", showback.allocated)]
            if showback.measured is not None:
                bases.append(("measured", showback.measured))
            for basis, bills in bases:
                for tenant, bill in sorted(bills.items()):
                    for component, amount in (
                        ("infrastructure", bill.infrastructure),
                        ("licences", bill.licences),
                        ("shared", bill.shared),
                        ("total", bill.total),
                    ):
                        per_tenant.add_metric([tenant, basis, component], float(amount))
            total.add_metric([], float(showback.platform_total))
        yield per_tenant
        yield total
