"""No national id, name or note text from the input in logs (even at DEBUG), metrics, spans or the
quarantine report (DESIGN §6, SPEC §5)."""

from __future__ import annotations

import csv
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, generate_latest

from epj.migration.pipeline import run_migration


def _secrets(extract: Path) -> tuple[set[str], set[str], set[str]]:
    """(national ids, names, note texts) that occur in the extract."""
    ids: set[str] = set()
    names: set[str] = set()
    notes: set[str] = set()

    def rows(name: str) -> list[dict[str, str]]:
        with (extract / "profil" / f"{name}.csv").open(encoding="cp1252", newline="") as handle:
            return list(csv.DictReader(handle, delimiter=";"))

    for row in rows("BRUKER"):
        ids.add(row["Fodselsnummer"] or "")
        names.update(filter(None, [row["Fornavn"], row["Etternavn"]]))
    for row in rows("JOURNAL"):
        names.add(row["ForfatterNavn"] or "")
        notes.add(row["Tekst"] or "")
    for row in rows("PARORENDE"):
        names.add(row["Navn"] or "")
    for elem in ET.parse(extract / "cgm" / "helsestasjon.xml").iter():
        if elem.tag == "Fodselsnummer":
            ids.add(elem.text or "")
        elif elem.tag in ("Fornavn", "Etternavn", "Foresatt"):
            names.add((elem.text or "").strip())
        if elem.tag == "Foresatt":
            ids.add(elem.get("fnr") or "")
        elif elem.tag == "Konsultasjon":
            notes.add((elem.text or "").strip())
    return {i for i in ids if len(i) >= 6}, {n for n in names if len(n) >= 3}, {n for n in notes if len(n) >= 12}


@pytest.fixture()
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_debug_run_leaks_no_personal_data(
    reference_extract: tuple[Path, object],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    spans: InMemorySpanExporter,
) -> None:
    sample_extract = reference_extract[0]
    ids, names, notes = _secrets(sample_extract)
    assert len(ids) >= 8 and len(names) >= 20 and len(notes) >= 3  # the scan has something to find
    with caplog.at_level(logging.DEBUG):
        report = run_migration(
            sample_extract, f"ndjson:{tmp_path / 'out'}", synthetic_ids=True, report_dir=tmp_path / "r"
        )
    assert report["complete"] is True
    texts = [record.getMessage() for record in caplog.records]
    assert any("quarantined" in t for t in texts)  # DEBUG lines were produced
    texts.append(generate_latest(REGISTRY).decode())
    finished = spans.get_finished_spans()
    assert any(s.name == "migration.batch" for s in finished)
    for span in finished:
        texts.append(span.name)
        texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
        texts += [event.name for event in span.events]
    texts += (tmp_path / "r" / "quarantine.ndjson").read_text().splitlines()
    blob = "\n".join(texts)
    assert "epj_migration_records_read" in blob and 'tenant="5035"' in blob
    for national_id in ids:
        assert national_id not in blob
    for name in names:
        assert not re.search(rf"\b{re.escape(name)}\b", blob), "a name appears in logs/metrics/spans"
    for note in notes:
        assert note[:40] not in blob


def test_a_shifted_row_never_puts_a_national_id_or_name_in_the_quarantine_key(tmp_path: Path) -> None:
    # A BRUKER row whose BrukerID is missing: the id column holds the national id (one field short),
    # or a name; the quarantine report identifies it by file and record number, not by that value.
    from .extract_kit import FNR_A, bruker, write_extract

    shifted = bruker(bid="1", fnr=FNR_A)[1:]  # BrukerID dropped: Fodselsnummer comes first
    named = ["Testesen", *bruker(bid="3", fnr="")[1:]]  # a surname where the id belongs
    extract = write_extract(tmp_path / "x", profil={"BRUKER": [shifted, bruker(bid="2", fnr=""), named]})
    run_migration(extract, None, dry_run=True, synthetic_ids=True, report_dir=tmp_path / "r")
    text = (tmp_path / "r" / "quarantine.ndjson").read_text(encoding="utf-8")
    assert FNR_A not in text and "Testesen" not in text
    rows = [line for line in text.splitlines() if '"record":1,' in line or '"record":3,' in line]
    assert len(rows) == 2 and all('"source":"profil/BRUKER.csv"' in row for row in rows)
