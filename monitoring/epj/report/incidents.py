"""What a critical alert means for a council: a bokmål title, and whether it counts as downtime.

Downtime is time during which a clinical service or a national integration was unavailable or
failing for users; a latency alert (slow, but working) is an incident, not downtime, and neither
are alerts about the platform's own tooling (a stalled go-live, an exporter, a backup).
"""

from __future__ import annotations

from epj.catalog import load_catalog

# Alert-name suffix (after Epj<Service>) → (what happened, in bokmål; counts as downtime).
KINDS_NB: tuple[tuple[str, str, bool], ...] = (
    ("ErrorBudgetBurnLowTraffic", "mange feilede forespørsler", True),
    ("ErrorBudgetBurn", "mange feilede forespørsler", True),
    ("LatencyBudgetBurn", "treg svartid", False),
    ("ClinicalEndpointDown", "utilgjengelig", True),
    ("EndpointDown", "utilgjengelig", True),
    ("ProbeFailing", "utilgjengelig for brukerne", True),
    ("NationalIntegrationDown", "nasjonal integrasjon nede", True),
    ("NoRecentSuccess", "ingen vellykkede forespørsler", True),
)

SERVICES_NB: dict[str, str] = {
    "journal": "Journal",
    "medication-administration": "Legemiddelhåndtering",
    "e-messaging": "Elektroniske meldinger (PLO)",
    "secure-chat": "Sikker chat",
    "citizen-portal": "Innbyggerportalen (HelsaMi)",
    "kjernejournal": "Kjernejournal",
    "medication-module": "Nasjonal legemiddelmodul",
    "welfare-tech-hub": "Velferdsteknologisk knutepunkt",
    "kpr-reporting": "Rapportering til KPR",
}


def _kind(alert: str) -> tuple[str, bool] | None:
    for suffix, text, downtime in KINDS_NB:
        if alert.endswith(suffix):
            return text, downtime
    return None


def counts_as_downtime(alert: str) -> bool:
    """Whether a firing critical alert means users could not work (latency and tooling alerts do not)."""
    kind = _kind(alert)
    return kind is not None and kind[1]


def _service_of(alert: str, service: str | None) -> str | None:
    if service:
        return service
    body = alert.removeprefix("Epj")
    for key in load_catalog().names():
        camel = "".join(part.capitalize() for part in key.split("-"))
        if body.startswith(camel):
            return key
    return None


def title_nb(alert: str, service: str | None = None) -> str:
    """``EpjMedicationAdministrationErrorBudgetBurn`` → ``Legemiddelhåndtering: mange feilede forespørsler``."""
    kind = _kind(alert)
    key = _service_of(alert, service)
    name = SERVICES_NB.get(key or "", key) if key else None
    if kind is None:
        return f"{name}: {alert}" if name else alert
    return f"{name}: {kind[0]}" if name else kind[0].capitalize()
