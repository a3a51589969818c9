"""`epj tenants population --from FILE`: exact SSB figures into every tenant file, or nothing at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from epj.cli import app
from epj.paths import tenants_dir
from epj.tenants import load_tenants
from epj.tenants.population import PopulationFileError, parse_population_csv

# Made-up figures (not SSB's), one per municipality, summing to the tender's 144,431.
FIGURES = {
    "1557": 2_841, "1811": 1_402, "5006": 24_821, "5007": 15_303, "5014": 5_220, "5020": 926,
    "5031": 14_411, "5034": 2_460, "5035": 24_998, "5036": 2_701, "5041": 2_040, "5042": 1_300,
    "5043": 442, "5044": 835, "5045": 2_318, "5046": 1_250, "5047": 3_901, "5049": 1_052,
    "5052": 568, "5053": 6_903, "5059": 18_679, "5060": 10_060,
}  # fmt: skip


def _long_csv(figures: dict[str, int | str], quarter: str = "2024K3") -> bytes:
    lines = [
        '"07459: Befolkning, etter region, kjønn, alder, statistikkvariabel og kvartal"',
        "",
        '"region";"kvartal";"statistikkvariabel";"07459: Befolkning"',
    ]
    for number, value in figures.items():
        lines.append(f'"{number} Kommune {number}";"2024K2";"Befolkning ved utgangen av kvartalet";1')
        lines.append(f'"{number} Kommune {number}";"{quarter}";"Befolkning ved utgangen av kvartalet";{value}')
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "tenants"
    shutil.copytree(tenants_dir(), copy)
    return copy


def test_import_writes_exact_figures_keeps_the_rest_and_totals_the_tender(folder: Path, tmp_path: Path) -> None:
    assert sum(FIGURES.values()) == 144_431
    source = tmp_path / "07459.csv"
    source.write_bytes(_long_csv(FIGURES))
    before = (folder / "5035-stjordal.yaml").read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["tenants", "population", "--from", str(source), "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert "144 431" in result.output
    after = load_tenants(folder)
    assert {t.kommunenummer: t.population.inhabitants for t in after} == FIGURES
    stjordal = after.get("5035").population
    assert (stjordal.estimate, stjordal.as_of.isoformat()) == (False, "2024-10-01")
    assert stjordal.source == "Statistics Norway (SSB), Statistikkbanken table 07459, 2024K3"
    text = (folder / "5035-stjordal.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == before.splitlines()[0]  # the file's comment is kept
    assert text.split("legacy_systems:")[1] == before.split("legacy_systems:")[1]  # and everything after


def test_a_file_missing_a_municipality_changes_nothing(folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "partial.csv"
    source.write_bytes(_long_csv({k: v for k, v in FIGURES.items() if k != "5043"}))
    snapshot = {p.name: p.read_bytes() for p in folder.glob("*.yaml")}
    result = CliRunner().invoke(app, ["tenants", "population", "--from", str(source), "--dir", str(folder)])
    assert result.exit_code != 0
    assert "5043" in result.output and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in folder.glob("*.yaml")} == snapshot


def test_wide_utf8_export_and_missing_values() -> None:
    wide = "\ufeffregion,Personer 2024K2,Personer 2024K3\n5035 Stjørdal,24900,24998\nK-5031 Malvik,14400,14411\n"
    figures = parse_population_csv(wide.encode("utf-8"))
    assert {k: (f.inhabitants, f.quarter) for k, f in figures.items()} == {
        "5035": (24_998, "2024K3"),
        "5031": (14_411, "2024K3"),
    }
    assert parse_population_csv(wide.encode("utf-8"), "2024K2")["5031"].inhabitants == 14_400
    with pytest.raises(PopulationFileError, match="5035 has no figure for 2024K3"):
        parse_population_csv(_long_csv({"5035": "."}))
    with pytest.raises(PopulationFileError, match="no header row"):
        parse_population_csv(b"just,some,numbers\n1,2,3\n")
    with pytest.raises(PopulationFileError, match="has no figures for quarter 2023K1"):
        parse_population_csv(_long_csv({"5035": 1}), "2023K1")
