"""Streaming readers for one extract folder (SPEC §1–§3): the manifest, Profil CSV files, the CGM XML.

They stream so memory stays flat however large the extract: the CSV reader yields one record at a
time (a quoted note spanning lines is one record), the XML reader yields one ``<Barn>`` subtree at a
time and clears it afterwards. Problems that make a whole file unreadable (wrong header, bytes that
are not Windows-1252, broken XML) raise :class:`ExtractError` naming the file and position; problems
confined to one record are left to the rules, which quarantine that record.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from epj.migration.codes import PROFIL_COLUMNS

MANIFEST_NAME: Final = "UTTREKK.txt"
CGM_FILE: Final = Path("cgm") / "helsestasjon.xml"


class ExtractError(Exception):
    """The extract cannot be read as the SPEC says; ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Manifest:
    """The parsed `UTTREKK.txt` (SPEC §1.1)."""

    kommunenr: str
    uttrekkstidspunkt: str
    values: dict[str, str] = field(default_factory=dict)

    def count(self, key: str) -> int | None:
        """`antall.<key>` as an int, None when absent."""
        raw = self.values.get(f"antall.{key}")
        return int(raw) if raw is not None and raw.isdigit() else None


def read_manifest(extract_dir: Path) -> Manifest:
    """Parse and check the manifest: required keys present, kommunenr 4 digits, counts numeric."""
    path = extract_dir / MANIFEST_NAME
    if not path.is_file():
        raise ExtractError("MANIFEST_MISSING", f"{MANIFEST_NAME} not found in {extract_dir}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractError("MANIFEST_INVALID", f"{MANIFEST_NAME} is not UTF-8 (byte {exc.start})") from exc
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ExtractError("MANIFEST_INVALID", f"{MANIFEST_NAME} line {lineno}: expected key=value")
        values[key.strip()] = value.strip()
    for required in ("kommunenr", "uttrekkstidspunkt"):
        if required not in values:
            raise ExtractError("MANIFEST_INVALID", f"{MANIFEST_NAME}: required key {required!r} missing")
    kommunenr = values["kommunenr"]
    if len(kommunenr) != 4 or not kommunenr.isdigit():
        raise ExtractError("MANIFEST_INVALID", f"{MANIFEST_NAME}: kommunenr must be 4 digits")
    for key, value in values.items():
        if key.startswith("antall.") and not value.isdigit():
            raise ExtractError("MANIFEST_INVALID", f"{MANIFEST_NAME}: {key} must be a whole number")
    return Manifest(kommunenr=kommunenr, uttrekkstidspunkt=values["uttrekkstidspunkt"], values=values)


def iter_profil(path: Path, name: str) -> Iterator[list[str]]:
    """Data records of one Profil CSV file (header checked exactly, then skipped).

    Windows-1252, `;`, `"`-quoted fields with doubled quotes, CRLF (a bare LF is tolerated).
    """
    expected = list(PROFIL_COLUMNS[name])
    rel = f"profil/{path.name}"
    try:
        with path.open(encoding="cp1252", newline="") as handle:
            reader = csv.reader(handle, delimiter=";", quotechar='"', doublequote=True, strict=False)
            header = next(reader, None)
            if header != expected:
                raise ExtractError(
                    "HEADER_MISMATCH", f"{rel}: header must be exactly {';'.join(expected)} (found another header)"
                )
            for record in reader:
                if record:  # a completely empty line is not a record
                    yield record
    except UnicodeDecodeError as exc:
        raise ExtractError("ENCODING_ERROR", f"{rel}: byte {exc.start} is not Windows-1252 text") from exc
    except csv.Error as exc:
        raise ExtractError("CSV_ERROR", f"{rel}: unreadable CSV ({exc})") from exc


def peek_cgm_root(path: Path) -> dict[str, str]:
    """Attributes of the root element, reading only as far as its start tag."""
    try:
        for _event, elem in ET.iterparse(path, events=("start",)):
            return dict(elem.attrib)
    except ET.ParseError as exc:
        raise ExtractError("XML_ERROR", f"cgm/helsestasjon.xml: not well-formed XML ({exc})") from exc
    except LookupError as exc:  # the XML declaration names an encoding Python does not know
        raise ExtractError(
            "ENCODING_ERROR", "cgm/helsestasjon.xml: the XML declaration names an unknown encoding"
        ) from exc
    raise ExtractError("XML_ERROR", "cgm/helsestasjon.xml: empty document")


def iter_cgm_barn(path: Path) -> Iterator[ET.Element]:
    """Every `<Barn>` element (a complete subtree), in document order; cleared after the caller is done."""
    root: ET.Element | None = None
    depth = 0
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            if event == "start":
                depth += 1
                if root is None:
                    root = elem
                continue
            depth -= 1
            if depth == 1 and elem.tag == "Barn":
                yield elem
                elem.clear()
                if root is not None:
                    root.clear()  # drop the emptied child from the root so memory stays flat
    except ET.ParseError as exc:
        raise ExtractError("XML_ERROR", f"cgm/helsestasjon.xml: not well-formed XML ({exc})") from exc
    except LookupError as exc:  # the XML declaration names an encoding Python does not know
        raise ExtractError(
            "ENCODING_ERROR", "cgm/helsestasjon.xml: the XML declaration names an unknown encoding"
        ) from exc
