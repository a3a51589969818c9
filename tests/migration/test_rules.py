"""Every quarantine reason and warning of SPEC §5/§7 on the smallest extract that shows it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .extract_kit import FNR_A, FNR_CHILD, barn, barn_xml, bruker, national_id, write_extract

Migrate = Callable[..., dict[str, Any]]


def _one(rep: dict[str, Any], source: str) -> dict[str, int]:
    counts: dict[str, int] = rep["sources"][source]
    assert counts["read"] == counts["migrated"] + counts["quarantined"]
    return counts


def test_clean_bruker_migrates_to_one_patient(tmp_path: Path, migrate: Migrate) -> None:
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()]}))
    assert rep["complete"] is True
    assert rep["resources"] == {"Patient": 1}
    assert rep["quarantine"] == {} and rep["warnings"] == {}


@pytest.mark.parametrize(
    "row",
    [
        bruker()[:-1],  # wrong field count
        bruker(bid="x1"),  # id not a number
        bruker(bid="0"),  # ids are positive
        [*bruker()[:6], "Gata 1", " c/o nabo", *bruker()[7:]],  # an unquoted separator: one field too many
    ],
)
def test_malformed_row(tmp_path: Path, migrate: Migrate, row: list[str]) -> None:
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [row]}))
    assert rep["quarantine"] == {"MALFORMED_ROW": 1}
    assert _one(rep, "profil/BRUKER.csv")["quarantined"] == 1


@pytest.mark.parametrize("value", ["7.5", "1.", "abc", "169", "7,5,1"])
def test_timer_pr_uke_not_a_number_or_out_of_range_is_malformed(tmp_path: Path, migrate: Migrate, value: str) -> None:
    vedtak = [["1", "1", "HJSPL", "01.01.2025", "", value, "AKTIV"]]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()], "VEDTAK": vedtak}))
    assert rep["quarantine"] == {"MALFORMED_ROW": 1}


@pytest.mark.parametrize("value", ["", "0", "7,5", "168"])
def test_timer_pr_uke_accepted(tmp_path: Path, migrate: Migrate, value: str) -> None:
    vedtak = [["1", "1", "HJSPL", "01.01.2025", "", value, "AKTIV"]]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()], "VEDTAK": vedtak}))
    assert rep["resources"]["EpisodeOfCare"] == 1


@pytest.mark.parametrize(
    ("status", "gitt"),
    [("GITT", ""), ("SELVADM", ""), ("IKKE_GITT", "01.02.2026 08:10")],
)
def test_administrering_gitt_rule(tmp_path: Path, migrate: Migrate, status: str, gitt: str) -> None:
    lm = [["1", "1", "N02BE01", "Paracetamol", "500 mg", "1 tablett", "01.01.2025", "", "N"]]
    adm = [["1", "1", "01.02.2026 08:00", gitt, "", status]]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()], "LEGEMIDDEL": lm, "ADMINISTRERING": adm}))
    assert rep["quarantine"] == {"MALFORMED_ROW": 1}


@pytest.mark.parametrize("date", ["31.02.2020", "2020-01-01", "1.1.2020", "32.01.2020"])
def test_invalid_date(tmp_path: Path, migrate: Migrate, date: str) -> None:
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker(Fodselsdato=date)]}))
    assert rep["quarantine"] == {"INVALID_DATE": 1}


def test_invalid_optional_date_is_invalid_date_too(tmp_path: Path, migrate: Migrate) -> None:
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker(Dodsdato="29.02.2025", Status="DOD")]}))
    assert rep["quarantine"] == {"INVALID_DATE": 1}


def test_invalid_timestamp(tmp_path: Path, migrate: Migrate) -> None:
    journal = [["1", "1", "24.02.2026 24:00", "RAPPORT", "", "", "tekst"]]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()], "JOURNAL": journal}))
    assert rep["quarantine"] == {"INVALID_DATE": 1}


def test_duplicate_id_first_wins_even_if_first_was_quarantined(tmp_path: Path, migrate: Migrate) -> None:
    rows = [bruker(bid="1", Kjonn="X"), bruker(bid="1"), bruker(bid="2", fnr="")]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": rows}))
    assert rep["quarantine"] == {"UNKNOWN_CODE": 1, "DUPLICATE_ID": 1}
    assert rep["resources"] == {"Patient": 1}


def test_unknown_parent_and_parent_quarantined(tmp_path: Path, migrate: Migrate) -> None:
    brukere = [bruker(bid="1"), bruker(bid="2", Kjonn="X")]
    vedtak = [
        ["1", "1", "HJSPL", "01.01.2025", "", "", "AKTIV"],  # ok
        ["2", "2", "HJSPL", "01.01.2025", "", "", "AKTIV"],  # parent quarantined
        ["3", "9", "HJSPL", "01.01.2025", "", "", "AKTIV"],  # parent never read
        ["4", "2", "HJSPL", "31.02.2025", "", "", "AKTIV"],  # own INVALID_DATE beats the parent
        ["5", "2", "XXX", "01.01.2025", "", "", "AKTIV"],  # UNKNOWN_CODE loses to the parent
    ]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": brukere, "VEDTAK": vedtak}))
    assert rep["sources"]["profil/VEDTAK.csv"] == {"read": 5, "migrated": 1, "quarantined": 4}
    assert rep["quarantine"] == {"UNKNOWN_CODE": 1, "PARENT_QUARANTINED": 2, "UNKNOWN_PARENT": 1, "INVALID_DATE": 1}


def test_cascade_through_legemiddel_to_administrering(tmp_path: Path, migrate: Migrate) -> None:
    lm = [
        ["1", "1", "N02BE01", "Paracetamol", "500 mg", "", "01.01.2025", "", "N"],
        ["2", "1", "N02BE01", "Paracetamol", "500 mg", "", "01.01.2025", "", "X"],  # UNKNOWN_CODE
    ]
    adm = [
        ["1", "1", "01.02.2026 08:00", "01.02.2026 08:05", "91234567", "GITT"],
        ["2", "2", "01.02.2026 08:00", "", "", "IKKE_GITT"],  # parent quarantined
        ["3", "3", "01.02.2026 08:00", "", "", "IKKE_GITT"],  # unknown parent
        ["4", "1", "01.02.2026 08:00", "", "", "UTSATT"],  # unknown code
    ]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()], "LEGEMIDDEL": lm, "ADMINISTRERING": adm}))
    assert rep["sources"]["profil/ADMINISTRERING.csv"] == {"read": 4, "migrated": 1, "quarantined": 3}
    assert rep["quarantine"] == {"UNKNOWN_CODE": 2, "PARENT_QUARANTINED": 1, "UNKNOWN_PARENT": 1}


def test_unknown_codes_of_every_profil_list(tmp_path: Path, migrate: Migrate) -> None:
    profil = {
        "BRUKER": [bruker(bid="1"), bruker(bid="2", fnr="", Status="PASSIV")],
        "VEDTAK": [["1", "1", "HJSPL", "01.01.2025", "", "", "VENTER"]],
        "JOURNAL": [["1", "1", "01.02.2026 08:00", "BREV", "", "", "tekst"]],
        "LEGEMIDDEL": [["1", "1", "N02BE01", "P", "", "", "01.01.2025", "", "JA"]],
        "IPLOS": [["1", "01.01.2025", "FLYTE", "2"], ["1", "02.01.2025", "SYN", "7"]],
        "PARORENDE": [["1", "1", "Navn", "NABO", "", "1"]],
    }
    rep = migrate(write_extract(tmp_path / "x", profil=profil))
    assert rep["quarantine"] == {"UNKNOWN_CODE": 7}


def test_patient_unidentifiable(tmp_path: Path, migrate: Migrate) -> None:
    rows = [bruker(bid="1", fnr="", Fodselsdato=""), bruker(bid="2", fnr="12345678901", Fodselsdato="")]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": rows}))
    assert rep["quarantine"] == {"PATIENT_UNIDENTIFIABLE": 2}


def test_identity_warnings(tmp_path: Path, migrate: Migrate) -> None:
    rows = [
        bruker(bid="1", fnr=""),
        bruker(bid="2", fnr="12345678901"),
        bruker(bid="3", fnr=FNR_A[:-1] + str((int(FNR_A[-1]) + 1) % 10)),
    ]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": rows}))
    assert rep["warnings"] == {"MISSING_NATIONAL_ID": 1, "INVALID_NATIONAL_ID": 2}
    assert rep["resources"] == {"Patient": 3}


def test_synthetic_ids_only_when_allowed(tmp_path: Path, migrate: Migrate) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker()]})
    assert migrate(extract, synthetic_ids=True)["warnings"] == {}
    assert migrate(extract, synthetic_ids=False)["warnings"] == {"INVALID_NATIONAL_ID": 1}


def test_warnings_count_only_for_migrated_records(tmp_path: Path, migrate: Migrate) -> None:
    rows = [bruker(bid="1", fnr="", Kjonn="X")]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": rows}))
    assert rep["warnings"] == {} and rep["quarantine"] == {"UNKNOWN_CODE": 1}


def test_invalid_atc_and_period_end_before_start(tmp_path: Path, migrate: Migrate) -> None:
    lm = [["1", "1", "N02-BE01", "Paracetamol", "500 mg", "", "01.01.2025", "01.01.2024", "N"]]
    vedtak = [["1", "1", "HJSPL", "01.01.2025", "31.12.2024", "", "AKTIV"]]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()], "VEDTAK": vedtak, "LEGEMIDDEL": lm}))
    assert rep["warnings"] == {"INVALID_ATC": 1, "PERIOD_END_BEFORE_START": 2}
    assert rep["resources"] == {"Patient": 1, "EpisodeOfCare": 1, "MedicationStatement": 1}


def test_avslag_and_iplos_nine_still_migrate(tmp_path: Path, migrate: Migrate) -> None:
    profil = {
        "BRUKER": [bruker()],
        "VEDTAK": [["1", "1", "KORT", "01.01.2025", "", "", "AVSLAG"]],
        "IPLOS": [["1", "01.01.2025", "SYN", "9"]],
    }
    rep = migrate(write_extract(tmp_path / "x", profil=profil))
    assert rep["resources"] == {"Patient": 1, "EpisodeOfCare": 1, "Observation": 1}


def test_iplos_duplicate_key(tmp_path: Path, migrate: Migrate) -> None:
    iplos = [["1", "01.01.2025", "SYN", "2"], ["1", "01.01.2025", "SYN", "3"], ["1", "01.01.2025", "SPISE", "3"]]
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [bruker()], "IPLOS": iplos}))
    assert rep["quarantine"] == {"DUPLICATE_ID": 1}


def test_merge_across_systems_with_conflicting_name(tmp_path: Path, migrate: Migrate) -> None:
    child = bruker(bid="1", fnr=FNR_CHILD, Fodselsdato="04.03.2022", fornavn="Lita")
    cgm = barn_xml(
        barn("H1", fornavn="Lite"), barn("H2", fnr=national_id(dt.date(2021, 1, 2), 600), fdato="2021-01-02")
    )
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": [child]}, cgm=cgm))
    assert rep["patients_merged"] == 1
    assert rep["resources"] == {"Patient": 2}
    assert rep["warnings"] == {"CONFLICTING_DEMOGRAPHICS": 1}


def test_merge_within_one_system_and_id_birth_date_wins(tmp_path: Path, migrate: Migrate) -> None:
    rows = [bruker(bid="1"), bruker(bid="2")]  # same national id twice under two BrukerIDs
    rep = migrate(write_extract(tmp_path / "x", profil={"BRUKER": rows}))
    assert rep["patients_merged"] == 1 and rep["resources"] == {"Patient": 1}
    assert rep["warnings"] == {}
    rep = migrate(write_extract(tmp_path / "y", profil={"BRUKER": [bruker(Fodselsdato="18.05.1940")]}))
    assert rep["warnings"] == {"CONFLICTING_DEMOGRAPHICS": 1}


def test_cgm_reasons_in_order(tmp_path: Path, migrate: Migrate) -> None:
    inner_ok = (
        '<Foresatt fnr="x" relasjon="MOR">Mor Testesen</Foresatt>'
        '<Foresatt fnr="x">Far</Foresatt>'  # missing relasjon: MALFORMED_ROW
        '<Foresatt fnr="x" relasjon="STEFAR">Ste</Foresatt>'  # UNKNOWN_CODE
        '<Konsultasjon id="K1" dato="2023-01-01" type="6U">tekst</Konsultasjon>'
        '<Konsultasjon id="K2" type="6U">tekst</Konsultasjon>'  # MALFORMED_ROW
        '<Konsultasjon id="K1" dato="2023-01-01" type="6U">igjen</Konsultasjon>'  # DUPLICATE_ID
        '<Maaling id="M1" dato="2023-01-01" type="VEKT" verdi="4,85" enhet="kg"/>'
        '<Maaling id="M2" dato="2023-01-01" type="VEKT" verdi="4850" enhet="g"/>'  # MALFORMED_ROW
        '<Maaling id="M3" dato="2023-01-01" type="BMI" verdi="14" enhet="kg/m2"/>'  # UNKNOWN_CODE
        '<Maaling id="M4" dato="2023-02-30" type="LENGDE" verdi="50" enhet="cm"/>'  # INVALID_DATE
        '<Vaksinasjon id="V1" dato="2023-01-01" atc="J07BH01" dose="1"/>'
        '<Vaksinasjon id="V2" dato="2023-01-01" atc="J07-BH01" dose="1" batch="B1"/>'  # INVALID_ATC
        '<Vaksinasjon id="V3" dato="2023-01-01" atc="J07BH01"/>'  # MALFORMED_ROW
    )
    inner_orphan = '<Konsultasjon id="K9" dato="2023-01-01" type="6U">x</Konsultasjon>'
    cgm = barn_xml(barn("H1", inner=inner_ok), barn(None, inner=inner_orphan), barn("H1", fnr=None))
    rep = migrate(write_extract(tmp_path / "x", cgm=cgm))
    assert rep["sources"]["cgm/Barn"] == {"read": 3, "migrated": 1, "quarantined": 2}
    assert rep["sources"]["cgm/Foresatt"] == {"read": 3, "migrated": 1, "quarantined": 2}
    assert rep["sources"]["cgm/Konsultasjon"] == {"read": 4, "migrated": 1, "quarantined": 3}
    assert rep["sources"]["cgm/Maaling"] == {"read": 4, "migrated": 1, "quarantined": 3}
    assert rep["sources"]["cgm/Vaksinasjon"] == {"read": 3, "migrated": 2, "quarantined": 1}
    assert rep["quarantine"] == {
        "MALFORMED_ROW": 5,  # Barn without id, Foresatt, Konsultasjon, Maaling, Vaksinasjon
        "INVALID_DATE": 1,
        "DUPLICATE_ID": 2,  # K1 again, H1 again
        "PARENT_QUARANTINED": 1,  # K9 under the Barn without id
        "UNKNOWN_CODE": 2,
    }
    assert rep["warnings"] == {"INVALID_ATC": 1}


def test_cgm_barn_kjonn_and_missing_national_id(tmp_path: Path, migrate: Migrate) -> None:
    cgm = barn_xml(barn("H1", kjonn="J"), barn("H2", fnr=None), barn("H3", fnr=None, fdato="2019-02-30"))
    rep = migrate(write_extract(tmp_path / "x", cgm=cgm))
    assert rep["quarantine"] == {"UNKNOWN_CODE": 1, "INVALID_DATE": 1}
    assert rep["warnings"] == {"MISSING_NATIONAL_ID": 1}


def test_one_related_person_per_foresatt_even_for_siblings(tmp_path: Path, migrate: Migrate) -> None:
    mor = '<Foresatt fnr="x" relasjon="MOR">Mor</Foresatt>'
    cgm = barn_xml(barn("H1", inner=mor), barn("H2", fnr=national_id(dt.date(2020, 1, 2), 700), inner=mor))
    rep = migrate(write_extract(tmp_path / "x", cgm=cgm))
    assert rep["resources"] == {"Patient": 2, "RelatedPerson": 2}
