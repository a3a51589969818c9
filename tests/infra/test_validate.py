"""Every rendered object validates: upstream Kubernetes schema, our CRD schemas, minimal third-party schemas."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from epj.infra.manifests import KUBERNETES_VERSION
from epj.infra.render import render_objects
from epj.infra.validate import MINIMAL_SCHEMAS, validate_objects

Obj = dict[str, Any]
CHECKOV = Path(__file__).resolve().parents[2] / ".venv" / "tools" / "checkov" / "bin" / "checkov"


def _first(objs: list[Obj], kind: str) -> Obj:
    return copy.deepcopy(next(o for o in objs if o["kind"] == kind))


def test_every_rendered_test_object_validates(test_objects: list[Obj]) -> None:
    assert KUBERNETES_VERSION == "1.31"
    assert validate_objects(test_objects) == []
    kinds = {o["kind"] for o in test_objects}
    assert {"Cluster", "ServiceMonitor", "PodMonitor", "CustomResourceDefinition"} <= kinds


def test_prod_stack_renders_and_validates() -> None:
    objs = render_objects("prod")
    assert validate_objects(objs) == []
    clusters = [o for o in objs if o["kind"] == "Cluster"]
    assert clusters and all(c["spec"]["storage"]["storageClass"] == "fast-replicated" for c in clusters)


def test_upstream_schema_catches_a_misspelt_field_and_a_wrong_type(test_objects: list[Obj]) -> None:
    dep = _first(test_objects, "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFIlesystem"] = True
    dep["spec"]["replicas"] = "two"
    problems = validate_objects([dep])
    assert len(problems) == 2
    assert any("readOnlyRootFIlesystem" in p for p in problems)
    assert any("spec.replicas" in p for p in problems)
    assert all(p.startswith(f"Deployment {dep['metadata']['namespace']}/") for p in problems)


def test_custom_objects_are_checked_against_their_crd(test_objects: list[Obj]) -> None:
    from epj.operator.crds import crd_manifests

    wave = {
        "apiVersion": "epj.no/v1alpha1",
        "kind": "RolloutWave",
        "metadata": {"name": "wave-1", "namespace": "epj-system"},
        "spec": {"goLiveDate": "2027-09-06", "productionWindow": {"label": "2027-Q3"}, "members": []},
    }
    problems = validate_objects([wave], crds=crd_manifests())
    assert any("productionWindow" in p and "'start' is a required property" in p for p in problems)
    assert any("members" in p for p in problems)


def test_third_party_kinds_get_a_structural_check(test_objects: list[Obj]) -> None:
    assert set(MINIMAL_SCHEMAS) == {
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("postgresql.cnpg.io/v1", "ScheduledBackup"),
        ("barmancloud.cnpg.io/v1", "ObjectStore"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("cert-manager.io/v1", "Issuer"),
        ("cert-manager.io/v1", "Certificate"),
    }
    certificate = _first(test_objects, "Certificate")
    certificate["spec"]["dnsNames"] = []
    assert any("dnsNames" in p for p in validate_objects([certificate]))
    cluster = _first(test_objects, "Cluster")
    cluster["spec"]["instances"] = 0
    cluster["spec"]["storage"]["size"] = "lots"
    monitor = _first(test_objects, "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["interval"] = "half a minute"
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "epj", "namespace": "epj-monitoring"},
        "spec": {"groups": [{"name": "g", "rules": [{"expr": "up == 0", "for": "5m"}]}]},
    }
    problems = validate_objects([cluster, monitor, rule])
    assert any("spec.instances" in p for p in problems)
    assert any("spec.storage.size" in p for p in problems)
    assert any("interval" in p for p in problems)
    assert any(p.startswith("PrometheusRule epj-monitoring/epj") for p in problems)


def test_unknown_kinds_and_bad_metadata_are_errors() -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "x", "namespace": "a"}}
    bad = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "Kommune_5035", "labels": {"epj.no/tenant": "not ok!"}},
    }
    problems = validate_objects([unknown, bad])
    assert any("no schema known for example.com/v1 Gadget" in p for p in problems)
    assert any("metadata.name" in p for p in problems)
    assert any("metadata.labels.epj.no/tenant" in p for p in problems)


def test_an_unshipped_kubernetes_version_is_a_clear_error(test_objects: list[Obj]) -> None:
    with pytest.raises(ValueError, match=r"ships no schema for Kubernetes 1\.7"):
        validate_objects([_first(test_objects, "Namespace")], kubernetes_version="1.7")


def test_checkov_reports_no_failed_kubernetes_check(rendered_dir: Path) -> None:
    result = subprocess.run(
        [str(CHECKOV), "-d", str(rendered_dir), "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 1000
    assert result.returncode == 0, result.stderr[-2000:]
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment") or ""
        assert len(reason) > 40, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"
    # Only the operator's ServiceAccount token (it talks to the API); every image is pinned by digest (no CKV_K8S_43).
    assert {c["check_id"] for c in report["results"]["skipped_checks"]} <= {"CKV_K8S_38"}
