"""Allocations read from rendered ResourceQuota objects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from epj.report.allocation import allocations_from_objects, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [("500m", Decimal("0.5")), ("2", Decimal(2)), ("1Gi", Decimal(2**30)), ("1.5Gi", Decimal(3 * 2**29)),
     ("100M", Decimal(10**8)), ("2Ti", Decimal(2 * 2**40)), (3, Decimal(3))],
)  # fmt: skip
def test_parse_quantity(text: str, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


def test_parse_quantity_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("lots")


def test_allocations_sum_quota_requests_per_tenant_namespace() -> None:
    objects = [
        {"kind": "ResourceQuota", "metadata": {"namespace": "kommune-5035"},
         "spec": {"hard": {"requests.cpu": "4", "requests.memory": "8Gi", "requests.storage": "100Gi"}}},
        {"kind": "ResourceQuota", "metadata": {"namespace": "kommune-5035", "name": "extra"},
         "spec": {"hard": {"requests.cpu": "500m"}}},
        {"kind": "ResourceQuota", "metadata": {"namespace": "epj-system"}, "spec": {"hard": {"requests.cpu": "9"}}},
        {"kind": "Namespace", "metadata": {"name": "kommune-5031"}},
    ]  # fmt: skip
    result = allocations_from_objects(objects)
    assert list(result) == ["5035"]
    assert result["5035"].cpu_cores == Decimal("4.5")
    assert result["5035"].memory_gib == Decimal(8)
    assert result["5035"].storage_gib == Decimal(100)
