"""The Pulumi program under set_mocks for the whole `test` stack: what it registers."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from epj.catalog import load_catalog
from epj.infra.render import PASSWORD_PLACEHOLDER, Registration, run_program
from epj.tenants import TenantSet
from epj.tenants.sizing import tenant_sizing

from .conftest import UNCALLED_OPTION

Obj = dict[str, Any]


def _in_ns(objs: list[Obj], namespace: str) -> list[Obj]:
    return [o for o in objs if o["metadata"].get("namespace") == namespace]


def _one(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def test_one_component_per_active_tenant_and_one_platform(
    test_registrations: list[Registration], tenant_set: TenantSet
) -> None:
    components = sorted(r.name for r in test_registrations if r.type == "epj:infra:MunicipalityTenant")
    assert components == [t.namespace for t in tenant_set.active("test")]
    assert [r.name for r in test_registrations if r.type == "epj:infra:PlatformBase"] == ["platform"]
    assert len(components) == 4  # the 4 principals; no option is called (the tender lists all 18 as options)


def test_every_active_tenant_has_the_whole_baseline(test_objects: list[Obj], tenant_set: TenantSet) -> None:
    catalog = load_catalog()
    for tenant in tenant_set.active("test"):
        ns = tenant.namespace
        objs = _in_ns(test_objects, ns)
        namespace = _one(test_objects, "Namespace", ns)
        labels = namespace["metadata"]["labels"]
        assert labels["epj.no/kommunenummer"] == tenant.kommunenummer
        assert labels["epj.no/tenant"] == tenant.kommunenummer
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        sizing = tenant_sizing(tenant, catalog)
        quota = _one(objs, "ResourceQuota", "tenant-quota")
        assert quota["spec"]["hard"] == sizing.quota.hard()
        assert _one(objs, "LimitRange", "tenant-limits")["spec"]["limits"][0]["type"] == "Container"
        deny = _one(objs, "NetworkPolicy", "default-deny")["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        for name in ("allow-dns-egress", "allow-db-clients-to-postgres", "allow-e-messaging-health-network-egress"):
            _one(objs, "NetworkPolicy", name)
        role = _one(objs, "Role", "kommune-admin")
        binding = _one(objs, "RoleBinding", "kommune-admin")
        assert binding["subjects"][0]["name"] == f"epj-test-kommune-{tenant.kommunenummer}-admins"
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        secret = _one(objs, "Secret", "epj-db-owner")
        assert secret["type"] == "kubernetes.io/basic-auth"
        cluster = _one(objs, "Cluster", "epj-db")
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["spec"]["instances"] == sizing.database.instances
        assert cluster["spec"]["bootstrap"]["initdb"]["secret"]["name"] == "epj-db-owner"
        for svc in sizing.services:
            dep = _one(objs, "Deployment", svc.name)
            assert dep["spec"]["replicas"] == svc.replicas
            _one(objs, "Service", svc.name)
            pdbs = [o for o in objs if o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == svc.name]
            assert len(pdbs) == (1 if svc.replicas > 1 else 0)
        monitor = _one(objs, "ServiceMonitor", "epj-services")
        assert monitor["metadata"]["labels"]["tenant"] == tenant.kommunenummer
        assert _one(objs, "PodMonitor", "epj-db")["metadata"]["labels"]["tenant"] == tenant.kommunenummer


def test_deployments_run_restricted_pods_with_configured_images(test_objects: list[Obj]) -> None:
    deployments = [o for o in test_objects if o["kind"] == "Deployment"]
    assert deployments
    for dep in deployments:
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert set(container["resources"]) == {"requests", "limits"}
            assert "livenessProbe" in container and "readinessProbe" in container
        if dep["metadata"]["namespace"].startswith("kommune-"):
            assert pod["automountServiceAccountToken"] is False
            image = pod["containers"][0]["image"]
            if dep["metadata"]["name"] == "epj-kpi-exporter":  # this repository's image, like the operator
                assert image.startswith("registry.test.epj.example.no/epj-platform/epj:0.1.0@sha256:")
            else:
                assert image.startswith("registry.test.epj.example.no/vendor/epj/")
                assert ":2026.11.1@sha256:" in image


def test_platform_has_operator_crds_rbac_and_monitoring_namespace(test_objects: list[Obj]) -> None:
    from epj.operator.crds import crd_manifests

    names = {(o["kind"], o["metadata"]["name"]) for o in test_objects}
    for crd in crd_manifests():
        assert ("CustomResourceDefinition", crd["metadata"]["name"]) in names
    for kind, name in [
        ("Namespace", "epj-system"),
        ("Namespace", "epj-monitoring"),
        ("ServiceAccount", "epj-operator"),
        ("ClusterRole", "epj-operator"),
        ("ClusterRoleBinding", "epj-operator"),
        ("ClusterRole", "epj-operator-tenant"),
        ("Deployment", "epj-operator"),
    ]:
        assert (kind, name) in names
    operator = _one(test_objects, "Deployment", "epj-operator")
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] + container["args"] == ["epj", "operator", "run", "--namespace", "epj-system"]


def test_generated_password_never_reaches_the_output(test_registrations: list[Registration]) -> None:
    passwords = [r for r in test_registrations if r.type == "random:index/randomPassword:RandomPassword"]
    assert len(passwords) == 4
    secrets = [r.inputs for r in test_registrations if r.type == "kubernetes:core/v1:Secret"]
    owners = [s for s in secrets if s["metadata"]["name"] == "epj-db-owner"]
    assert len(owners) == 4
    assert {s["stringData"]["password"] for s in owners} == {PASSWORD_PLACEHOLDER}
    # The object-store keys are Pulumi secrets too: a render shows only their placeholder.
    backup_keys = [s for s in secrets if s["metadata"]["name"] == "epj-db-backup-s3"]
    assert len(backup_keys) == 4
    assert {v for s in backup_keys for v in s["stringData"].values()} == {"pulumi-secret-backupCredentials"}


def test_uncalled_options_get_nothing(test_registrations: list[Registration], tenant_set: TenantSet) -> None:
    uncalled = [t for t in tenant_set if not t.active]
    assert len(uncalled) == 18
    text = json.dumps([(r.name, r.inputs) for r in test_registrations])
    for tenant in uncalled:
        assert f"kommune-{tenant.kommunenummer}" not in text
        assert f'"{tenant.kommunenummer}"' not in text


def _fingerprints(registrations: list[Registration]) -> dict[tuple[str, str], bytes]:
    out = {(r.type, r.name): json.dumps(r.inputs, sort_keys=True).encode() for r in registrations}
    assert len(out) == len(registrations), "resource names must be unique"
    return out


def test_calling_one_option_adds_only_that_tenant(
    test_registrations: list[Registration], tenant_set: TenantSet
) -> None:
    called = run_program("test", tenant_set.with_option_called(UNCALLED_OPTION))
    before, after = _fingerprints(test_registrations), _fingerprints(called)
    for key, inputs in before.items():
        assert after.get(key) == inputs, f"{key} changed when option {UNCALLED_OPTION} was called"
    added = set(after) - set(before)
    ns = f"kommune-{UNCALLED_OPTION}"
    assert added and all(name == ns or name.startswith(f"{ns}/") for _, name in added)
    assert Counter(t for t, _ in added)["kubernetes:core/v1:Namespace"] == 1
    assert ("epj:infra:MunicipalityTenant", ns) in added


def test_a_tenant_with_an_unknown_service_fails_before_anything_is_registered(tenant_set: TenantSet) -> None:
    broken = TenantSet((tenant_set.get("5035").model_copy(update={"services": ("journal", "no-such-service")}),))
    seen: list[Registration] = []
    with pytest.raises(ValueError, match="no-such-service"):
        seen = run_program("test", broken)
    assert seen == []


def test_alert_rules_from_the_service_catalog_are_deployed_platform_wide(test_objects: list[Obj]) -> None:
    from epj.monitoring.rules import prometheus_rule_objects

    rules = [o for o in test_objects if o["kind"] == "PrometheusRule"]
    expected = prometheus_rule_objects(load_catalog(), namespace="epj-monitoring")
    assert sorted(r["metadata"]["name"] for r in rules) == sorted(r["metadata"]["name"] for r in expected)
    assert {r["metadata"]["namespace"] for r in rules} == {"epj-monitoring"}


async def test_render_objects_works_from_async_code() -> None:
    from epj.infra.render import render_objects

    objs = render_objects("test")
    assert any(o["kind"] == "ResourceQuota" and o["metadata"]["namespace"] == "kommune-5035" for o in objs)


def test_every_kubernetes_object_goes_through_the_stacks_explicit_provider(
    test_registrations: list[Registration],
) -> None:
    providers = [r for r in test_registrations if r.type == "pulumi:providers:kubernetes"]
    assert [(p.name, p.inputs.get("context")) for p in providers] == [("k8s-test", "epj-test")]
    kube = [r for r in test_registrations if r.is_kubernetes]
    assert kube
    for reg in kube:
        assert reg.provider.startswith("urn:pulumi:test::epj-platform::"), reg.name
        assert "pulumi:providers:kubernetes::k8s-test::" in reg.provider, reg.name


def test_each_environment_targets_its_own_cluster() -> None:
    from epj.infra.config import load_stack_config

    test, prod = load_stack_config("test"), load_stack_config("prod")
    assert (test.kube_context, prod.kube_context) == ("epj-test", "epj-prod")
    assert test.ingress_domain != prod.ingress_domain and test.image_registry != prod.image_registry


def test_pulumi_up_refuses_an_unknown_config_key_like_epj_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """``config_from_pulumi`` sees every key the engine hands over: a typo is named, not ignored."""
    from pulumi.runtime.config import CONFIG

    from epj.infra.config import InfraConfigError, read_stack_values
    from epj.infra.program import config_from_pulumi

    values = {
        f"epj-platform:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in read_stack_values("test").items()
    }
    monkeypatch.setattr("pulumi.get_stack", lambda: "test")
    token = CONFIG.set({**values, "kubernetes:context": "ignored-other-provider"})
    try:
        assert config_from_pulumi().kube_context == "epj-test"
        CONFIG.set({**values, "epj-platform:storageClas": "fast"})
        with pytest.raises(InfraConfigError, match=r"Pulumi\.test\.yaml: unknown key\(s\) epj-platform:storageClas"):
            config_from_pulumi()
    finally:
        CONFIG.reset(token)
