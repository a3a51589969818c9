"""Gantt chart of the plan: one row per tenant, plus the region's weekly training load.

Rendered with matplotlib's Agg backend (no display needed) to PNG, and to SVG
embedded in a self-contained HTML page (no scripts, no external files) that can be
mailed to a municipality as is.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections import defaultdict
from typing import Any

from epj.waves.model import Plan
from epj.waves.scenario import Problem

_EPOCH = dt.date(1970, 1, 1)  # matplotlib's default date epoch


def _num(day: dt.date) -> float:
    """A date as matplotlib's date number (days since its epoch); keeps matplotlib.dates (untyped) out."""
    return float((day - _EPOCH).days)


def _figure(problem: Problem, plan: Plan) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tenants = sorted(plan.tenants, key=lambda t: (t.go_live, t.tenant), reverse=True)
    height = max(4.0, 0.28 * len(tenants) + 2.5)
    fig, (ax, load_ax) = plt.subplots(
        2, 1, figsize=(13, height), gridspec_kw={"height_ratios": [max(3, len(tenants) // 3), 2]}, sharex=True
    )
    for row, t in enumerate(tenants):
        ms = t.milestones
        ax.barh(row, (ms.go_live - ms.main_project).days, left=_num(ms.main_project), color="#dde5f0", height=0.6)
        for week in t.training:  # one block per training week, so holiday gaps stay visible
            ax.barh(row, 7, left=_num(week.week_start), color="#4c78a8", height=0.6)
        ax.barh(row, (ms.hypercare_end - ms.go_live).days + 1, left=_num(ms.go_live), color="#e45756", height=0.6)
        ax.plot(_num(ms.go_live), row, marker="D", color="black", markersize=4)
    ax.set_yticks(range(len(tenants)), [f"{t.name} ({t.tenant})" for t in tenants], fontsize=7)
    ax.set_title(f"Go-live plan {plan.scenario}: main project (grey), training (blue), go-live ◆, hypercare (red)")
    shown = (
        min(t.milestones.main_project for t in plan.tenants) - dt.timedelta(days=30),
        max(t.milestones.hypercare_end for t in plan.tenants) + dt.timedelta(days=30),
    )
    ax.legend(handles=_legend(problem, ax, shown), loc="upper left", fontsize=7, framealpha=0.9)

    weekly: dict[dt.date, int] = defaultdict(int)
    for t in plan.tenants:
        for week in t.training:
            weekly[week.week_start] += week.superuser + week.enduser
    if weekly:
        weeks = sorted(weekly)
        load_ax.bar([_num(w) for w in weeks], [weekly[w] for w in weeks], width=6, color="#4c78a8")
    load_ax.axhline(problem.scenario.training.courses_per_day_effective * 5, color="#e45756", ls="--", lw=1)
    load_ax.set_ylabel("sessions / week")
    load_ax.set_title("Region-wide training load (dashed: capacity in a full working week)", fontsize=9)
    first = min(t.milestones.main_project for t in plan.tenants) - dt.timedelta(days=30)
    last = max(t.milestones.hypercare_end for t in plan.tenants) + dt.timedelta(days=30)
    load_ax.set_xlim(_num(first), _num(last))
    ticks = [
        dt.date(year, month, 1)
        for year in range(first.year, last.year + 2)
        for month in (1, 4, 7, 10)
        if first <= dt.date(year, month, 1) <= last
    ]
    load_ax.set_xticks([_num(day) for day in ticks], [day.strftime("%Y-%m") for day in ticks])
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


#: Colours of the blackout kinds: holidays computed every year, the scenario's own periods, public holidays.
_HOLIDAY_COLOUR, _CUSTOM_COLOUR, _PUBLIC_COLOUR = "#f2e6c9", "#d9c7ef", "#c9c9c9"


def _legend(problem: Problem, ax: Any, shown: tuple[dt.date, dt.date]) -> list[Any]:
    """Shade every blackout and return the legend: the bars, then each blackout by its scenario name.

    The yearly holidays share one entry ("holidays: summer, Christmas/New Year, Easter"); a period the
    project lead added (``blackouts.extra``) gets its own entry with the name written in the scenario,
    so a custom blackout is never explained as a holiday.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    visible = [b for b in problem.blackouts if b.end >= shown[0] and b.start <= shown[1]]
    custom = [b for b in visible if b in problem.scenario.calendar.blackouts.extra]
    public = [b for b in visible if b.kind == "public-holiday" and b not in custom]
    yearly = [b for b in visible if b not in custom and b not in public]
    for group, colour, alpha in (
        (yearly, _HOLIDAY_COLOUR, 0.5),
        (public, _PUBLIC_COLOUR, 0.6),
        (custom, _CUSTOM_COLOUR, 0.6),
    ):
        for b in group:
            ax.axvspan(_num(b.start), _num(b.end + dt.timedelta(days=1)), color=colour, alpha=alpha, lw=0)
    handles: list[Any] = [
        Patch(color="#dde5f0", label="main project"),
        Patch(color="#4c78a8", label="training"),
        Line2D([], [], marker="D", color="black", lw=0, markersize=4, label="go-live"),
        Patch(color="#e45756", label="command centre (hypercare)"),
    ]
    if yearly:
        first_seen: dict[str, str] = {}
        for b in sorted(yearly, key=lambda b: b.start.strftime("%m%d")):
            first_seen.setdefault(b.name.rsplit(" ", 1)[0], "")
        kinds = list(first_seen)
        handles.append(Patch(color=_HOLIDAY_COLOUR, alpha=0.5, label=f"blackout: {', '.join(kinds)}"))
    if public:
        handles.append(Patch(color=_PUBLIC_COLOUR, alpha=0.6, label="public holidays (no cutover or go-live day)"))
    for name in dict.fromkeys(b.name for b in custom):
        handles.append(Patch(color=_CUSTOM_COLOUR, alpha=0.6, label=f"blackout: {name}"))
    return handles


def gantt_png(problem: Problem, plan: Plan) -> bytes:
    import matplotlib.pyplot as plt

    fig = _figure(problem, plan)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def gantt_html(problem: Problem, plan: Plan) -> str:
    """A self-contained HTML page: the chart as inline SVG and the milestone table."""
    import matplotlib
    import matplotlib.pyplot as plt

    fig = _figure(problem, plan)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text: searchable, selectable
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    rows = "\n".join(
        f"<tr><td>{html.escape(t.name)} ({t.tenant})</td><td>{t.window}</td><td>{t.milestones.training_start or ''}"
        f"</td><td>{t.milestones.training_end or ''}</td><td>{t.go_live}</td><td>{t.milestones.hypercare_end}</td></tr>"
        for t in sorted(plan.tenants, key=lambda t: (t.go_live, t.tenant))
    )
    title = html.escape(f"Go-live plan: {plan.scenario}")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>body{{font-family:sans-serif;margin:1em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}"
        "svg{max-width:100%;height:auto}</style></head><body>"
        f"<h1>{title}</h1>{svg}<h2>Milestones</h2><table><tr><th>tenant</th><th>window</th><th>training start</th>"
        f"<th>training end</th><th>go-live</th><th>hypercare end</th></tr>{rows}</table></body></html>\n"
    )
