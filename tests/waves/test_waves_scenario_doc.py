"""The scenario reference (operator/epj/waves/scenarios/README.md) documents every field a scenario may have."""

from __future__ import annotations

import re
import typing

import yaml
from pydantic import BaseModel

from epj.waves.model import Scenario
from epj.waves.scenario import SCENARIOS_DIR, parse_scenario, resolve

REFERENCE = SCENARIOS_DIR / "README.md"


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, field in model.model_fields.items():
        names.add(name)
        for sub in _models(field.annotation):
            names |= _fields(sub, seen)
    return names


def test_every_scenario_field_is_in_the_reference() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    fields = _fields(Scenario, set())
    assert {"extra", "fixed", "go_live_weekday", "call_options"} <= fields  # the walk reaches nested models
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # fenced examples do not count as documentation
    spans = " ".join(re.findall(r"`([^`]+)`", prose))
    words = set(re.findall(r"[a-z_]+", spans))
    missing = sorted(name for name in fields if name not in words)
    assert missing == [], f"undocumented scenario fields: {missing}"


def test_the_reference_examples_are_valid_scenarios() -> None:
    """The YAML snippets in the reference parse and resolve when put into the default scenario."""
    text = REFERENCE.read_text(encoding="utf-8")
    snippets = [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]
    assert len(snippets) >= 2
    base = yaml.safe_load((SCENARIOS_DIR / "region-default.yaml").read_text(encoding="utf-8"))
    for snippet in snippets:
        data = yaml.safe_load((SCENARIOS_DIR / "region-default.yaml").read_text(encoding="utf-8"))
        for section, body in yaml.safe_load(snippet).items():
            for key, value in body.items():
                if isinstance(value, dict):
                    data[section][key] = {**data[section].get(key, {}), **value}
                else:
                    data[section][key] = value
        problem = resolve(parse_scenario(data, "snippet"), "snippet")
        assert problem.scenario != parse_scenario(base, "base")
        if "Kommunevalg" in snippet:
            assert any(b.name == "Kommunevalg 2029" for b in problem.blackouts)
        if "fixed" in snippet:
            assert problem.fixed["5035"][0] == "2028-Q3"
