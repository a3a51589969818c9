"""The council report: a short briefing in Norwegian bokmål, as HTML and PDF.

Municipal councils are briefed at every meeting after go-live. The numbers come
from the same functions as the CLI tables (cost showback, KPI gains); this
module only lays them out. PDF is drawn with fpdf2 and a font shipped with
matplotlib (DejaVu Sans, full æøå), so no office suite or system font is needed.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from epj.report.incidents import counts_as_downtime, title_nb

OSLO = ZoneInfo("Europe/Oslo")

MONTHS_NB = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober",
             "november", "desember")  # fmt: skip


@dataclass(frozen=True)
class Milestone:
    when: dt.date
    label: str


@dataclass(frozen=True)
class GainRow:
    """One KPI against its baseline; ``enough_data`` False means the figure says little."""

    name: str
    unit: str
    baseline: float | None
    current: float | None
    baseline_period: str
    current_period: str
    enough_data: bool
    #: True: a rise is better; False: a fall is better; None: a volume, reported as change only.
    higher_is_better: bool | None = True

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline


@dataclass(frozen=True)
class Incident:
    alert: str
    severity: str
    started: dt.datetime
    minutes: int
    service: str | None = None

    @property
    def title(self) -> str:
        """What happened, in bokmål (``Legemiddelhåndtering: mange feilede forespørsler``)."""
        return title_nb(self.alert, self.service)

    @property
    def local_start(self) -> str:
        """Start in Oslo time, as a council reads it."""
        return f"{self.started.astimezone(OSLO):%d.%m %H:%M}"

    @property
    def downtime(self) -> bool:
        return counts_as_downtime(self.alert)


@dataclass(frozen=True)
class CouncilData:
    """Everything one council briefing shows, already computed."""

    kommunenr: str
    name: str
    period: str  # YYYY-MM
    phase: str
    phase_text: str
    milestones: tuple[Milestone, ...]
    cost_month: Decimal
    cost_year_to_date: Decimal
    budget_year: Decimal | None
    cost_model_version: str
    gains: tuple[GainRow, ...]
    incidents: tuple[Incident, ...]
    downtime_minutes: int | None
    notes: tuple[str, ...] = field(default=())

    @property
    def period_text(self) -> str:
        year, month = self.period.split("-")
        return f"{MONTHS_NB[int(month) - 1]} {year}"

    @property
    def budget_year_to_date(self) -> Decimal | None:
        if self.budget_year is None:
            return None
        month = int(self.period.split("-")[1])
        return (self.budget_year * month / 12).quantize(Decimal("0.01"))


def nok(amount: Decimal) -> str:
    """Norwegian money format: 1 234 567,89 kr."""
    whole, _, fraction = f"{amount:.2f}".partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    groups: list[str] = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return f"{sign}{' '.join(groups)},{fraction} kr"


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    text = f"{value:.1f}".replace(".", ",")
    return f"{text} {unit}".strip()


def change_text(row: GainRow) -> str:
    """A change in a share is in percentage points, not per cent."""
    unit = "prosentpoeng" if row.unit == "%" else row.unit
    if row.change is None:
        return "–"
    return number(row.change, unit).replace("-", "−") if row.change < 0 else "+" + number(row.change, unit)


def _gain_verdict(row: GainRow) -> str:
    if not row.enough_data:
        return "For lite data til å si noe sikkert"
    change = row.change
    if change is None:
        return "Mangler måling"
    if abs(change) < 1e-9:
        return "Uendret"
    if row.higher_is_better is None:  # a volume: more is not better in itself
        return "Økt" if change > 0 else "Redusert"
    better = (change > 0) == row.higher_is_better
    return "Bedre enn før" if better else "Dårligere enn før"


def gains_chart_png(gains: tuple[GainRow, ...]) -> bytes:
    """Small paired bars (before/after) per KPI, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # No bars for figures that rest on too little data: a bar looks like a finding.
    rows = [g for g in gains if g.baseline is not None and g.current is not None and g.enough_data]
    fig, axes = plt.subplots(1, max(1, len(rows)), figsize=(2.2 * max(1, len(rows)), 2.2), dpi=120)
    axes_list = list(axes) if len(rows) > 1 else [axes]
    for ax, row in zip(axes_list, rows, strict=False):
        assert row.baseline is not None and row.current is not None
        ax.bar(["Før", "Nå"], [row.baseline, row.current], color=["#9aa5b1", "#1f6feb"])
        ax.set_title(row.name, fontsize=7, wrap=True)
        ax.tick_params(labelsize=7)
    if not rows:
        axes_list[0].text(0.5, 0.5, "For lite data til å vise før og nå", ha="center", va="center")
        axes_list[0].axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def render_html(data: CouncilData, chart_file: str = "gevinster.png") -> str:
    """A self-standing HTML page (the chart is a sibling PNG file)."""
    e = html.escape
    budget_ytd = data.budget_year_to_date
    milestone_rows = (
        "".join(f"<li>{m.when:%d.%m.%Y}: {e(m.label)}</li>" for m in data.milestones)
        or "<li>Ingen milepæler etter perioden.</li>"
    )
    gain_rows = "".join(
        f"<tr><td>{e(g.name)}</td><td>{e(number(g.baseline, g.unit))} ({e(g.baseline_period)})</td>"
        f"<td>{e(number(g.current, g.unit))} ({e(g.current_period)})</td>"
        f"<td>{e(change_text(g))}</td><td>{e(_gain_verdict(g))}</td></tr>"
        for g in data.gains
    )
    incident_rows = "".join(
        f"<tr><td>{e(i.local_start)}</td><td>{e(i.title)}</td><td>{'ja' if i.downtime else 'nei'}</td>"
        f"<td>{i.minutes} min</td></tr>"
        for i in data.incidents
    )
    if data.downtime_minutes is None:
        incidents_html = "<p>Hendelser og nedetid: ukjent (overvåkingen svarte ikke for perioden).</p>"
    elif not data.incidents:
        incidents_html = (
            "<p>Nedetid for kritiske tjenester i perioden: 0 minutter.</p><p>Ingen kritiske hendelser i perioden.</p>"
        )
    else:
        incidents_html = (
            f"<p>Nedetid for kritiske tjenester i perioden: {data.downtime_minutes} minutter "
            "(treg svartid regnes ikke som nedetid).</p>"
            "<table><tr><th>Start (norsk tid)</th><th>Hendelse</th><th>Nedetid</th><th>Varighet</th></tr>"
            f"{incident_rows}</table>"
        )
    budget_line = (
        f"<p>Budsjett hittil i år: {e(nok(budget_ytd))} (årsbudsjett {e(nok(data.budget_year))}).</p>"
        if budget_ytd is not None and data.budget_year is not None
        else "<p>Ingen budsjettlinje registrert.</p>"
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in data.notes)
    return f"""<!DOCTYPE html>
<html lang="nb"><head><meta charset="utf-8"><title>EPJ – {e(data.name)} – {e(data.period_text)}</title>
<style>body{{font-family:sans-serif;max-width:48em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .5em;text-align:left}}</style></head><body>
<h1>Ny pleie- og omsorgsjournal: {e(data.name)} kommune</h1>
<p>Orientering til kommunestyret for {e(data.period_text)} (kommunenummer {e(data.kommunenr)}).</p>
<h2>Status for innføringen</h2><p>Fase: <strong>{e(data.phase_text)}</strong></p>
<h3>Neste milepæler</h3><ul>{milestone_rows}</ul>
<h2>Kostnader</h2><p>Denne måneden: {e(nok(data.cost_month))}. Hittil i år: {e(nok(data.cost_year_to_date))}.</p>
{budget_line}<p>Kostnadsmodell versjon {e(data.cost_model_version)}.</p>
<h2>Gevinster mot målt utgangspunkt</h2>
<table><tr><th>Mål</th><th>Før</th><th>Nå</th><th>Endring</th><th>Vurdering</th></tr>{gain_rows}</table>
<p><img src="{e(chart_file)}" alt="Før og nå per mål"></p>
<h2>Hendelser og nedetid</h2>{incidents_html}
<ul>{notes}</ul></body></html>
"""


def _font_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def render_pdf(data: CouncilData, chart_png: bytes) -> bytes:
    """The same content as the HTML page, as a one- or two-page A4 PDF."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"EPJ {data.name} {data.period_text}")
    font = str(_font_path())
    pdf.add_font("DejaVu", "", font)
    pdf.add_font("DejaVu", "B", font.replace("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 8, f"Ny pleie- og omsorgsjournal: {data.name} kommune", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(
        0, 6, f"Orientering til kommunestyret for {data.period_text} (kommunenummer {data.kommunenr}).",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 12)
        pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 10)

    def line(text: str) -> None:
        pdf.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")

    heading("Status for innføringen")
    line(f"Fase: {data.phase_text}")
    for milestone in data.milestones:
        line(f"  • {milestone.when:%d.%m.%Y}: {milestone.label}")
    if not data.milestones:
        line("  • Ingen milepæler etter perioden.")
    heading("Kostnader")
    line(f"Denne måneden: {nok(data.cost_month)}. Hittil i år: {nok(data.cost_year_to_date)}.")
    budget_ytd = data.budget_year_to_date
    if budget_ytd is not None and data.budget_year is not None:
        line(f"Budsjett hittil i år: {nok(budget_ytd)} (årsbudsjett {nok(data.budget_year)}).")
    else:
        line("Ingen budsjettlinje registrert.")
    line(f"Kostnadsmodell versjon {data.cost_model_version}.")
    heading("Gevinster mot målt utgangspunkt")
    with pdf.table(col_widths=(46, 36, 36, 24, 48), text_align="LEFT", line_height=5.5) as table:
        table.row(("Mål", "Før", "Nå", "Endring", "Vurdering"))
        for g in data.gains:
            table.row(
                (
                    g.name,
                    f"{number(g.baseline, g.unit)} ({g.baseline_period})",
                    f"{number(g.current, g.unit)} ({g.current_period})",
                    change_text(g),
                    _gain_verdict(g),
                )
            )
    pdf.ln(2)
    pdf.image(io.BytesIO(chart_png), w=min(180, 40 * max(1, len(data.gains))))
    heading("Hendelser og nedetid")
    if data.downtime_minutes is None:
        line("Hendelser og nedetid: ukjent (overvåkingen svarte ikke for perioden).")
    else:
        line(
            f"Nedetid for kritiske tjenester i perioden: {data.downtime_minutes} minutter "
            "(treg svartid regnes ikke som nedetid)."
        )
        for incident in data.incidents:
            kind = "nedetid" if incident.downtime else "ikke nedetid"
            line(f"  • {incident.local_start} {incident.title} ({kind}), {incident.minutes} min")
        if not data.incidents:
            line("Ingen kritiske hendelser i perioden.")
    for note in data.notes:
        line(f"Merk: {note}")
    return bytes(pdf.output())


def write_council_report(data: CouncilData, out_dir: Path) -> tuple[Path, Path]:
    """Write ``rapport-<nr>-<period>.html`` (+ chart PNG) and ``.pdf`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"rapport-{data.kommunenr}-{data.period}"
    chart = gains_chart_png(data.gains)
    chart_name = f"{stem}-gevinster.png"
    (out_dir / chart_name).write_bytes(chart)
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(render_html(data, chart_name), encoding="utf-8")
    pdf_path = out_dir / f"{stem}.pdf"
    pdf_path.write_bytes(render_pdf(data, chart))
    return html_path, pdf_path
