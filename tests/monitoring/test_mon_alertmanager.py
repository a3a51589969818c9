"""The generated Alertmanager configuration, checked and route-tested with the real amtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from epj.catalog import load_catalog
from epj.monitoring.alertmanager import alertmanager_config
from epj.tenants import load_tenants

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60)


def test_amtool_accepts_the_config(rendered: Path) -> None:
    result = _amtool("check-config", str(rendered / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


ROUTE_CASES = [
    # (labels, receivers in order)
    (
        [
            "alertname=EpjMedicationAdministrationErrorBudgetBurn",
            "tenant=5035",
            "scope=clinical",
            "severity=critical",
            "hours=24/7",
        ],
        "kommune-5035,platform-oncall-page",
    ),
    (
        ["alertname=EpjSecureChatErrorBudgetBurn", "tenant=5031", "scope=clinical", "severity=warning", "hours=07-23"],
        "kommune-5031,platform-tickets",
    ),
    (
        ["alertname=EpjGoLiveStalled", "tenant=5006", "scope=project", "severity=warning"],
        "kommune-5006-project,platform-tickets",
    ),
    (["alertname=EpjOperatorDown", "scope=platform", "severity=critical"], "platform-oncall-page"),
    (
        [
            "alertname=EpjKjernejournalErrorBudgetBurnLowTraffic",
            "service=kjernejournal",
            "scope=platform",
            "severity=critical",
        ],
        "platform-oncall-page",
    ),
    (["alertname=EpjExporterDown", "scope=platform", "severity=warning"], "platform-tickets"),
    # A tenant that is not provisioned gets no municipality route: the platform still hears about it.
    (
        ["alertname=EpjJournalErrorBudgetBurn", "tenant=5043", "scope=clinical", "severity=critical"],
        "platform-oncall-page",
    ),
]


@pytest.mark.parametrize(("labels", "receivers"), ROUTE_CASES)
def test_routes(rendered: Path, labels: list[str], receivers: str) -> None:
    result = _amtool(
        "config", "routes", "test", f"--config.file={rendered / 'alertmanager.yml'}", f"--verify.receivers={receivers}",
        *labels,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_active_tenant_routes_to_its_role_addresses() -> None:
    tenants = load_tenants().active("prod")
    cfg = alertmanager_config(tenants, load_catalog())
    receivers = {r["name"]: r for r in cfg["receivers"]}
    for t in tenants:
        emails = {c["to"] for c in receivers[f"kommune-{t.kommunenummer}"]["email_configs"]}
        assert emails == {t.contacts.it_operations, t.contacts.health_and_care}
    assert cfg["route"]["group_by"] == ["alertname", "tenant"]


def test_time_intervals_are_europe_oslo_and_used() -> None:
    cfg = alertmanager_config(load_tenants().active("prod"), load_catalog())
    names = {ti["name"] for ti in cfg["time_intervals"]}
    assert names == {"oslo-business-hours", "oslo-daytime"}
    for ti in cfg["time_intervals"]:
        assert all(i["location"] == "Europe/Oslo" for i in ti["time_intervals"])
    used = yaml.safe_dump(cfg["route"])
    assert "oslo-business-hours" in used and "oslo-daytime" in used


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    name, op, value = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', matcher).groups()  # type: ignore[union-attr]
    have = labels.get(name, "")
    if op == "=~":
        return re.fullmatch(value, have) is not None
    return (have == value) if op == "=" else (have != value)


def _inhibited(cfg: dict, firing: list[dict[str, str]], target: dict[str, str]) -> bool:
    """Alertmanager's inhibition semantics, written out independently of the generator."""
    for rule in cfg["inhibit_rules"]:
        if not all(_matches(m, target) for m in rule["target_matchers"]):
            continue
        for source in firing:
            if source is target or not all(_matches(m, source) for m in rule["source_matchers"]):
                continue
            if all(source.get(label, "") == target.get(label, "") for label in rule["equal"]):
                return True
    return False


def test_every_inhibit_rule_is_scoped_with_equal() -> None:
    cfg = alertmanager_config(load_tenants().active("prod"), load_catalog())
    assert cfg["inhibit_rules"]
    assert all(rule["equal"] for rule in cfg["inhibit_rules"])


def test_a_national_outage_silences_only_what_it_explains() -> None:
    cfg = alertmanager_config(load_tenants().active("prod"), load_catalog())
    national = {
        "alertname": "EpjNationalIntegrationDown",
        "service": "medication-module",
        "severity": "critical",
        "scope": "platform",
    }
    dependency = {
        "alertname": "EpjDependencyDown",
        "service": "medication-administration",
        "dependency": "medication-module",
        "severity": "info",
        "scope": "inhibit",
    }
    burn_5035 = {
        "alertname": "EpjMedicationAdministrationErrorBudgetBurn",
        "service": "medication-administration",
        "tenant": "5035",
        "severity": "critical",
        "scope": "clinical",
    }
    down_5031 = {
        "alertname": "EpjClinicalEndpointDown",
        "service": "medication-administration",
        "tenant": "5031",
        "severity": "critical",
        "scope": "clinical",
        "kind": "clinical",
    }
    own_5006 = {
        "alertname": "EpjMedicationModuleNoRecentSuccess",
        "service": "medication-module",
        "tenant": "5006",
        "severity": "warning",
        "scope": "clinical",
    }
    journal = {
        "alertname": "EpjJournalErrorBudgetBurn",
        "service": "journal",
        "tenant": "5035",
        "severity": "critical",
        "scope": "clinical",
    }
    firing = [national, dependency, burn_5035, down_5031, own_5006, journal]
    assert _inhibited(cfg, firing, burn_5035)  # errors the national outage explains
    assert _inhibited(cfg, firing, own_5006)  # the integration's own per-municipality symptom
    assert not _inhibited(cfg, firing, down_5031)  # the app's own health check: a cause of its own
    assert not _inhibited(cfg, firing, journal)  # does not depend on the medication module
    assert not _inhibited(cfg, firing, national)
    # Without the national outage nothing of medication administration is silenced.
    assert not _inhibited(cfg, [burn_5035, own_5006], burn_5035)


def test_operator_down_silences_only_its_own_jobs_symptoms() -> None:
    cfg = alertmanager_config(load_tenants().active("prod"), load_catalog())
    down = {"alertname": "EpjOperatorDown", "job": "epj-operator", "severity": "critical", "scope": "platform"}
    stalled = {"alertname": "EpjGoLiveStalled", "job": "epj-operator", "tenant": "5035", "severity": "warning"}
    other = {"alertname": "EpjGoLiveStalled", "job": "epj-operator-canary", "tenant": "5035", "severity": "warning"}
    assert _inhibited(cfg, [down, stalled], stalled)
    assert not _inhibited(cfg, [down, other], other)


def test_inhibit_only_alert_reaches_no_receiver() -> None:
    cfg = alertmanager_config(load_tenants().active("prod"), load_catalog())
    first = cfg["route"]["routes"][0]
    assert first["matchers"] == ['alertname="EpjDependencyDown"'] and not first.get("continue")
    null = next(r for r in cfg["receivers"] if r["name"] == first["receiver"])
    assert set(null) == {"name"}
