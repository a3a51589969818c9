"""Synthetic Norwegian national ids for generated test extracts (SPEC §4).

A synthetic fødselsnummer is built like a real one (birth date, individual number in the right
range for the century, two mod-11 check digits computed as usual) but with **80 added to the
month**, so no real person can ever have it: python-stdnum's ``no.fodselsnummer`` rejects every
such number as a real id, and the migration accepts it only when a run allows synthetic ids.
D-numbers add 40 to the day as well.
"""

from __future__ import annotations

import datetime as dt
import random

from stdnum.no import fodselsnummer

SYNTHETIC_MONTH_OFFSET = 80
D_NUMBER_DAY_OFFSET = 40


def _individual_range(year: int) -> tuple[int, int]:
    """Individual numbers (inclusive range) that encode the birth year's century."""
    if 1900 <= year <= 1999:
        return (0, 499)
    if 2000 <= year <= 2039:
        return (500, 999)
    if 1854 <= year <= 1899:
        return (500, 749)
    raise ValueError(f"birth year {year} cannot be encoded in a national id")


def check_digits(first9: str) -> str | None:
    """The two mod-11 check digits for nine digits, or None when a digit would be 10 (no valid number)."""
    k1 = fodselsnummer.calc_check_digit1(first9)
    if k1 == "10":
        return None
    k2 = fodselsnummer.calc_check_digit2(first9 + k1)
    if k2 == "10":
        return None
    return k1 + k2


def synthetic_national_id(birth: dt.date, *, male: bool, rng: random.Random, d_number: bool = False) -> str:
    """A synthetic id (month + 80; day + 40 for a D-number) for that birth date and sex, with valid check digits."""
    low, high = _individual_range(birth.year)
    day = birth.day + (D_NUMBER_DAY_OFFSET if d_number else 0)
    prefix = f"{day:02d}{birth.month + SYNTHETIC_MONTH_OFFSET:02d}{birth.year % 100:02d}"
    while True:
        individual = rng.randint(low, high)
        if (individual % 2 == 1) != male:
            individual = individual + 1 if individual < high else individual - 1
        first9 = f"{prefix}{individual:03d}"
        digits = check_digits(first9)
        if digits is not None:
            return first9 + digits


def break_check_digit(number: str) -> str:
    """The same number with a wrong second check digit (an INVALID_NATIONAL_ID for any rule set)."""
    return number[:10] + str((int(number[10]) + 1) % 10)


def is_synthetic_national_id(number: str) -> bool:
    """Whether `number` is a well-formed synthetic id: month + 80, a real date, valid check digits."""
    if len(number) != 11 or not number.isascii() or not number.isdigit():
        return False
    if check_digits(number[:9]) != number[9:]:
        return False
    day, month, yy, individual = int(number[0:2]), int(number[2:4]), int(number[4:6]), int(number[6:9])
    if day > D_NUMBER_DAY_OFFSET:
        day -= D_NUMBER_DAY_OFFSET
    month -= SYNTHETIC_MONTH_OFFSET
    if individual < 500:
        year = 1900 + yy
    elif yy < 40:
        year = 2000 + yy
    elif individual < 750 and yy >= 54:
        year = 1800 + yy
    elif individual >= 900:
        year = 1900 + yy
    else:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True
