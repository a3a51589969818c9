"""Every threshold, severity and number a person at 03:00 reads in an alert, written out by hand (issue 19).

The thresholds come from the runbooks (runbooks/alerts/*.md) and the service catalog's freshness limits, not
from the rule generator: a backup is taken daily, so one missed backup (26 h) warns and two (50 h) page;
CloudNativePG switches WAL every 5 minutes, so 15 minutes without archiving is a lag; the recovery window is
30 days plus 3 of slack (33); a database volume warns at 15 % and pages at 5 % free; a standby 5 minutes
behind is a lag; certificates warn 21 days and page 7 days before they expire; a migration running over
6 hours is stalled. Descriptions must say the same number the expression uses.
"""

from __future__ import annotations

from collections import defaultdict

from epj.monitoring.rules import Alert, Recording, all_alerts, rule_groups, services_by_alert


def _by_name() -> dict[str, list[Alert]]:
    found: dict[str, list[Alert]] = defaultdict(list)
    for alert in all_alerts():
        found[alert.name].append(alert)
    return found


def _one(name: str, severity: str) -> Alert:
    (alert,) = [a for a in _by_name()[name] if a.severity == severity]
    return alert


def test_database_and_backup_thresholds() -> None:
    backup_warn, backup_page = _one("EpjDatabaseBackupTooOld", "warning"), _one("EpjDatabaseBackupTooOld", "critical")
    assert backup_warn.expr.endswith(") > 26 * 3600") and backup_warn.for_ == "15m"
    assert backup_page.expr.endswith(") > 50 * 3600") and backup_page.for_ == "15m"
    lagging = _one("EpjDatabaseWalArchivingLagging", "warning")
    assert lagging.expr.endswith(") > 900") and lagging.for_ == "5m"
    assert "for more than 15 minutes" in lagging.description
    stale = _one("EpjDatabaseRecoverabilityPointStale", "warning")
    assert stale.expr.endswith(") > 33 * 86400") and stale.for_ == "1h"
    volume_warn = _one("EpjDatabaseVolumeFillingUp", "warning")
    volume_page = _one("EpjDatabaseVolumeFillingUp", "critical")
    assert ") < 0.15,\n" in volume_warn.expr and volume_warn.for_ == "15m"
    assert ") < 0.05,\n" in volume_page.expr and volume_page.for_ == "5m"
    assert "has less than 15% of its space left" in volume_warn.description
    assert "has less than 5% of its space left" in volume_page.description
    lag = _one("EpjDatabaseReplicationLag", "warning")
    assert lag.expr == "max by (tenant, pod) (cnpg_pg_replication_lag) > 300" and lag.for_ == "10m"
    assert lag.summary.endswith("lags more than 5 minutes.")
    assert "replays WAL more than 300 seconds behind the primary" in lag.description


def test_certificate_and_migration_thresholds() -> None:
    warn, page = _one("EpjCertificateExpiringSoon", "warning"), _one("EpjCertificateExpiringSoon", "critical")
    assert warn.expr.endswith(" < 21 * 86400") and warn.for_ == "1h"
    assert page.expr.endswith(" < 7 * 86400") and page.for_ == "10m"
    assert "expires within 21 days" in warn.summary and "expires within 7 days" in page.summary
    stalled = _one("EpjMigrationStalled", "warning")
    assert stalled.expr.endswith(" > 6 * 3600")


def test_freshness_limits_and_their_minutes_in_the_text() -> None:
    # (service alert, threshold in seconds, minutes in the description, severity from the service's criticality)
    expected = {
        "EpjEMessagingNoRecentSuccess": (1800, "in more than 30 minutes.", "warning"),
        "EpjKjernejournalNoRecentSuccess": (3600, "in more than 60 minutes.", "warning"),
        "EpjMedicationModuleNoRecentSuccess": (3600, "in more than 60 minutes.", "critical"),
        "EpjWelfareTechHubNoRecentSuccess": (900, "in more than 15 minutes.", "warning"),
        "EpjKprReportingNoRecentSuccess": (172800, "in more than 2880 minutes.", "info"),
        "EpjEMessagingMessageUnacknowledged": (7200, "has waited more than 120 minutes for an application", "warning"),
    }
    found = _by_name()
    for name, (seconds, text, severity) in expected.items():
        (alert,) = found[name]
        assert alert.expr.endswith(f" > {seconds}"), name
        assert text in alert.description, name
        assert alert.severity == severity and alert.for_ == "5m", name
    assert "epj_integration_last_success_timestamp_seconds{service=\"e-messaging\"}" in found[
        "EpjEMessagingNoRecentSuccess"][0].expr  # fmt: skip


def test_burn_rate_texts_name_the_factor_and_the_budget_in_percent() -> None:
    journal = {a.labels["long"]: a for a in _by_name()["EpjJournalErrorBudgetBurn"]}
    assert "has failed more than 14.4x its error budget (0.1 % of requests) over both the last 1h and 5m." in (
        journal["1h"].description
    )
    assert (
        "more than 6x its error budget (0.1 % of requests) over both the last 6h and 30m." in journal["6h"].description
    )
    latency = {a.labels["long"]: a for a in _by_name()["EpjJournalLatencyBudgetBurn"]}
    assert latency["1h"].description.startswith("More than 14.4x the allowed share (1 %) of Journal")
    assert "took longer than 1 s over both the last 1h and 5m." in latency["1h"].description
    # A low-criticality service: its pages are warnings and its 3-day ticket is only info.
    kpr = {a.labels["long"]: a.severity for a in _by_name()["EpjKprReportingErrorBudgetBurn"]}
    assert kpr == {"1h": "warning", "6h": "warning", "3d": "info"}
    assert [a.severity for a in _by_name()["EpjJournalErrorBudgetBurn"] if a.labels["long"] == "3d"] == ["warning"]
    # A medium one (secure chat, 07-23): pages are warnings, and so is its ticket (only "low" tickets are info).
    assert {a.labels["long"]: a.severity for a in _by_name()["EpjSecureChatErrorBudgetBurn"]} == {
        "1h": "warning", "6h": "warning", "3d": "warning"}  # fmt: skip


def test_probes_group_services_by_severity_and_hours() -> None:
    clinical = {(a.severity, a.labels["hours"]): a.expr for a in _by_name()["EpjClinicalEndpointDown"]}
    assert clinical == {
        ("critical", "24/7"): 'epj_probe_success{kind="clinical", '
        'service=~"journal|medication-administration|e-messaging"} == 0',
        ("warning", "07-23"): 'epj_probe_success{kind="clinical", service=~"secure-chat|citizen-portal"} == 0',
    }  # fmt: skip
    national = {(a.severity, a.labels["hours"]): a.expr for a in _by_name()["EpjNationalIntegrationDown"]}
    assert national == {
        ("critical", "24/7"): 'max by (service) (epj_probe_success{kind="integration", '
        'service=~"kjernejournal|medication-module|welfare-tech-hub"}) == 0',
        ("warning", "business"): 'max by (service) (epj_probe_success{kind="integration", '
        'service=~"kpr-reporting"}) == 0',
    }  # fmt: skip


def test_dependency_alerts_exist_exactly_for_apps_that_call_a_national_integration() -> None:
    dependencies = {(a.labels["service"], a.labels["dependency"]): a for a in _by_name()["EpjDependencyDown"]}
    assert set(dependencies) == {("journal", "kjernejournal"), ("medication-administration", "medication-module")}
    down = dependencies[("journal", "kjernejournal")]
    assert down.expr == 'max(epj_probe_success{kind="integration", service="kjernejournal"}) == 0'
    assert down.severity == "info" and down.for_ == "10m"


def test_each_service_alert_is_linked_to_its_services() -> None:
    linked = services_by_alert()
    assert linked["EpjJournalErrorBudgetBurn"] == ("journal",)
    assert linked["EpjJournalLatencyBudgetBurn"] == ("journal",)
    assert linked["EpjEMessagingMessageUnacknowledged"] == ("e-messaging",)
    assert linked["EpjKprReportingNoRecentSuccess"] == ("kpr-reporting",)
    assert linked["EpjCitizenPortalErrorBudgetBurnLowTraffic"] == ("citizen-portal",)
    assert "EpjDatabaseBackupTooOld" not in linked  # platform alerts concern no one service


def test_recordings_carry_their_labels_only_when_they_have_some() -> None:
    recordings = [r for group in rule_groups() for r in group.recordings]
    assert all(isinstance(r, Recording) for r in recordings)
    labelled = [r.to_dict() for r in recordings if r.labels]
    assert labelled and all(isinstance(d["labels"], dict) and d["labels"] for d in labelled)
    assert Recording("epj:x", "vector(1)").to_dict() == {"record": "epj:x", "expr": "vector(1)"}


def test_platform_wide_alerts_are_not_tenant_scoped() -> None:
    """Their runbooks take no --tenant (runbooks/generate.py): reviewed list, change it on purpose."""
    platform_wide = {
        "EpjCertificateExpiringSoon", "EpjDependencyDown", "EpjExporterDown", "EpjNationalIntegrationDown",
        "EpjOperatorDown",
        *(f"Epj{s}ErrorBudgetBurnLowTraffic" for s in (
            "CitizenPortal", "EMessaging", "Journal", "Kjernejournal", "KprReporting", "MedicationAdministration",
            "MedicationModule", "SecureChat", "WelfareTechHub")),
    }  # fmt: skip
    for alert in all_alerts():
        assert alert.tenant_scoped is (alert.name not in platform_wide), alert.name


def test_bucket_bounds_match_however_the_client_wrote_them() -> None:
    from epj.monitoring.rules import _le_matcher

    assert _le_matcher(0.5) == 'le="0.5"'
    assert _le_matcher(0.00001) == 'le="1e-05"'
    assert _le_matcher(2) == 'le=~"2|2\\\\.0"'


def test_a_window_whose_threshold_reaches_100_percent_gets_no_rule() -> None:
    from epj.monitoring.rules import usable_windows

    # 14.4 x 5 % = 72 %, 6 x 5 % = 30 %, 1 x 5 % = 5 %: all usable.
    assert [(bw.long, bw.short) for bw in usable_windows(0.05)] == [("1h", "5m"), ("6h", "30m"), ("3d", "6h")]
    # A 10 % budget: 14.4 x 10 % = 144 % can never fire.
    assert [(bw.long, bw.short) for bw in usable_windows(0.1)] == [("6h", "30m"), ("3d", "6h")]
    # Exactly 100 % is not below 100 %: no rule either.
    assert usable_windows(1.0) == ()


def test_a_rule_group_names_its_interval_only_when_it_has_one() -> None:
    from epj.monitoring.rules import RuleGroup

    assert RuleGroup("g", "g").to_dict() == {"name": "g", "rules": []}
    assert RuleGroup("g", "g", interval="30s").to_dict() == {"name": "g", "interval": "30s", "rules": []}


def test_only_apps_with_a_health_path_get_a_clinical_probe_alert() -> None:
    from epj.catalog import load_catalog
    from epj.monitoring.rules import probe_alerts

    catalog = load_catalog()
    services = dict(catalog.services)
    services["secure-chat"] = services["secure-chat"].model_copy(update={"health_path": None})
    services["kpr-reporting"] = services["kpr-reporting"].model_copy(update={"health_path": "/health"})
    changed = catalog.model_copy(update={"services": services})
    clinical = [a.expr for a in probe_alerts(changed) if a.name == "EpjClinicalEndpointDown"]
    assert 'epj_probe_success{kind="clinical", service=~"citizen-portal"} == 0' in clinical
    assert not any("secure-chat" in e or "kpr-reporting" in e for e in clinical)
