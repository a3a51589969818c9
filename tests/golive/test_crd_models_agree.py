"""One source of truth for the CRDs: the hand-written schemas and the core's pydantic models agree, field by field.

The CRD schemas (``epj.operator.crds``) are written by hand because they carry what pydantic cannot
say (descriptions for ``kubectl explain``, CEL rules, list-map keys, printer columns). The models
are what the core reads and writes. This test walks both and fails on any field that exists on one
side only, or whose type, enum values, format, bounds or pattern differ. Fields one side has on
purpose are listed below with the reason, so a new field fails until it is added on both sides.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from epj.golive.approvals import ApprovalRequest
from epj.golive.model import Approval, GoLiveSpec, GoLiveState, Reconciliation
from epj.golive.wave import WaveSpec
from epj.operator.crds import crd_manifests

#: (kind, part, dotted path) present in the CRD but not in the model, or the other way round, on purpose.
ONE_SIDED: dict[tuple[str, str, str], str] = {
    ("RolloutWave", "spec", "name"): "model only: the wave's metadata.name, copied in by the adapter",
    ("GoLive", "spec", "approvals"): "model only: the adapter fills it from the GoLiveApproval objects",
}


def _schema(kind: str, part: str) -> dict[str, Any]:
    crd = next(c for c in crd_manifests() if c["spec"]["names"]["kind"] == kind)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][part]
    return schema


def _unwrap(annotation: Any) -> Any:
    """Strip ``X | None``, ``Optional`` and ``Annotated``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _compare(annotation: Any, schema: dict[str, Any], where: str, metadata: list[Any] | None = None) -> list[str]:
    problems: list[str] = []
    tp = _unwrap(annotation)
    origin = typing.get_origin(tp)
    kind = schema.get("type")

    def expect(json_type: str) -> None:
        if kind != json_type:
            problems.append(f"{where}: model {tp!r} but CRD type {kind!r}")

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        expect("object")
        problems += _compare_model(tp, schema, where)
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        expect("string")
        if sorted(schema.get("enum", [])) != sorted(str(v.value) for v in tp):
            problems.append(f"{where}: enum {sorted(str(v.value) for v in tp)} vs CRD {schema.get('enum')}")
    elif origin is typing.Literal:
        expect("string")
        if sorted(schema.get("enum", [])) != sorted(typing.get_args(tp)):
            problems.append(f"{where}: literal {typing.get_args(tp)} vs CRD {schema.get('enum')}")
    elif tp is bool:
        expect("boolean")
    elif tp is int:
        expect("integer")
    elif tp is float:
        expect("number")
    elif tp is str:
        expect("string")
    elif tp is dt.datetime:
        expect("string")
        if schema.get("format") != "date-time":
            problems.append(f"{where}: datetime but CRD format {schema.get('format')!r}")
    elif tp is dt.date:
        expect("string")
        if schema.get("format") != "date":
            problems.append(f"{where}: date but CRD format {schema.get('format')!r}")
    elif origin in (tuple, list):
        expect("array")
        item = typing.get_args(tp)[0]
        problems += _compare(item, schema.get("items") or {}, f"{where}[]")
    elif origin in (dict, Mapping, typing.get_origin(Mapping[str, int])):
        expect("object")
        key, value = typing.get_args(tp)
        if "additionalProperties" in schema:
            problems += _compare(value, schema["additionalProperties"], f"{where}{{}}")
        else:
            props = schema.get("properties") or {}
            if isinstance(key, type) and issubclass(key, enum.Enum):
                unknown = set(props) - {str(k.value) for k in key}
                if unknown:
                    problems.append(f"{where}: CRD keys {sorted(unknown)} are not {key.__name__} values")
            if not props:
                problems.append(f"{where}: a map in the model, neither properties nor additionalProperties in the CRD")
            for name, child in props.items():
                problems += _compare(value, child, f"{where}.{name}")
    else:
        problems.append(f"{where}: the test does not know how to compare {tp!r}")
    for constraint in metadata or ():
        for attribute, keyword in (("ge", "minimum"), ("le", "maximum"), ("min_length", None), ("max_length", None),
                                   ("pattern", "pattern")):  # fmt: skip
            value = getattr(constraint, attribute, None)
            if value is None:
                continue
            if keyword is None:
                keyword = ("minLength" if attribute == "min_length" else "maxLength") if kind == "string" else (
                    "minItems" if attribute == "min_length" else "maxItems"
                )  # fmt: skip
            if keyword in schema and schema[keyword] != value:
                problems.append(f"{where}: model {attribute}={value!r} but CRD {keyword}={schema[keyword]!r}")
            elif keyword not in schema and keyword != "maxItems":
                problems.append(f"{where}: model {attribute}={value!r} but the CRD has no {keyword}")
    return problems


def _compare_model(model: type[BaseModel], schema: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    props: dict[str, Any] = schema.get("properties") or {}
    seen: set[str] = set()
    for name, info in model.model_fields.items():
        alias = info.alias or name
        seen.add(alias)
        path = f"{where}.{alias}"
        if alias not in props:
            if not _exempt(path):
                problems.append(f"{path}: in the model {model.__name__}, missing in the CRD")
            continue
        problems += _compare(info.annotation, props[alias], path, list(info.metadata))
    for alias in set(props) - seen:
        if not _exempt(f"{where}.{alias}"):
            problems.append(f"{where}.{alias}: in the CRD, missing in the model {model.__name__}")
    return problems


def _exempt(path: str) -> bool:
    kind, part, rest = path.split(".", 2)
    return (kind, part, rest) in ONE_SIDED


@pytest.mark.parametrize(
    ("kind", "part", "model"),
    [
        ("RolloutWave", "spec", WaveSpec),
        ("GoLive", "spec", GoLiveSpec),
        ("GoLive", "status", GoLiveState),
        ("MigrationJob", "status.reconciliation", Reconciliation),
    ],
    ids=["RolloutWave.spec", "GoLive.spec", "GoLive.status", "MigrationJob.status.reconciliation"],
)
def test_crd_schema_and_core_model_agree_field_by_field(kind: str, part: str, model: type[BaseModel]) -> None:
    top, *inner = part.split(".")
    schema = _schema(kind, top)
    for key in inner:
        schema = schema["properties"][key]
    assert _compare_model(model, schema, f"{kind}.{part}") == []


def test_golive_approval_schema_is_the_request_plus_what_the_server_stamps() -> None:
    schema = _schema("GoLiveApproval", "spec")
    # The CRD restricts gate to the approval gates; the models type it as any GateName (admit() refuses the rest).
    crd_gates = schema["properties"]["gate"]["enum"]
    gate_only = [f"GoLiveApproval.spec.gate: enum {sorted(g.value for g in _gates())} vs CRD {crd_gates}"]
    sent = {k: v for k, v in schema["properties"].items() if k not in ("at", "user")}
    assert _compare_model(ApprovalRequest, {**schema, "properties": sent}, "GoLiveApproval.spec") == gate_only
    stamped = {k: v for k, v in schema["properties"].items() if k != "kommunenummer"}
    assert _compare_model(Approval, {**schema, "properties": stamped}, "GoLiveApproval.spec") == gate_only


def _gates() -> list[Any]:
    from epj.golive.phases import GateName

    return list(GateName)


def test_the_comparison_catches_a_drift() -> None:
    """A renamed field, a changed bound and a new enum value are each reported."""
    schema = _schema("RolloutWave", "spec")
    drifted = {**schema, "properties": dict(schema["properties"])}
    drifted["properties"]["hypercareDayz"] = drifted["properties"].pop("hypercareDays")
    drifted["properties"]["soakDays"] = {**drifted["properties"]["soakDays"], "minimum": 1}
    problems = _compare_model(WaveSpec, drifted, "RolloutWave.spec")
    assert any("hypercareDays: in the model WaveSpec, missing in the CRD" in p for p in problems)
    assert any("hypercareDayz: in the CRD, missing in the model" in p for p in problems)
    assert any("soakDays: model ge=0 but CRD minimum=1" in p for p in problems)
