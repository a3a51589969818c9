"""Expectations written independently of the rule generator: literals from the SRE workbook and the
runbooks, not values read back from the objects under test (issue 19).

- Multiwindow, multi-burn-rate alerts (Google SRE workbook, "Alerting on SLOs", table 5-8):
  page at 14.4x over 1h AND 5m, page at 6x over 6h AND 30m, ticket at 1x over 3d AND 6h.
- Each alert's `for:` as reviewed by operations (a change is deliberate: edit this table).
- KPI directions of the council/gains reports ("higher is better" for medication on time).
"""

from __future__ import annotations

import re

from epj.monitoring.rules import all_alerts
from epj.report.gains import KPI_LABELS

# (long window, short window) → (burn factor, for, pages)
SRE_WORKBOOK = {("1h", "5m"): (14.4, "2m", True), ("6h", "30m"): (6.0, "15m", True), ("3d", "6h"): (1.0, "1h", False)}

FOR = {
    "EpjClinicalEndpointDown": {"5m"},
    "EpjDatabaseBackupTooOld": {"15m"},
    "EpjDatabaseRecoverabilityPointStale": {"1h"},
    "EpjDatabaseReplicationLag": {"10m"},
    "EpjDatabaseVolumeFillingUp": {"15m", "5m"},
    "EpjDatabaseWalArchivingFailing": {"10m"},
    "EpjDatabaseWalArchivingLagging": {"5m"},
    "EpjDependencyDown": {"10m"},
    "EpjEMessagingMessageUnacknowledged": {"5m"},
    "EpjExporterDown": {"10m"},
    "EpjGoLiveStalled": {"15m", "5m"},
    "EpjMigrationQuarantineSpike": {"0m"},
    "EpjMigrationRunFailed": {"0m"},
    "EpjMigrationStalled": {"5m"},
    "EpjNationalIntegrationDown": {"10m"},
    "EpjOperatorDown": {"15m", "5m"},
    "EpjOperatorReconcileErrors": {"20m"},
    "EpjPodCrashLooping": {"10m"},
    "EpjPodOOMKilled": {"0m"},
    "EpjCertificateExpiringSoon": {"10m", "1h"},
}
NO_RECENT_SUCCESS_FOR = "5m"

_THRESHOLD = re.compile(r"> \(([0-9.]+) \* ([0-9.e-]+)\)")


def test_burn_rate_alerts_use_the_sre_workbook_factors_windows_and_for() -> None:
    burn = [a for a in all_alerts() if "BudgetBurn" in a.name]
    assert len(burn) > 30
    for alert in burn:
        window = (alert.labels["long"], alert.labels["short"])
        factor, for_, _pages = SRE_WORKBOOK[window]
        assert alert.for_ == for_, alert.name
        factors = {float(f) for f, _ in _THRESHOLD.findall(alert.expr)}
        if "LowTraffic" not in alert.name:
            assert factors == {factor}, (alert.name, window, factors)
            assert f"ratio_rate{window[0]}" in alert.expr and f"ratio_rate{window[1]}" in alert.expr


def test_pages_page_and_tickets_do_not() -> None:
    for alert in all_alerts():
        if "BudgetBurn" in alert.name and "long" in alert.labels:
            pages = SRE_WORKBOOK[(alert.labels["long"], alert.labels["short"])][2]
            if not pages:
                assert alert.severity != "critical", alert.name  # a 3d/6h ticket never pages


def test_every_other_alert_waits_its_reviewed_for() -> None:
    for alert in all_alerts():
        if "BudgetBurn" in alert.name:
            continue
        if alert.name.endswith("NoRecentSuccess"):
            assert alert.for_ == NO_RECENT_SUCCESS_FOR, alert.name
            continue
        assert alert.name in FOR, f"new alert {alert.name}: add its reviewed `for` here"
        assert alert.for_ in FOR[alert.name], (alert.name, alert.for_)


def test_clinical_endpoint_down_pages_within_five_minutes() -> None:
    (down,) = {a.for_ for a in all_alerts() if a.name == "EpjClinicalEndpointDown"}
    assert down == "5m"


def test_kpi_directions() -> None:
    directions = {kpi: spec[2] for kpi, spec in KPI_LABELS.items()}
    assert directions == {
        "medication_on_time_share": True,  # council report: higher is better
        "medication_administrations_per_day": None,
        "care_continuity_share": True,
        "patient_contacts_per_day": None,
        "no_show_rate": False,
        "emessage_turnaround_hours": False,
        "emessage_unanswered": False,
        "emessage_oldest_unanswered_hours": False,
        "wrong_medication_warnings_per_day": None,
        "secure_chat_messages_per_day": None,
        "citizen_portal_logins_per_day": None,
    }
