"""Hypothesis fuzzing of the CSV and XML readers through the whole pipeline: no input crashes it.
Malformed input is either quarantined record by record (and the run still balances) or refused
with a clear MigrationError naming the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epj.migration.codes import PROFIL_COLUMNS
from epj.migration.pipeline import MigrationError, run_migration

from .extract_kit import FNR_A, FNR_CHILD, barn, barn_xml, bruker, write_extract

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELD = st.one_of(
    st.sampled_from(
        [
            "1",
            "2",
            "100002",
            "",
            "0",
            "17.05.1940",
            "31.02.2020",
            "01.02.2026 08:00",
            "7,5",
            "7.5",
            "AKTIV",
            "HJSPL",
            "GITT",
            "IKKE_GITT",
            "N02BE01",
            "K",
            "SYN",
            "9",
            "J",
            FNR_A,
            "Åse Ødegård",
            "x\r\ny",
            'a"b',
            "a;b",
        ]
    ),
    st.text(alphabet='0123456789;"\r\n ,.:abcæøåÆØÅé-', max_size=12),
)


def _check(report: dict[str, object]) -> None:
    sources = report["sources"]
    assert isinstance(sources, dict)
    for counts in sources.values():
        assert counts["read"] == counts["migrated"] + counts["quarantined"]
    if report.get("error") != "EXTRACT_INCOMPLETE":
        assert report["complete"] is True


def _run(extract: Path, out: Path) -> None:
    try:
        report = run_migration(extract, f"ndjson:{out}", synthetic_ids=True, report_dir=out.parent / "r")
    except MigrationError as exc:
        # KOMMUNENR_MISMATCH: a mutation can turn the CGM root's kommunenr into another municipality's.
        refusals = {
            "CSV_ERROR",
            "ENCODING_ERROR",
            "ENCODING_MISMATCH",
            "HEADER_MISMATCH",
            "XML_ERROR",
            "MANIFEST_INVALID",
            "KOMMUNENR_MISMATCH",
        }
        assert exc.code in refusals
        assert "profil/" in exc.message or "cgm/" in exc.message or "UTTREKK" in exc.message
        return
    _check(report)


@FUZZ
@given(
    st.sampled_from(sorted(PROFIL_COLUMNS)),
    st.lists(st.lists(FIELD, min_size=0, max_size=13), max_size=8),
)
def test_profil_rows_never_crash(name: str, rows: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        profil = {"BRUKER": [bruker(bid="1"), bruker(bid="2", fnr="")]}
        profil[name] = profil.get(name, []) + rows
        _run(write_extract(Path(tmp) / "x", profil=profil), Path(tmp) / "out")


@FUZZ
@given(st.sampled_from(sorted(PROFIL_COLUMNS)), st.binary(max_size=300))
def test_profil_raw_bytes_never_crash(name: str, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        extract = write_extract(Path(tmp) / "x", profil={"BRUKER": [bruker()], name: []})
        path = extract / "profil" / f"{name}.csv"
        path.write_bytes(path.read_bytes() + body)
        _run(extract, Path(tmp) / "out")


BASE_XML = barn_xml(
    barn(
        "H1",
        inner='<Foresatt fnr="1" relasjon="MOR">M</Foresatt>'
        '<Konsultasjon id="K1" dato="2023-01-01" type="6U">t</Konsultasjon>'
        '<Maaling id="M1" dato="2023-01-01" type="VEKT" verdi="4,1" enhet="kg"/>'
        '<Vaksinasjon id="V1" dato="2023-01-01" atc="J07BH01" dose="1"/>',
    ),
    barn("H2", fnr=FNR_CHILD),
)


@FUZZ
@given(st.integers(0, len(BASE_XML)), st.integers(0, 40), st.text(alphabet="<>/=\"' &;abcBarnKMV-12", max_size=20))
def test_cgm_mutations_never_crash(at: int, cut: int, insert: str) -> None:
    xml = BASE_XML[:at] + insert + BASE_XML[at + cut :]
    with tempfile.TemporaryDirectory() as tmp:
        extract = write_extract(Path(tmp) / "x", cgm=xml)
        _run(extract, Path(tmp) / "out")


@FUZZ
@given(st.binary(max_size=200))
def test_cgm_raw_bytes_never_crash(body: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        extract = write_extract(Path(tmp) / "x", cgm=BASE_XML)
        (extract / "cgm" / "helsestasjon.xml").write_bytes(body)
        _run(extract, Path(tmp) / "out")
