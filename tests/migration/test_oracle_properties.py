"""Property tests: generated rows, mapped fields checked against an oracle written from the contract.

The oracle here is independent of the production code: code lists, LOINC codes, status rules and the
Europe/Oslo conversion are restated below from EXTRACT-CONTRACT.md / SPEC, not imported.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epj.migration.pipeline import run_migration
from epj.migration.reconciliation import Tally
from epj.migration.rules import ExtractRules
from epj.migration.synthetic_ids import synthetic_national_id

from .extract_kit import bruker, write_extract

OSLO = ZoneInfo("Europe/Oslo")
EXTRACT_DAY = dt.date(2026, 3, 1)
GENDER = {"M": "male", "K": "female", "U": "unknown"}  # SPEC §2
ADM = {"GITT": "completed", "IKKE_GITT": "not-done", "SELVADM": "completed"}  # contract
VEDTAK = {"AKTIV": "active", "AVSLUTTET": "finished", "AVSLAG": "cancelled"}  # SPEC §2
MEASURE = {"VEKT": ("29463-7", "kg"), "LENGDE": ("8302-2", "cm"), "HODEOMKRETS": ("9843-4", "cm")}  # SPEC §3
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rules() -> tuple[ExtractRules, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    rules = ExtractRules(
        kommunenr="5035",
        extract_date=EXTRACT_DAY,
        allow_synthetic=True,
        tally=Tally("5035"),
        emit=lambda res, pid, src: out.append(res),
    )
    return rules, out


def _oslo_iso(naive: dt.datetime) -> str:
    """Oracle for SPEC §7: a spring-gap time moves forward one hour; an autumn repeat is its first occurrence."""
    aware = naive.replace(tzinfo=OSLO, fold=0)
    if aware.astimezone(dt.UTC).astimezone(OSLO).replace(tzinfo=None) != naive:  # in the gap
        aware = (naive + dt.timedelta(hours=1)).replace(tzinfo=OSLO, fold=0)
    return aware.isoformat()


def _no(ts: dt.datetime) -> str:
    return ts.strftime("%d.%m.%Y %H:%M")


births = st.dates(min_value=dt.date(1925, 1, 1), max_value=dt.date(2025, 12, 31))
local_times = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2026, 2, 28)).map(
    lambda t: t.replace(second=0, microsecond=0)
)
# Force DST edges often: the last Sunday of March and October around 02:00-03:00.
dst_times = st.sampled_from(
    [dt.datetime(2025, 3, 30, 2, m) for m in (0, 15, 59)] + [dt.datetime(2025, 10, 26, 2, m) for m in (0, 30, 59)]
)


@FAST
@given(
    birth=births,
    file_birth=births,
    kjonn=st.sampled_from(["M", "K", "U"]),
    with_id=st.booleans(),
    d_number=st.booleans(),
    seed=st.integers(0, 10**6),
    given_names=st.lists(st.sampled_from(["Kari", "Ola", "Åse", "Per", "Liv"]), min_size=1, max_size=3),
)
def test_patient_gender_birth_date_precedence_and_names(
    birth: dt.date,
    file_birth: dt.date,
    kjonn: str,
    with_id: bool,
    d_number: bool,
    seed: int,
    given_names: list[str],
) -> None:
    fnr = synthetic_national_id(birth, male=kjonn == "M", rng=random.Random(seed), d_number=d_number)
    rules, out = _rules()
    row = bruker(
        bid="7",
        fnr=fnr if with_id else "",
        etternavn="Ødegård",
        fornavn=" ".join(given_names),
        Fodselsdato=file_birth.strftime("%d.%m.%Y"),
        Kjonn=kjonn,
    )
    rules.profil("BRUKER", 1, row)
    rules.finish()
    (patient,) = out
    assert patient["gender"] == GENDER[kjonn]
    # The national id's birth date wins over Fodselsdato (SPEC §7); without an id, Fodselsdato is used.
    assert patient["birthDate"] == (birth if with_id else file_birth).isoformat()
    assert patient["name"] == [{"use": "official", "family": "Ødegård", "given": given_names}]
    system = "urn:oid:2.16.578.1.12.4.1.4.2" if d_number else "urn:oid:2.16.578.1.12.4.1.4.1"
    national = [i for i in patient["identifier"] if i["system"].startswith("urn:oid:")]
    assert national == ([{"use": "official", "system": system, "value": fnr}] if with_id else [])
    assert {"use": "secondary", "system": "urn:legacy:profil:5035:bruker", "value": "7"} in patient["identifier"]
    assert fnr not in patient["id"]
    conflict = with_id and file_birth != birth
    assert rules.tally.warnings["CONFLICTING_DEMOGRAPHICS"] == int(conflict)
    assert rules.tally.warnings["MISSING_NATIONAL_ID"] == int(not with_id)


def _medication_rows(rules: ExtractRules, seponert: str, start: dt.date, end: dt.date | None) -> None:
    rules.profil("BRUKER", 1, bruker(bid="1"))
    til = end.strftime("%d.%m.%Y") if end else ""
    rules.profil(
        "LEGEMIDDEL", 1, ["1", "1", "N02BE01", "Paracet", "500 mg", "1x1", start.strftime("%d.%m.%Y"), til, seponert]
    )


@FAST
@given(
    seponert=st.sampled_from(["J", "N"]),
    start=st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2026, 2, 28)),
    end=st.none() | st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2031, 1, 1)),
)
def test_medication_statement_status_and_period(seponert: str, start: dt.date, end: dt.date | None) -> None:
    rules, out = _rules()
    _medication_rows(rules, seponert, start, end)
    (stmt,) = [r for r in out if r["resourceType"] == "MedicationStatement"]
    if seponert == "J":
        expected = "stopped"
    elif end is not None and end < EXTRACT_DAY:
        expected = "completed"
    else:
        expected = "active"
    assert stmt["status"] == expected
    period = {"start": start.isoformat()}
    if end is not None and end >= start:
        period["end"] = end.isoformat()
    assert stmt["effectivePeriod"] == period
    assert rules.tally.warnings["PERIOD_END_BEFORE_START"] == int(end is not None and end < start)
    assert stmt["medicationCodeableConcept"]["coding"] == [
        {"system": "http://www.whocc.no/atc", "code": "N02BE01", "display": "Paracet"}
    ]


@FAST
@given(
    status=st.sampled_from(["GITT", "IKKE_GITT", "SELVADM"]),
    planned=local_times | dst_times,
    delay=st.integers(-120, 600),
)
def test_administration_given_versus_planned_in_oslo_time(status: str, planned: dt.datetime, delay: int) -> None:
    rules, out = _rules()
    _medication_rows(rules, "N", dt.date(2020, 1, 1), None)
    given_at = planned + dt.timedelta(minutes=delay)
    gitt = _no(given_at) if status != "IKKE_GITT" else ""
    rules.profil("ADMINISTRERING", 1, ["5", "1", _no(planned), gitt, "", status])
    (adm,) = [r for r in out if r["resourceType"] == "MedicationAdministration"]
    assert adm["status"] == ADM[status]
    assert adm["extension"] == [{"url": "urn:epj:extension:planlagt-tidspunkt", "valueDateTime": _oslo_iso(planned)}]
    # The dose happened when it was given; only a dose not given is dated by its plan.
    assert adm["effectiveDateTime"] == (_oslo_iso(given_at) if gitt else _oslo_iso(planned))
    if status == "SELVADM":
        assert adm["performer"] == [{"actor": adm["subject"]}]


@FAST
@given(
    tjeneste=st.sampled_from(["HJSPL", "PRAKT", "KORT", "LANG", "AVLAST", "DAG", "TRYGG", "BPA", "MAT"]),
    status=st.sampled_from(list(VEDTAK)),
    hours=st.none() | st.integers(0, 168),
    tenths=st.integers(0, 9),
)
def test_vedtak_status_service_and_hours(tjeneste: str, status: str, hours: int | None, tenths: int) -> None:
    rules, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    timer = "" if hours is None else (f"{hours},{tenths}" if hours < 168 else "168")
    rules.profil("VEDTAK", 1, ["3", "1", tjeneste, "01.01.2025", "", timer, status])
    (eoc,) = [r for r in out if r["resourceType"] == "EpisodeOfCare"]
    assert eoc["status"] == VEDTAK[status]
    assert eoc["type"][0]["coding"][0]["code"] == tjeneste
    if hours is None:
        assert "extension" not in eoc
    else:
        value = float(timer.replace(",", "."))
        assert eoc["extension"] == [{"url": "urn:epj:extension:timer-pr-uke", "valueDecimal": value}]


@FAST
@given(variabel=st.sampled_from(["SPISE", "SYN", "HORSEL", "TOALETT"]), skaar=st.sampled_from([1, 2, 3, 4, 5, 9]))
def test_iplos_value(variabel: str, skaar: int) -> None:
    rules, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("IPLOS", 1, ["1", "01.02.2026", variabel, str(skaar)])
    (obs,) = [r for r in out if r["resourceType"] == "Observation"]
    assert obs["valueInteger"] == skaar
    assert obs["code"]["coding"][0]["code"] == variabel
    assert obs["effectiveDateTime"] == "2026-02-01"


@FAST
@given(
    mtype=st.sampled_from(list(MEASURE)),
    whole=st.integers(0, 200),
    frac=st.integers(0, 99),
    atc_ok=st.booleans(),
    dose=st.integers(1, 5),
)
def test_cgm_measurement_and_vaccine(mtype: str, whole: int, frac: int, atc_ok: bool, dose: int) -> None:
    import xml.etree.ElementTree as ET

    loinc, unit = MEASURE[mtype]
    atc = "J07BH01" if atc_ok else "ROTA1"
    xml = (
        '<Barn id="H9"><Fodselsdato>2024-01-02</Fodselsdato><Fornavn>A</Fornavn><Etternavn>B</Etternavn>'
        f'<Kjonn>K</Kjonn><Maaling id="M9" dato="2024-03-04" type="{mtype}" verdi="{whole},{frac:02d}" enhet="{unit}"/>'
        f'<Vaksinasjon id="V9" dato="2024-03-05" atc="{atc}" dose="{dose}"/></Barn>'
    )
    rules, out = _rules()
    rules.barn(1, ET.fromstring(xml))
    rules.finish()
    (obs,) = [r for r in out if r["resourceType"] == "Observation"]
    (imm,) = [r for r in out if r["resourceType"] == "Immunization"]
    (pat,) = [r for r in out if r["resourceType"] == "Patient"]
    assert obs["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": loinc,
        "display": obs["code"]["coding"][0]["display"],
    }
    assert obs["valueQuantity"] == {
        "value": float(f"{whole}.{frac:02d}"),
        "unit": unit,
        "system": "http://unitsofmeasure.org",
        "code": unit,
    }
    assert obs["subject"] == {"reference": f"Patient/{pat['id']}"} == imm["patient"]
    assert obs["effectiveDateTime"] == "2024-03-04"
    expected_vaccine = {"coding": [{"system": "http://www.whocc.no/atc", "code": atc}]} if atc_ok else {"text": atc}
    assert imm["vaccineCode"] == expected_vaccine
    assert imm["protocolApplied"] == [{"doseNumberPositiveInt": dose}]
    assert rules.tally.warnings["INVALID_ATC"] == int(not atc_ok)
    assert rules.tally.warnings["MISSING_NATIONAL_ID"] == 1


def test_more_rows_than_the_manifest_announces_is_incomplete(tmp_path: Path) -> None:
    """The manifest check is two-sided: extra rows are as wrong as missing ones (SPEC §1.1)."""
    extract = write_extract(
        tmp_path / "x", profil={"BRUKER": [bruker(bid="1"), bruker(bid="2", fnr="")]}, count_override={"BRUKER": 1}
    )
    report = run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert report["complete"] is False and report["error"] == "EXTRACT_INCOMPLETE"
    assert report["manifest_mismatch"] == {"profil/BRUKER.csv": {"manifest": 1, "read": 2}}
    assert report["resources"] == {}


def test_more_barn_than_the_manifest_announces_is_incomplete(tmp_path: Path) -> None:
    from .extract_kit import barn, barn_xml

    extract = write_extract(
        tmp_path / "x", cgm=barn_xml(barn("H1"), barn("H2", fnr=None)), count_override={"cgm.Barn": 1}
    )
    report = run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert report["complete"] is False
    assert report["manifest_mismatch"] == {"cgm/Barn": {"manifest": 1, "read": 2}}


def test_minute_sixty_is_an_invalid_timestamp() -> None:
    """Mutation survivor in values.parse_no_timestamp: minutes 60-99 match the digit pattern but do not exist."""
    rules, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    for n, minute in enumerate(("60", "75", "99"), start=1):
        rules.profil("JOURNAL", n, [str(n), "1", f"01.02.2026 10:{minute}", "RAPPORT", "", "", "x"])
    rules.profil("JOURNAL", 4, ["4", "1", "01.02.2026 10:59", "RAPPORT", "", "", "x"])
    assert rules.tally.quarantine["INVALID_DATE"] == 3
    assert [r["date"] for r in out if r["resourceType"] == "DocumentReference"] == ["2026-02-01T10:59:00+01:00"]


def test_extract_time_with_an_explicit_offset_is_kept() -> None:
    """Mutation survivor in values.parse_extract_time: an offset in the manifest is not re-read as Oslo time."""
    from epj.migration.values import parse_extract_time

    got = parse_extract_time("2026-03-01T02:00:00+00:00")
    assert got is not None and got.utcoffset() == dt.timedelta(0) and got.hour == 2
    local = parse_extract_time("2026-07-01T02:00:00")
    assert local is not None and local.utcoffset() == dt.timedelta(hours=2)
