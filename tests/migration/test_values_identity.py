"""Value parsers (dates, Oslo local time, numbers), national ids and stable ids (SPEC §2, §4, §7)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from epj.migration.codes import DNR_SYSTEM, FNR_SYSTEM, IPLOS_VARIABLER
from epj.migration.identity import ID_NAMESPACE, check_national_id, resource_id
from epj.migration.synthetic_ids import check_digits
from epj.migration.values import parse_decimal, parse_int, parse_iso_date, parse_no_date, parse_no_timestamp

from .extract_kit import national_id


def test_dates() -> None:
    assert parse_no_date("29.02.2024") == dt.date(2024, 2, 29)
    assert parse_no_date("29.02.2025") is None
    assert parse_no_date("31.02.2020") is None
    assert parse_no_date("2024-02-29") is None
    assert parse_iso_date("2024-02-29") == dt.date(2024, 2, 29)
    assert parse_iso_date("2019-02-30") is None
    assert parse_iso_date("29.02.2024") is None


def test_timestamps_in_oslo_time_with_dst_rules() -> None:
    assert parse_no_timestamp("15.01.2026 08:00") == "2026-01-15T08:00:00+01:00"
    assert parse_no_timestamp("15.07.2026 08:00") == "2026-07-15T08:00:00+02:00"
    # spring gap (29 March 2026, 02:00 → 03:00): moves forward one hour, not flagged
    assert parse_no_timestamp("29.03.2026 02:30") == "2026-03-29T03:30:00+02:00"
    # autumn repeat (25 October 2026, 03:00 → 02:00): the first occurrence
    assert parse_no_timestamp("25.10.2026 02:30") == "2026-10-25T02:30:00+02:00"
    assert parse_no_timestamp("25.10.2026 24:00") is None
    assert parse_no_timestamp("25.10.2026") is None


def test_numbers() -> None:
    assert parse_decimal("7,5") == 7.5 and parse_decimal("10") == 10.0
    for bad in ("7.5", "1.", "abc", ",5", "1,", "", "٣"):
        assert parse_decimal(bad) is None
    assert parse_int("42") == 42
    for bad in ("4,2", "-1", " 1", "", "٣"):
        assert parse_int(bad) is None


def test_national_ids() -> None:
    # A real-format number is built at run time so that none is ever committed (the repository rule).
    first9 = "151086950"
    real = first9 + (check_digits(first9) or "")
    assert check_national_id(real, allow_synthetic=False) is not None
    assert check_national_id(first9 + "77", allow_synthetic=False) is None  # wrong check digits
    synthetic = national_id(dt.date(1950, 10, 15), 123)
    assert check_national_id(synthetic, allow_synthetic=False) is None
    got = check_national_id(synthetic, allow_synthetic=True)
    assert got is not None and got.system == FNR_SYSTEM and got.birth_date == dt.date(1950, 10, 15)
    d_number = national_id(dt.date(1950, 10, 15), 123, d_number=True)
    got = check_national_id(d_number, allow_synthetic=True)
    assert got is not None and got.system == DNR_SYSTEM and got.birth_date == dt.date(1950, 10, 15)
    # H-numbers (month + 40) are not national ids, whatever their check digits
    h_first9 = "155086950"
    from stdnum.no import fodselsnummer

    k1 = fodselsnummer.calc_check_digit1(h_first9)
    h_number = h_first9 + k1 + fodselsnummer.calc_check_digit2(h_first9 + k1)
    if len(h_number) == 11:
        assert check_national_id(h_number, allow_synthetic=True) is None
    # century from the individual number: individual 510 with year 22 → 2022
    assert check_national_id(national_id(dt.date(2022, 3, 4), 510), allow_synthetic=True) is not None
    for junk in ("", "1234567890", "123456789012", "abcdefghijk", "1234567890８"):
        assert check_national_id(junk, allow_synthetic=True) is None


def test_resource_ids_are_uuid5_stable_and_carry_no_national_id() -> None:
    rid = resource_id("5035", "profil/BRUKER.csv", "100002")
    assert rid == str(uuid.uuid5(ID_NAMESPACE, "5035|profil/BRUKER.csv|100002"))
    assert rid == resource_id("5035", "profil/BRUKER.csv", "100002")
    assert rid != resource_id("5031", "profil/BRUKER.csv", "100002")


def test_iplos_code_list_matches_the_shared_file(shared_dir: Path | None) -> None:
    """Cross-check against the shared code file when it is beside the clone (the contract's own list is
    checked in tests/migration/test_contract_doc.py)."""
    if shared_dir is None:
        return  # optional cross-check: the project's own contract is the oracle without ../shared
    lines = (shared_dir / "legacy-extracts" / "codes" / "iplos-variabler.txt").read_text(encoding="utf-8").splitlines()
    shared = dict(line.split(";", 1) for line in lines if line and not line.startswith("#"))
    assert shared == IPLOS_VARIABLER
