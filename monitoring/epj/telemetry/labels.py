"""Label values from an allow-list: the guard that keeps personal data out of metrics.

A metric label is copied into every dashboard, alert and notification e-mail and
kept for months; a national id (fødselsnummer), a person's name or a note's text
must never reach one. Rather than trying to recognise personal data (names cannot
be recognised), every label *name* the platform uses has a fixed set or a narrow
pattern of allowed *values*; anything else is refused with an error that names
the label but never echoes the value.

Where a fixed set is known it is used (services: the catalog; phases, KPI names,
FHIR resource types: constants). A few labels can only be checked by shape (wave
and gate names: lowercase identifiers); their producers take the values from
their own fixed vocabularies, never from record data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from epj import contract
from epj.monitoring.kpi.model import KPI_NAMES as _KPI_NAMES

GOLIVE_PHASES = frozenset(
    {
        "Planned", "Preparing", "Training", "Rehearsal", "Freeze", "Cutover", "Live", "Hypercare", "Stable",
        "OnHold", "Aborted", "RolledBack",
    }
)  # fmt: skip

# FHIR R4 resource types the migration and KPIs handle (a fixed set, not a pattern: "Ola" looks like a type).
FHIR_RESOURCE_TYPES = frozenset(
    {
        "Patient", "Practitioner", "PractitionerRole", "Organization", "Encounter", "Appointment",
        "MedicationRequest", "MedicationAdministration", "MedicationStatement", "Medication", "Observation",
        "Condition", "DocumentReference", "CarePlan", "AllergyIntolerance", "Flag", "Consent", "EpisodeOfCare",
        "Location", "RelatedPerson", "Communication", "Task", "Procedure", "Immunization",
    }
)  # fmt: skip

KPI_NAMES = frozenset(_KPI_NAMES)  # one list: the KPI model's

_TENANT = re.compile(r"^([0-9]{4})?$")
_PERIOD = re.compile(r"^[0-9]{1,3}d$")
_CODE = re.compile(r"^[1-5][0-9]{2}$")
_WAVE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")  # RolloutWave object names, e.g. wave-2027-q2

_ALLOWED: dict[str, frozenset[str] | re.Pattern[str] | str] = {
    "tenant": _TENANT,
    "service": "catalog",  # the service catalog's keys, read once
    "kind": frozenset({"clinical", "integration", "GoLive", "RolloutWave", "MigrationJob"}),
    "phase": GOLIVE_PHASES,
    "from_phase": GOLIVE_PHASES,
    "to_phase": GOLIVE_PHASES,
    "gate": re.compile(r"^[a-z][a-z0-9_-]{0,40}$"),  # gate names from a fixed vocabulary in epj.golive
    "wave": _WAVE,
    "kpi": KPI_NAMES,
    "period": _PERIOD,
    "outcome": frozenset({"ok", "error", "succeeded", "failed", "quarantined"}),
    "code": _CODE,
    "resource_type": FHIR_RESOURCE_TYPES,
    "source": frozenset({"profil", "cgm", "epj"}),
    "stage": frozenset({"extract", "map", "validate", "load", "reconcile"}),
    "purpose": frozenset(contract.MIGRATION_PURPOSES),
    "category": frozenset(contract.MIGRATION_CATEGORIES),
    contract.CERTIFICATE_LABEL: frozenset(contract.CERTIFICATES),
}


@lru_cache(maxsize=1)
def _catalog_services() -> frozenset[str]:
    from epj.catalog import load_catalog

    return frozenset(load_catalog().names())


class UnsafeLabel(ValueError):
    """A label name or value outside the allow-list. The message never contains the value."""


def allowed_label_names() -> frozenset[str]:
    return frozenset(_ALLOWED)


def check_label(name: str, value: str) -> str:
    """Return ``value`` if label ``name`` may carry it; raise :class:`UnsafeLabel` otherwise."""
    rule = _ALLOWED.get(name)
    if rule is None:
        raise UnsafeLabel(f"label {name!r} is not in the allow-list (epj.telemetry.labels)")
    if isinstance(rule, str):
        ok = value in _catalog_services()
    elif isinstance(rule, frozenset):
        ok = value in rule
    else:
        ok = bool(rule.fullmatch(value))
    if not ok:
        raise UnsafeLabel(f"label {name!r}: value refused by the allow-list ({len(value)} characters, not shown)")
    return value


def safe_labels(labels: Mapping[str, str] | None = None, **kwargs: str) -> dict[str, str]:
    """Validate every label; use as ``metric.labels(**safe_labels(tenant=nr, service=name))``."""
    merged = {**(labels or {}), **kwargs}
    return {name: check_label(name, str(value)) for name, value in merged.items()}
