"""Cost split, what-if and rounding, against figures worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from epj.report.cost import Resources, TenantFacts, showback, split_exact, what_if
from epj.report.model import SplitMethod, load_cost_model

from .conftest import make_model as _model

D = Decimal


TENANTS = [
    TenantFacts("0001", "A", inhabitants=1000, end_users=10),
    TenantFacts("0002", "B", inhabitants=3000, end_users=10),
    TenantFacts("0003", "C", inhabitants=5000, end_users=30),
]
ALLOC = {
    "0001": Resources(D(2), D(4), D(10)),  # 200 + 40 + 10 + 10*2*0.5 = 260
    "0002": Resources(D(1), D(2), D(10)),  # 100 + 20 + 10 + 10 = 140
    "0003": Resources(D(4), D(8), D(20)),  # 400 + 80 + 20 + 20 = 520
}


def test_split_by_population_hand_computed() -> None:
    result = showback(_model("population"), TENANTS, ALLOC)
    # shared 900 by 1000:3000:5000 → 100, 300, 500
    assert {k: c.shared for k, c in result.allocated.items()} == {"0001": D(100), "0002": D(300), "0003": D(500)}
    # licences: 10*100 + 1000*1 = 2000; 10*100 + 3000 = 4000; 30*100 + 5000 = 8000
    assert {k: c.licences for k, c in result.allocated.items()} == {"0001": D(2000), "0002": D(4000), "0003": D(8000)}
    assert {k: c.infrastructure for k, c in result.allocated.items()} == {
        "0001": D(260),
        "0002": D(140),
        "0003": D(520),
    }
    assert result.allocated["0001"].total == D(2360)
    assert result.platform_total == D(2360 + 4440 + 9020)
    assert result.measured is None


def test_split_by_end_users_hand_computed() -> None:
    result = showback(_model("end_users"), TENANTS, ALLOC)
    # 900 by 10:10:30 → 180, 180, 540
    assert [result.allocated[k].shared for k in ("0001", "0002", "0003")] == [D(180), D(180), D(540)]


def test_split_by_measured_usage_hand_computed() -> None:
    measured = {
        "0001": Resources(D(1), D(0), D(0)),  # infra 100
        "0002": Resources(D(2), D(0), D(0)),  # infra 200
        "0003": Resources(D(0), D(60), D(0)),  # infra 600
    }
    result = showback(_model("measured_usage"), TENANTS, ALLOC, measured)
    # 900 by 100:200:600 → 100, 200, 600
    assert [result.allocated[k].shared for k in ("0001", "0002", "0003")] == [D(100), D(200), D(600)]
    assert result.measured is not None
    assert result.measured["0003"].infrastructure == D(600)
    assert not result.warnings


def test_measured_usage_without_prometheus_falls_back_and_says_so() -> None:
    result = showback(_model("measured_usage"), TENANTS, ALLOC, None)
    # by allocated infrastructure 260:140:520 of 920 → 254.35, 136.96, 508.70 (largest remainder to øre)
    shares = [result.allocated[k].shared for k in ("0001", "0002", "0003")]
    assert shares == [D("254.35"), D("136.96"), D("508.69")]
    assert sum(shares) == D(900)
    assert any("split by allocated" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (D("100.00"), {"a": D(1), "b": D(1), "c": D(1)}, {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}),
        (D("0.02"), {"a": D(1), "b": D(1), "c": D(1)}, {"a": D("0.01"), "b": D("0.01"), "c": D("0.00")}),
        (D("10.00"), {"a": D(2), "b": D(1)}, {"a": D("6.67"), "b": D("3.33")}),
        (D("10.00"), {"a": D(0), "b": D(0)}, {"a": D("5.00"), "b": D("5.00")}),
    ],
)
def test_split_exact_reconciles_to_the_ore(
    total: Decimal, weights: dict[str, Decimal], expected: dict[str, Decimal]
) -> None:
    shares = split_exact(total, weights)
    assert shares == expected
    assert sum(shares.values()) == total


def test_what_if_changes_others_exactly_as_by_hand() -> None:
    model = _model("population")
    current = TENANTS[:2]
    candidate = TENANTS[2]
    result = what_if(model, current, candidate, ALLOC)
    # before: 900 by 1000:3000 → 225, 675; after: 100, 300, 500
    assert result.others_change == {"0001": D(-125), "0002": D(-375)}
    assert result.monthly.total == D(520 + 8000 + 500)
    # one-time: 1000 + 2*5000 + 50*30 = 12500
    assert result.one_time == D(12500)


def test_shipped_cost_model_loads_and_splits_the_real_tenants_to_the_ore() -> None:
    from epj.tenants import load_tenants

    model = load_cost_model()
    tenants = [
        TenantFacts(t.kommunenummer, t.name, t.population.inhabitants, t.expected_end_users)
        for t in load_tenants().active()
    ]
    alloc = {t.kommunenr: Resources(D("1.5"), D("3.25"), D("17")) for t in tenants}
    for method in SplitMethod:
        result = showback(model, tenants, alloc, method=method)
        assert sum(c.shared for c in result.allocated.values()) == model.shared.monthly_total()
        assert sum(c.total for c in result.allocated.values()) == result.platform_total
