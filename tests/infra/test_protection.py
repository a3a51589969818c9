"""Issue 12: infrastructure keeps a tenant's data unless its file says otherwise, in writing.

The Pulumi program under mocks, with the engine's view of each resource's options
(protect, retainOnDelete), and the provisioned record (tenants/provisioned/<env>.yaml).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from epj.infra.render import Registration, run_program
from epj.tenants import TenantSet, TenantSetInvalid
from epj.tenants.model import Environment, Role
from epj.tenants.provisioned import ProvisionedTenant, Registry

PRINCIPALS = ("5006", "5031", "5035", "5059")


def _registry(*entries: tuple[str, int]) -> Registry:
    return Registry(
        environment=Environment.test,
        tenants=tuple(
            ProvisionedTenant(kommunenummer=nr, since=dt.date(2026, 1, 5), database_storage_gib=gib)
            for nr, gib in entries
        ),
    )


# Sizes the sizing rules give today (10 GiB + 1 GiB per started 1000 inhabitants, in 5 GiB steps).
RECORDED = _registry(("5006", 35), ("5031", 25), ("5035", 35), ("5059", 30))


def _by_name(regs: list[Registration]) -> dict[str, Registration]:
    return {r.name: r for r in regs if r.is_kubernetes}


def test_every_tenants_namespace_cluster_and_owner_secret_are_protected_and_retained(
    test_registrations: list[Registration],
) -> None:
    regs = _by_name(test_registrations)
    for nr in PRINCIPALS:
        for name in (
            f"kommune-{nr}/namespace/kommune-{nr}",
            f"kommune-{nr}/cluster/epj-db",
            f"kommune-{nr}/secret/epj-db-owner",
        ):
            assert regs[name].protect is True, name
            assert regs[name].retain_on_delete is True, name
    # No PersistentVolumeClaim may be registered without the same protection.
    pvcs = [r for r in regs.values() if r.type == "kubernetes:core/v1:PersistentVolumeClaim"]
    assert all(r.protect and r.retain_on_delete for r in pvcs)
    # Objects that hold no data stay freely replaceable (protection is not blanket).
    assert regs["kommune-5035/resourcequota/tenant-quota"].protect is False
    assert regs["kommune-5035/networkpolicy/default-deny"].protect is False


def _program_refuses(tenants: TenantSet, registry: Registry, *needles: str) -> None:
    with pytest.raises(TenantSetInvalid) as caught:
        run_program("test", tenants, registry)
    text = str(caught.value)
    for needle in needles:
        assert needle in text, text


def test_deleting_a_provisioned_tenants_file_is_refused_by_the_program(tenant_set: TenantSet) -> None:
    without = TenantSet(tuple(t for t in tenant_set.tenants if t.kommunenummer != "5035"))
    _program_refuses(without, RECORDED, "kommune-5035", "tenant file is gone", "runbooks/process/tenant-leaving.md")


def test_dropping_the_environment_is_refused_by_the_program(tenant_set: TenantSet) -> None:
    edited = TenantSet(
        tuple(
            t.model_copy(update={"environments": (Environment.prod,)}) if t.kommunenummer == "5031" else t
            for t in tenant_set.tenants
        )
    )
    _program_refuses(edited, RECORDED, "5031-malvik.yaml: environments", "no longer list test")


def test_turning_a_principal_into_an_uncalled_option_is_refused_by_the_program(tenant_set: TenantSet) -> None:
    edited = TenantSet(
        tuple(
            t.model_copy(update={"role": Role.option, "option_called": False}) if t.kommunenummer == "5059" else t
            for t in tenant_set.tenants
        )
    )
    _program_refuses(edited, RECORDED, "5059-orkland.yaml: option_called", "no longer a principal or a called option")


def _leaving(tenant_set: TenantSet, nr: str, **leaving: Any) -> TenantSet:
    from epj.tenants.model import Leaving

    record = Leaving.model_validate(
        {"reason": "decommissioned", "decided_on": "2026-09-01", "decision": "Kommunestyret sak 045/26", **leaving}
    )
    return TenantSet(
        tuple(
            t.model_copy(update={"leaving": record, "environments": (Environment.prod,)})
            if t.kommunenummer == nr
            else t
            for t in tenant_set.tenants
        )
    )


def test_a_recorded_leaving_keeps_everything_provisioned_and_protected(tenant_set: TenantSet) -> None:
    regs = _by_name(run_program("test", _leaving(tenant_set, "5031"), RECORDED))
    assert regs["kommune-5031/cluster/epj-db"].protect is True
    assert regs["kommune-5031/namespace/kommune-5031"].protect is True
    assert "kommune-5031/deployment/journal" in regs


def test_a_released_tenant_loses_protection_but_pulumi_never_deletes_its_data(tenant_set: TenantSet) -> None:
    released = _leaving(
        tenant_set,
        "5031",
        final_export={"on": "2026-10-01", "receipt": "Malvik arkiv kvittering 2026/77", "sha256": "ab" * 32},
        retain_until="2027-01-05",
        released_on="2027-01-06",
    )
    # released_on lies in the future today: refused until the day it happens.
    _program_refuses(released, RECORDED, "leaving.released_on", "in the future")
    regs = run_program("test", released, RECORDED, today=dt.date(2027, 1, 6))
    by_name = _by_name(regs)
    cluster = by_name["kommune-5031/cluster/epj-db"]
    assert (cluster.protect, cluster.retain_on_delete) == (False, True)
    assert by_name["kommune-5035/cluster/epj-db"].protect is True


def test_storage_never_shrinks_and_the_program_says_so(tenant_set: TenantSet, caplog: pytest.LogCaptureFixture) -> None:
    bigger = _registry(("5006", 35), ("5031", 25), ("5035", 60), ("5059", 30))
    with caplog.at_level(logging.INFO):
        regs = _by_name(run_program("test", tenant_set, bigger))
    assert regs["kommune-5035/cluster/epj-db"].inputs["spec"]["storage"]["size"] == "60Gi"
    # Stjørdal runs 3 instances (620 users): 3 × 60 GiB + one migration volume set of 60 GiB.
    assert regs["kommune-5035/resourcequota/tenant-quota"].inputs["spec"]["hard"]["requests.storage"] == "240Gi"
    assert regs["kommune-5031/cluster/epj-db"].inputs["spec"]["storage"]["size"] == "25Gi"
    assert "kommune-5035: database volumes stay 60 GiB (computed 35 GiB)" in caplog.text


def test_growth_beyond_the_record_is_refused_until_recorded(tenant_set: TenantSet) -> None:
    population = tenant_set.get("5035").population.model_copy(update={"inhabitants": 41_000})
    grown = TenantSet(
        tuple(
            t.model_copy(update={"population": population}) if t.kommunenummer == "5035" else t
            for t in tenant_set.tenants
        )
    )
    _program_refuses(grown, RECORDED, "grow from 35 to 55 GiB", "database_storage_gib: 55")
    regs = _by_name(run_program("test", grown, _registry(("5006", 35), ("5031", 25), ("5035", 55), ("5059", 30))))
    assert regs["kommune-5035/cluster/epj-db"].inputs["spec"]["storage"]["size"] == "55Gi"
