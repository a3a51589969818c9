"""The admission policy's CEL, evaluated with cel-python on the Jobs the operator really builds.

Positive cases are the operator's own migration, smoke, seal and rollback Jobs; negative
cases are each one widened the way issue 16 fears (foreign or tag-only image, CloudNativePG's
ServiceAccount, a Secret mount, no component label).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from epj.infra.admission import POLICY
from epj.infra.config import load_stack_config

Obj = dict[str, Any]
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.test.epj.example.no/epj-platform/epj:0.1.0@{DIGEST}"


def _policy(test_objects: list[Obj]) -> Obj:
    return next(o for o in test_objects if o["kind"] == "ValidatingAdmissionPolicy")


def _refusals(policy: Obj, job: Obj) -> list[str]:
    import celpy

    env = celpy.Environment()
    out = []
    for rule in policy["spec"]["validations"]:
        program = env.program(env.compile(rule["expression"]))
        if not bool(program.evaluate({"object": celpy.json_to_cel(job)})):
            out.append(rule["message"])
    return out


def _jobs() -> dict[str, Obj]:
    from epj.migration.job import migration_job_manifest
    from epj.operator.resources import rollback_job, seal_job, smoke_job
    from epj.tenants import load_tenants

    tenant = load_tenants().get("5035")
    return {
        "migration": migration_job_manifest(tenant, purpose="cutover", run_id="r1", image=IMAGE, extract_pvc="x"),
        "smoke": smoke_job("5035", "golive-5035-1", "g", IMAGE),
        "seal": seal_job("5035", "golive-5035-1", "g", IMAGE),
        "rollback": rollback_job("5035", "golive-5035-1", "g", IMAGE),
    }


def test_policy_and_binding_are_rendered_for_the_operator_in_tenant_namespaces(test_objects: list[Obj]) -> None:
    policy = _policy(test_objects)
    assert policy["metadata"]["name"] == POLICY
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConditions"] == [
        {
            "name": "by-the-operator",
            "expression": "request.userInfo.username == 'system:serviceaccount:epj-system:epj-operator'",
        }
    ]
    binding = next(o for o in test_objects if o["kind"] == "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == POLICY and binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["matchResources"]["namespaceSelector"] == {
        "matchExpressions": [{"key": "epj.no/tenant", "operator": "Exists"}]
    }
    assert load_stack_config("test").registry_host == "registry.test.epj.example.no"


@pytest.mark.parametrize("name", ["migration", "smoke", "seal", "rollback"])
def test_the_operators_own_jobs_are_admitted(test_objects: list[Obj], name: str) -> None:
    assert _refusals(_policy(test_objects), _jobs()[name]) == []


def _pod(job: Obj) -> Obj:
    spec: Obj = job["spec"]["template"]["spec"]
    return spec


def _widened(kind: str) -> Obj:
    job = copy.deepcopy(_jobs()["migration"])
    pod = _pod(job)
    if kind == "foreign-image":
        pod["containers"][0]["image"] = f"ghcr.io/evil/tool@{DIGEST}"
    elif kind == "tag-only":
        pod["containers"][0]["image"] = "registry.test.epj.example.no/epj-platform/epj:0.1.0"
    elif kind == "init-container":
        pod["initContainers"] = [{"name": "x", "image": "docker.io/busybox:latest"}]
    elif kind == "cnpg-account":
        pod["serviceAccountName"] = "epj-db"
    elif kind == "secret-mount":
        pod["volumes"].append({"name": "s", "secret": {"secretName": "epj-db-backup-s3"}})
    elif kind == "projected-secret":
        pod["volumes"].append({"name": "p", "projected": {"sources": [{"secret": {"name": "epj-db-backup-s3"}}]}})
    elif kind == "env-from-secret":
        pod["containers"][0].setdefault("envFrom", []).append({"secretRef": {"name": "epj-db-backup-s3"}})
    elif kind == "env-secret-key":
        pod["containers"][0].setdefault("env", []).append(
            {"name": "K", "valueFrom": {"secretKeyRef": {"name": "epj-db-app", "key": "password"}}}
        )
    elif kind == "deprecated-account":
        pod["serviceAccount"] = "epj-db"
    elif kind == "no-component":
        del job["spec"]["template"]["metadata"]["labels"]["epj.no/component"]
    elif kind == "db-component":
        job["spec"]["template"]["metadata"]["labels"]["epj.no/component"] = "database"
    return job


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("foreign-image", "every image must come from registry.test.epj.example.no/"),
        ("tag-only", "pinned by digest"),
        ("init-container", "pinned by digest"),
        ("cnpg-account", "only as the default or the epj-rollback ServiceAccount"),
        ("secret-mount", "the only Secrets a Job may mount are epj-db-owner, epj-db-ca"),
        ("projected-secret", "the only Secrets a Job may mount are epj-db-owner, epj-db-ca"),
        ("env-from-secret", "the only Secrets a Job may mount are epj-db-owner, epj-db-ca"),
        ("env-secret-key", "the only Secrets a Job may mount are epj-db-owner, epj-db-ca"),
        ("deprecated-account", "only as the default or the epj-rollback ServiceAccount"),
        ("no-component", "must be labelled epj.no/component in (migration, smoke, rollback)"),
        ("db-component", "must be labelled epj.no/component"),
    ],
)
def test_a_widened_job_is_refused_with_its_reason(test_objects: list[Obj], kind: str, message: str) -> None:
    refusals = _refusals(_policy(test_objects), _widened(kind))
    assert len(refusals) == 1 and message in refusals[0], refusals
