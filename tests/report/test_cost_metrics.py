"""Cost gauges as a scrape shows them."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest

from epj.report.cost import Resources, TenantFacts, showback
from epj.report.metrics import CostCollector

from .conftest import make_model as _model


def test_cost_gauges_per_tenant_and_total() -> None:
    tenants = [TenantFacts("5035", "Stjørdal", 1000, 10), TenantFacts("5031", "Malvik", 1000, 10)]
    alloc = {t.kommunenr: Resources(Decimal(1), Decimal(0), Decimal(0)) for t in tenants}
    result = showback(_model(), tenants, alloc)
    registry = CollectorRegistry()
    registry.register(CostCollector(lambda: result))
    text = generate_latest(registry).decode()
    # infra 100 + licences 10*100 + 1000/12*12... = 2000 + shared 450 → 2550 per tenant
    assert 'epj_tenant_cost_nok{basis="allocated",component="total",tenant="5035"} 2550.0' in text
    assert 'epj_tenant_cost_nok{basis="allocated",component="shared",tenant="5031"} 450.0' in text
    assert "epj_platform_cost_nok 5100.0" in text
    assert 'basis="measured"' not in text
