"""National ids and stable resource ids (SPEC §4).

National-id validity follows python-stdnum's ``no.fodselsnummer`` (check digits, century from the
individual number, birth date not in the future), with two deliberate differences the SPEC asks for:
H-numbers (month + 40) are *not* national ids, and synthetic numbers (month + 80, also as D-numbers)
count only when the run allows them (test or rehearsal).

Resource ids are UUIDv5 over (kommunenr, legacy system, legacy key): stable across reruns, and they
carry no national id because no national id goes into them. A patient merged from several source
records takes the id of the *first* source record with that national id in the fixed reading order
(Profil BRUKER before CGM), so a merged Patient's id is as opaque as any other: no hash of the
national id (which an attacker could brute-force over the ~10^8 possible numbers even when keyed
with a public salt such as the kommunenr) is ever stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Final

from stdnum.exceptions import ValidationError
from stdnum.no import fodselsnummer

from epj.migration.codes import DNR_SYSTEM, FNR_SYSTEM

# Fixed namespace for every resource id of the platform's migration (never change: ids would move).
ID_NAMESPACE: Final = uuid.UUID("6f1d3c0e-5a43-4c1b-9d0e-2b7f3a9c8e51")


_NS_SHA1: Final = hashlib.sha1(ID_NAMESPACE.bytes, usedforsecurity=False)
_PREFIXES: dict[tuple[str, str], Any] = {}  # sha1 state after "namespace + kommunenr|source|"
# RFC 4122 variant: the top two bits of the 17th hex digit become 10 (0-3 → 8-b, 4-7 → 8-b, …).
_VARIANT: Final = {"0": "8", "1": "9", "2": "a", "3": "b", "4": "8", "5": "9", "6": "a", "7": "b",
                   "8": "8", "9": "9", "a": "a", "b": "b", "c": "8", "d": "9", "e": "a", "f": "b"}  # fmt: skip


def resource_id(kommunenr: str, source: str, key: str) -> str:
    """Stable id of the resource made from one legacy record: ``uuid5(ID_NAMESPACE, "nr|source|key")``.

    Computed by hand (same value as :func:`uuid.uuid5`, a test checks it) because the UUID object
    costs more than the rest of a resource's mapping in the hot path.
    """
    prefix = _PREFIXES.get((kommunenr, source))
    if prefix is None:
        prefix = _PREFIXES[kommunenr, source] = _NS_SHA1.copy()
        prefix.update(f"{kommunenr}|{source}|".encode())
    h = prefix.copy()
    h.update(key.encode())
    x = h.hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


@dataclass(frozen=True, slots=True)
class NationalId:
    """A valid national id: which system it belongs to and the birth date it encodes."""

    value: str
    system: str
    birth_date: dt.date


def check_national_id(number: str, *, allow_synthetic: bool) -> NationalId | None:
    """The national id if `number` is a valid fødselsnummer or D-nummer, else None (SPEC §4, §7)."""
    if len(number) != 11 or not number.isdigit() or not number.isascii():
        return None
    day, month = int(number[0:2]), int(number[2:4])
    system = DNR_SYSTEM if day > 40 else FNR_SYSTEM
    if 1 <= month <= 12:
        try:
            fodselsnummer.validate(number)
            birth = fodselsnummer.get_birth_date(number)
        except ValidationError:
            return None
        return NationalId(number, system, birth)
    if allow_synthetic and 81 <= month <= 92:
        if number[9] != fodselsnummer.calc_check_digit1(number) or number[10] != fodselsnummer.calc_check_digit2(
            number
        ):
            return None
        # The birth date of a synthetic number is that of the same number with the real month.
        real = number[:2] + f"{month - 80:02d}" + number[4:]
        try:
            birth = fodselsnummer.get_birth_date(real)
        except ValidationError:
            return None
        if birth > dt.date.today():
            return None
        return NationalId(number, system, birth)
    return None  # H-numbers (month + 40), FH-numbers, synthetic numbers in production, nonsense
