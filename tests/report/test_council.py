"""The council report renders to HTML and PDF; the PDF's first page is not blank and names the municipality."""

from __future__ import annotations

import datetime as dt
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
