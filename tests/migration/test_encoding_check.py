"""Encoding is checked, not assumed (issue 12): every Profil file must be Windows-1252 (SPEC §2) and the
CGM XML must be in the encoding its declaration names. A mismatch is refused with ENCODING_MISMATCH in
the reconciliation and a message naming the file and what to do; nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.migration.codes import PROFIL_COLUMNS
from epj.migration.pipeline import MigrationError, run_migration

from .extract_kit import FNR_CHILD, barn, barn_xml, bruker, write_extract

runner = CliRunner()

# Each file holds a non-ASCII letter (the bytes that tell the encodings apart): in a name or free text,
# and in the files without free text in a coded field of a second row (which quarantines as UNKNOWN_CODE).
ROWS: dict[str, list[list[str]]] = {
    "BRUKER": [bruker(bid="1", etternavn="Sæther", fornavn="Åse Ødegård")],
    "VEDTAK": [
        ["1", "1", "HJSPL", "01.01.2024", "", "3,5", "AKTIV"],
        ["2", "1", "HJSPL", "01.01.2024", "", "", "AVSLÅTT"],
    ],
    "JOURNAL": [["1", "1", "01.02.2024 08:30", "RAPPORT", "", "Kari Nordmann", "Sår på høyre fot, stell utført"]],
    "LEGEMIDDEL": [
        ["1", "1", "N02BE01", "Paracetamol «Orifarm»", "500 mg", "1 tablett ved behov", "01.01.2024", "", "N"]
    ],
    "ADMINISTRERING": [
        ["1", "1", "01.02.2024 08:00", "01.02.2024 08:05", "", "GITT"],
        ["2", "1", "01.02.2024 09:00", "01.02.2024 09:05", "", "GITT_SJØL"],
    ],
    "IPLOS": [["1", "01.01.2024", "SOSIAL_DELTAKELSE", "2"], ["1", "01.01.2024", "FØRFLYTNING", "2"]],
    "PARORENDE": [["1", "1", "Bjørn Sæther", "BARN", "", "1"]],
}


def _extract(root: Path) -> Path:
    profil = {name: rows for name, rows in ROWS.items()}
    return write_extract(root, profil=profil, cgm=barn_xml(barn("H1", fnr=FNR_CHILD, fornavn="Øyvind")))


def test_the_control_extract_is_accepted(tmp_path: Path) -> None:
    assert set(ROWS) == set(PROFIL_COLUMNS)  # every Profil file is exercised below
    report = run_migration(_extract(tmp_path / "x"), None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert report["complete"] is True, report


@pytest.mark.parametrize("name", sorted(ROWS))
def test_profil_file_saved_as_utf8_is_refused(tmp_path: Path, name: str) -> None:
    extract = _extract(tmp_path / "x")
    path = extract / "profil" / f"{name}.csv"
    text = path.read_bytes().decode("cp1252")
    assert not text.isascii(), f"{name}: the test rows must hold a non-ASCII letter"
    path.write_bytes(text.encode("utf-8"))
    out = tmp_path / "out"
    with pytest.raises(MigrationError) as info:
        run_migration(extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "r")
    assert info.value.code == "ENCODING_MISMATCH"
    assert f"profil/{name}.csv" in info.value.message and "iconv" in info.value.message
    assert "Nothing was written" in info.value.message
    assert not out.exists()
    report = json.loads((tmp_path / "r" / "reconciliation.json").read_text())
    assert report["complete"] is False and report["error"] == "ENCODING_MISMATCH"
    assert report["resources"] == {}
    mismatch = report["encoding_mismatch"]
    assert list(mismatch) == [f"profil/{name}.csv"]
    assert mismatch[f"profil/{name}.csv"]["declared"] == "Windows-1252"
    assert mismatch[f"profil/{name}.csv"]["actual"] == "UTF-8"
    assert "ENCODING_MISMATCH" in (tmp_path / "r" / "reconciliation.md").read_text()


def test_a_utf8_file_of_plain_ascii_is_the_same_bytes_and_accepted(tmp_path: Path) -> None:
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [bruker(bid="1", etternavn="Hansen", Poststed="HEGRA")]})
    raw = (extract / "profil" / "BRUKER.csv").read_bytes()
    assert raw.isascii()  # identical whether saved as UTF-8 or Windows-1252: nothing to garble
    report = run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert report["complete"] is True


def test_a_file_with_a_utf8_byte_order_mark_is_refused(tmp_path: Path) -> None:
    extract = _extract(tmp_path / "x")
    path = extract / "profil" / "IPLOS.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with pytest.raises(MigrationError) as info:
        run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert info.value.code == "ENCODING_MISMATCH" and "byte-order mark" in info.value.message


def test_a_file_mixing_both_encodings_is_refused(tmp_path: Path) -> None:
    extract = _extract(tmp_path / "x")
    path = extract / "profil" / "JOURNAL.csv"
    path.write_bytes(path.read_bytes() + "2;1;02.02.2024 09:00;RAPPORT;;Per;Ny sår\r\n".encode())
    with pytest.raises(MigrationError) as info:
        run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    assert info.value.code == "ENCODING_MISMATCH" and "profil/JOURNAL.csv" in info.value.message


def _cgm(extract: Path, declared: str | None, data_encoding: str) -> None:
    decl = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    body = barn_xml(barn("H1", fnr=FNR_CHILD, fornavn="Øyvind", etternavn="Sæther")).split("\n", 1)[1]
    (extract / "cgm" / "helsestasjon.xml").write_bytes((decl + body).encode(data_encoding))


@pytest.mark.parametrize(
    ("declared", "actual", "refused"),
    [
        ("UTF-8", "utf-8", False),
        (None, "utf-8", False),  # no declaration: XML's default, UTF-8
        ("ISO-8859-1", "latin-1", False),  # declared and actual agree
        ("windows-1252", "cp1252", False),
        ("UTF-8", "cp1252", True),  # saved as Windows-1252, declared UTF-8
        (None, "cp1252", True),
        ("ISO-8859-1", "utf-8", True),  # saved as UTF-8, declared Latin-1
        ("windows-1252", "utf-8", True),
    ],
)
def test_cgm_declared_vs_actual_encoding(tmp_path: Path, declared: str | None, actual: str, refused: bool) -> None:
    extract = write_extract(tmp_path / "x", cgm=barn_xml(barn("H1")))
    _cgm(extract, declared, actual)
    out = tmp_path / "out"
    if not refused:
        report = run_migration(extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "r")
        assert report["complete"] is True
        patient = json.loads((out / "Patient.ndjson").read_text(encoding="utf-8").splitlines()[0])
        assert patient["name"][0]["given"] == ["Øyvind"] and patient["name"][0]["family"] == "Sæther"
        return
    with pytest.raises(MigrationError) as info:
        run_migration(extract, f"ndjson:{out}", synthetic_ids=True, report_dir=tmp_path / "r")
    assert info.value.code == "ENCODING_MISMATCH" and "cgm/helsestasjon.xml" in info.value.message
    assert not out.exists()
    report = json.loads((tmp_path / "r" / "reconciliation.json").read_text())
    assert report["error"] == "ENCODING_MISMATCH"
    assert report["encoding_mismatch"]["cgm/helsestasjon.xml"]["declared"] == (declared or "UTF-8")


def test_the_command_line_names_file_and_remedy_and_exits_2(tmp_path: Path) -> None:
    extract = _extract(tmp_path / "x")
    path = extract / "profil" / "BRUKER.csv"
    path.write_bytes(path.read_bytes().decode("cp1252").encode("utf-8"))
    result = runner.invoke(app, ["migrate", "run", str(extract), "--dry-run", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "ENCODING_MISMATCH" in result.output and "profil/BRUKER.csv" in result.output
    assert "Export it again as Windows-1252" in result.output
    assert "Sæther" not in result.output and "Traceback" not in result.output
