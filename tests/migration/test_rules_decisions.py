"""The record-by-record decisions of `ExtractRules`, called directly (SPEC §4, §5, §7).

Why beside test_rules (whole extracts, counts only): these look at what a count hides — which record
and key a quarantine entry names, which parent a child is attached to after a duplicate, when a merge
is a conflict, and the seen-id set itself. Every expectation is written out from the SPEC.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import pytest

from epj.migration.reconciliation import Tally
from epj.migration.rules import ExtractRules, IdSet

from .extract_kit import FNR_A, FNR_CHILD, bruker, national_id

EXTRACT_DAY = dt.date(2026, 3, 1)


@dataclass
class RecordingTally(Tally):
    """A Tally that also keeps each quarantined record as (source, record, raw key, reason, field)."""

    entries: list[tuple[str, int, str, str, str]] = field(default_factory=list)

    def quarantined(self, source: str, reason: str, *, record: int, key: str, field: str = "", rule: str = "") -> None:
        super().quarantined(source, reason, record=record, key=key, field=field, rule=rule)
        self.entries.append((source, record, key, reason, field))


def _rules(*, allow_synthetic: bool = True) -> tuple[ExtractRules, RecordingTally, list[dict[str, Any]]]:
    out: list[dict[str, Any]] = []
    tally = RecordingTally("5035")
    rules = ExtractRules(
        kommunenr="5035",
        extract_date=EXTRACT_DAY,
        allow_synthetic=allow_synthetic,
        tally=tally,
        emit=lambda res, pid, src: out.append(res),
    )
    return rules, tally, out


def _of(out: list[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    return [r for r in out if r["resourceType"] == rtype]


def _legacy(res: dict[str, Any], table: str) -> list[str]:
    return [i["value"] for i in res["identifier"] if i["system"] == f"urn:legacy:profil:5035:{table}"]


# ------------------------------------------------------------------------------------ seen ids
def test_idset_every_id_once() -> None:
    seen = IdSet()
    ids = [*range(0, 70), 1000, 1001, (1 << 27) - 1, 1 << 27, (1 << 27) + 8, 10**15]
    assert [seen.add_seen(i) for i in ids] == [False] * len(ids)
    assert [seen.add_seen(i) for i in ids] == [True] * len(ids)
    assert seen.add_seen(999) is False and seen.add_seen(1002) is False and seen.add_seen(71) is False


def test_idset_ids_in_falling_order() -> None:
    """Ids need not come sorted: a lower id after a higher one in the same byte is still new."""
    seen = IdSet()
    assert [seen.add_seen(i) for i in range(23, -1, -1)] == [False] * 24
    assert [seen.add_seen(i) for i in range(24)] == [True] * 24


def test_idset_grows_from_empty_to_a_far_id() -> None:
    seen = IdSet()
    assert seen.add_seen(5000) is False
    assert seen.add_seen(5000) is True
    assert seen.add_seen(4999) is False and seen.add_seen(5001) is False and seen.add_seen(0) is False


def test_idset_memory_stays_flat() -> None:
    """The class's promise: dense ids cost one bit each (the bitmap at most doubles), ids from 2**27 on go to
    a set, so the bitmap never passes 16 MB (white-box: the sizes are the point)."""
    seen = IdSet()
    for i in range(80_000):
        seen.add_seen(i)
    assert 10_000 <= len(seen._bits) <= 20_000 and seen._other == set()
    seen.add_seen((1 << 27) - 1)  # the largest id the bitmap takes
    assert len(seen._bits) == 1 << 24 and seen._other == set()
    seen.add_seen(1 << 27)
    assert seen._other == {1 << 27} and len(seen._bits) == 1 << 24


# ------------------------------------------------------------------------------------ Profil
def test_quarantine_entries_name_file_record_and_id() -> None:
    rules, tally, _ = _rules()
    rules.profil("BRUKER", 1, bruker(bid="5"))
    rules.profil("BRUKER", 2, bruker(bid="5"))  # DUPLICATE_ID
    rules.profil("BRUKER", 3, bruker(bid="x"))  # MALFORMED_ROW, no id to name
    rules.profil("VEDTAK", 1, ["7", "5", "HJSPL", "01.01.2025", "", "", "VENTER"])
    rules.profil("JOURNAL", 1, ["8", "6", "01.02.2026 08:00", "RAPPORT", "", "", "x"])
    rules.profil("LEGEMIDDEL", 1, ["9", "5", "N02BE01", "P", "", "", "01.01.2025", "", "X"])
    rules.profil("ADMINISTRERING", 1, ["10", "9", "01.02.2026 08:00", "", "", "IKKE_GITT"])
    rules.profil("PARORENDE", 1, ["11", "5", "Navn", "NABO", "", ""])
    rules.profil("IPLOS", 1, ["5", "01.02.2026", "FLY", "2"])
    got = [e[:4] for e in tally.entries]
    assert got == [
        ("profil/BRUKER.csv", 2, "5", "DUPLICATE_ID"),
        ("profil/BRUKER.csv", 3, "", "MALFORMED_ROW"),
        ("profil/VEDTAK.csv", 1, "7", "UNKNOWN_CODE"),
        ("profil/JOURNAL.csv", 1, "8", "UNKNOWN_PARENT"),
        ("profil/LEGEMIDDEL.csv", 1, "9", "UNKNOWN_CODE"),
        ("profil/ADMINISTRERING.csv", 1, "10", "PARENT_QUARANTINED"),
        ("profil/PARORENDE.csv", 1, "11", "UNKNOWN_CODE"),
        ("profil/IPLOS.csv", 1, "5|01.02.2026|FLY", "UNKNOWN_CODE"),
    ]
    assert all(e[4] for e in tally.entries)  # every entry names the field that failed
    assert tally.sources["profil/BRUKER.csv"].read == 3
    assert tally.sources["profil/BRUKER.csv"].migrated == 1


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("VEDTAK", ["x", "1", "HJSPL", "01.01.2025", "", "", "AKTIV"]),
        ("JOURNAL", ["0", "1", "01.02.2026 08:00", "RAPPORT", "", "", "x"]),
        ("LEGEMIDDEL", ["", "1", "N02BE01", "P", "", "", "01.01.2025", "", "N"]),
        ("ADMINISTRERING", ["-1", "1", "01.02.2026 08:00", "", "", "IKKE_GITT"]),
        ("PARORENDE", ["a", "1", "Navn", "ANNEN", "", ""]),
        ("IPLOS", ["1", "01.02.2026", "SYN"]),  # a field short
    ],
)
def test_a_row_without_a_usable_id_is_malformed_and_named_by_record_only(name: str, row: list[str]) -> None:
    rules, tally, _ = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("LEGEMIDDEL", 7, ["1", "1", "N02BE01", "P", "", "", "01.01.2025", "", "N"])
    rules.profil(name, 4, row)
    assert [e[:4] for e in tally.entries] == [(f"profil/{name}.csv", 4, "", "MALFORMED_ROW")]


def test_a_duplicate_does_not_unseat_the_first_record_as_parent() -> None:
    """The first occurrence decides a parent's fate (SPEC §7); a later duplicate, quarantined, changes nothing."""
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("BRUKER", 2, bruker(bid="1", Kjonn="X"))  # duplicate (and a bad code)
    rules.profil("BRUKER", 3, bruker(bid="2", Kjonn="X"))  # quarantined
    rules.profil("BRUKER", 4, bruker(bid="2"))  # duplicate of a quarantined record: the parent stays quarantined
    lm = ["1", "1", "N02BE01", "P", "", "", "01.01.2025", "", "N"]
    rules.profil("LEGEMIDDEL", 1, lm)
    rules.profil("LEGEMIDDEL", 2, [*lm[:8], "X"])  # duplicate id 1
    rules.profil("VEDTAK", 1, ["1", "1", "HJSPL", "01.01.2025", "", "", "AKTIV"])
    rules.profil("VEDTAK", 2, ["2", "2", "HJSPL", "01.01.2025", "", "", "AKTIV"])
    rules.profil("ADMINISTRERING", 1, ["1", "1", "01.02.2026 08:00", "", "", "IKKE_GITT"])
    assert [e[3] for e in tally.entries] == ["DUPLICATE_ID", "UNKNOWN_CODE", "DUPLICATE_ID", "DUPLICATE_ID",
                                             "PARENT_QUARANTINED"]  # fmt: skip
    assert len(_of(out, "EpisodeOfCare")) == 1 and len(_of(out, "MedicationAdministration")) == 1


def test_own_reason_beats_duplicate_and_duplicate_beats_parent() -> None:
    rules, tally, _ = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1", Kjonn="X"))  # quarantined parent
    rules.profil("VEDTAK", 1, ["1", "1", "HJSPL", "01.01.2025", "", "", "AKTIV"])  # PARENT_QUARANTINED
    rules.profil("VEDTAK", 2, ["1", "1", "HJSPL", "01.01.2025", "", "", "AKTIV"])  # DUPLICATE_ID beats the parent
    rules.profil("VEDTAK", 3, ["1", "1", "HJSPL", "32.01.2025", "", "", "AKTIV"])  # INVALID_DATE beats DUPLICATE_ID
    rules.profil("VEDTAK", 4, ["1", "1", "HJSPL", "01.01.2025", "", "1.5", "AKTIV"])  # MALFORMED_ROW first
    rules.profil("JOURNAL", 1, ["1", "1", "01.02.2026 08:00", "RAPPORT", "", "", "x"])
    rules.profil("JOURNAL", 2, ["1", "1", "01.02.2026 08:00", "RAPPORT", "", "", "x"])
    rules.profil("JOURNAL", 3, ["1", "1", "01.02.2026 08:00", "RAPPORT", "12a", "", "x"])
    rules.profil("PARORENDE", 1, ["1", "1", "N", "BARN", "", "1"])
    rules.profil("PARORENDE", 2, ["1", "1", "N", "BARN", "", "1"])
    rules.profil("PARORENDE", 3, ["1", "1", "N", "BARN", "", "x"])
    rules.profil("IPLOS", 1, ["1", "01.02.2026", "SYN", "2"])
    rules.profil("IPLOS", 2, ["1", "01.02.2026", "SYN", "2"])
    rules.profil("IPLOS", 3, ["1", "01.02.2026", "SYN", "x"])
    reasons = [(e[0].split("/")[1], e[3]) for e in tally.entries[1:]]
    assert reasons == [
        ("VEDTAK.csv", "PARENT_QUARANTINED"),
        ("VEDTAK.csv", "DUPLICATE_ID"),
        ("VEDTAK.csv", "INVALID_DATE"),
        ("VEDTAK.csv", "MALFORMED_ROW"),
        ("JOURNAL.csv", "PARENT_QUARANTINED"),
        ("JOURNAL.csv", "DUPLICATE_ID"),
        ("JOURNAL.csv", "MALFORMED_ROW"),
        ("PARORENDE.csv", "PARENT_QUARANTINED"),
        ("PARORENDE.csv", "DUPLICATE_ID"),
        ("PARORENDE.csv", "MALFORMED_ROW"),
        ("IPLOS.csv", "PARENT_QUARANTINED"),
        ("IPLOS.csv", "DUPLICATE_ID"),
        ("IPLOS.csv", "MALFORMED_ROW"),
    ]


def test_medication_and_administration_reasons_in_order() -> None:
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    lm = ["1", "1", "N02BE01", "P", "", "", "01.01.2025", "", "N"]
    rules.profil("LEGEMIDDEL", 1, lm)
    rules.profil("LEGEMIDDEL", 2, lm)  # DUPLICATE_ID
    rules.profil("LEGEMIDDEL", 3, ["2", "x", *lm[2:]])  # MALFORMED_ROW (BrukerID)
    rules.profil("LEGEMIDDEL", 4, ["3", "1", *lm[2:6], "01.01.2025", "31.02.2025", "N"])  # INVALID_DATE (TilDato)
    rules.profil("LEGEMIDDEL", 5, ["4", "1", *lm[2:6], "", "", "N"])  # INVALID_DATE (FraDato required)
    rules.profil("LEGEMIDDEL", 6, ["5", "9", *lm[2:]])  # UNKNOWN_PARENT
    adm = ["1", "1", "01.02.2026 08:00", "01.02.2026 08:05", "", "GITT"]
    rules.profil("ADMINISTRERING", 1, adm)
    rules.profil("ADMINISTRERING", 2, adm)  # DUPLICATE_ID
    rules.profil("ADMINISTRERING", 3, ["2", "1", "01.02.2026 08:00", "01.02.2026 08:05", "x", "GITT"])  # MALFORMED
    rules.profil("ADMINISTRERING", 4, ["3", "1", "", "", "", "IKKE_GITT"])  # INVALID_DATE (Planlagt required)
    rules.profil("ADMINISTRERING", 5, ["4", "1", "01.02.2026 08:00", "31.02.2026 08:05", "", "SELVADM"])  # INVALID
    rules.profil("ADMINISTRERING", 6, ["5", "1", "01.02.2026 08:00", "", "", "IKKE_GITT"])  # migrates
    rules.profil("ADMINISTRERING", 7, ["6", "1", "01.02.2026 08:00", "01.02.2026 08:05", "", "GITT"])  # migrates
    reasons = [(e[1], e[3]) for e in tally.entries]
    assert reasons == [
        (2, "DUPLICATE_ID"),
        (3, "MALFORMED_ROW"),
        (4, "INVALID_DATE"),
        (5, "INVALID_DATE"),
        (6, "UNKNOWN_PARENT"),
        (2, "DUPLICATE_ID"),
        (3, "MALFORMED_ROW"),
        (4, "INVALID_DATE"),
        (5, "INVALID_DATE"),
    ]
    adms = _of(out, "MedicationAdministration")
    assert [(_legacy(a, "administrering"), a["status"]) for a in adms] == [
        (["1"], "completed"),
        (["5"], "not-done"),
        (["6"], "completed"),
    ]
    assert "performer" not in adms[0]  # no GittAvHPR


def test_vedtak_and_journal_values() -> None:
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("VEDTAK", 1, ["1", "1", "PRAKT", "01.01.2025", "", "168", "AKTIV"])
    rules.profil("VEDTAK", 2, ["2", "1", "PRAKT", "01.01.2025", "", "168,5", "AKTIV"])  # over 168
    rules.profil("VEDTAK", 3, ["3", "1", "PRAKT", "", "", "", "AKTIV"])  # FraDato required
    rules.profil("VEDTAK", 4, ["4", "1", "PRAKT", "01.01.2025", "01.01.2025", "0", "AVSLUTTET"])
    rules.profil("JOURNAL", 1, ["1", "1", "", "RAPPORT", "", "", "x"])  # Tidspunkt required
    rules.profil("JOURNAL", 2, ["2", "1", "01.02.2026 08:00", "SAMTALE", "1234567", "", "x"])
    assert [(e[1], e[3]) for e in tally.entries] == [(2, "MALFORMED_ROW"), (3, "INVALID_DATE"), (1, "INVALID_DATE")]
    eocs = _of(out, "EpisodeOfCare")
    assert [e["extension"][0]["valueDecimal"] for e in eocs] == [168.0, 0.0]
    assert eocs[1]["period"] == {"start": "2025-01-01", "end": "2025-01-01"}  # same day is not before start
    assert rules.tally.warnings["PERIOD_END_BEFORE_START"] == 0
    (doc,) = _of(out, "DocumentReference")
    assert doc["author"] == [{"identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.4", "value": "1234567"}}]


def test_medication_status_on_the_extract_day() -> None:
    rules, _, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    base = ["1", "N02BE01", "P", "5 mg", "x"]
    rules.profil("LEGEMIDDEL", 1, ["1", *base, "01.01.2025", "28.02.2026", "N"])
    rules.profil("LEGEMIDDEL", 2, ["2", *base, "01.01.2025", "01.03.2026", "N"])
    rules.profil("LEGEMIDDEL", 3, ["3", *base, "01.01.2025", "", "J"])
    rules.profil("LEGEMIDDEL", 4, ["4", "1", "N02-BE01", "P", "5 mg", "x", "01.01.2025", "", "N"])
    assert [m["status"] for m in _of(out, "MedicationStatement")] == ["completed", "active", "stopped", "active"]
    assert rules.tally.warnings["INVALID_ATC"] == 1
    stmts = _of(out, "MedicationStatement")
    assert stmts[3]["medicationCodeableConcept"] == {"text": "P 5 mg"}
    assert stmts[0]["medicationCodeableConcept"] is stmts[1]["medicationCodeableConcept"]  # one shared concept


def test_iplos_key_and_values() -> None:
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("BRUKER", 2, bruker(bid="2", fnr=""))
    rows = [
        ["1", "01.02.2026", "SYN", "2"],
        ["1", "02.02.2026", "SYN", "2"],  # another day
        ["1", "01.02.2026", "HORSEL", "2"],  # another variable
        ["2", "01.02.2026", "SYN", "2"],  # another person
        ["1", "01.02.2026", "SYN", "3"],  # DUPLICATE_ID: same (BrukerID, Dato, Variabel)
        ["1", "01.02.2026", "SYN", "0"],  # DUPLICATE_ID beats the unknown score
        ["1", "03.02.2026", "SYN", "6"],  # UNKNOWN_CODE: score outside 1-5, 9
        ["1", "", "SYN", "2"],  # INVALID_DATE: Dato required
    ]
    for n, row in enumerate(rows, start=1):
        rules.profil("IPLOS", n, row)
    assert [(e[1], e[2], e[3]) for e in tally.entries] == [
        (5, "1|01.02.2026|SYN", "DUPLICATE_ID"),
        (6, "1|01.02.2026|SYN", "DUPLICATE_ID"),
        (7, "1|03.02.2026|SYN", "UNKNOWN_CODE"),
        (8, "1||SYN", "INVALID_DATE"),
    ]
    obs = _of(out, "Observation")
    assert [(o["effectiveDateTime"], o["code"]["coding"][0]["code"], o["valueInteger"]) for o in obs] == [
        ("2026-02-01", "SYN", 2),
        ("2026-02-02", "SYN", 2),
        ("2026-02-01", "HORSEL", 2),
        ("2026-02-01", "SYN", 2),
    ]
    assert len({o["id"] for o in obs}) == 4


def test_iplos_keys_of_different_people_and_days_never_meet() -> None:
    """Distinct (BrukerID, Dato, Variabel) are distinct keys, even where BrukerID x day number coincide
    (2 x day n and 1 x day 2n): a key that multiplied them would call the second row a duplicate."""
    day = dt.date(2026, 1, 1)
    later = dt.date.fromordinal(2 * day.toordinal())  # a date in the 4050s, still dd.mm.yyyy
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("BRUKER", 2, bruker(bid="2", fnr=""))
    rules.profil("IPLOS", 1, ["2", day.strftime("%d.%m.%Y"), "SYN", "2"])
    rules.profil("IPLOS", 2, ["1", later.strftime("%d.%m.%Y"), "SYN", "2"])
    assert tally.entries == []
    assert len(_of(out, "Observation")) == 2


def test_iplos_keys_of_different_people_and_variables_never_meet() -> None:
    """BrukerID 8 with the first variable seen and BrukerID 4 with the second, same day: distinct keys."""
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="4"))
    rules.profil("BRUKER", 2, bruker(bid="8", fnr=""))
    rules.profil("IPLOS", 1, ["8", "01.02.2026", "SYN", "2"])
    rules.profil("IPLOS", 2, ["4", "01.02.2026", "HORSEL", "2"])
    rules.profil("IPLOS", 3, ["8", "01.02.2026", "HORSEL", "2"])
    rules.profil("IPLOS", 4, ["4", "01.02.2026", "SYN", "2"])
    assert tally.entries == []
    assert len(_of(out, "Observation")) == 4


def test_parorende_priority_and_relation() -> None:
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("PARORENDE", 1, ["1", "1", "Per", "EKTEFELLE", "900", "1"])
    rules.profil("PARORENDE", 2, ["2", "1", "Ola", "SOSKEN", "", ""])
    (first, second) = _of(out, "RelatedPerson")
    assert first["extension"] == [{"url": "urn:epj:extension:kontaktprioritet", "valueInteger": 1}]
    assert "extension" not in second
    assert [c["code"] for c in second["relationship"][0]["coding"]] == ["SIB", "SOSKEN"]
    assert tally.entries == []


# ------------------------------------------------------------------------------------ patients and merging
def test_merged_patient_keeps_the_first_record_and_every_legacy_key() -> None:
    rules, _, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1", fornavn="Kari"))
    rules.profil("BRUKER", 2, bruker(bid="2", fornavn="Kari"))
    rules.profil("BRUKER", 3, bruker(bid="3", fnr=""))
    rules.profil("VEDTAK", 1, ["1", "2", "HJSPL", "01.01.2025", "", "", "AKTIV"])
    rules.finish()
    patients = _of(out, "Patient")
    assert len(patients) == 2
    merged = patients[0]
    assert [i["value"] for i in merged["identifier"]] == [FNR_A, "1", "2"]
    (eoc,) = _of(out, "EpisodeOfCare")
    assert eoc["patient"] == {"reference": f"Patient/{merged['id']}"}  # BrukerID 2 points at the merged Patient
    assert rules.tally.patients_merged == 1
    assert rules.tally.warnings["CONFLICTING_DEMOGRAPHICS"] == 0


@pytest.mark.parametrize(
    ("first", "second", "conflicts"),
    [
        ({}, {}, 0),
        ({}, {"Fodselsdato": ""}, 0),  # no birth date in the second record: nothing to disagree with
        ({"Fodselsdato": ""}, {}, 0),  # none in the first: the second agrees with the id
        ({"Fodselsdato": ""}, {"Fodselsdato": "18.05.1940"}, 1),  # the second disagrees with the id
        ({}, {"fornavn": "Karin"}, 1),
        ({}, {"etternavn": "Annensen"}, 1),
        ({}, {"Fodselsdato": "18.05.1940"}, 1),
        ({"Fodselsdato": "18.05.1940"}, {"Fodselsdato": "18.05.1940"}, 1),  # counted once per Patient
        ({"Fodselsdato": "18.05.1940"}, {}, 1),
        ({}, {"Fodselsdato": "16.05.1940"}, 1),  # earlier than the id's date is as wrong as later
    ],
)
def test_conflicting_demographics_once_per_merged_patient(
    first: dict[str, str], second: dict[str, str], conflicts: int
) -> None:
    rules, _, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1", **first))
    rules.profil("BRUKER", 2, bruker(bid="2", **second))
    rules.finish()
    (patient,) = _of(out, "Patient")
    assert patient["birthDate"] == "1940-05-17"  # the national id's date wins
    assert rules.tally.warnings["CONFLICTING_DEMOGRAPHICS"] == conflicts
    assert rules.tally.patients_merged == 1


def test_without_synthetic_ids_nothing_merges() -> None:
    rules, _, out = _rules(allow_synthetic=False)
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("BRUKER", 2, bruker(bid="2"))
    rules.finish()
    assert len(_of(out, "Patient")) == 2
    assert rules.tally.warnings["INVALID_NATIONAL_ID"] == 2 and rules.tally.patients_merged == 0


def test_bruker_values_and_missing_fields() -> None:
    rules, tally, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1", fnr="", Status="DOD", Dodsdato="10.02.2026", Kjonn="M"))
    rules.profil("BRUKER", 2, bruker(bid="2", fnr="", Status="AVSLUTTET", Fodselsdato="31.04.1950"))
    rules.profil("BRUKER", 3, bruker(bid="3", fnr="", Fodselsdato="", Kjonn="X"))  # UNKNOWN_CODE first
    rules.finish()
    (p1,) = _of(out, "Patient")
    assert p1["active"] is False and p1["deceasedDateTime"] == "2026-02-10" and p1["gender"] == "male"
    assert p1["birthDate"] == "1940-05-17"
    assert [(e[1], e[3]) for e in tally.entries] == [(2, "INVALID_DATE"), (3, "UNKNOWN_CODE")]
    assert rules.tally.warnings["MISSING_NATIONAL_ID"] == 1


# ------------------------------------------------------------------------------------ CGM
def _barn(hid: str | None, inner: str = "", fnr: str | None = FNR_CHILD, kjonn: str | None = "K") -> ET.Element:
    id_attr = f' id="{hid}"' if hid is not None else ""
    fnr_el = f"<Fodselsnummer> {fnr} </Fodselsnummer>" if fnr is not None else ""
    kjonn_el = f"<Kjonn>{kjonn}</Kjonn>" if kjonn is not None else ""
    return ET.fromstring(
        f"<Barn{id_attr}>{fnr_el}<Fodselsdato>2022-03-04</Fodselsdato><Fornavn> Lita </Fornavn>"
        f"<Etternavn>Testesen</Etternavn>{kjonn_el}{inner}</Barn>"
    )


def test_cgm_children_records_keys_and_values() -> None:
    inner = (
        '<Foresatt fnr="x" relasjon="MOR"> Mor  Testesen </Foresatt>'
        '<Konsultasjon id="K1" dato="2023-01-01" type="6U"> tekst </Konsultasjon>'
        '<Maaling id="M1" dato="2023-01-01" type="LENGDE" verdi="50,5" enhet="cm"/>'
        '<Annet id="A1"/>'
        '<Foresatt fnr="x" relasjon="FAR">Far</Foresatt>'
        '<Maaling id="M2" dato="2023-01-01" type="LENGDE" verdi="50" enhet="mm"/>'
        '<Vaksinasjon id="V1" dato="2023-01-01" atc="J07BH01" dose="0"/>'
        '<Vaksinasjon id="V2" dato="2023-13-01" atc="J07BH01" dose="2" batch="B7"/>'
        '<Vaksinasjon id="V3" dato="2023-01-02" atc="J07BH01" dose="2" batch="B7"/>'
        '<Konsultasjon id="K2" dato="2023-01-01" type="6U"/>'
    )
    rules, tally, out = _rules()
    rules.barn(1, _barn("H1", inner))
    rules.barn(2, _barn("H1", '<Foresatt fnr="x" relasjon="MOR">Mor</Foresatt>'))  # DUPLICATE_ID; child orphaned
    rules.finish()
    assert [e[:4] for e in tally.entries] == [
        ("cgm/Maaling", 2, "M2", "MALFORMED_ROW"),
        ("cgm/Vaksinasjon", 1, "V1", "MALFORMED_ROW"),
        ("cgm/Vaksinasjon", 2, "V2", "INVALID_DATE"),
        ("cgm/Barn", 2, "H1", "DUPLICATE_ID"),
        ("cgm/Foresatt", 3, "H1/1", "PARENT_QUARANTINED"),
    ]
    (patient,) = _of(out, "Patient")
    assert patient["name"] == [{"use": "official", "family": "Testesen", "given": ["Lita"]}]
    assert patient["gender"] == "female" and patient["birthDate"] == "2022-03-04"
    assert {"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": FNR_CHILD} in patient["identifier"]
    mor, far = _of(out, "RelatedPerson")
    assert mor["name"] == [{"text": "Mor  Testesen"}] and far["name"] == [{"text": "Far"}]
    assert [c["code"] for c in far["relationship"][0]["coding"]] == ["FTH", "FAR"]
    assert mor["id"] != far["id"]
    (enc1, enc2) = _of(out, "Encounter")
    assert enc1["text"]["div"].endswith("<p>tekst</p></div>") and "text" not in enc2
    (obs,) = _of(out, "Observation")
    assert obs["valueQuantity"]["value"] == 50.5
    (imm,) = _of(out, "Immunization")
    assert imm["lotNumber"] == "B7" and imm["protocolApplied"] == [{"doseNumberPositiveInt": 2}]
    assert imm["occurrenceDateTime"] == "2023-01-02"
    assert tally.sources["cgm/Foresatt"].read == 3 and tally.sources["cgm/Foresatt"].migrated == 2
    assert all(r.get("patient", r.get("subject")) == {"reference": f"Patient/{patient['id']}"}
               for r in out if r["resourceType"] != "Patient")  # fmt: skip


def test_cgm_foresatt_national_id_and_codes() -> None:
    mother = national_id(dt.date(1990, 7, 8), 234)
    inner = (
        f'<Foresatt fnr="{mother}" relasjon="MOR">Mor</Foresatt>'
        '<Foresatt fnr="1" relasjon="ANNEN">Nabo</Foresatt>'
        '<Foresatt relasjon="MOR">Uten fnr</Foresatt>'
        '<Foresatt fnr="1" relasjon="">Uten relasjon</Foresatt>'
        '<Foresatt fnr="1" relasjon="ONKEL">Onkel</Foresatt>'
    )
    rules, tally, out = _rules()
    rules.barn(1, _barn("H1", inner))
    rules.finish()
    mor, nabo = _of(out, "RelatedPerson")
    assert mor["identifier"] == [{"use": "official", "system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": mother}]
    assert "identifier" not in nabo
    assert [c["code"] for c in nabo["relationship"][0]["coding"]] == ["ANNEN"]
    assert [(e[1], e[2], e[3]) for e in tally.entries] == [
        (3, "H1/3", "MALFORMED_ROW"),
        (4, "H1/4", "MALFORMED_ROW"),
        (5, "H1/5", "UNKNOWN_CODE"),
    ]


def test_cgm_barn_reasons_in_order() -> None:
    rules, tally, out = _rules()
    rules.barn(1, _barn("H1", kjonn=None))  # no Kjonn: unknown, migrates
    rules.barn(2, _barn(None))  # MALFORMED_ROW
    rules.barn(3, _barn("", kjonn="X"))  # MALFORMED_ROW beats UNKNOWN_CODE
    rules.barn(4, _barn("H2", fnr="12345678901", kjonn="X"))  # UNKNOWN_CODE
    rules.barn(5, _barn("H3", fnr="12345678901"))  # invalid id: migrates with the file's birth date
    rules.barn(6, _barn("H" + "9" * 80))
    rules.finish()
    assert [(e[1], e[2], e[3]) for e in tally.entries] == [
        (2, "", "MALFORMED_ROW"),
        (3, "", "MALFORMED_ROW"),
        (4, "H2", "UNKNOWN_CODE"),
    ]
    patients = _of(out, "Patient")
    assert [p["gender"] for p in patients] == ["unknown", "female"]
    assert rules.tally.warnings["INVALID_NATIONAL_ID"] == 1
    assert rules.tally.patients_merged == 1  # H999… has the same national id as H1
    assert [i["value"] for i in patients[0]["identifier"]][-1] == "H" + "9" * 80  # the legacy key is kept whole


def test_cgm_report_keys_are_cut_to_64_characters() -> None:
    long_id = "K" + "1" * 80
    rules, tally, _ = _rules()
    rules.barn(1, _barn("H" + "2" * 80, kjonn="X"))
    rules.barn(2, _barn("H5", f'<Konsultasjon id="{long_id}" type="6U"/><Foresatt fnr="1">x</Foresatt>'))
    assert [(e[2], e[3]) for e in tally.entries] == [
        ("H" + "2" * 63, "UNKNOWN_CODE"),
        (long_id[:64], "MALFORMED_ROW"),
        ("H5/1", "MALFORMED_ROW"),
    ]


def test_cgm_measurement_units_and_codes() -> None:
    inner = (
        '<Maaling id="M1" dato="2023-01-01" type="VEKT" verdi="4,85" enhet="kg"/>'
        '<Maaling id="M2" dato="2023-01-01" type="VEKT" verdi="4850" enhet="g"/>'
        '<Maaling id="M3" dato="2023-01-01" type="HODEOMKRETS" verdi="38" enhet="cm"/>'
        '<Maaling id="M4" dato="2023-01-01" type="BMI" verdi="14" enhet="kg"/>'
        '<Maaling id="M5" dato="2023-01-01" type="VEKT" verdi="4.85" enhet="kg"/>'
        '<Maaling id="M6" dato="2023-02-30" type="VEKT" verdi="4" enhet="kg"/>'
        '<Maaling id="M1" dato="2023-01-01" type="VEKT" verdi="4" enhet="kg"/>'
        '<Maaling id="M7" dato="2023-01-01" type="VEKT" verdi="4"/>'
    )
    rules, tally, out = _rules()
    rules.barn(1, _barn("H1", inner))
    assert [(e[2], e[3]) for e in tally.entries] == [
        ("M2", "MALFORMED_ROW"),
        ("M4", "UNKNOWN_CODE"),
        ("M5", "MALFORMED_ROW"),
        ("M6", "INVALID_DATE"),
        ("M1", "DUPLICATE_ID"),
        ("M7", "MALFORMED_ROW"),
    ]
    assert [o["code"]["coding"][0]["code"] for o in _of(out, "Observation")] == ["29463-7", "9843-4"]


def test_cgm_children_of_a_quarantined_barn() -> None:
    inner = (
        '<Konsultasjon id="K1" dato="2023-01-01" type="6U"/>'
        '<Maaling id="M1" dato="2023-01-01" type="VEKT" verdi="4" enhet="kg"/>'
        '<Vaksinasjon id="V1" dato="2023-01-01" atc="J07BH01" dose="1"/>'
        '<Maaling id="M2" dato="2023-01-01" type="BMI" verdi="4" enhet="kg"/>'  # PARENT_QUARANTINED beats the code
    )
    rules, tally, out = _rules()
    rules.barn(1, _barn("H1", inner, kjonn="X"))
    assert [(e[0], e[3]) for e in tally.entries] == [
        ("cgm/Barn", "UNKNOWN_CODE"),
        ("cgm/Konsultasjon", "PARENT_QUARANTINED"),
        ("cgm/Maaling", "PARENT_QUARANTINED"),
        ("cgm/Vaksinasjon", "PARENT_QUARANTINED"),
        ("cgm/Maaling", "PARENT_QUARANTINED"),
    ]
    assert out == []


def test_emitted_resources_are_counted_by_type() -> None:
    rules, tally, _ = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1"))
    rules.profil("VEDTAK", 1, ["1", "1", "HJSPL", "01.01.2025", "", "", "AKTIV"])
    rules.finish()
    assert dict(tally.resources) == {"EpisodeOfCare": 1, "Patient": 1}
    assert tally.sources["profil/VEDTAK.csv"].migrated == 1
    assert tally.sources["profil/BRUKER.csv"].migrated == 1


def test_same_child_in_profil_and_cgm_with_the_same_demographics_is_no_conflict() -> None:
    """Birth dates compare as dates (SPEC §7): 04.03.2022 in Profil is 2022-03-04 in CGM."""
    rules, _, out = _rules()
    rules.profil("BRUKER", 1, bruker(bid="1", fnr=FNR_CHILD, Fodselsdato="04.03.2022", fornavn="Lita"))
    rules.barn(1, _barn("H1"))
    rules.finish()
    (patient,) = _of(out, "Patient")
    assert [i["value"] for i in patient["identifier"]] == [FNR_CHILD, "1", "H1"]
    assert rules.tally.patients_merged == 1 and rules.tally.warnings["CONFLICTING_DEMOGRAPHICS"] == 0


@pytest.mark.parametrize(
    ("element", "attrs"),
    [
        ("Konsultasjon", {"id": "K1", "dato": "2023-01-01", "type": "6U"}),
        ("Maaling", {"id": "M1", "dato": "2023-01-01", "type": "BMI", "verdi": "4", "enhet": "kg"}),
        ("Vaksinasjon", {"id": "V1", "dato": "2023-01-01", "atc": "J07BH01", "dose": "1"}),
    ],
)
def test_each_required_cgm_attribute_missing_is_malformed(element: str, attrs: dict[str, str]) -> None:
    """SPEC §7: every attribute of Konsultasjon and Maaling, and Vaksinasjon id, dato, atc, dose are required;
    a missing one is MALFORMED_ROW whatever else is wrong (here an unknown Maaling type)."""
    for missing in attrs:
        shown = " ".join(f'{k}="{v}"' for k, v in attrs.items() if k != missing)
        rules, tally, out = _rules()
        rules.barn(1, _barn("H1", f"<{element} {shown}/>"))
        assert [(e[0], e[3]) for e in tally.entries] == [(f"cgm/{element}", "MALFORMED_ROW")], missing
        assert [r["resourceType"] for r in out] == []  # nothing but the held-back Patient


def test_cgm_elements_outside_the_contract_are_not_read_as_known_ones() -> None:
    """A `<Verge>` (guardian) or `<Annet>` child is no Foresatt, Konsultasjon, Maaling or Vaksinasjon."""
    inner = (
        '<Verge id="V1" fnr="1" relasjon="MOR" dato="2023-01-01" atc="J07BH01" dose="1"/>'
        '<Annet id="K1" dato="2023-01-01" type="6U"/><Vekt id="M1" dato="2023-01-01" type="VEKT" verdi="4" enhet="kg"/>'
    )
    rules, tally, out = _rules()
    rules.barn(1, _barn("H1", inner))
    rules.finish()
    assert [r["resourceType"] for r in out] == ["Patient"]
    assert sorted(tally.sources) == ["cgm/Barn"] and tally.entries == []


def test_cgm_vaccination_ids_are_unique_per_file() -> None:
    """SPEC §7: CGM child ids are unique per file for their element type; the first occurrence wins, and a
    repeated id with its own MALFORMED_ROW keeps that reason."""
    inner = (
        '<Vaksinasjon id="V1" dato="2023-01-01" atc="J07BH01" dose="1"/>'
        '<Vaksinasjon id="V1" dato="2023-02-01" atc="J07BH01" dose="2"/>'
        '<Vaksinasjon id="V1" dato="2023-03-01" atc="J07BH01"/>'
    )
    rules, tally, out = _rules()
    rules.barn(1, _barn("H1", inner))
    assert [(e[1], e[2], e[3]) for e in tally.entries] == [(2, "V1", "DUPLICATE_ID"), (3, "V1", "MALFORMED_ROW")]
    assert [r["occurrenceDateTime"] for r in _of(out, "Immunization")] == ["2023-01-01"]
