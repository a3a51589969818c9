"""The generated inhibit rules in a real Alertmanager on loopback: a cause silences only the symptoms it explains.

Alerts are posted as Prometheus would post them (labels as the rendered rules produce them); which
ones Alertmanager marks inhibited is read back from its API.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from epj.catalog import load_catalog
from epj.monitoring.alertmanager import alertmanager_config
from epj.tenants import load_tenants

pytestmark = pytest.mark.slow

ALERTMANAGER = (
    shutil.which("prometheus-alertmanager") or shutil.which("alertmanager") or "/usr/bin/prometheus-alertmanager"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def alertmanager(tmp_path: Path, start_daemon: Callable[[list[str], str, str], str]) -> str:
    config = alertmanager_config(load_tenants().active("prod"), load_catalog())
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    return start_daemon(
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        "alertmanager",
        base,
    )


def _post(base: str, alerts: list[dict[str, str]]) -> None:
    body = json.dumps([{"labels": a} for a in alerts]).encode()
    request = urllib.request.Request(
        f"{base}/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request, timeout=5).close()


def _states(base: str, expected: int) -> dict[str, Any]:
    """alertname/tenant → inhibitedBy (non-empty: inhibited), once Alertmanager has every alert."""
    deadline = time.monotonic() + 20
    while True:
        with urllib.request.urlopen(f"{base}/api/v2/alerts", timeout=5) as resp:
            alerts = json.loads(resp.read())
        states = {f"{a['labels']['alertname']}/{a['labels'].get('tenant', '-')}": a["status"] for a in alerts}
        # Inhibition is computed on read; wait until all alerts are there.
        if len(states) == expected or time.monotonic() > deadline:
            return states
        time.sleep(0.3)


def test_a_national_outage_inhibits_what_it_explains_and_nothing_else(alertmanager: str) -> None:
    alerts = [
        {"alertname": "EpjNationalIntegrationDown", "service": "medication-module", "severity": "critical",
         "scope": "platform", "hours": "24/7"},
        {"alertname": "EpjDependencyDown", "service": "medication-administration", "dependency": "medication-module",
         "severity": "info", "scope": "platform"},
        {"alertname": "EpjMedicationAdministrationErrorBudgetBurn", "service": "medication-administration",
         "tenant": "5035", "severity": "critical", "scope": "clinical", "hours": "24/7", "long": "1h", "short": "5m"},
        {"alertname": "EpjClinicalEndpointDown", "service": "medication-administration", "tenant": "5031",
         "severity": "critical", "scope": "clinical", "hours": "24/7", "kind": "clinical"},
        {"alertname": "EpjMedicationModuleNoRecentSuccess", "service": "medication-module", "tenant": "5006",
         "severity": "warning", "scope": "clinical", "hours": "24/7"},
        {"alertname": "EpjJournalErrorBudgetBurn", "service": "journal", "tenant": "5059", "severity": "critical",
         "scope": "clinical", "hours": "24/7", "long": "1h", "short": "5m"},
        {"alertname": "EpjOperatorDown", "job": "epj-operator", "severity": "critical", "scope": "platform"},
        {"alertname": "EpjGoLiveStalled", "job": "epj-operator", "tenant": "5035", "severity": "warning",
         "scope": "project"},
        {"alertname": "EpjPodCrashLooping", "tenant": "5035", "namespace": "kommune-5035", "pod": "journal-1",
         "container": "journal", "severity": "warning", "scope": "platform"},
    ]  # fmt: skip
    _post(alertmanager, alerts)
    states = _states(alertmanager, len(alerts))
    inhibited = {key for key, status in states.items() if status["inhibitedBy"]}
    assert inhibited == {
        "EpjMedicationAdministrationErrorBudgetBurn/5035",  # explained by the national medication module
        "EpjMedicationModuleNoRecentSuccess/5006",  # the integration's own per-municipality symptom
        "EpjGoLiveStalled/5035",  # the operator that computes it is down
    }
