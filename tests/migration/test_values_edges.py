"""Edges of the value parsers and of national-id / resource-id rules (SPEC §2, §4, §7).

Why a second file beside test_values_identity: these pin the boundaries (minute 59, month 1 and 12,
synthetic months 81 and 92, day 41, a synthetic birth date of today) and the byte layout of the
stable ids, each against a literal or an independent oracle (``uuid.uuid5``, the calendar).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from epj.migration.identity import ID_NAMESPACE, check_national_id, resource_id
from epj.migration.values import (
    local_to_aware,
    parse_decimal,
    parse_extract_time,
    parse_int,
    parse_iso_date,
    parse_no_date,
    parse_no_timestamp,
    parse_positive_id,
)

from .extract_kit import national_id

FNR = "urn:oid:2.16.578.1.12.4.1.4.1"
DNR = "urn:oid:2.16.578.1.12.4.1.4.2"


# ------------------------------------------------------------------------------------ dates
@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("01.01.2000", dt.date(2000, 1, 1)),
        ("31.12.1999", dt.date(1999, 12, 31)),
        ("09.11.2024", dt.date(2024, 11, 9)),  # day and month not swapped
    ],
)
def test_no_date(text: str, date: dt.date) -> None:
    assert parse_no_date(text) == date


@pytest.mark.parametrize("text", ["00.01.2024", "01.13.2024", "1.01.2024", "01.01.24", "01.01.2024 ", "01-01-2024", ""])
def test_no_date_rejects(text: str) -> None:
    assert parse_no_date(text) is None


@pytest.mark.parametrize(
    ("text", "date"), [("2024-11-09", dt.date(2024, 11, 9)), ("1999-12-31", dt.date(1999, 12, 31))]
)
def test_iso_date(text: str, date: dt.date) -> None:
    assert parse_iso_date(text) == date


@pytest.mark.parametrize("text", ["2024-13-01", "2024-00-10", "2024-1-01", "24-01-01", "2024-01-01T00:00", ""])
def test_iso_date_rejects(text: str) -> None:
    assert parse_iso_date(text) is None


# ------------------------------------------------------------------------------------ timestamps
@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("09.11.2024 07:05", "2024-11-09T07:05:00+01:00"),
        ("31.12.2025 23:59", "2025-12-31T23:59:00+01:00"),  # minute 59 exists
        ("01.06.2025 00:00", "2025-06-01T00:00:00+02:00"),
        ("30.03.2025 01:59", "2025-03-30T01:59:00+01:00"),  # last minute before the spring gap
        ("30.03.2025 02:00", "2025-03-30T03:00:00+02:00"),  # the gap: forward one hour
        ("30.03.2025 03:00", "2025-03-30T03:00:00+02:00"),
        ("26.10.2025 01:59", "2025-10-26T01:59:00+02:00"),
        ("26.10.2025 02:59", "2025-10-26T02:59:00+02:00"),  # repeated hour: its first occurrence (summer)
        ("26.10.2025 03:00", "2025-10-26T03:00:00+01:00"),
    ],
)
def test_no_timestamp(text: str, iso: str) -> None:
    assert parse_no_timestamp(text) == iso


@pytest.mark.parametrize(
    "text",
    [
        "31.12.2025 23:60",  # minute 60
        "31.12.2025 25:00",
        "31.02.2025 08:00",  # no such day
        "31.12.2025 8:00",
        "31.12.2025 08:000",
        "31.12.2025T08:00",
        " 31.12.2025 08:00",
        "",
    ],
)
def test_no_timestamp_rejects(text: str) -> None:
    assert parse_no_timestamp(text) is None


def test_local_to_aware() -> None:
    got = local_to_aware(dt.datetime(2025, 3, 30, 2, 30))
    assert got.isoformat() == "2025-03-30T03:30:00+02:00"
    assert local_to_aware(dt.datetime(2025, 10, 26, 2, 30)).isoformat() == "2025-10-26T02:30:00+02:00"
    assert local_to_aware(dt.datetime(2025, 1, 15, 12, 0)).isoformat() == "2025-01-15T12:00:00+01:00"


def test_extract_time() -> None:
    assert parse_extract_time("2026-03-01T02:00:00").isoformat() == "2026-03-01T02:00:00+01:00"  # type: ignore[union-attr]
    assert parse_extract_time("2026-03-01T02:00:00+00:00").isoformat() == "2026-03-01T02:00:00+00:00"  # type: ignore[union-attr]
    assert parse_extract_time("01.03.2026 02:00") is None
    assert parse_extract_time("") is None


# ------------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("168", 168.0), ("0,25", 0.25), ("12,50", 12.5)])
def test_decimal(text: str, value: float) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["1,2,3", "+1", "-1", "1 ", "1e3"])
def test_decimal_rejects(text: str) -> None:
    assert parse_decimal(text) is None


def test_ints_and_ids() -> None:
    assert parse_int("0") == 0 and parse_int("007") == 7 and parse_int("9") == 9
    assert parse_positive_id("1") == 1 and parse_positive_id("0042") == 42
    for bad in ("0", "00", "", "-1", "1,0", " 1", "٣", "x"):
        assert parse_positive_id(bad) is None, bad


# ------------------------------------------------------------------------------------ national ids
@pytest.mark.parametrize(
    ("birth", "individual"),
    [(dt.date(1950, 1, 1), 123), (dt.date(1950, 12, 31), 123), (dt.date(2001, 9, 30), 612)],
)
def test_synthetic_month_bounds(birth: dt.date, individual: int) -> None:
    """Synthetic months 81 (January) to 92 (December) are valid when allowed; the birth date is the real one."""
    number = national_id(birth, individual)
    got = check_national_id(number, allow_synthetic=True)
    assert got is not None
    assert (got.value, got.system, got.birth_date) == (number, FNR, birth)
    assert check_national_id(number, allow_synthetic=False) is None


def test_d_number_of_the_first_day_of_a_month() -> None:
    """Day 01 as a D-number is 41: the smallest D-number day, still a D-number."""
    number = national_id(dt.date(1970, 4, 1), 200, d_number=True)
    assert number[:2] == "41"
    got = check_national_id(number, allow_synthetic=True)
    assert got is not None and got.system == DNR and got.birth_date == dt.date(1970, 4, 1)
    plain = national_id(dt.date(1970, 4, 30), 200)
    got = check_national_id(plain, allow_synthetic=True)
    assert got is not None and got.system == FNR and got.birth_date == dt.date(1970, 4, 30)


def test_real_month_bounds() -> None:
    """Real months 01 and 12: valid under the national rules (numbers built at run time, never committed)."""
    for birth in (dt.date(1960, 1, 5), dt.date(1960, 12, 5)):
        number = national_id(birth, 321, synthetic=False)
        got = check_national_id(number, allow_synthetic=False)
        assert got is not None and got.birth_date == birth and got.system == FNR


def _with_month(number: str, month: int) -> str:
    """The same number with another month, check digits recomputed (mod 11, SPEC §4)."""
    from stdnum.no import fodselsnummer

    first9 = number[:2] + f"{month:02d}" + number[4:9]
    k1 = fodselsnummer.calc_check_digit1(first9)
    return first9 + k1 + fodselsnummer.calc_check_digit2(first9 + k1)


@pytest.mark.parametrize("month", [80, 93, 0, 13, 52])
def test_months_outside_both_ranges_are_not_ids(month: int) -> None:
    base = national_id(dt.date(1950, 5, 15), 123)
    for ind in range(123, 300):
        candidate = _with_month(base[:6] + f"{ind:03d}" + "00", month)
        if len(candidate) == 11:
            assert check_national_id(candidate, allow_synthetic=True) is None, month
            return
    raise AssertionError("no candidate number")


def test_synthetic_check_digits_each_matter() -> None:
    number = national_id(dt.date(1950, 10, 15), 123)
    for pos in (9, 10):
        for delta in (1, 9):  # one more and one less (mod 10): a check digit must be equal, not just ordered
            wrong = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
            assert check_national_id(wrong, allow_synthetic=True) is None, (pos, delta)


def test_first_check_digit_is_checked_on_its_own() -> None:
    """A wrong first check digit with a second one computed over it: only the first check can catch it."""
    from stdnum.no import fodselsnummer

    number = national_id(dt.date(1950, 10, 15), 123)
    caught = 0
    for delta in range(1, 10):
        k1 = str((int(number[9]) + delta) % 10)
        k2 = fodselsnummer.calc_check_digit2(number[:9] + k1)
        if len(k2) == 1:
            assert check_national_id(number[:9] + k1 + k2, allow_synthetic=True) is None, delta
            caught += 1
    assert caught >= 5


def test_only_eleven_digits_are_a_national_id() -> None:
    number = national_id(dt.date(1950, 10, 15), 123)
    assert check_national_id(number, allow_synthetic=True) is not None
    for wrong in (number + "0", number[:10], number[:9]):
        assert check_national_id(wrong, allow_synthetic=True) is None, len(wrong)


def test_synthetic_ids_are_allowed_by_name_only() -> None:
    """`check_national_id(x, True)` would hide which way the flag goes; production code must say it."""
    import inspect

    params = inspect.signature(check_national_id).parameters
    assert params["allow_synthetic"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["number"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def test_a_national_id_is_an_immutable_value() -> None:
    """Shared between a Patient and the merge index: nobody may change it after the check."""
    import dataclasses

    got = check_national_id(national_id(dt.date(1950, 10, 15), 123), allow_synthetic=True)
    assert got is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.value = "x"  # type: ignore[misc]


def test_synthetic_birth_date_today_is_valid_and_tomorrow_is_not() -> None:
    today = dt.date.today()
    born_today = national_id(today, 500)
    got = check_national_id(born_today, allow_synthetic=True)
    assert got is not None and got.birth_date == today
    assert check_national_id(national_id(today + dt.timedelta(days=1), 500), allow_synthetic=True) is None


def test_synthetic_impossible_date_is_not_an_id() -> None:
    """A synthetic number for 31 April (month 84, day 31) has valid check digits but no birth date."""
    from stdnum.no import fodselsnummer

    for ind in range(100, 400):
        first9 = f"3184{50}{ind:03d}"
        k1 = fodselsnummer.calc_check_digit1(first9)
        k2 = fodselsnummer.calc_check_digit2(first9 + k1)
        if len(k1) == 1 and len(k2) == 1:
            assert check_national_id(first9 + k1 + k2, allow_synthetic=True) is None
            return
    raise AssertionError("no candidate number")


# ------------------------------------------------------------------------------------ resource ids
def test_resource_ids_equal_uuid5_for_every_variant_nibble() -> None:
    """The hand-rolled UUIDv5 equals the standard one; 200 keys cover all 16 values of the variant nibble."""
    nibbles = set()
    for n in range(200):
        key = str(n)
        want = str(uuid.uuid5(ID_NAMESPACE, f"5035|profil/VEDTAK.csv|{key}"))
        assert resource_id("5035", "profil/VEDTAK.csv", key) == want
        nibbles.add(uuid.UUID(want).bytes[8] >> 4)
    assert nibbles == {8, 9, 10, 11}
    # the cached per-source prefix does not leak into another source or municipality
    assert resource_id("5035", "cgm/Barn", "1") == str(uuid.uuid5(ID_NAMESPACE, "5035|cgm/Barn|1"))
    assert resource_id("5031", "cgm/Barn", "1") == str(uuid.uuid5(ID_NAMESPACE, "5031|cgm/Barn|1"))
    assert resource_id("5035", "cgm/Barn", "1") == str(uuid.uuid5(ID_NAMESPACE, "5035|cgm/Barn|1"))


def test_resource_id_literal() -> None:
    """One id written out: if the namespace or the layout ever changed, every migrated id would move."""
    assert uuid.UUID("6f1d3c0e-5a43-4c1b-9d0e-2b7f3a9c8e51") == ID_NAMESPACE
    rid = resource_id("5035", "profil/BRUKER.csv", "1")
    assert rid == str(uuid.uuid5(uuid.UUID("6f1d3c0e-5a43-4c1b-9d0e-2b7f3a9c8e51"), "5035|profil/BRUKER.csv|1"))
    assert len(rid) == 36 and rid[14] == "5"
