"""`promtool test rules` on the generated rules with the generated unit tests.

One pytest test per test file, so xdist spreads promtool's work over both cores.
A second test checks the generated expectations themselves: each page and ticket
alert is expected to fire at some checked time and expected silent at another,
so a generator that expected nothing could not pass.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from epj.catalog import load_catalog
from epj.monitoring.promtests import test_files as generated_test_files
from epj.monitoring.rules import error_burn_alerts, latency_burn_alerts, low_traffic_alerts

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@functools.cache
def _generated() -> dict[str, dict[str, Any]]:
    return generated_test_files()


TEST_FILES = sorted(_generated())


@pytest.mark.parametrize("name", TEST_FILES)
def test_promtool_unit_tests_pass(rendered: Path, name: str) -> None:
    path = rendered / "tests" / name
    result = subprocess.run(
        [PROMTOOL, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _expectations(doc: dict[str, Any]) -> dict[tuple[str, str, str], set[bool]]:
    """(alertname, long window, tenant or '') -> {expected firing?} over every check."""
    seen: dict[tuple[str, str, str], set[bool]] = {}
    for test in doc["tests"]:
        for check in test["alert_rule_test"]:
            fired = {(e["exp_labels"].get("long", ""), e["exp_labels"].get("tenant", "")) for e in check["exp_alerts"]}
            for long in ("1h", "6h", "3d"):
                for tenant in ("5035", "5059", ""):
                    key = (check["alertname"], long, tenant)
                    seen.setdefault(key, set()).add((long, tenant) in fired)
    return seen


@pytest.mark.parametrize("service", list(load_catalog().services))
def test_each_page_and_ticket_alert_is_shown_firing_and_silent(service: str) -> None:
    svc = load_catalog().services[service]
    doc = _generated()[f"slo-{service}.test.yml"]
    seen = _expectations(doc)
    for alert in error_burn_alerts(svc):  # the fast burn runs in 5035
        assert seen[(alert.name, alert.labels["long"], "5035")] == {True, False}, (alert.name, alert.labels)
    for alert in latency_burn_alerts(svc):  # the latency burn runs in 5059
        assert seen[(alert.name, alert.labels["long"], "5059")] == {True, False}, (alert.name, alert.labels)
    for alert in low_traffic_alerts(svc):
        if alert.labels["long"] == "3d":
            continue  # needs three days of pooled history; covered by the same expression shape as 1h/6h
        assert seen[(alert.name, alert.labels["long"], "")] == {True, False}, (alert.name, alert.labels)


def test_generated_tests_are_plain_yaml_promtool_reads(rendered: Path) -> None:
    for name in TEST_FILES:
        doc = yaml.load((rendered / "tests" / name).read_text(), Loader=yaml.CSafeLoader)
        assert doc["evaluation_interval"] in {"1m", "2m"} and doc["tests"]
