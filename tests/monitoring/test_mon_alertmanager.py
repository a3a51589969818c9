"""The generated Alertmanager configuration, checked and route-tested with the real amtool."""

from __future__ import annotations

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


def test_platform_wide_causes_inhibit_tenant_symptoms() -> None:
    cfg = alertmanager_config(load_tenants().active("prod"), load_catalog())
    pll = next(r for r in cfg["inhibit_rules"] if 'service="medication-module"' in r["source_matchers"])
    assert pll["source_matchers"][0] == 'alertname="EpjNationalIntegrationDown"'
    # medication administration depends on the medication module (catalog depends_on)
    assert 'service=~"medication-module|medication-administration"' in pll["target_matchers"]
