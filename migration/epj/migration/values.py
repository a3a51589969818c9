"""Strict parsers for the value formats of the extracts (SPEC §2, §3, §7).

Each parser returns ``None`` for "does not parse" so the caller decides the quarantine reason; an
empty field is handled by the caller (SPEC §7: empty means no value). Local times are Europe/Oslo:
times in the spring daylight-saving gap move forward one hour, repeated autumn times take the first
occurrence (fold=0), neither is flagged.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

OSLO: Final = ZoneInfo("Europe/Oslo")
_UTC: Final = dt.UTC
_NO_DATE = re.compile(r"([0-9][0-9])\.([0-9][0-9])\.([0-9]{4})")
_NO_TIMESTAMP = re.compile(r"([0-9][0-9])\.([0-9][0-9])\.([0-9]{4}) ([0-9][0-9]):([0-9][0-9])")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9][0-9])-([0-9][0-9])")
_DECIMAL = re.compile(r"[0-9]+(?:,[0-9]+)?")
# Distinct values cached per parser: an extract repeats its dates and hours endlessly (hot path), and a
# bounded cache keeps memory flat however large the extract is.
_CACHE_SIZE: Final = 65536


@lru_cache(maxsize=_CACHE_SIZE)
def parse_no_date(text: str) -> dt.date | None:
    """`dd.mm.yyyy` → date; None when it does not parse or does not exist (31.02.2020)."""
    m = _NO_DATE.fullmatch(text)
    if m is None:
        return None
    try:
        return dt.date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None


@lru_cache(maxsize=_CACHE_SIZE)
def parse_iso_date(text: str) -> dt.date | None:
    """`yyyy-mm-dd` (CGM) → date; None when it does not parse or does not exist."""
    m = _ISO_DATE.fullmatch(text)
    if m is None:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def local_to_aware(naive: dt.datetime) -> dt.datetime:
    """Attach Europe/Oslo: a gap time moves forward one hour, a repeated time takes its first occurrence."""
    # fold=0 gives the offset in force *before* a transition: for a gap time that is the winter offset,
    # so the round trip through UTC lands one hour later (02:30 → 03:30+02:00); for a repeated autumn
    # time it is the summer offset, i.e. the first occurrence.
    return naive.replace(tzinfo=OSLO, fold=0).astimezone(_UTC).astimezone(OSLO)


@lru_cache(maxsize=_CACHE_SIZE)
def _hour(day: str, month: str, year: str, hour: str) -> tuple[str, str] | None:
    """(ISO prefix up to the hour, UTC offset) of a local Oslo hour; None when it does not exist.

    DST transitions fall on whole hours, so every minute of a local hour shifts the same way: the
    conversion is done once per hour and cached (the hot path sees millions of timestamps).
    """
    try:
        naive = dt.datetime(int(year), int(month), int(day), int(hour))
    except ValueError:
        return None
    aware = local_to_aware(naive)
    iso = aware.isoformat()  # 2026-03-29T03:00:00+02:00
    return iso[:13], iso[19:]


@lru_cache(maxsize=_CACHE_SIZE)
def parse_no_timestamp(text: str) -> str | None:
    """`dd.mm.yyyy HH:MM` (Oslo local) → ISO 8601 with offset, e.g. `2026-03-29T03:30:00+02:00`."""
    m = _NO_TIMESTAMP.fullmatch(text)  # fixed width: anything but 16 ASCII characters fails here
    if m is None or m[5] > "59":
        return None
    hour = _hour(m[1], m[2], m[3], m[4])
    if hour is None:
        return None
    return f"{hour[0]}:{m[5]}:00{hour[1]}"


def parse_extract_time(text: str) -> dt.datetime | None:
    """Manifest `uttrekkstidspunkt` (ISO 8601, Oslo local unless it carries an offset)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return local_to_aware(value) if value.tzinfo is None else value


def parse_int(text: str) -> int | None:
    """ASCII digits only (ids, scores, priorities, dose numbers)."""
    return int(text) if text.isdigit() and text.isascii() else None


def parse_positive_id(text: str) -> int | None:
    """A Profil id: a positive integer (SPEC §2)."""
    if text.isdigit() and text.isascii():
        return int(text) or None
    return None


def parse_decimal(text: str) -> float | None:
    """Digits with an optional decimal comma (`7,5`); `7.5`, `1.`, `abc` do not parse (SPEC §7)."""
    return float(text.replace(",", ".")) if _DECIMAL.fullmatch(text) else None
