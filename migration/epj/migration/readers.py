"""Streaming readers for one extract folder (SPEC §1–§3): the manifest, Profil CSV files, the CGM XML.

They stream so memory stays flat however large the extract: the CSV reader yields one record at a
time (a quoted note spanning lines is one record), the XML reader yields one ``<Barn>`` subtree at a
time and clears it afterwards. Problems that make a whole file unreadable (wrong header, bytes that
are not Windows-1252, broken XML) raise :class:`ExtractError` naming the file and position; problems
confined to one record are left to the rules, which quarantine that record.

Encoding is checked, not assumed (:func:`check_encoding`, run on every file before anything is
written): almost any byte string decodes as Windows-1252, so a Profil file saved as UTF-8 would
otherwise migrate as mojibake ("SÃ¦ther") and report complete.
"""

from __future__ import annotations

import codecs
import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from epj.migration.codes import PROFIL_COLUMNS

MANIFEST_NAME: Final = "UTTREKK.txt"
#: The reason code of a file whose bytes are not in the encoding it declares (or the SPEC declares for it).
ENCODING_MISMATCH: Final = "ENCODING_MISMATCH"
#: SPEC §2: every Profil file is Windows-1252.
PROFIL_ENCODING: Final = "Windows-1252"
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
        key, value = key.strip(), value.strip()
        if key in values and values[key] != value:  # which one is true? ask, do not guess
            raise ExtractError(
                "MANIFEST_INVALID", f"{MANIFEST_NAME} line {lineno}: {key} is given twice with different values"
            )
        values[key] = value
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


def _header_problem(rel: str, found: list[str] | None, expected: list[str]) -> str:
    """What is wrong with a header line, showing only known column names (a data line may hold a person)."""
    if not found:
        return f"{rel}: the file is empty; expected the header {';'.join(expected)}"
    known = {c for columns in PROFIL_COLUMNS.values() for c in columns}
    shown = [f if f in known else f"<field {i}: not a column name>" for i, f in enumerate(found, start=1)]
    hints: list[str] = []
    missing = [c for c in expected if c not in found]
    extra = [f for f in found if f in known and f not in expected]
    if missing:
        hints.append(f"missing {', '.join(missing)}")
    if extra:
        hints.append(f"not expected here {', '.join(extra)}")
    if not missing and not extra and len(found) == len(expected):
        hints.append("the same columns in another order")
    if found[0].strip().isdigit():
        hints.append("the first line looks like data: is the header line missing?")
    elif found != expected and not (set(found) & known):
        hints.append("is this the right file (or another separator than ';')?")
    return (
        f"{rel}: the header must be exactly {';'.join(expected)}; found {len(found)} columns: {';'.join(shown)}"
        f" ({'; '.join(hints)}). Export the file again with the SPEC's header."
    )


# UTF-8 for À–ÿ (æ ø å é ü Æ Ø Å …): in Windows-1252 these read "Ã¦", "Ã¸" — never Norwegian text.
_UTF8_LATIN = re.compile(rb"\xc3[\x80-\xbf]")
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_SINGLE_BYTE = frozenset(
    codecs.lookup(n).name for n in ("cp1252", "latin-1", "iso8859-15", "iso8859-2", "iso8859-4", "iso8859-10", "cp850")
)
_CHUNK = 1 << 20


def declared_xml_encoding(path: Path) -> str:
    """The encoding the XML declaration names ("UTF-8" when it names none, as XML says)."""
    with path.open("rb") as handle:
        head = handle.read(512)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    match = _XML_DECL.match(head)
    return match.group(1).decode("ascii") if match else "UTF-8"


def check_encoding(path: Path, rel: str, declared: str) -> dict[str, object] | None:
    """None when the bytes agree with ``declared``; else what was found (declared, actual, byte, advice).

    Rules: a file declared UTF-8 must decode as UTF-8. A file declared in a one-byte encoding
    (Windows-1252 for Profil) is refused when it starts with a UTF-8 byte-order mark, holds the UTF-8
    bytes of a Latin letter (C3 80–BF: "Ã¸" in Windows-1252), or is UTF-8 with non-ASCII text
    throughout. Reads the file in chunks (memory stays flat); never quotes its content.
    """
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        return {"declared": declared, "actual": "unknown", "byte": 0,
                "message": f"{rel}: declares the encoding {declared!r}, which is not an encoding"}  # fmt: skip
    if codec == "utf-8":
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    at = offset + exc.start
                    return {
                        "declared": declared,
                        "actual": "not UTF-8 (Windows-1252?)",
                        "byte": at,
                        "message": f"{rel}: declares {declared} but byte {at} is not UTF-8 (the file looks saved as "
                        f"Windows-1252). Export it again as UTF-8, or correct its declaration to the encoding "
                        f"it was saved in",
                    }
                offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return {"declared": declared, "actual": "not UTF-8 (Windows-1252?)", "byte": offset - 1,
                    "message": f"{rel}: declares {declared} but ends inside a UTF-8 character (cut short?). "
                    "Export it again"}  # fmt: skip
        return None
    if codec not in _SINGLE_BYTE:
        return None  # a multi-byte declaration other than UTF-8: the decoder itself reports bad bytes
    utf8 = codecs.getincrementaldecoder("utf-8")()
    valid_utf8, non_ascii, offset, tail = True, False, 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            if offset == 0 and chunk.startswith(codecs.BOM_UTF8):
                return _mismatch(rel, declared, 0, "starts with a UTF-8 byte-order mark")
            window = tail + chunk
            found = _UTF8_LATIN.search(window)
            if found is not None:
                return _mismatch(rel, declared, offset - len(tail) + found.start(), "holds UTF-8 letters")
            tail = window[-1:]
            if not non_ascii and not chunk.isascii():
                non_ascii = True
            if valid_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    valid_utf8 = False
            offset += len(chunk)
    if valid_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            valid_utf8 = False
    if valid_utf8 and non_ascii:
        return _mismatch(rel, declared, 0, "is UTF-8 throughout")
    return None


def _mismatch(rel: str, declared: str, at: int, what: str) -> dict[str, object]:
    name = rel.rsplit("/", 1)[-1]
    return {
        "declared": declared,
        "actual": "UTF-8",
        "byte": at,
        "message": f"{rel}: declared {declared} but {what} (first at byte {at}); read as {declared} its names and "
        f'notes would migrate garbled ("Ã¸" for "ø"). Export it again as {declared}, or convert it: '
        f"iconv -f UTF-8 -t {declared.upper()} {name} > {name}.converted",
    }


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
                raise ExtractError("HEADER_MISMATCH", _header_problem(rel, header, expected))
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
