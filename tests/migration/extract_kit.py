"""Tiny hand-written extracts for the migration unit tests (SPEC §1 layout, Windows-1252, CRLF)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from stdnum.no import fodselsnummer

from epj.migration.codes import PROFIL_COLUMNS


def national_id(birth: dt.date, individual: int = 123, *, synthetic: bool = True, d_number: bool = False) -> str:
    """A national id with correct check digits: synthetic (month + 80) by default, D-number if asked."""
    day = birth.day + (40 if d_number else 0)
    month = birth.month + (80 if synthetic else 0)
    first9 = f"{day:02d}{month:02d}{birth.year % 100:02d}{individual:03d}"
    for ind in range(individual, individual + 200):  # some individual numbers give check digit 10: skip them
        first9 = f"{day:02d}{month:02d}{birth.year % 100:02d}{ind % 1000:03d}"
        k1 = fodselsnummer.calc_check_digit1(first9)
        if len(k1) == 1:
            k2 = fodselsnummer.calc_check_digit2(first9 + k1)
            if len(k2) == 1:
                return first9 + k1 + k2
    raise AssertionError("no individual number found")


FNR_A = national_id(dt.date(1940, 5, 17), 123)  # born 1940 (individual 0-499 → 1900s)
FNR_CHILD = national_id(dt.date(2022, 3, 4), 510)  # born 2022 (individual 500-999, year < 40 → 2000s)


def bruker(
    bid: str = "1", fnr: str = FNR_A, etternavn: str = "Testesen", fornavn: str = "Test", **kw: str
) -> list[str]:
    row = {
        "BrukerID": bid,
        "Fodselsnummer": fnr,
        "Etternavn": etternavn,
        "Fornavn": fornavn,
        "Fodselsdato": "17.05.1940",
        "Kjonn": "K",
        "Adresse": "Gata 1",
        "Postnr": "7500",
        "Poststed": "STJØRDAL",
        "Telefon": "",
        "Dodsdato": "",
        "Status": "AKTIV",
    }
    row.update(kw)
    return list(row.values())


def _csv_bytes(name: str, rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(PROFIL_COLUMNS[name])
    writer.writerows(rows)
    return buf.getvalue().encode("cp1252")


def barn_xml(*children: str, kommunenr: str = "5035") -> str:
    body = "\n".join(children)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<HelsestasjonUttrekk kommunenr="{kommunenr}" uttrekkstidspunkt="2026-03-01T02:00:00" versjon="7.1">\n'
        f"{body}\n</HelsestasjonUttrekk>\n"
    )


def barn(
    hid: str | None = "H1",
    fnr: str | None = FNR_CHILD,
    fdato: str = "2022-03-04",
    inner: str = "",
    fornavn: str = "Lita",
    etternavn: str = "Testesen",
    kjonn: str = "K",
) -> str:
    id_attr = f' id="{hid}"' if hid is not None else ""
    fnr_el = f"<Fodselsnummer>{fnr}</Fodselsnummer>" if fnr is not None else ""
    return (
        f"<Barn{id_attr}>{fnr_el}<Fodselsdato>{fdato}</Fodselsdato><Fornavn>{fornavn}</Fornavn>"
        f"<Etternavn>{etternavn}</Etternavn><Kjonn>{kjonn}</Kjonn>{inner}</Barn>"
    )


def write_extract(
    root: Path,
    *,
    profil: dict[str, list[list[str]]] | None = None,
    cgm: str | None = None,
    kommunenr: str = "5035",
    count_override: dict[str, int] | None = None,
) -> Path:
    """Write an extract folder; the manifest counts what was written unless `count_override` says otherwise."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"kommunenr={kommunenr}", "uttrekkstidspunkt=2026-03-01T02:00:00"]
    if profil is not None:
        (root / "profil").mkdir(exist_ok=True)
        lines.append("profil.versjon=9.4.2")
        for name, rows in profil.items():
            (root / "profil" / f"{name}.csv").write_bytes(_csv_bytes(name, rows))
            lines.append(f"antall.{name}={len(rows)}")
    if cgm is not None:
        (root / "cgm").mkdir(exist_ok=True)
        (root / "cgm" / "helsestasjon.xml").write_text(cgm, encoding="utf-8")
        lines += ["cgm.versjon=7.1", f"antall.cgm.Barn={cgm.count('<Barn')}"]
    for key, value in (count_override or {}).items():
        lines = [line for line in lines if not line.startswith(f"antall.{key}=")] + [f"antall.{key}={value}"]
    (root / "UTTREKK.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
