"""The go-live CRDs are structurally sound and validate against the upstream Kubernetes schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from epj.operator.crds import API_VERSION, crd_manifests, status_schema

KINDS = {"RolloutWave", "GoLive", "MigrationJob", "GoLiveApproval"}


def _walk(schema: dict[str, Any], path: str = "$") -> list[str]:
    """Paths of schema nodes that break Kubernetes' structural-schema rule (every node typed)."""
    problems = []
    if "type" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(path)
    for name, child in schema.get("properties", {}).items():
        if path.endswith(".properties.metadata") or name == "metadata":
            continue
        problems += _walk(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        problems += _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += _walk(schema["additionalProperties"], f"{path}{{}}")
    return problems


def _strip_extensions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_extensions(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if isinstance(node, list):
        return [_strip_extensions(v) for v in node]
    return node


@pytest.mark.parametrize("crd", crd_manifests(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_crd_validates_against_upstream_schema(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, "1.30", strict=True)


@pytest.mark.parametrize("crd", crd_manifests(), ids=lambda crd: crd["spec"]["names"]["kind"])
def test_crd_schema_is_structural_with_status_and_columns(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    assert _walk(schema) == []
    jsonschema.Draft4Validator.check_schema(_strip_extensions(schema))
    assert version["subresources"] == {"status": {}}
    names = [column["name"] for column in version["additionalPrinterColumns"]]
    assert "Age" in names
    assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.epj.no"


def test_all_kinds_in_one_group() -> None:
    assert {crd["spec"]["names"]["kind"] for crd in crd_manifests()} == KINDS
    assert API_VERSION == "epj.no/v1alpha1"


def _spec_properties(kind: str) -> dict[str, Any]:
    crd = next(c for c in crd_manifests() if c["spec"]["names"]["kind"] == kind)
    props: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return props


def test_immutable_fields_carry_cel_rules() -> None:
    golive = _spec_properties("GoLive")["properties"]
    assert golive["kommunenummer"]["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"
    # A member moves between waves (same object, audit trail kept): the operator changes spec.wave then.
    assert "x-kubernetes-validations" not in golive["wave"]
    job = _spec_properties("MigrationJob")["properties"]
    assert job["purpose"]["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"
    assert "approvals" not in golive  # decisions are GoLiveApproval objects, not a list in the spec
    assert _spec_properties("GoLiveApproval")["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"


def test_wave_defaults_and_window_rule() -> None:
    wave = _spec_properties("RolloutWave")
    props = wave["properties"]
    assert props["hypercareDays"]["default"] == 21
    assert props["paused"]["default"] is False and props["aborted"]["default"] is False
    assert props["gates"]["properties"]["trainingThreshold"]["default"] == 0.9
    assert "productionWindow" in wave["x-kubernetes-validations"][0]["rule"]


def test_approval_by_is_a_role_not_a_name() -> None:
    approval = _spec_properties("GoLiveApproval")
    validator = jsonschema.Draft4Validator(_strip_extensions(approval))
    good = {
        "kommunenummer": "5035",
        "gate": "go-no-go",
        "by": "project-lead",
        "at": "2027-09-05T12:00:00Z",
        "reason": "ok",
        "decision": "approve",
    }
    assert not list(validator.iter_errors({**good, "reason": "all gates green"}))
    assert list(validator.iter_errors({**good, "by": "Ola Nordmann"}))
    assert list(validator.iter_errors({**good, "gate": "smoke-checks"}))


def test_status_schema_lookup() -> None:
    assert "phase" in status_schema("GoLive")["properties"]
    with pytest.raises(KeyError):
        status_schema("Nope")


def _objects() -> list[dict[str, Any]]:
    from epj.golive import load_scenario, run_wave

    run = run_wave(load_scenario("shared-wave"))
    wave = {
        "apiVersion": API_VERSION,
        "kind": "RolloutWave",
        "metadata": {"name": "wave-2027-q3", "namespace": "epj-operator"},
        "spec": {
            "goLiveDate": "2027-09-06",
            "productionWindow": {"label": "2027-Q3", "start": "2027-08-16", "end": "2027-10-29"},
            "members": [{"kommunenummer": "5035"}, {"kommunenummer": "5036", "dependsOn": ["5035"]}],
            "gates": {"trainingThreshold": 0.9, "timeoutHours": {"go-no-go": 24}},
        },
    }
    state = run.states["5036"]
    golive = {
        "apiVersion": API_VERSION,
        "kind": "GoLive",
        "metadata": {"name": "golive-5036", "namespace": "epj-operator"},
        "spec": {
            "kommunenummer": "5036",
            "wave": "wave-2027-q3",
            "goLiveDate": "2027-09-06",
        },
        "status": state.to_status(),
    }
    approval = {
        "apiVersion": API_VERSION,
        "kind": "GoLiveApproval",
        "metadata": {"name": "golive-5036-go-no-go-x1", "namespace": "epj-operator"},
        "spec": {"kommunenummer": "5036", "gate": "go-no-go", "by": "cutover-lead", "decision": "approve",
                 "reason": "ok!", "at": "2027-09-04T05:00:00Z", "user": "lead@epj.test"},
    }  # fmt: skip
    job = {
        "apiVersion": API_VERSION,
        "kind": "MigrationJob",
        "metadata": {"name": "golive-5036-cutover-1", "namespace": "epj-operator"},
        "spec": {"kommunenummer": "5036", "purpose": "cutover", "extract": {"location": "/x"}, "image": "epj:1"},
        "status": {"state": "Succeeded", "reconciliation": {"complete": True, "counts": {"read": 3}}},
    }
    return [wave, golive, job, approval]


def test_custom_objects_validate_against_the_crds() -> None:
    from epj.infra.validate import validate_objects

    assert validate_objects(_objects(), crds=crd_manifests()) == []


def test_invalid_custom_objects_are_reported() -> None:
    from epj.infra.validate import validate_objects

    wave, golive, job, approval = _objects()
    approval["spec"]["by"] = "Ola Nordmann"
    job["spec"]["purpose"] = "sometime"
    wave["spec"]["members"][0]["kommunenummer"] = "50350"
    problems = "\n".join(validate_objects([wave, golive, job, approval], crds=crd_manifests()))
    assert "Ola Nordmann" in problems and "sometime" in problems and "50350" in problems


def _rules(node: Any, path: str = "$") -> list[tuple[str, str]]:
    """Every (schema path, CEL rule) in a CRD schema."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        found += [(path, v["rule"]) for v in node.get("x-kubernetes-validations", [])]
        for key, child in node.items():
            if key != "x-kubernetes-validations":
                found += _rules(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += _rules(child, f"{path}[{i}]")
    return found


def _cel(rule: str, **activation: Any) -> bool:
    import celpy

    env = celpy.Environment()
    program = env.program(env.compile(rule))
    return bool(program.evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()}))


def test_every_cel_rule_compiles() -> None:
    import celpy

    rules = [rule for crd in crd_manifests() for rule in _rules(crd)]
    assert len(rules) >= 8
    env = celpy.Environment()
    for _path, rule in rules:
        env.compile(rule)


def test_cel_rules_behave() -> None:
    assert _cel("self == oldSelf", self="5035", oldSelf="5035")
    assert not _cel("self == oldSelf", self="5036", oldSelf="5035")
    approval = {"gate": "go-no-go", "by": "project-lead", "at": "2027-09-04T05:00:00Z", "reason": "ok!"}
    immutable = _spec_properties("GoLiveApproval")["x-kubernetes-validations"][0]["rule"]
    assert _cel(immutable, oldSelf=approval, self=dict(approval))
    assert not _cel(immutable, oldSelf=approval, self={**approval, "reason": "rewritten history"})
    assert not _cel(immutable, oldSelf=approval, self={**approval, "at": "2027-09-05T05:00:00Z"})
    window_rule = _spec_properties("RolloutWave")["x-kubernetes-validations"][0]["rule"]
    wave = {"goLiveDate": "2027-09-06", "productionWindow": {"start": "2027-08-16", "end": "2027-10-29"}}
    assert _cel(window_rule, self=wave)
    assert not _cel(window_rule, self={**wave, "goLiveDate": "2027-11-01"})


def _root_rule(kind: str) -> str:
    crd = next(c for c in crd_manifests() if c["spec"]["names"]["kind"] == kind)
    rules = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["x-kubernetes-validations"]
    assert len(rules) == 1
    rule: str = rules[0]["rule"]
    return rule


GOLIVE_SPEC = {
    "kommunenummer": "5035",
    "wave": "wave-2027-q3",
    "goLiveDate": "2027-09-06",
    "hypercareDays": 21,
    "soakDays": 0,
    "gates": {"trainingThreshold": 0.9, "timeoutHours": {}},
    "paused": False,
}


def test_golive_timing_cannot_change_under_a_running_night() -> None:
    rule = _root_rule("GoLive")
    edits = {
        "goLiveDate": "2027-09-13",
        "gates": {"trainingThreshold": 0.9, "timeoutHours": {"cutover-reconciled": 1}},
        "hypercareDays": 30,
        "soakDays": 2,
        "schedule": {"freezeDays": 5},
    }
    for phase in ("Freeze", "Cutover"):
        old = {"spec": GOLIVE_SPEC, "status": {"phase": phase}}
        for field, value in edits.items():
            assert not _cel(rule, oldSelf=old, self={**old, "spec": {**GOLIVE_SPEC, field: value}}), (phase, field)
        # Levers and approvals are not timing: a pause during the night is a NO-GO, and must be accepted.
        assert _cel(rule, oldSelf=old, self={**old, "spec": {**GOLIVE_SPEC, "paused": True}})
    for phase in ("Rehearsal", "OnHold", "RolledBack", "Live", "Hypercare"):
        old = {"spec": GOLIVE_SPEC, "status": {"phase": phase}}
        assert _cel(rule, oldSelf=old, self={**old, "spec": {**GOLIVE_SPEC, "goLiveDate": "2027-09-13"}}), phase
    fresh = {"spec": GOLIVE_SPEC}
    assert _cel(rule, oldSelf=fresh, self={"spec": {**GOLIVE_SPEC, "goLiveDate": "2027-09-13"}})


def test_wave_timing_cannot_change_while_a_member_runs_its_night() -> None:
    rule = _root_rule("RolloutWave")
    spec = {"goLiveDate": "2027-09-06", "gates": {"timeoutHours": {}}, "hypercareDays": 21, "members": []}
    locked = {"spec": spec, "status": {"timingLocked": ["5035"]}}
    assert not _cel(rule, oldSelf=locked, self={**locked, "spec": {**spec, "goLiveDate": "2027-09-13"}})
    assert not _cel(rule, oldSelf=locked, self={**locked, "spec": {**spec, "gates": {"timeoutHours": {"go-no-go": 1}}}})
    assert _cel(rule, oldSelf=locked, self={**locked, "spec": {**spec, "paused": True}})
    free = {"spec": spec, "status": {"timingLocked": []}}
    assert _cel(rule, oldSelf=free, self={**free, "spec": {**spec, "goLiveDate": "2027-09-13"}})
    assert _cel(rule, oldSelf={"spec": spec}, self={"spec": {**spec, "goLiveDate": "2027-09-13"}})
