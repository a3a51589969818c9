"""Quarantine rows say which field broke which rule (issue 18) — and never the value."""

from __future__ import annotations

import json
from pathlib import Path

from epj.migration.pipeline import run_migration

from .extract_kit import FNR_A, barn, barn_xml, bruker, write_extract


def _rows(report_dir: Path) -> dict[tuple[str, str], tuple[str, str, str]]:
    out: dict[tuple[str, str], tuple[str, str, str]] = {}
    for line in (report_dir / "quarantine.ndjson").read_text().splitlines():
        entry = json.loads(line)
        out[entry["source"], entry["key"]] = (entry["reason"], entry["field"], entry["rule"])
    return out


def test_each_reason_names_its_field_and_rule_without_the_value(tmp_path: Path) -> None:
    profil = {
        "BRUKER": [
            bruker(bid="1", fnr=FNR_A),
            bruker(bid="2", fnr="", Fodselsdato="31.02.1950"),  # a date that does not exist
            bruker(bid="3", fnr=FNR_A, Kjonn="X"),  # not a sex code
            bruker(bid="4", fnr="", Fodselsdato=""),  # neither id nor birth date
            bruker(bid="1", fnr=FNR_A),  # duplicate
        ],
        "VEDTAK": [
            ["10", "1", "HJSPL", "01.01.2024", "", "7.5", "AKTIV"],  # decimal point, not comma
            ["11", "99", "HJSPL", "01.01.2024", "", "", "AKTIV"],  # no such BrukerID
            ["12", "3", "HJSPL", "01.01.2024", "", "", "AKTIV"],  # parent quarantined
            ["13", "1", "HJSPL", "01.01.2024", ""],  # 5 fields
        ],
        "ADMINISTRERING": [
            ["20", "5", "01.02.2024 08:00", "", "", "GITT"],  # GITT needs its Gitt time
            ["21", "5", "01.02.2024 08:00", "", "", "IKKE_GITT"],  # no LegemiddelID 5
        ],
        "LEGEMIDDEL": [],
    }
    cgm = barn_xml(
        barn("H1", fnr=None, inner='<Maaling id="M1" dato="2024-01-01" type="VEKT" verdi="4,1" enhet="g"/>'),
        barn("H2", fnr=None, kjonn="Z", inner='<Konsultasjon id="K1" dato="2024-01-01" type="6U">x</Konsultasjon>'),
    )
    extract = write_extract(tmp_path / "x", profil=profil, cgm=cgm)
    run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    rows = _rows(tmp_path / "r")
    assert rows[("profil/BRUKER.csv", "2")] == ("INVALID_DATE", "Fodselsdato", "a date dd.mm.yyyy that exists")
    assert rows[("profil/BRUKER.csv", "3")] == ("UNKNOWN_CODE", "Kjonn", "one of K, M, U")
    assert rows[("profil/BRUKER.csv", "4")] == (
        "PATIENT_UNIDENTIFIABLE",
        "Fodselsnummer+Fodselsdato",
        "a patient needs a valid national id or a birth date",
    )
    assert rows[("profil/BRUKER.csv", "1")][:2] == ("DUPLICATE_ID", "BrukerID")
    assert rows[("profil/VEDTAK.csv", "10")] == (
        "MALFORMED_ROW",
        "TimerPrUke",
        "hours a week 0–168, decimal comma (7,5)",
    )
    assert rows[("profil/VEDTAK.csv", "11")] == ("UNKNOWN_PARENT", "BrukerID", "must name a BrukerID in BRUKER.csv")
    assert rows[("profil/VEDTAK.csv", "12")] == (
        "PARENT_QUARANTINED",
        "BrukerID",
        "its record in BRUKER.csv was quarantined",
    )
    assert rows[("profil/VEDTAK.csv", "13")] == (
        "MALFORMED_ROW",
        "(record)",
        "7 fields separated by ';' (this record has 5)",
    )
    assert rows[("profil/ADMINISTRERING.csv", "20")] == (
        "MALFORMED_ROW",
        "Gitt",
        "set when Status is GITT or SELVADM, empty when IKKE_GITT",
    )
    assert rows[("profil/ADMINISTRERING.csv", "21")] == (
        "UNKNOWN_PARENT",
        "LegemiddelID",
        "must name a LegemiddelID in LEGEMIDDEL.csv",
    )
    assert rows[("cgm/Maaling", "M1")] == (
        "MALFORMED_ROW",
        "@enhet",
        "the unit of the type (VEKT kg, LENGDE cm, HODEOMKRETS cm)",
    )
    assert rows[("cgm/Barn", "H2")] == ("UNKNOWN_CODE", "Kjonn", "one of K, M, U")
    assert rows[("cgm/Konsultasjon", "K1")] == ("PARENT_QUARANTINED", "Barn", "the enclosing <Barn> was quarantined")
    text = (tmp_path / "r" / "quarantine.ndjson").read_text()
    for value in ("31.02.1950", "7.5", "Testesen", FNR_A, '"X"', "Gata 1"):
        assert value not in text
