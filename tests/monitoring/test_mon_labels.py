"""No national id, name or note text can reach a label: allow-list validation, applied everywhere."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epj.catalog import load_catalog
from epj.migration.synthetic_ids import check_digits
from epj.monitoring.rules import all_alerts, rule_groups
from epj.telemetry.labels import UnsafeLabel, allowed_label_names, check_label, safe_labels
from epj.telemetry.redact import PersonalDataFilter, redact

# Checksum-valid national ids built at run time: one synthetic (month + 80) and one in the real format
# (never committed as a literal: the repository rule), so both kinds are refused.
SYNTHETIC_FNR = [f"010190501{check_digits('010190501')}", f"158665005{check_digits('158665005')}"]


@pytest.mark.parametrize(
    "value", [*SYNTHETIC_FNR, "Kari Nordmann", "Ola", "ola", "pasienten var urolig i natt", "5035 "]
)
@pytest.mark.parametrize("name", ["tenant", "service", "kpi", "kind", "phase", "resource_type", "period", "code"])
def test_personal_data_is_refused_in_every_label(name: str, value: str) -> None:
    with pytest.raises(UnsafeLabel) as info:
        check_label(name, value)
    assert value not in str(info.value)  # the error never echoes the value


@given(st.text(min_size=1, max_size=40))
def test_tenant_label_accepts_only_a_kommunenummer_or_nothing(value: str) -> None:
    if re.fullmatch(r"[0-9]{4}", value):
        assert check_label("tenant", value) == value
    else:
        with pytest.raises(UnsafeLabel):
            check_label("tenant", value)


def test_unknown_label_names_are_refused() -> None:
    with pytest.raises(UnsafeLabel):
        safe_labels(patient="123")
    assert safe_labels(tenant="5035", service="journal", kind="clinical") == {
        "tenant": "5035",
        "service": "journal",
        "kind": "clinical",
    }


def test_every_catalog_service_name_is_an_allowed_service_label() -> None:
    for name in load_catalog().services:
        assert check_label("service", name) == name


def test_generated_rules_only_set_labels_with_fixed_values() -> None:
    fixed = {"severity", "scope", "long", "short", "hours", "service", "dependency", "job"}
    for alert in all_alerts():
        assert set(alert.all_labels()) <= fixed, alert.name
        if "dependency" in alert.all_labels():  # a catalog service name, like ``service``
            check_label("service", alert.all_labels()["dependency"])
        assert not re.search(r"[0-9]{11}", alert.expr + alert.summary + alert.description)
    for group in rule_groups():
        for rec in group.recordings:
            assert set(rec.labels) <= {"service"}
            check_label("service", rec.labels["service"])
    assert {"tenant", "service", "kpi"} <= allowed_label_names()


def test_log_filter_redacts_national_ids(caplog: pytest.LogCaptureFixture) -> None:
    assert redact(f"row {SYNTHETIC_FNR[0]} failed, id 12345678901") == "row [fnr] failed, id 12345678901"
    logger = logging.getLogger("epj.test.redact")
    logger.addFilter(PersonalDataFilter())
    with caplog.at_level(logging.INFO, logger="epj.test.redact"):
        logger.info("patient %s moved", SYNTHETIC_FNR[1])
    assert SYNTHETIC_FNR[1] not in caplog.text and "[fnr]" in caplog.text
