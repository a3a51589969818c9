"""Which field of a quarantined record broke which rule (issue 18): ``field`` and ``rule`` of a quarantine row.

A quarantine row names the record (source, record number, source id) and its reason; this adds the
field that failed and the rule it failed, so the municipality's IT can fix the extract without
guessing — and never the value (a value may identify a person). Only called for quarantined records,
so the hot path pays nothing: it re-checks the record's fields in the order :mod:`epj.migration.rules`
decides them (SPEC §5/§7) and names the first one that fails for the given reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection
from typing import Final

from epj.migration.codes import (
    ADM_STATUS,
    BRUKER_STATUS,
    DUPLICATE_ID,
    INVALID_DATE,
    IPLOS_SKAAR,
    IPLOS_VARIABLER,
    KJONN,
    MAALING,
    MALFORMED_ROW,
    NOTATTYPE,
    PARENT_QUARANTINED,
    PATIENT_UNIDENTIFIABLE,
    PROFIL_COLUMNS,
    RELASJON_CGM,
    RELASJON_PROFIL,
    SEPONERT,
    TJENESTE,
    UNKNOWN_CODE,
    UNKNOWN_PARENT,
    VEDTAK_STATUS,
)
from epj.migration.values import (
    parse_decimal,
    parse_int,
    parse_no_date,
    parse_no_timestamp,
    parse_positive_id,
)

Why = tuple[str, str]  # (field, rule)

ID_RULE: Final = "a positive whole number"
DUPLICATE_RULE: Final = "unique within the file: the first record with this id was kept"
DATE_RULE: Final = "a date dd.mm.yyyy that exists"
TIMESTAMP_RULE: Final = "a time dd.mm.yyyy HH:MM that exists"
ISO_DATE_RULE: Final = "a date yyyy-mm-dd that exists"
WHOLE_RULE: Final = "digits only"
IDENTIFY_RULE: Final = "a patient needs a valid national id or a birth date"
UNKNOWN_FIELD: Final = ("(record)", "see the reason")


def _one_of(codes: Collection[object]) -> str:
    return "one of " + ", ".join(sorted(str(c) for c in codes))


# Per Profil file, in decision order: (column, kind, detail). Kinds: id, ref (a parent id), int (optional
# digits), hours (optional decimal 0–168), date/ts (required or optional), code (a code list).
_Check = tuple[str, str, object]
_PROFIL: Final[dict[str, tuple[_Check, ...]]] = {
    "BRUKER": (
        ("BrukerID", "id", None),
        ("Fodselsdato", "date?", None),
        ("Dodsdato", "date?", None),
        ("Kjonn", "code", KJONN),
        ("Status", "code", BRUKER_STATUS),
    ),
    "VEDTAK": (
        ("VedtakID", "id", None),
        ("BrukerID", "ref", "BRUKER.csv"),
        ("TimerPrUke", "hours", None),
        ("FraDato", "date", None),
        ("TilDato", "date?", None),
        ("Tjeneste", "code", TJENESTE),
        ("Status", "code", VEDTAK_STATUS),
    ),
    "JOURNAL": (
        ("NotatID", "id", None),
        ("BrukerID", "ref", "BRUKER.csv"),
        ("ForfatterHPR", "int", None),
        ("Tidspunkt", "ts", None),
        ("Notattype", "code", NOTATTYPE),
    ),
    "LEGEMIDDEL": (
        ("LegemiddelID", "id", None),
        ("BrukerID", "ref", "BRUKER.csv"),
        ("FraDato", "date", None),
        ("TilDato", "date?", None),
        ("Seponert", "code", SEPONERT),
    ),
    "ADMINISTRERING": (
        ("AdmID", "id", None),
        ("LegemiddelID", "ref", "LEGEMIDDEL.csv"),
        ("GittAvHPR", "int", None),
        ("Gitt", "gitt", None),
        ("Planlagt", "ts", None),
        ("Gitt", "ts?", None),
        ("Status", "code", ADM_STATUS),
    ),
    "IPLOS": (
        ("BrukerID", "ref", "BRUKER.csv"),
        ("Skaar", "int!", None),
        ("Dato", "date", None),
        ("Variabel", "code", IPLOS_VARIABLER),
        ("Skaar", "score", IPLOS_SKAAR),
    ),
    "PARORENDE": (
        ("ParorendeID", "id", None),
        ("BrukerID", "ref", "BRUKER.csv"),
        ("Prioritet", "int", None),
        ("Relasjon", "code", RELASJON_PROFIL),
    ),
}

_MALFORMED_KINDS: Final = frozenset({"id", "ref", "int", "int!", "hours", "gitt"})
_DATE_KINDS: Final = frozenset({"date", "date?", "ts", "ts?"})


def _malformed(kind: str, value: str, row: dict[str, str]) -> str | None:
    """The rule a MALFORMED_ROW field breaks, or None when it is fine."""
    if kind in ("id", "ref"):
        return None if parse_positive_id(value) is not None else ID_RULE
    if kind == "int":
        return None if not value or parse_int(value) is not None else WHOLE_RULE
    if kind == "int!":
        return None if parse_int(value) is not None else WHOLE_RULE
    if kind == "hours":
        number = parse_decimal(value) if value else 0.0
        return None if number is not None and number <= 168 else "hours a week 0–168, decimal comma (7,5)"
    if kind == "gitt":
        status = row.get("Status", "")
        broken = (status in ("GITT", "SELVADM") and not value) or (status == "IKKE_GITT" and bool(value))
        return "set when Status is GITT or SELVADM, empty when IKKE_GITT" if broken else None
    return None


def _bad_date(kind: str, value: str) -> str | None:
    required = not kind.endswith("?")
    rule = DATE_RULE if kind.startswith("date") else TIMESTAMP_RULE
    if not value:
        return f"required: {rule}" if required else None
    parsed = parse_no_date(value) if kind.startswith("date") else parse_no_timestamp(value)
    return rule if parsed is None else None


def explain_profil(name: str, reason: str, raw: list[str]) -> Why:
    """(field, rule) of a quarantined record of Profil file ``name`` (``BRUKER`` …)."""
    columns = PROFIL_COLUMNS.get(name)
    checks = _PROFIL.get(name)
    if columns is None or checks is None:
        return UNKNOWN_FIELD
    if reason == MALFORMED_ROW and len(raw) != len(columns):
        return "(record)", f"{len(columns)} fields separated by ';' (this record has {len(raw)})"
    row = dict(zip(columns, raw, strict=False))
    for column, kind, detail in checks:
        value = row.get(column, "")
        if reason == MALFORMED_ROW and kind in _MALFORMED_KINDS:
            rule = _malformed(kind, value, row)
            if rule is not None:
                return column, rule
        elif reason == INVALID_DATE and kind in _DATE_KINDS:
            rule = _bad_date(kind, value)
            if rule is not None:
                return column, rule
        elif reason in (UNKNOWN_PARENT, PARENT_QUARANTINED) and kind == "ref":
            if reason == UNKNOWN_PARENT:
                return column, f"must name a {column} in {detail}"
            return column, f"its record in {detail} was quarantined"
        elif reason == UNKNOWN_CODE and kind == "code" and value not in detail:  # type: ignore[operator]
            if detail is IPLOS_VARIABLER:
                return column, "one of the codes in codes/iplos-variabler.txt"
            return column, _one_of(detail)  # type: ignore[arg-type]
        elif reason == UNKNOWN_CODE and kind == "score":
            number = parse_int(value)
            if number not in IPLOS_SKAAR:
                return column, "1–5, or 9 (not relevant)"
    if reason == DUPLICATE_ID:
        if name == "IPLOS":
            return "BrukerID+Dato+Variabel", "one row per user, date and variable: the first was kept"
        return columns[0], DUPLICATE_RULE
    if reason == PATIENT_UNIDENTIFIABLE:
        return "Fodselsnummer+Fodselsdato", IDENTIFY_RULE
    return UNKNOWN_FIELD


# CGM: required attributes per element (SPEC §7), in the order they are checked.
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "Barn": ("id",),
    "Foresatt": ("fnr", "relasjon"),
    "Konsultasjon": ("id", "dato", "type"),
    "Maaling": ("id", "dato", "type", "verdi", "enhet"),
    "Vaksinasjon": ("id", "dato", "atc", "dose"),
}


def explain_cgm(elem: ET.Element, reason: str) -> Why:
    """(field, rule) of a quarantined CGM element (attributes as ``@name``, child elements by tag)."""
    tag = elem.tag
    required = _REQUIRED.get(tag, ())
    get: Callable[[str], str] = lambda attr: elem.get(attr) or ""  # noqa: E731
    if reason == MALFORMED_ROW:
        for attr in required:
            if not get(attr):
                return f"@{attr}", "required attribute"
        if tag == "Maaling":
            if parse_decimal(get("verdi")) is None:
                return "@verdi", "digits with an optional decimal comma (4,85)"
            units = ", ".join(f"{t} {u}" for t, (_l, _d, u) in MAALING.items())
            return "@enhet", f"the unit of the type ({units})"
        if tag == "Vaksinasjon":
            return "@dose", ID_RULE
    if reason == INVALID_DATE:
        if tag == "Barn":
            return "Fodselsdato", ISO_DATE_RULE
        return "@dato", ISO_DATE_RULE
    if reason == DUPLICATE_ID:
        return "@id", f"unique among the <{tag}> elements: the first was kept"
    if reason == PARENT_QUARANTINED:
        return "Barn", "the enclosing <Barn> was quarantined"
    if reason == UNKNOWN_CODE:
        if tag == "Barn":
            return "Kjonn", _one_of(KJONN)
        if tag == "Foresatt":
            return "@relasjon", _one_of(RELASJON_CGM)
        if tag == "Maaling":
            return "@type", _one_of(MAALING)
    if reason == PATIENT_UNIDENTIFIABLE:
        return "Fodselsnummer+Fodselsdato", IDENTIFY_RULE
    return UNKNOWN_FIELD
