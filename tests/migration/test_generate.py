"""The synthetic extract generator writes what SPEC.md describes, with synthetic ids only."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from stdnum.no import fodselsnummer

from epj.migration.generate import (
    PROFIL_COLUMNS,
    QUARANTINE_REASONS,
    WARNINGS,
    FaultRates,
    GenerateSummary,
    estimate_records,
    generate_extract,
    truncate_extract,
)
from epj.migration.synthetic_ids import break_check_digit, is_synthetic_national_id, synthetic_national_id

ELEVEN_DIGITS = re.compile(rb"(?<![0-9])[0-9]{11}(?![0-9])")
NO_DATE = re.compile(r"^\d\d\.\d\d\.\d{4}$")
NO_TIMESTAMP = re.compile(r"^\d\d\.\d\d\.\d{4} \d\d:\d\d$")


def _manifest(folder: Path) -> dict[str, str]:
    out = {}
    for line in (folder / "UTTREKK.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = value
    return out


def _records(path: Path) -> list[list[str]]:
    with open(path, encoding="cp1252", newline="") as handle:
        return list(csv.reader(handle, delimiter=";", quotechar='"'))


def _barn_count(path: Path) -> int:
    return sum(1 for _, elem in ET.iterparse(path) if elem.tag == "Barn")


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.*"))}


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    folder = tmp_path_factory.mktemp("extract") / "5035"
    return folder, generate_extract(folder, "5035", scale=0.02, seed=3)


def test_layout_and_manifest_counts_equal_records(extract: tuple[Path, GenerateSummary]) -> None:
    folder, summary = extract
    manifest = _manifest(folder)
    assert manifest["kommunenr"] == "5035"
    assert dt.datetime.fromisoformat(manifest["uttrekkstidspunkt"])
    assert manifest["profil.versjon"] and manifest["cgm.versjon"]
    for name in PROFIL_COLUMNS:
        rows = _records(folder / "profil" / f"{name}.csv")
        assert int(manifest[f"antall.{name}"]) == len(rows) - 1 == summary.counts[f"profil/{name}.csv"]
    barn = _barn_count(folder / "cgm" / "helsestasjon.xml")
    assert int(manifest["antall.cgm.Barn"]) == barn == summary.counts["cgm/Barn"]
    assert summary.manifest_counts == {k: int(v) for k, v in manifest.items() if k.startswith("antall.")}
    assert summary.records == sum(summary.counts.values())


def test_profil_files_are_cp1252_crlf_with_exact_headers(extract: tuple[Path, GenerateSummary]) -> None:
    folder, _ = extract
    for name, columns in PROFIL_COLUMNS.items():
        data = (folder / "profil" / f"{name}.csv").read_bytes()
        assert data.startswith((";".join(columns) + "\r\n").encode("cp1252"))
        assert data.count(b"\n") == data.count(b"\r\n"), f"{name}: a line break that is not CRLF"
        data.decode("cp1252")
    for name in ("BRUKER", "JOURNAL"):
        data = (folder / "profil" / f"{name}.csv").read_bytes()
        assert any(ch.encode("cp1252") in data for ch in "æøåÆØÅ")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # Windows-1252, not UTF-8
    xml_bytes = (folder / "cgm" / "helsestasjon.xml").read_bytes()
    assert xml_bytes.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert "ø".encode() in xml_bytes or "å".encode() in xml_bytes or "æ".encode() in xml_bytes


def test_multiline_notes_with_doubled_quotes_parse_back(extract: tuple[Path, GenerateSummary]) -> None:
    folder, _ = extract
    rows = _records(folder / "profil" / "JOURNAL.csv")[1:]
    clean = [r for r in rows if len(r) == 7]
    multiline = [r for r in clean if "\r\n" in r[6]]
    quoted = [r for r in clean if '"' in r[6]]
    assert multiline and quoted
    raw = (folder / "profil" / "JOURNAL.csv").read_bytes()
    assert b'""' in raw  # a quote inside a quoted field is doubled
    physical_lines = raw.count(b"\r\n")
    assert physical_lines > len(rows) + 1  # notes span lines, yet count as one record each


def test_formats_dates_and_decimal_comma(extract: tuple[Path, GenerateSummary]) -> None:
    folder, _ = extract
    vedtak = [r for r in _records(folder / "profil" / "VEDTAK.csv")[1:] if len(r) == 7]
    assert all(NO_DATE.match(r[3]) for r in vedtak)
    assert any("," in r[5] for r in vedtak)
    adm = [r for r in _records(folder / "profil" / "ADMINISTRERING.csv")[1:] if len(r) == 6]
    assert all(NO_TIMESTAMP.match(r[2]) for r in adm)
    assert {r[5] for r in adm} >= {"GITT", "IKKE_GITT", "SELVADM"}
    root = ET.parse(folder / "cgm" / "helsestasjon.xml").getroot()
    assert root.get("kommunenr") == "5035"
    values = [m.get("verdi") or "" for m in root.iter("Maaling")]
    assert values and sum("," in v for v in values) > 0.9 * len(values)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", b.findtext("Fodselsdato") or "") for b in root.iter("Barn"))


def test_only_synthetic_national_ids(extract: tuple[Path, GenerateSummary]) -> None:
    folder, summary = extract
    numbers: set[str] = set()
    for path in [*(folder / "profil").glob("*.csv"), folder / "cgm" / "helsestasjon.xml"]:
        numbers.update(m.decode() for m in ELEVEN_DIGITS.findall(path.read_bytes()))
    assert len(numbers) > 100
    for number in numbers:
        assert not fodselsnummer.is_valid(number), "a real-format national id was generated"
    synthetic = {n for n in numbers if _valid_with_month_minus_80(n)}
    # Everything else is an id broken on purpose (INVALID_NATIONAL_ID).
    assert len(numbers - synthetic) <= summary.expected_reconciliation["warnings"].get("INVALID_NATIONAL_ID", 0) + 5
    assert len(synthetic) > 0.95 * len(numbers)


def _valid_with_month_minus_80(number: str) -> bool:
    """Independent check: check digits as stdnum computes them, and a real date once 80 is taken off the month."""
    if fodselsnummer.calc_check_digit1(number[:9]) != number[9]:
        return False
    if fodselsnummer.calc_check_digit2(number[:10]) != number[10]:
        return False
    month = int(number[2:4]) - 80
    if not 1 <= month <= 12:
        return False
    real_format = number[:2] + f"{month:02d}" + number[4:9]
    try:
        fodselsnummer.get_birth_date(real_format + "00")
    except Exception:
        return False
    return True


def test_synthetic_id_helpers() -> None:
    import random

    rng = random.Random(1)
    for birth in (dt.date(1925, 2, 28), dt.date(1960, 12, 31), dt.date(2024, 2, 29), dt.date(2000, 1, 1)):
        for male in (True, False):
            for d_number in (False, True):
                number = synthetic_national_id(birth, male=male, rng=rng, d_number=d_number)
                assert is_synthetic_national_id(number) and _valid_with_month_minus_80(number)
                assert not fodselsnummer.is_valid(number)
                assert int(number[8]) % 2 == (1 if male else 0)
                assert (int(number[0]) >= 4) == d_number
                assert not is_synthetic_national_id(break_check_digit(number))


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate_extract(tmp_path / "a", "5036", scale=0.02, seed=11)
    b = generate_extract(tmp_path / "b", "5036", scale=0.02, seed=11)
    c = generate_extract(tmp_path / "c", "5036", scale=0.02, seed=12)
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    assert _tree_digest(tmp_path / "a") != _tree_digest(tmp_path / "c")
    assert a.counts == b.counts and a.expected_reconciliation == b.expected_reconciliation
    assert c.records > 0


def test_sizes_follow_population_and_scale(tmp_path: Path) -> None:
    small = generate_extract(tmp_path / "s", "9999", scale=1.0, seed=5, population=800)
    large = generate_extract(tmp_path / "l", "9999", scale=2.0, seed=5, population=800)
    # 60 children aged 0-5 per 1,000 inhabitants; recipients per 1,000 as the module constants say.
    assert small.counts["cgm/Barn"] == 48 and large.counts["cgm/Barn"] == 96
    assert 1.8 <= large.counts["profil/BRUKER.csv"] / small.counts["profil/BRUKER.csv"] <= 2.2
    assert 1.5 <= large.records / small.records <= 2.5
    assert 0.5 <= large.records / estimate_records(800, 2.0) <= 1.5


def test_every_spec_reason_and_warning_occurs_at_scale_005(tmp_path: Path) -> None:
    summary = generate_extract(tmp_path / "x", "5035", scale=0.05, seed=0)
    expected = summary.expected_reconciliation
    assert set(expected["quarantine"]) == set(QUARANTINE_REASONS)
    assert set(expected["warnings"]) == set(WARNINGS)
    assert expected["patients_merged"] >= 1
    for source, numbers in expected["sources"].items():
        assert numbers["read"] == numbers["migrated"] + numbers["quarantined"] == summary.counts[source]
    # A small share: most records migrate.
    quarantined = sum(n["quarantined"] for n in expected["sources"].values())
    assert quarantined < 0.1 * summary.records


def test_clean_extract_has_no_problems(tmp_path: Path) -> None:
    summary = generate_extract(tmp_path / "x", "5035", scale=0.02, seed=2, faults=FaultRates.clean())
    expected = summary.expected_reconciliation
    assert expected["quarantine"] == {}
    assert set(expected["warnings"]) <= {"MISSING_NATIONAL_ID"}  # only newborns without an id yet
    for name, columns in PROFIL_COLUMNS.items():
        rows = _records(tmp_path / "x" / "profil" / f"{name}.csv")
        assert all(len(r) == len(columns) for r in rows)


HEAVY_FAULTS = FaultRates(
    patient_quarantine=0.3,
    record_quarantine=0.05,
    missing_national_id=0.1,
    invalid_national_id=0.1,
    invalid_atc=0.1,
    period_end_before_start=0.1,
    conflicting_demographics=0.5,
)


@pytest.mark.parametrize(("scale", "faults"), [(0.02, None), (0.01, HEAVY_FAULTS)], ids=["default", "heavy"])
def test_generated_extract_migrates_to_its_expected_reconciliation(
    tmp_path: Path, scale: float, faults: FaultRates | None
) -> None:
    """Cross-check with the migration pipeline (dry run): the generator's accounting is the pipeline's."""
    from epj.migration.pipeline import run_migration

    summary = generate_extract(tmp_path / "x", "5035", scale=scale, seed=9, faults=faults)
    report = run_migration(
        tmp_path / "x", None, kommunenr="5035", synthetic_ids=True, dry_run=True, report_dir=tmp_path / "r"
    )
    expected = summary.expected_reconciliation
    assert {k: report[k] for k in expected} == expected


def test_truncate_extract_makes_manifest_disagree(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    summary = generate_extract(folder, "5035", scale=0.01, seed=4)
    before = (folder / "UTTREKK.txt").read_bytes()
    assert truncate_extract(folder, "JOURNAL", 3) == 3
    assert truncate_extract(folder, "cgm/helsestasjon.xml", 2) == 2
    assert (folder / "UTTREKK.txt").read_bytes() == before
    assert len(_records(folder / "profil" / "JOURNAL.csv")) - 1 == summary.counts["profil/JOURNAL.csv"] - 3
    assert _barn_count(folder / "cgm" / "helsestasjon.xml") == summary.counts["cgm/Barn"] - 2
    assert truncate_extract(folder, "profil/BRUKER.csv", 10**6) == summary.counts["profil/BRUKER.csv"]
    assert _records(folder / "profil" / "BRUKER.csv") == [list(PROFIL_COLUMNS["BRUKER"])]
    with pytest.raises(ValueError, match="unknown extract file"):
        truncate_extract(folder, "NOPE", 1)


def test_tenant_systems_and_unknown_kommunenr(tmp_path: Path) -> None:
    from epj.tenants import load_tenants

    profil_only = next(t for t in load_tenants() if [s.value for s in t.legacy_systems] == ["profil"])
    summary = generate_extract(tmp_path / "p", profil_only.kommunenummer, scale=0.05, seed=1)
    assert not (tmp_path / "p" / "cgm").exists()
    assert "antall.cgm.Barn" not in _manifest(tmp_path / "p")
    assert set(summary.counts) == {f"profil/{n}.csv" for n in PROFIL_COLUMNS}
    with pytest.raises(ValueError, match="population"):
        generate_extract(tmp_path / "u", "9999", scale=0.01)
