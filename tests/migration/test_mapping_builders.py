"""The FHIR builders one by one, each resource written out by hand from the contract (SPEC §2–§4).

Why beside the golden value tests: those go through the whole pipeline and see only the shapes the
golden rows happen to produce; here every optional branch of a builder (blank phone, no name, an
invalid ATC, a legacy code that is not a FHIR `code`, free text needing escaping) is pinned to a
literal resource. The URIs are restated here, not imported from `epj.migration.codes`.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from epj.migration import mapping

FNR = "urn:oid:2.16.578.1.12.4.1.4.1"
HPR = "urn:oid:2.16.578.1.12.4.1.4.4"
ATC = "http://www.whocc.no/atc"
LEGACY_BRUKER = "urn:legacy:profil:5035:bruker"
IDENT = {"use": "secondary", "system": "urn:legacy:x", "value": "1"}
PAT = {"reference": "Patient/p1"}


def test_reference_and_legacy_identifier() -> None:
    assert mapping.ref("Patient", "abc") == {"reference": "Patient/abc"}
    assert mapping.legacy_identifier(LEGACY_BRUKER, "17") == {
        "use": "secondary",
        "system": LEGACY_BRUKER,
        "value": "17",
    }


def test_patient_every_field() -> None:
    ids = [{"use": "official", "system": FNR, "value": "x"}]
    got = mapping.patient(
        "p1",
        identifiers=ids,
        family="Åsen",
        given="Kari  Marie",
        gender_code="K",
        birth_date=dt.date(1940, 5, 17),
        address="Storgata 1",
        postal_code="7500",
        city="STJØRDAL",
        phone=" 90000001 ",
        deceased=dt.date(2026, 2, 10),
        active=False,
    )
    assert got == {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": ids,
        "active": False,
        "name": [{"use": "official", "family": "Åsen", "given": ["Kari", "Marie"]}],
        "telecom": [{"system": "phone", "value": "90000001"}],
        "gender": "female",
        "birthDate": "1940-05-17",
        "deceasedDateTime": "2026-02-10",
        "address": [{"line": ["Storgata 1"], "postalCode": "7500", "city": "STJØRDAL", "country": "NO"}],
    }


def test_patient_minimal_has_no_empty_elements() -> None:
    """No name, phone, address or birth date in the row: those elements are absent, never empty."""
    got = mapping.patient("p2", identifiers=[], family="", given="", gender_code="U", birth_date=None, phone=" \u00a0")
    assert got == {"resourceType": "Patient", "id": "p2", "identifier": [], "active": True, "gender": "unknown"}


@pytest.mark.parametrize(
    ("family", "given", "name"),
    [
        ("Lund", "", {"use": "official", "family": "Lund"}),
        ("", "Jon", {"use": "official", "given": ["Jon"]}),
    ],
)
def test_patient_half_a_name(family: str, given: str, name: dict[str, Any]) -> None:
    got = mapping.patient("p", identifiers=[], family=family, given=given, gender_code="M", birth_date=None)
    assert got["name"] == [name]
    assert got["gender"] == "male"


@pytest.mark.parametrize(
    ("address", "postal_code", "city", "adr"),
    [
        ("Gata 2", "", "", {"line": ["Gata 2"], "country": "NO"}),
        ("", "7500", "", {"postalCode": "7500", "country": "NO"}),
        ("", "", "STJØRDAL", {"city": "STJØRDAL", "country": "NO"}),
    ],
)
def test_patient_partial_address(address: str, postal_code: str, city: str, adr: dict[str, Any]) -> None:
    got = mapping.patient(
        "p",
        identifiers=[],
        family="A",
        given="B",
        gender_code="K",
        birth_date=None,
        address=address,
        postal_code=postal_code,
        city=city,
    )
    assert got["address"] == [adr]


def test_episode_of_care_with_and_without_hours_and_end() -> None:
    got = mapping.episode_of_care(
        "e1",
        identifier=IDENT,
        patient_id="p1",
        tjeneste="BPA",
        status="AVSLAG",
        start=dt.date(2025, 1, 1),
        end=dt.date(2025, 12, 31),
        timer_pr_uke=0.0,
    )
    assert got == {
        "resourceType": "EpisodeOfCare",
        "id": "e1",
        "extension": [{"url": "urn:epj:extension:timer-pr-uke", "valueDecimal": 0.0}],
        "identifier": [IDENT],
        "status": "cancelled",
        "type": [
            {
                "coding": [
                    {
                        "system": "urn:epj:codesystem:profil:tjeneste",
                        "code": "BPA",
                        "display": "Brukerstyrt personlig assistanse",
                    }
                ]
            }
        ],
        "patient": PAT,
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
    }
    bare = mapping.episode_of_care(
        "e2",
        identifier=IDENT,
        patient_id="p1",
        tjeneste="MAT",
        status="AVSLUTTET",
        start=dt.date(2025, 1, 1),
        end=None,
        timer_pr_uke=None,
    )
    assert "extension" not in bare and bare["period"] == {"start": "2025-01-01"} and bare["status"] == "finished"


def test_document_reference_author_variants_and_text() -> None:
    text = 'Linje én; "sitat"\r\nLinje to ø'
    got = mapping.document_reference(
        "d1",
        identifier=IDENT,
        patient_id="p1",
        notattype="AVVIK",
        timestamp="2026-02-15T08:30:00+01:00",
        author_hpr="1234567",
        author_name="",
        text=text,
    )
    assert got == {
        "resourceType": "DocumentReference",
        "id": "d1",
        "identifier": [IDENT],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": "urn:epj:codesystem:profil:notattype", "code": "AVVIK"}]},
        "subject": PAT,
        "date": "2026-02-15T08:30:00+01:00",
        "author": [{"identifier": {"system": HPR, "value": "1234567"}}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                }
            }
        ],
    }
    assert base64.b64decode(got["content"][0]["attachment"]["data"]) == text.encode("utf-8")
    anonymous = mapping.document_reference(
        "d2",
        identifier=IDENT,
        patient_id="p1",
        notattype="RAPPORT",
        timestamp="t",
        author_hpr="",
        author_name="",
        text="",
    )
    assert "author" not in anonymous


@pytest.mark.parametrize(
    ("atc", "valid", "preparat", "styrke", "concept"),
    [
        (
            "N02BE01",
            True,
            "Paracet",
            "500 mg",
            {"coding": [{"system": ATC, "code": "N02BE01", "display": "Paracet"}], "text": "Paracet 500 mg"},
        ),
        ("N02BE01", True, "", "", {"coding": [{"system": ATC, "code": "N02BE01"}], "text": "N02BE01"}),
        ("N02BE01", True, "", "10 mg", {"coding": [{"system": ATC, "code": "N02BE01"}], "text": "10 mg"}),
        ("X-1", False, "Ukjent", "", {"text": "Ukjent"}),
        ("X-1", False, "", "", {"text": "X-1"}),
        ("", False, "", "", {"text": "ukjent legemiddel"}),
    ],
)
def test_medication_concept(atc: str, valid: bool, preparat: str, styrke: str, concept: dict[str, Any]) -> None:
    assert mapping.medication_concept(atc, valid, preparat, styrke) == concept


def test_medication_statement() -> None:
    med = {"text": "X"}
    got = mapping.medication_statement(
        "m1",
        identifier=IDENT,
        patient_id="p1",
        status="stopped",
        medication=med,
        start=dt.date(2024, 1, 1),
        end=dt.date(2030, 12, 31),
        dosage="  1 tablett  ",
    )
    assert got == {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "identifier": [IDENT],
        "status": "stopped",
        "medicationCodeableConcept": med,
        "subject": PAT,
        "effectivePeriod": {"start": "2024-01-01", "end": "2030-12-31"},
        "dosage": [{"text": "1 tablett"}],
    }
    blank = mapping.medication_statement(
        "m2",
        identifier=IDENT,
        patient_id="p1",
        status="active",
        medication=med,
        start=dt.date(2024, 1, 1),
        end=None,
        dosage=" ",
    )
    assert "dosage" not in blank and blank["effectivePeriod"] == {"start": "2024-01-01"}


def _administration(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "identifier": IDENT,
        "patient_id": "p1",
        "statement_id": "s1",
        "medication": {"text": "X"},
        "status": "completed",
        "planned": "2026-02-20T08:00:00+01:00",
        "given": "2026-02-20T08:20:00+01:00",
        "given_by_hpr": "",
        "self_administered": False,
    }
    args.update(kw)
    return mapping.medication_administration("a1", **args)


def test_medication_administration_given_by_a_nurse() -> None:
    assert _administration(given_by_hpr="7654321") == {
        "resourceType": "MedicationAdministration",
        "id": "a1",
        "extension": [{"url": "urn:epj:extension:planlagt-tidspunkt", "valueDateTime": "2026-02-20T08:00:00+01:00"}],
        "identifier": [IDENT],
        "status": "completed",
        "medicationCodeableConcept": {"text": "X"},
        "subject": PAT,
        "supportingInformation": [{"reference": "MedicationStatement/s1"}],
        "effectiveDateTime": "2026-02-20T08:20:00+01:00",
        "performer": [{"actor": {"identifier": {"system": HPR, "value": "7654321"}}}],
    }


def test_medication_administration_not_given_and_self_administered() -> None:
    not_given = _administration(status="not-done", given=None)
    assert not_given["effectiveDateTime"] == "2026-02-20T08:00:00+01:00"  # the planned time
    assert not_given["statusReason"] == [{"text": "IKKE_GITT"}]
    assert "performer" not in not_given
    own = _administration(self_administered=True, given_by_hpr="7654321")
    assert own["performer"] == [{"actor": {"reference": "Patient/p1"}}]  # the patient, not the HPR
    assert "statusReason" not in own


@pytest.mark.parametrize("status", ["stopped", "on-hold", "completed"])
def test_medication_administration_status_reason_only_when_not_done(status: str) -> None:
    got = _administration(status=status)
    assert got["status"] == status and "statusReason" not in got


def test_iplos_observation() -> None:
    got = mapping.iplos_observation("o1", patient_id="p1", variabel="HORSEL", date=dt.date(2026, 2, 1), skaar=9)
    assert got == {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}
        ],
        "code": {
            "coding": [{"system": "urn:epj:codesystem:iplos:funksjonsvariabel", "code": "HORSEL", "display": "Hørsel"}]
        },
        "subject": PAT,
        "effectiveDateTime": "2026-02-01",
        "valueInteger": 9,
    }


def test_related_person_with_role_priority_and_phone() -> None:
    got = mapping.related_person(
        "r1",
        identifiers=[IDENT],
        patient_id="p1",
        relation=("SPS", "spouse"),
        relation_code="EKTEFELLE",
        name=" Per Åsen ",
        phone=" 90000002 ",
        priority=0,
    )
    assert got == {
        "resourceType": "RelatedPerson",
        "id": "r1",
        "extension": [{"url": "urn:epj:extension:kontaktprioritet", "valueInteger": 0}],
        "identifier": [IDENT],
        "patient": PAT,
        "relationship": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "SPS", "display": "spouse"},
                    {"system": "urn:epj:codesystem:legacy:relasjon", "code": "EKTEFELLE"},
                ]
            }
        ],
        "name": [{"text": "Per Åsen"}],
        "telecom": [{"system": "phone", "value": "90000002"}],
    }


def test_related_person_without_role_or_optional_fields() -> None:
    got = mapping.related_person(
        "r2", identifiers=[], patient_id="p1", relation=(None, "annen"), relation_code="ANNEN", name=" ", phone=" "
    )
    assert got == {
        "resourceType": "RelatedPerson",
        "id": "r2",
        "patient": PAT,
        "relationship": [{"coding": [{"system": "urn:epj:codesystem:legacy:relasjon", "code": "ANNEN"}]}],
    }


def test_encounter_narrative_is_escaped_xhtml() -> None:
    got = mapping.encounter(
        "k1",
        identifier=IDENT,
        patient_id="p1",
        konsultasjonstype="6U",
        date=dt.date(2022, 4, 15),
        text='Vekt <5 kg & "fin"',
    )
    assert got == {
        "resourceType": "Encounter",
        "id": "k1",
        "text": {
            "status": "additional",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Vekt &lt;5 kg &amp; "fin"</p></div>',
        },
        "identifier": [IDENT],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "type": [{"coding": [{"system": "urn:epj:codesystem:cgm:konsultasjonstype", "code": "6U"}]}],
        "subject": PAT,
        "period": {"start": "2022-04-15", "end": "2022-04-15"},
    }


@pytest.mark.parametrize(
    ("ktype", "concept"),
    [
        ("6 uker", {"coding": [{"system": "urn:epj:codesystem:cgm:konsultasjonstype", "code": "6 uker"}]}),
        (" 6U", {"text": " 6U"}),  # a FHIR code has no leading or trailing whitespace
        ("6U ", {"text": "6U "}),
        ("6  U", {"text": "6  U"}),  # nor runs of whitespace
    ],
)
def test_encounter_type_is_coded_only_when_a_fhir_code(ktype: str, concept: dict[str, Any]) -> None:
    got = mapping.encounter(
        "k", identifier=IDENT, patient_id="p1", konsultasjonstype=ktype, date=dt.date(2022, 4, 15), text=""
    )
    assert got["type"] == [concept]
    assert "text" not in got


@pytest.mark.parametrize(
    ("mtype", "loinc", "display", "unit"),
    [
        ("VEKT", "29463-7", "Body weight", "kg"),
        ("LENGDE", "8302-2", "Body height", "cm"),
        ("HODEOMKRETS", "9843-4", "Head Occipital-frontal circumference", "cm"),
    ],
)
def test_measurement_observation(mtype: str, loinc: str, display: str, unit: str) -> None:
    got = mapping.measurement_observation(
        "m1", identifier=IDENT, patient_id="p1", maaling_type=mtype, date=dt.date(2024, 6, 20), value=4.85
    )
    assert got == {
        "resourceType": "Observation",
        "id": "m1",
        "identifier": [IDENT],
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
        "subject": PAT,
        "effectiveDateTime": "2024-06-20",
        "valueQuantity": {"value": 4.85, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def test_immunization_valid_and_invalid_atc() -> None:
    got = mapping.immunization(
        "v1",
        identifier=IDENT,
        patient_id="p1",
        atc="J07BH01",
        atc_valid=True,
        date=dt.date(2022, 6, 1),
        dose=1,
        batch="AB123",
    )
    assert got == {
        "resourceType": "Immunization",
        "id": "v1",
        "identifier": [IDENT],
        "status": "completed",
        "vaccineCode": {"coding": [{"system": ATC, "code": "J07BH01"}]},
        "patient": PAT,
        "occurrenceDateTime": "2022-06-01",
        "lotNumber": "AB123",
        "protocolApplied": [{"doseNumberPositiveInt": 1}],
    }
    bad = mapping.immunization(
        "v2", identifier=IDENT, patient_id="p1", atc="", atc_valid=False, date=dt.date(2022, 6, 1), dose=2, batch=""
    )
    assert bad["vaccineCode"] == {"text": "?"} and "lotNumber" not in bad


@pytest.mark.parametrize(
    "builder",
    [
        mapping.patient,
        mapping.episode_of_care,
        mapping.document_reference,
        mapping.medication_statement,
        mapping.medication_administration,
        mapping.iplos_observation,
        mapping.related_person,
        mapping.encounter,
        mapping.measurement_observation,
        mapping.immunization,
    ],
)
def test_builders_take_fields_by_keyword_only(builder: Any) -> None:
    """Only the id is positional: the builders take many same-typed strings (start/end, patient/statement
    ids, planned/given times) that a positional call could silently swap."""
    import inspect

    params = list(inspect.signature(builder).parameters.values())
    assert params[0].name == "rid" and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
