"""Value oracle: the golden extract's FHIR content, written out by hand from the contract (SPEC rules).

Every expectation below is a literal derived from the extract rows in migration/golden (see its
README) and EXTRACT-CONTRACT.md, never from the production code's constants: a swapped gender code,
a planned time used for a given dose, a birth date preferred over the national id's or a wrong status
mapping fails here. Resources are found by their legacy identifier (SPEC §4).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from epj.migration.pipeline import run_migration

FNR = "urn:oid:2.16.578.1.12.4.1.4.1"
DNR = "urn:oid:2.16.578.1.12.4.1.4.2"
HPR = "urn:oid:2.16.578.1.12.4.1.4.4"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PLANNED = "urn:epj:extension:planlagt-tidspunkt"


def _legacy(system: str, table: str) -> str:
    return f"urn:legacy:{system}:5035:{table}"


@pytest.fixture(scope="module")
def golden_out(golden_extract: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("golden")
    run_migration(golden_extract, f"ndjson:{tmp / 'out'}", synthetic_ids=True, report_dir=tmp / "r")
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((tmp / "out").iterdir()):
        out[path.name.removesuffix(".ndjson")] = [json.loads(line) for line in path.read_text().splitlines()]
    return out


def _by_legacy(resources: list[dict[str, Any]], system: str, value: str) -> dict[str, Any]:
    found = [r for r in resources if {"system": system, "value": value} in _plain(r.get("identifier", []))]
    assert len(found) == 1, f"{system}|{value}: {len(found)} resources"
    return found[0]


def _plain(identifiers: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"system": i["system"], "value": i["value"]} for i in identifiers]


def _patient(out: dict[str, list[dict[str, Any]]], system: str, table: str, key: str) -> dict[str, Any]:
    return _by_legacy(out["Patient"], _legacy(system, table), key)


def _ref(res: dict[str, Any]) -> str:
    return f"Patient/{res['id']}"


# ------------------------------------------------------------------------------------ Patient
def test_patients_gender_birth_date_names_and_ids(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    p1 = _patient(golden_out, "profil", "bruker", "1")
    assert p1["gender"] == "female"  # Kjonn K
    assert p1["birthDate"] == "1940-05-17"
    assert p1["name"] == [{"use": "official", "family": "Åsen", "given": ["Kari", "Marie"]}]
    assert {"system": FNR, "value": "17854006843"} in _plain(p1["identifier"])
    assert p1["active"] is True
    assert p1["telecom"] == [{"system": "phone", "value": "90000001"}]
    assert p1["address"] == [{"line": ["Storgata 1"], "postalCode": "7500", "city": "STJØRDAL", "country": "NO"}]

    p2 = _patient(golden_out, "profil", "bruker", "2")
    assert p2["gender"] == "male"  # Kjonn M
    assert p2["birthDate"] == "1935-01-02"  # from the national id 028135…, not Fodselsdato 03.01.1935
    assert p2["deceasedDateTime"] == "2026-02-10" and p2["active"] is False  # DOD

    p3 = _patient(golden_out, "profil", "bruker", "3")
    assert p3["gender"] == "unknown" and p3["birthDate"] == "1950-12-12" and p3["active"] is False
    assert _plain(p3["identifier"]) == [{"system": _legacy("profil", "bruker"), "value": "3"}]

    p4 = _patient(golden_out, "profil", "bruker", "4")  # invalid id: not carried, birth date from the file
    assert p4["birthDate"] == "1960-02-01"
    assert all(i["value"] != "01826003364" for i in p4["identifier"])

    p5 = _patient(golden_out, "profil", "bruker", "5")  # D-nummer
    assert {"system": DNR, "value": "60865043433"} in _plain(p5["identifier"])
    assert p5["birthDate"] == "1950-06-20" and p5["gender"] == "female"

    h2 = _patient(golden_out, "cgm", "barn", "H2")
    assert h2["gender"] == "male" and h2["birthDate"] == "2024-05-17"
    assert h2["name"] == [{"use": "official", "family": "Lund", "given": ["Jon"]}]
    assert len(golden_out["Patient"]) == 9


def test_merged_patients_carry_every_legacy_identifier(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    child = _patient(golden_out, "profil", "bruker", "10")
    assert child is _patient(golden_out, "cgm", "barn", "H1")
    assert _plain(child["identifier"]) == [
        {"system": FNR, "value": "04832291000"},
        {"system": _legacy("profil", "bruker"), "value": "10"},
        {"system": _legacy("cgm", "barn"), "value": "H1"},
    ]
    assert child["name"][0]["given"] == ["Mia"]  # the first record's name (Profil is read first)
    assert child["birthDate"] == "2022-03-04"
    twins = _patient(golden_out, "cgm", "barn", "H5")
    assert twins is _patient(golden_out, "cgm", "barn", "H8")
    assert "04832291000" not in child["id"] and "17852489162" not in twins["id"]


# ------------------------------------------------------------------------------------ care
def test_episode_of_care_status_type_period_and_hours(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    eoc = golden_out["EpisodeOfCare"]
    v1 = _by_legacy(eoc, _legacy("profil", "vedtak"), "1")
    assert v1["status"] == "active"
    assert v1["type"][0]["coding"][0]["code"] == "HJSPL"
    assert v1["period"] == {"start": "2025-01-01"}
    assert v1["extension"] == [{"url": "urn:epj:extension:timer-pr-uke", "valueDecimal": 7.5}]
    assert v1["patient"] == {"reference": _ref(_patient(golden_out, "profil", "bruker", "1"))}
    v2 = _by_legacy(eoc, _legacy("profil", "vedtak"), "2")
    assert v2["status"] == "finished" and v2["period"] == {"start": "2024-06-01", "end": "2026-02-10"}
    assert v2["type"][0]["coding"][0]["code"] == "LANG" and "extension" not in v2
    v3 = _by_legacy(eoc, _legacy("profil", "vedtak"), "3")
    assert v3["status"] == "cancelled"  # AVSLAG kept
    assert v3["period"] == {"start": "2025-03-01"}  # end 01.02.2025 before start: dropped


def test_document_reference_text_time_and_author(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    docs = golden_out["DocumentReference"]
    j1 = _by_legacy(docs, _legacy("profil", "notat"), "1")
    assert j1["date"] == "2026-02-15T08:30:00+01:00"
    assert j1["type"]["coding"][0]["code"] == "RAPPORT"
    assert j1["author"] == [{"identifier": {"system": HPR, "value": "1234567"}, "display": "Sykepleier Syntetisk"}]
    text = base64.b64decode(j1["content"][0]["attachment"]["data"]).decode("utf-8")
    assert text.splitlines() == ['Stelt og kledd; spiste "godt".', "Sov etter lunsj."]
    j3 = _by_legacy(docs, _legacy("profil", "notat"), "3")
    assert j3["date"] == "2025-03-30T03:30:00+02:00"  # spring gap: forward one hour
    assert j3["author"] == [{"display": "Lege Syntetisk"}]
    assert j3["subject"] == {"reference": _ref(_patient(golden_out, "profil", "bruker", "2"))}
    j4 = _by_legacy(docs, _legacy("profil", "notat"), "4")
    assert j4["date"] == "2025-10-26T02:30:00+02:00"  # autumn repeat: first occurrence (summer time)


# ------------------------------------------------------------------------------------ medication
@pytest.mark.parametrize(
    ("lid", "status", "period"),
    [
        ("1", "active", {"start": "2025-01-01"}),
        ("2", "completed", {"start": "2024-01-01", "end": "2024-12-31"}),
        ("3", "stopped", {"start": "2024-01-01", "end": "2030-12-31"}),  # Seponert=J → stopped
        ("4", "active", {"start": "2025-01-01"}),
        ("5", "completed", {"start": "2025-06-01"}),  # TilDato in the past; before start, so dropped
        ("9", "completed", {"start": "2026-01-01", "end": "2026-02-28"}),  # ended the day before the extract
        ("10", "active", {"start": "2026-01-01", "end": "2026-03-01"}),  # ends on the extract day
    ],
)
def test_medication_statement_status_and_period(
    golden_out: dict[str, list[dict[str, Any]]], lid: str, status: str, period: dict[str, str]
) -> None:
    ms = _by_legacy(golden_out["MedicationStatement"], _legacy("profil", "legemiddel"), lid)
    assert ms["status"] == status
    assert ms["effectivePeriod"] == period


def test_medication_codes(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    stmts = golden_out["MedicationStatement"]
    m1 = _by_legacy(stmts, _legacy("profil", "legemiddel"), "1")
    assert m1["medicationCodeableConcept"] == {
        "coding": [{"system": ATC, "code": "N02BE01", "display": "Paracet"}],
        "text": "Paracet 500 mg",
    }
    assert m1["dosage"] == [{"text": "1 tablett morgen og kveld"}]
    m4 = _by_legacy(stmts, _legacy("profil", "legemiddel"), "4")
    assert m4["medicationCodeableConcept"] == {"text": "Ukjent middel"}  # INVALID_ATC: text only
    assert m4["subject"] == {"reference": _ref(_patient(golden_out, "profil", "bruker", "5"))}


def _planned(res: dict[str, Any]) -> str:
    values = [e["valueDateTime"] for e in res["extension"] if e["url"] == PLANNED]
    assert len(values) == 1
    return str(values[0])


@pytest.mark.parametrize(
    ("aid", "status", "planned", "effective"),
    [
        ("1", "completed", "2026-02-20T08:00:00+01:00", "2026-02-20T08:20:00+01:00"),  # given, 20 min late
        ("2", "not-done", "2026-02-20T20:00:00+01:00", "2026-02-20T20:00:00+01:00"),  # IKKE_GITT: planned
        ("3", "completed", "2026-02-23T08:00:00+01:00", "2026-02-23T11:30:00+01:00"),  # SELVADM
        ("4", "completed", "2025-03-30T03:30:00+02:00", "2025-03-30T03:45:00+02:00"),  # spring gap
        ("11", "completed", "2025-10-26T02:15:00+02:00", "2025-10-26T02:45:00+02:00"),  # autumn: first
        ("12", "completed", "2026-02-24T08:00:00+01:00", "2026-02-24T08:10:00+01:00"),
    ],
)
def test_administration_given_versus_planned(
    golden_out: dict[str, list[dict[str, Any]]], aid: str, status: str, planned: str, effective: str
) -> None:
    ma = _by_legacy(golden_out["MedicationAdministration"], _legacy("profil", "administrering"), aid)
    assert ma["status"] == status
    assert _planned(ma) == planned
    assert ma["effectiveDateTime"] == effective


def test_administration_links_and_performers(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    adm = golden_out["MedicationAdministration"]
    stmt1 = _by_legacy(golden_out["MedicationStatement"], _legacy("profil", "legemiddel"), "1")
    stmt3 = _by_legacy(golden_out["MedicationStatement"], _legacy("profil", "legemiddel"), "3")
    p1 = _patient(golden_out, "profil", "bruker", "1")
    a1 = _by_legacy(adm, _legacy("profil", "administrering"), "1")
    assert a1["supportingInformation"] == [{"reference": f"MedicationStatement/{stmt1['id']}"}]
    assert a1["subject"] == {"reference": _ref(p1)}
    assert a1["performer"] == [{"actor": {"identifier": {"system": HPR, "value": "1234567"}}}]
    assert a1["medicationCodeableConcept"]["coding"][0]["code"] == "N02BE01"
    a3 = _by_legacy(adm, _legacy("profil", "administrering"), "3")
    assert a3["performer"] == [{"actor": {"reference": _ref(p1)}}]  # self-administered
    a2 = _by_legacy(adm, _legacy("profil", "administrering"), "2")
    assert "performer" not in a2
    a12 = _by_legacy(adm, _legacy("profil", "administrering"), "12")
    assert a12["supportingInformation"] == [{"reference": f"MedicationStatement/{stmt3['id']}"}]
    assert a12["subject"] == {"reference": _ref(_patient(golden_out, "profil", "bruker", "2"))}


# ------------------------------------------------------------------------------------ observations
def test_iplos_observations(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    iplos = [o for o in golden_out["Observation"] if o["category"][0]["coding"][0]["code"] == "survey"]
    got = {
        (o["code"]["coding"][0]["code"], o["code"]["coding"][0]["display"], o["effectiveDateTime"], o["valueInteger"])
        for o in iplos
    }
    assert got == {("SPISE", "Spise", "2026-02-01", 3), ("HORSEL", "Hørsel", "2026-02-01", 9)}
    p1 = _ref(_patient(golden_out, "profil", "bruker", "1"))
    assert all(o["subject"] == {"reference": p1} for o in iplos)


@pytest.mark.parametrize(
    ("mid", "loinc", "value", "unit", "barn"),
    [
        ("M1", "29463-7", 4.85, "kg", "H1"),
        ("M2", "8302-2", 55.5, "cm", "H1"),
        ("M3", "9843-4", 38.0, "cm", "H1"),
        ("M6", "29463-7", 7.2, "kg", "H2"),
    ],
)
def test_measurements_loinc_and_units(
    golden_out: dict[str, list[dict[str, Any]]], mid: str, loinc: str, value: float, unit: str, barn: str
) -> None:
    obs = _by_legacy(golden_out["Observation"], _legacy("cgm", "maaling"), mid)
    assert obs["code"]["coding"][0]["system"] == LOINC and obs["code"]["coding"][0]["code"] == loinc
    assert obs["valueQuantity"] == {"value": value, "unit": unit, "system": UCUM, "code": unit}
    assert obs["subject"] == {"reference": _ref(_patient(golden_out, "cgm", "barn", barn))}


# ------------------------------------------------------------------------------------ people, visits, vaccines
def test_related_persons(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    rel = golden_out["RelatedPerson"]
    p1 = _by_legacy(rel, _legacy("profil", "parorende"), "1")
    assert p1["name"] == [{"text": "Per Åsen"}] and p1["telecom"] == [{"system": "phone", "value": "90000002"}]
    assert p1["extension"] == [{"url": "urn:epj:extension:kontaktprioritet", "valueInteger": 1}]
    codes = [c["code"] for c in p1["relationship"][0]["coding"]]
    assert "SPS" in codes and "EKTEFELLE" in codes
    p3 = _by_legacy(rel, _legacy("profil", "parorende"), "3")
    assert [c["code"] for c in p3["relationship"][0]["coding"]] == ["ANNEN"]  # no precise role
    mother = [r for r in rel if {"system": FNR, "value": "07879013032"} in _plain(r.get("identifier", []))]
    assert len(mother) == 1
    assert "MTH" in [c["code"] for c in mother[0]["relationship"][0]["coding"]]
    assert mother[0]["patient"] == {"reference": _ref(_patient(golden_out, "cgm", "barn", "H1"))}
    assert len(rel) == 5


def test_encounter_and_immunizations(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    (enc,) = golden_out["Encounter"]
    assert {"system": _legacy("cgm", "konsultasjon"), "value": "K1"} in _plain(enc["identifier"])
    assert enc["period"] == {"start": "2022-04-15", "end": "2022-04-15"} and enc["status"] == "finished"
    assert "Fin utvikling, smiler." in enc["text"]["div"]
    imm = golden_out["Immunization"]
    v1 = _by_legacy(imm, _legacy("cgm", "vaksinasjon"), "V1")
    assert v1["vaccineCode"] == {"coding": [{"system": ATC, "code": "J07BH01"}]}
    assert v1["lotNumber"] == "AB123" and v1["protocolApplied"] == [{"doseNumberPositiveInt": 1}]
    assert v1["occurrenceDateTime"] == "2022-06-01"
    v2 = _by_legacy(imm, _legacy("cgm", "vaksinasjon"), "V2")
    assert v2["vaccineCode"] == {"text": "ROTA"} and "lotNumber" not in v2
    assert v2["protocolApplied"] == [{"doseNumberPositiveInt": 2}]


def test_every_reference_resolves_to_a_migrated_patient(golden_out: dict[str, list[dict[str, Any]]]) -> None:
    patients = {f"Patient/{p['id']}" for p in golden_out["Patient"]}
    for rtype, resources in golden_out.items():
        for res in resources:
            for key in ("subject", "patient"):
                if key in res:
                    assert res[key]["reference"] in patients, rtype


# ------------------------------------------------------------------------------------ quarantine rows
GOLDEN_QUARANTINE = {
    ("profil/BRUKER.csv", "6", "PATIENT_UNIDENTIFIABLE"),
    ("profil/BRUKER.csv", "7", "INVALID_DATE"),
    ("profil/BRUKER.csv", "8", "UNKNOWN_CODE"),
    ("profil/BRUKER.csv", "1", "DUPLICATE_ID"),
    ("profil/BRUKER.csv", "9", "MALFORMED_ROW"),
    ("profil/VEDTAK.csv", "4", "UNKNOWN_PARENT"),
    ("profil/VEDTAK.csv", "5", "PARENT_QUARANTINED"),
    ("profil/VEDTAK.csv", "6", "UNKNOWN_CODE"),
    ("profil/VEDTAK.csv", "7", "MALFORMED_ROW"),
    ("profil/VEDTAK.csv", "8", "MALFORMED_ROW"),
    ("profil/VEDTAK.csv", "9", "INVALID_DATE"),
    ("profil/VEDTAK.csv", "1", "DUPLICATE_ID"),
    ("profil/JOURNAL.csv", "2", "PARENT_QUARANTINED"),
    ("profil/JOURNAL.csv", "5", "INVALID_DATE"),
    ("profil/JOURNAL.csv", "6", "UNKNOWN_CODE"),
    ("profil/JOURNAL.csv", "7", "MALFORMED_ROW"),
    ("profil/LEGEMIDDEL.csv", "6", "PARENT_QUARANTINED"),
    ("profil/LEGEMIDDEL.csv", "7", "UNKNOWN_CODE"),
    ("profil/LEGEMIDDEL.csv", "8", "INVALID_DATE"),
    ("profil/ADMINISTRERING.csv", "5", "PARENT_QUARANTINED"),
    ("profil/ADMINISTRERING.csv", "6", "UNKNOWN_PARENT"),
    ("profil/ADMINISTRERING.csv", "7", "MALFORMED_ROW"),
    ("profil/ADMINISTRERING.csv", "8", "MALFORMED_ROW"),
    ("profil/ADMINISTRERING.csv", "9", "UNKNOWN_CODE"),
    ("profil/ADMINISTRERING.csv", "1", "DUPLICATE_ID"),
    ("profil/IPLOS.csv", "1|01.02.2026|SPISE", "DUPLICATE_ID"),
    ("profil/IPLOS.csv", "6|01.02.2026|SPISE", "PARENT_QUARANTINED"),
    ("profil/IPLOS.csv", "1|01.02.2026|FLY", "UNKNOWN_CODE"),
    ("profil/IPLOS.csv", "1|01.02.2026|SYN", "UNKNOWN_CODE"),
    ("profil/IPLOS.csv", "1|01.02.2026|SYN", "MALFORMED_ROW"),
    ("profil/IPLOS.csv", "99|01.02.2026|SYN", "UNKNOWN_PARENT"),
    ("profil/IPLOS.csv", "2|30.02.2026|SYN", "INVALID_DATE"),
    ("profil/PARORENDE.csv", "4", "UNKNOWN_CODE"),
    ("profil/PARORENDE.csv", "5", "PARENT_QUARANTINED"),
    ("profil/PARORENDE.csv", "6", "MALFORMED_ROW"),
    ("cgm/Foresatt", "H1/2", "UNKNOWN_CODE"),
    ("cgm/Maaling", "M4", "MALFORMED_ROW"),
    ("cgm/Maaling", "M5", "UNKNOWN_CODE"),
    ("cgm/Vaksinasjon", "V3", "MALFORMED_ROW"),
    ("cgm/Konsultasjon", "K2", "INVALID_DATE"),
    ("cgm/Konsultasjon", "K1", "DUPLICATE_ID"),
    ("cgm/Barn", "H3", "UNKNOWN_CODE"),
    ("cgm/Foresatt", "H3/1", "PARENT_QUARANTINED"),
    ("cgm/Konsultasjon", "K3", "PARENT_QUARANTINED"),
    ("cgm/Barn", "", "MALFORMED_ROW"),
    ("cgm/Maaling", "M7", "PARENT_QUARANTINED"),
    ("cgm/Barn", "H2", "DUPLICATE_ID"),
    ("cgm/Vaksinasjon", "V4", "PARENT_QUARANTINED"),
    ("cgm/Barn", "H4", "INVALID_DATE"),
    ("cgm/Foresatt", "H5/1", "MALFORMED_ROW"),
    ("cgm/Barn", "H6", "PATIENT_UNIDENTIFIABLE"),
}


def test_each_quarantined_record_with_its_reason(golden_extract: Path, tmp_path: Path) -> None:
    run_migration(golden_extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "quarantine.ndjson").read_text().splitlines()]
    assert len(rows) == len(GOLDEN_QUARANTINE)
    assert {(r["source"], r["key"], r["reason"]) for r in rows} == GOLDEN_QUARANTINE


def test_production_mode_rejects_every_synthetic_id(golden_extract: Path, tmp_path: Path) -> None:
    """Without --synthetic-ids, the five valid synthetic patients' ids (BRUKER 1, 2, 5, 10; CGM H1, H5,
    H8) are invalid: 7 more INVALID_NATIONAL_ID (9 in all), no merge, two more Patients."""
    report = run_migration(golden_extract, None, dry_run=True, synthetic_ids=False, report_dir=tmp_path)
    assert report["warnings"]["INVALID_NATIONAL_ID"] == 9
    assert report["patients_merged"] == 0
    assert report["resources"]["Patient"] == 11
