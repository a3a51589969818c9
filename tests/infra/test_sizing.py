"""Sizing rules: the numbers behind quota, limits, database and replicas (pure domain core)."""

from __future__ import annotations

import pytest

from epj.catalog import load_catalog
from epj.tenants import load_tenants
from epj.tenants.model import Tenant
from epj.tenants.sizing import (
    cpu_quantity,
    memory_quantity,
    parse_cpu,
    parse_memory,
    storage_quantity,
    tenant_sizing,
)


def _tenant(kommunenummer: str) -> Tenant:
    return load_tenants().get(kommunenummer)


@pytest.mark.parametrize(("text", "millicores"), [("250m", 250), ("1", 1000), ("0.5", 500), ("2.25", 2250)])
def test_parse_cpu(text: str, millicores: int) -> None:
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize(("text", "mib"), [("512Mi", 512), ("1Gi", 1024), ("1G", 954), ("1048576", 1), ("2Ki", 1)])
def test_parse_memory_rounds_up_to_mib(text: str, mib: int) -> None:
    assert parse_memory(text) == mib


@pytest.mark.parametrize("text", ["", "1x", "m", "-1", "1.5Mi2"])
def test_bad_quantities_are_rejected_with_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_memory(text)
    with pytest.raises(ValueError, match="quantity"):
        parse_cpu(text)


def test_quantity_formatting_prefers_whole_units() -> None:
    assert cpu_quantity(2000) == "2"
    assert cpu_quantity(1200) == "1200m"
    assert memory_quantity(3072) == "3Gi"
    assert memory_quantity(2816) == "2816Mi"
    assert storage_quantity(35) == "35Gi"
    for value in (100, 1000, 1500, 12300):
        assert parse_cpu(cpu_quantity(value)) == value
        assert parse_memory(memory_quantity(value)) == value


def test_large_principal_gets_three_database_instances_and_two_replicas_of_critical_services() -> None:
    sizing = tenant_sizing(_tenant("5035"), load_catalog())  # Stjørdal: 24,800 inhabitants, 620 users
    assert sizing.database.instances == 3
    assert sizing.database.storage_gib == 35  # 10 + 25, rounded to 5
    assert sizing.database.cpu_request_millicores == 1200
    assert sizing.database.memory_mib == 1024 + 7 * 256
    assert sizing.service("journal").replicas == 2
    assert sizing.service("secure-chat").replicas == 1
    assert [s.name for s in sizing.services] == sorted(s.name for s in sizing.services)
    assert sizing.quota.storage_gib == 3 * 35 + 35
    assert sizing.quota.pvcs == 3 + 2  # database instances + extract and report volumes


def test_small_option_gets_two_instances_and_smaller_quota_than_a_principal() -> None:
    catalog = load_catalog()
    small = tenant_sizing(_tenant("5043"), catalog)  # Røyrvik: 440 inhabitants
    large = tenant_sizing(_tenant("5035"), catalog)
    assert small.database.instances == 2
    assert small.database.storage_gib == 15
    assert small.quota.cpu_millicores < large.quota.cpu_millicores
    assert small.quota.memory_mib < large.quota.memory_mib
    assert small.quota.storage_gib < large.quota.storage_gib
    assert "citizen-portal" not in {s.name for s in small.services}


def test_only_deployed_catalog_services_are_sized() -> None:
    catalog = load_catalog()
    sizing = tenant_sizing(_tenant("5035"), catalog)
    assert {s.name for s in sizing.services} == set(catalog.deployed())
    assert all(s.image and s.port for s in sizing.services)


def test_replicas_grow_with_users_and_are_capped() -> None:
    catalog = load_catalog()
    base = _tenant("5035")
    bigger = base.model_copy(update={"expected_end_users": 3000})
    huge = base.model_copy(update={"expected_end_users": 100_000})
    assert tenant_sizing(bigger, catalog).service("journal").replicas == 6
    assert tenant_sizing(huge, catalog).service("journal").replicas == 10
    assert tenant_sizing(huge, catalog).database.cpu_request_millicores == 4000


def test_quota_covers_everything_the_tenant_runs() -> None:
    catalog = load_catalog()
    for tenant in load_tenants():
        sizing = tenant_sizing(tenant, catalog)
        q, db = sizing.quota, sizing.database
        services_cpu = sum(s.total_cpu_request_millicores for s in sizing.services)
        services_mem = sum(s.total_memory_request_mib for s in sizing.services)
        assert q.cpu_millicores >= services_cpu + db.instances * db.cpu_request_millicores
        assert q.memory_mib >= services_mem + db.instances * db.memory_mib
        assert q.cpu_limit_millicores >= q.cpu_millicores
        assert q.memory_limit_mib >= q.memory_mib
        assert q.pods >= sum(s.replicas for s in sizing.services) + db.instances
        assert q.storage_gib >= db.total_storage_gib
        # The LimitRange maximum admits every container the tenant runs.
        assert sizing.limits.max_cpu_millicores >= db.cpu_limit_millicores
        assert sizing.limits.max_memory_mib >= max(s.memory_limit_mib for s in sizing.services)


def test_kubernetes_maps_use_quantity_strings() -> None:
    sizing = tenant_sizing(_tenant("5031"), load_catalog())
    hard = sizing.quota.hard()
    assert set(hard) == {
        "limits.cpu",
        "limits.memory",
        "persistentvolumeclaims",
        "pods",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
    }
    assert parse_cpu(hard["requests.cpu"]) == sizing.quota.cpu_millicores
    assert parse_memory(hard["requests.memory"]) == sizing.quota.memory_mib
    container = sizing.limits.container_limit()
    assert set(container) == {"default", "defaultRequest", "max"}


def test_unknown_service_name_raises_keyerror() -> None:
    with pytest.raises(KeyError, match="kpr-reporting"):
        tenant_sizing(_tenant("5031"), load_catalog()).service("kpr-reporting")


def test_a_service_unknown_to_the_catalog_is_an_error_not_silently_dropped() -> None:
    tenant = _tenant("5031").model_copy(update={"services": ("journal", "telepathy")})
    with pytest.raises(ValueError, match=r"5031: services: unknown service.*telepathy"):
        tenant_sizing(tenant, load_catalog())
