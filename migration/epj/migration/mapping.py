"""Legacy records → FHIR R4 resources as plain dicts (SPEC §2–§4). Domain core: no I/O, no adapters.

Why dicts and not fhir.resources models: building a model costs ~300 µs a resource, an order of
magnitude more than the whole rest of the pipeline (see PERFORMANCE-NOTES). The builders here take
values that the rules (`epj.migration.rules`) have already parsed and checked, so they can only produce
the shapes below; the test suite proves every shape valid against the fhir.resources R4B models with
hypothesis-generated inputs, and ``--validate-fhir`` re-checks a run's output when wanted.

Every builder is deterministic (same input → byte-identical JSON), which idempotent reruns rely on.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from typing import Any

from epj.migration.codes import (
    ACT_CODE_SYSTEM,
    ATC_SYSTEM,
    EXT_PLANLAGT,
    EXT_PRIORITET,
    EXT_TIMER_PR_UKE,
    HPR_SYSTEM,
    IPLOS_SYSTEM,
    IPLOS_VARIABLER,
    KJONN,
    KONSULTASJON_SYSTEM,
    LOINC_SYSTEM,
    MAALING,
    NOTATTYPE_SYSTEM,
    OBS_CATEGORY_SYSTEM,
    RELASJON_SYSTEM,
    ROLE_SYSTEM,
    TJENESTE,
    TJENESTE_SYSTEM,
    UCUM_SYSTEM,
    VEDTAK_STATUS,
)

Resource = dict[str, Any]
_FHIR_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")


def _legacy_concept(system: str, code: str) -> dict[str, Any]:
    """A free legacy code: coded when it is a valid FHIR `code`, else kept as text (nothing lost)."""
    if _FHIR_CODE.fullmatch(code):
        return {"coding": [{"system": system, "code": code}]}
    return {"text": code}


def ref(resource_type: str, rid: str) -> dict[str, str]:
    """A literal reference `Patient/<id>`."""
    return {"reference": f"{resource_type}/{rid}"}


def legacy_identifier(system: str, value: str) -> dict[str, str]:
    """The legacy key kept as an identifier (SPEC §4)."""
    return {"use": "secondary", "system": system, "value": value}


def _hpr_reference(hpr: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"identifier": {"system": HPR_SYSTEM, "value": hpr}}
    if display:
        out["display"] = display
    return out


def _period(start: str | None, end: str | None) -> dict[str, str]:
    period: dict[str, str] = {}
    if start:
        period["start"] = start
    if end:
        period["end"] = end
    return period


def _narrative(text: str) -> dict[str, str]:
    return {
        "status": "additional",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(text, quote=False)}</p></div>',
    }


def patient(
    rid: str,
    *,
    identifiers: list[dict[str, str]],
    family: str,
    given: str,
    gender_code: str,
    birth_date: dt.date | None,
    address: str = "",
    postal_code: str = "",
    city: str = "",
    phone: str = "",
    deceased: dt.date | None = None,
    active: bool = True,
) -> Resource:
    """Patient from a Profil BRUKER row or a CGM Barn (gender codes M/K/U)."""
    res: Resource = {"resourceType": "Patient", "id": rid, "identifier": identifiers, "active": active}
    name: dict[str, Any] = {"use": "official"}
    if family:
        name["family"] = family
    if given:
        name["given"] = given.split()
    if family or given:
        res["name"] = [name]
    if phone.strip():  # a blank field (spaces, NBSP) is no phone number; FHIR strings need a visible character
        res["telecom"] = [{"system": "phone", "value": phone.strip()}]
    res["gender"] = KJONN[gender_code]
    if birth_date is not None:
        res["birthDate"] = birth_date.isoformat()
    if deceased is not None:
        res["deceasedDateTime"] = deceased.isoformat()
    adr: dict[str, Any] = {}
    if address:
        adr["line"] = [address]
    if postal_code:
        adr["postalCode"] = postal_code
    if city:
        adr["city"] = city
    if adr:
        adr["country"] = "NO"
        res["address"] = [adr]
    return res


def episode_of_care(
    rid: str,
    *,
    identifier: dict[str, str],
    patient_id: str,
    tjeneste: str,
    status: str,
    start: dt.date,
    end: dt.date | None,
    timer_pr_uke: float | None,
) -> Resource:
    """EpisodeOfCare from a VEDTAK row; an AVSLAG (rejected application) is kept as cancelled."""
    res: Resource = {"resourceType": "EpisodeOfCare", "id": rid}
    if timer_pr_uke is not None:
        res["extension"] = [{"url": EXT_TIMER_PR_UKE, "valueDecimal": timer_pr_uke}]
    res["identifier"] = [identifier]
    res["status"] = VEDTAK_STATUS[status]
    res["type"] = [{"coding": [{"system": TJENESTE_SYSTEM, "code": tjeneste, "display": TJENESTE[tjeneste]}]}]
    res["patient"] = ref("Patient", patient_id)
    res["period"] = _period(start.isoformat(), end.isoformat() if end else None)
    return res


def document_reference(
    rid: str,
    *,
    identifier: dict[str, str],
    patient_id: str,
    notattype: str,
    timestamp: str,
    author_hpr: str,
    author_name: str,
    text: str,
) -> Resource:
    """DocumentReference from a JOURNAL note; the note text travels as a UTF-8 text/plain attachment."""
    res: Resource = {
        "resourceType": "DocumentReference",
        "id": rid,
        "identifier": [identifier],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": NOTATTYPE_SYSTEM, "code": notattype}]},
        "subject": ref("Patient", patient_id),
        "date": timestamp,
    }
    if author_hpr:
        res["author"] = [_hpr_reference(author_hpr, author_name or None)]
    elif author_name:
        res["author"] = [{"display": author_name}]
    res["content"] = [
        {
            "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
            }
        }
    ]
    return res


def medication_concept(atc: str, atc_valid: bool, preparat: str, styrke: str) -> dict[str, Any]:
    """The medication: ATC coded when valid, else the legacy text only (warning INVALID_ATC)."""
    text = " ".join(part for part in (preparat, styrke) if part) or atc or "ukjent legemiddel"
    concept: dict[str, Any] = {}
    if atc_valid:
        coding: dict[str, str] = {"system": ATC_SYSTEM, "code": atc}
        if preparat:
            coding["display"] = preparat
        concept["coding"] = [coding]
    if text:
        concept["text"] = text
    return concept


def medication_statement(
    rid: str,
    *,
    identifier: dict[str, str],
    patient_id: str,
    status: str,
    medication: dict[str, Any],
    start: dt.date,
    end: dt.date | None,
    dosage: str,
) -> Resource:
    """MedicationStatement from a LEGEMIDDEL row (status decided by the rules: stopped/completed/active)."""
    res: Resource = {
        "resourceType": "MedicationStatement",
        "id": rid,
        "identifier": [identifier],
        "status": status,
        "medicationCodeableConcept": medication,
        "subject": ref("Patient", patient_id),
        "effectivePeriod": _period(start.isoformat(), end.isoformat() if end else None),
    }
    if dosage.strip():
        res["dosage"] = [{"text": dosage.strip()}]
    return res


def medication_administration(
    rid: str,
    *,
    identifier: dict[str, str],
    patient_id: str,
    statement_id: str,
    medication: dict[str, Any],
    status: str,
    planned: str,
    given: str | None,
    given_by_hpr: str,
    self_administered: bool,
) -> Resource:
    """MedicationAdministration from an ADMINISTRERING row, linked to its MedicationStatement."""
    res: Resource = {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "extension": [{"url": EXT_PLANLAGT, "valueDateTime": planned}],
        "identifier": [identifier],
        "status": status,
        "medicationCodeableConcept": medication,
        "subject": ref("Patient", patient_id),
        "supportingInformation": [ref("MedicationStatement", statement_id)],
        "effectiveDateTime": given or planned,
    }
    if self_administered:
        res["performer"] = [{"actor": ref("Patient", patient_id)}]
    elif given_by_hpr:
        res["performer"] = [{"actor": _hpr_reference(given_by_hpr)}]
    if status == "not-done":
        res["statusReason"] = [{"text": "IKKE_GITT"}]
    return res


def iplos_observation(rid: str, *, patient_id: str, variabel: str, date: dt.date, skaar: int) -> Resource:
    """Observation for one IPLOS function score (9 = not relevant is kept as a score)."""
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY_SYSTEM, "code": "survey"}]}],
        "code": {"coding": [{"system": IPLOS_SYSTEM, "code": variabel, "display": IPLOS_VARIABLER[variabel]}]},
        "subject": ref("Patient", patient_id),
        "effectiveDateTime": date.isoformat(),
        "valueInteger": skaar,
    }


def related_person(
    rid: str,
    *,
    identifiers: list[dict[str, str]],
    patient_id: str,
    relation: tuple[str | None, str],
    relation_code: str,
    name: str,
    phone: str = "",
    priority: int | None = None,
) -> Resource:
    """RelatedPerson from a PARORENDE row or a CGM Foresatt (one per element, siblings or not)."""
    res: Resource = {"resourceType": "RelatedPerson", "id": rid}
    if priority is not None:
        res["extension"] = [{"url": EXT_PRIORITET, "valueInteger": priority}]
    if identifiers:
        res["identifier"] = identifiers
    res["patient"] = ref("Patient", patient_id)
    role, display = relation
    legacy = {"system": RELASJON_SYSTEM, "code": relation_code}  # kept verbatim, after the v3 role if any
    codings = [legacy] if role is None else [{"system": ROLE_SYSTEM, "code": role, "display": display}, legacy]
    res["relationship"] = [{"coding": codings}]
    if name.strip():
        res["name"] = [{"text": name.strip()}]
    if phone.strip():  # a blank field (spaces, NBSP) is no phone number; FHIR strings need a visible character
        res["telecom"] = [{"system": "phone", "value": phone.strip()}]
    return res


def encounter(
    rid: str, *, identifier: dict[str, str], patient_id: str, konsultasjonstype: str, date: dt.date, text: str
) -> Resource:
    """Encounter from a CGM Konsultasjon; its free text is kept as the narrative."""
    res: Resource = {"resourceType": "Encounter", "id": rid}
    if text:
        res["text"] = _narrative(text)
    res["identifier"] = [identifier]
    res["status"] = "finished"
    res["class"] = {"system": ACT_CODE_SYSTEM, "code": "AMB", "display": "ambulatory"}
    res["type"] = [_legacy_concept(KONSULTASJON_SYSTEM, konsultasjonstype)]
    res["subject"] = ref("Patient", patient_id)
    res["period"] = {"start": date.isoformat(), "end": date.isoformat()}
    return res


def measurement_observation(
    rid: str, *, identifier: dict[str, str], patient_id: str, maaling_type: str, date: dt.date, value: float
) -> Resource:
    """Observation (LOINC) from a CGM Maaling: weight in kg, length and head circumference in cm."""
    loinc, display, unit = MAALING[maaling_type]
    return {
        "resourceType": "Observation",
        "id": rid,
        "identifier": [identifier],
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY_SYSTEM, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": loinc, "display": display}]},
        "subject": ref("Patient", patient_id),
        "effectiveDateTime": date.isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM_SYSTEM, "code": unit},
    }


def immunization(
    rid: str,
    *,
    identifier: dict[str, str],
    patient_id: str,
    atc: str,
    atc_valid: bool,
    date: dt.date,
    dose: int,
    batch: str,
) -> Resource:
    """Immunization from a CGM Vaksinasjon (vaccineCode in ATC; text only when the ATC is invalid)."""
    vaccine: dict[str, Any] = {"coding": [{"system": ATC_SYSTEM, "code": atc}]} if atc_valid else {"text": atc or "?"}
    res: Resource = {
        "resourceType": "Immunization",
        "id": rid,
        "identifier": [identifier],
        "status": "completed",
        "vaccineCode": vaccine,
        "patient": ref("Patient", patient_id),
        "occurrenceDateTime": date.isoformat(),
    }
    if batch:
        res["lotNumber"] = batch
    res["protocolApplied"] = [{"doseNumberPositiveInt": dose}]
    return res
