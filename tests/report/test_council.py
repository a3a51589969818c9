"""The council report renders to HTML and PDF; the PDF's first page is not blank and names the municipality."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

from PIL import Image

from epj.report.council import CouncilData, GainRow, Incident, Milestone, nok, write_council_report


def _data() -> CouncilData:
    return CouncilData(
        kommunenr="5035",
        name="Stjørdal",
        period="2027-03",
        phase="Hypercare",
        phase_text="Kommandosentral (hypercare) etter oppstart",
        milestones=(Milestone(dt.date(2027, 3, 29), "Slutt på kommandosentral"),),
        cost_month=Decimal("251234.56"),
        cost_year_to_date=Decimal("753703.68"),
        budget_year=Decimal("3100000"),
        cost_model_version="2026.1",
        gains=(
            GainRow("Legemidler gitt til rett tid", "%", 81.0, 88.5, "2026-10", "2027-03", True),
            GainRow("Uteblitte avtaler", "%", 9.0, 7.0, "2026-10", "2027-03", True, higher_is_better=False),
            GainRow("Kontinuitet i hjemmetjenesten", "%", 58.0, 61.0, "2026-10", "2027-03", False),
        ),
        incidents=(
            Incident("EpjMedicationAdministrationErrorBudgetBurn", "critical", dt.datetime(2027, 3, 4, 3, 12), 18),
        ),
        downtime_minutes=18,
    )


def test_nok_formatting() -> None:
    assert nok(Decimal("1234567.891")) == "1 234 567,89 kr"
    assert nok(Decimal("-5")) == "-5,00 kr"


def test_council_report_renders_html_and_pdf(tmp_path: Path) -> None:
    html_path, pdf_path = write_council_report(_data(), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "Stjørdal" in page and "mars 2027" in page and "251 234,56 kr" in page
    assert "For lite data til å si noe sikkert" in page  # continuity has too little data
    assert "Bedre enn før" in page  # no-show went down, lower is better
    assert "+7,5 prosentpoeng" in page and "−2,0 prosentpoeng" in page

    pdftoppm, pdftotext = shutil.which("pdftoppm"), shutil.which("pdftotext")
    assert pdftoppm and pdftotext, "poppler-utils is installed by the test command"
    subprocess.run(
        [pdftoppm, "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")], check=True
    )
    png = next(tmp_path.glob("page*.png"))
    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
        dark_pixels = sum(histogram[:200])
        assert dark_pixels > 0.01 * grey.width * grey.height, "first page is blank"
    text = subprocess.run([pdftotext, str(pdf_path), "-"], check=True, capture_output=True, text=True).stdout
    assert "Stjørdal" in text
    assert "mars 2027" in text
    assert "251 234,56 kr" in text


def _pdf_text_and_png(pdf_path: Path, tmp_path: Path) -> str:
    pdftoppm, pdftotext = shutil.which("pdftoppm"), shutil.which("pdftotext")
    assert pdftoppm and pdftotext
    subprocess.run([pdftoppm, "-png", "-r", "40", str(pdf_path), str(tmp_path / "p")], check=True)
    for png in tmp_path.glob("p*.png"):
        with Image.open(png) as image:
            assert image.width > 200 and image.height > 200
    return subprocess.run([pdftotext, "-layout", str(pdf_path), "-"], check=True, capture_output=True, text=True).stdout


def test_incidents_read_as_a_council_reads_them(tmp_path: Path) -> None:
    """Bokmål titles, Oslo time, latency listed but not downtime, phase never guessed."""
    data = _data()
    data = CouncilData(
        **{
            **data.__dict__,
            "phase": "Unknown",
            "phase_text": "Ukjent (GoLive-status ikke oppgitt)",
            "incidents": (
                Incident(
                    "EpjMedicationAdministrationErrorBudgetBurn",
                    "critical",
                    dt.datetime(2027, 3, 4, 3, 12, tzinfo=dt.UTC),
                    18,
                    "medication-administration",
                ),
                Incident("EpjJournalLatencyBudgetBurn", "critical", dt.datetime(2027, 3, 30, 22, 5, tzinfo=dt.UTC), 40),
            ),
            "downtime_minutes": 18,
        }
    )
    html_path, pdf_path = write_council_report(data, tmp_path)
    text = _pdf_text_and_png(pdf_path, tmp_path)
    for content in (text, html_path.read_text(encoding="utf-8")):
        assert "Ukjent (GoLive-status ikke oppgitt)" in content
        assert "Legemiddelhåndtering: mange feilede forespørsler" in content
        assert "04.03 04:12" in content  # 03:12 UTC is 04:12 in Oslo in March (CET)
        assert "31.03 00:05" in content  # 22:05 UTC on 30 March is 00:05 the next day in Oslo (CEST)
        assert "Journal: treg svartid" in content
        assert "EpjMedication" not in content  # no raw alert names for a council
    assert "ikke nedetid" in text  # the latency alert is listed, not counted


def test_unknown_incidents_are_never_reported_as_none(tmp_path: Path) -> None:
    data = CouncilData(**{**_data().__dict__, "incidents": (), "downtime_minutes": None})
    html_path, pdf_path = write_council_report(data, tmp_path)
    text = _pdf_text_and_png(pdf_path, tmp_path)
    for content in (text, html_path.read_text(encoding="utf-8")):
        assert "ukjent" in content
        assert "Ingen kritiske hendelser" not in content
    known_none = CouncilData(**{**_data().__dict__, "incidents": (), "downtime_minutes": 0})
    html_path, _ = write_council_report(known_none, tmp_path / "none")
    assert "Ingen kritiske hendelser i perioden" in html_path.read_text(encoding="utf-8")


def test_no_bars_for_too_little_data_and_volumes_are_change_not_verdict() -> None:
    from epj.report.council import _gain_verdict, gains_chart_png

    thin = GainRow("Kontinuitet", "%", 58.0, 61.0, "2026-10", "2027-03", False)
    volume = GainRow("Legemiddelutdelinger per dag", "", 200.0, 230.0, "2026-10", "2027-03", True, None)
    assert _gain_verdict(volume) == "Økt"
    assert _gain_verdict(GainRow("x", "", 230.0, 200.0, "a", "b", True, None)) == "Redusert"
    only_thin = gains_chart_png((thin,))
    with_bar = gains_chart_png((thin, volume))
    with Image.open(io.BytesIO(only_thin)) as a, Image.open(io.BytesIO(with_bar)) as b:
        blue = (0x1F, 0x6F, 0xEB)
        assert blue not in {px[:3] for px in a.convert("RGB").getdata()}  # no bar drawn for thin data
        assert blue in {px[:3] for px in b.convert("RGB").getdata()}


def test_gains_directions_are_pinned() -> None:
    from epj.report.gains import KPI_LABELS

    directions = {kpi: spec[2] for kpi, spec in KPI_LABELS.items()}
    assert directions == {
        "medication_on_time_share": True,
        "medication_administrations_per_day": None,
        "care_continuity_share": True,
        "patient_contacts_per_day": None,
        "no_show_rate": False,
        "emessage_turnaround_hours": False,
        "emessage_unanswered": False,
        "emessage_oldest_unanswered_hours": False,
        "wrong_medication_warnings_per_day": None,
        "secure_chat_messages_per_day": None,
        "citizen_portal_logins_per_day": None,
    }


def test_year_to_date_counts_from_go_live_and_phase_is_never_guessed() -> None:
    from epj.report.briefing import build_briefing

    data = build_briefing("5035", "2027-05", go_live_date=dt.date(2027, 3, 6))
    assert data.cost_year_to_date == data.cost_month * 3  # March, April, May
    assert data.phase_text == "Ukjent (GoLive-status ikke oppgitt)"
    assert any("ikke spurt" in note for note in data.notes)  # incidents unknown without Prometheus
    assert data.downtime_minutes is None
    later = build_briefing("5035", "2027-02", go_live_date=dt.date(2027, 3, 6))
    assert later.cost_year_to_date == 0  # before go-live nothing has been charged this year
