"""``epj report``: what each municipality pays, and what it gains."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

report_app = typer.Typer(
    help="Cost showback, what-if for option holders, gains and the council report.", no_args_is_help=True
)


def _money(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def _this_month() -> str:
    return dt.date.today().strftime("%Y-%m")


@report_app.command("cost")
def cost(
    month: str = typer.Option(None, "--month", help="YYYY-MM (default: this month)."),
    what_if_kommunenr: str = typer.Option(None, "--what-if", help="Estimate for an option holder that has not joined."),
    env: str = typer.Option("prod", "--env", help="Environment (Pulumi stack) whose allocations are charged."),
    method: str = typer.Option(None, "--method", help="Split of shared costs: population, end_users, measured_usage."),
    prometheus: str = typer.Option(None, "--prometheus", envvar="EPJ_PROMETHEUS_URL", help="Prometheus base URL."),
    cost_model_file: Path = typer.Option(
        None, "--cost-model", help="Cost model file (default: monitoring/cost-model.yaml)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object as the last line."),
) -> None:
    """Monthly showback per tenant (allocated and measured side by side), or a what-if for an option holder."""
    from epj.report.model import SplitMethod, load_cost_model
    from epj.report.service import cost_report, what_if_report

    model = load_cost_model(cost_model_file)
    split = SplitMethod(method) if method else None
    console = Console()
    if what_if_kommunenr:
        result = what_if_report(what_if_kommunenr, env=env, method=split, cost_model=model)
        payload = {
            "kommunenr": result.kommunenr,
            "monthly_nok": _money(result.monthly.total),
            "monthly_breakdown_nok": {
                "infrastructure": _money(result.monthly.infrastructure),
                "licences": _money(result.monthly.licences),
                "shared": _money(result.monthly.shared),
            },
            "one_time_nok": _money(result.one_time),
            "others_change_nok": {k: _money(v) for k, v in sorted(result.others_change.items())},
            "cost_model_version": model.version,
        }
        if as_json:
            print(json.dumps(payload, ensure_ascii=False))
            return
        console.print(f"[bold]What if {result.kommunenr} calls its option[/bold] (cost model {model.version})")
        console.print(f"Monthly: {payload['monthly_nok']:,.2f} NOK   One-time: {payload['one_time_nok']:,.2f} NOK")
        table = Table("Tenant", "Change in monthly cost (NOK)")
        for kommunenr, change in sorted(result.others_change.items()):
            table.add_row(kommunenr, f"{change:+,.2f}")
        console.print(table)
        return
    report = cost_report(month or _this_month(), env=env, method=split, prometheus_url=prometheus, cost_model=model)
    sb = report.showback
    tenants_json = {
        t.kommunenr: {
            "name": t.name,
            "allocated_nok": _money(sb.allocated[t.kommunenr].total),
            "measured_nok": _money(sb.measured[t.kommunenr].total) if sb.measured else None,
        }
        for t in report.tenants
    }
    notes = [*sb.warnings, *([report.prometheus_note] if report.prometheus_note else [])]
    payload_cost = {
        "month": report.month,
        "env": env,
        "tenants": tenants_json,
        "platform_total_nok": _money(sb.platform_total),
        "shared_total_nok": _money(sb.shared_total),
        "method": sb.method.value,
        "cost_model_version": sb.cost_model_version,
        "notes": notes,
    }
    if as_json:
        print(json.dumps(payload_cost, ensure_ascii=False))
        return
    table = Table(title=f"Showback {report.month} ({env}, shared costs split by {sb.method.value})")
    for column in ("Tenant", "Name", "Infrastructure", "Licences", "Shared", "Allocated total", "Measured total"):
        table.add_column(column, justify="left" if column in ("Tenant", "Name") else "right")
    for t in report.tenants:
        bill = sb.allocated[t.kommunenr]
        measured = sb.measured[t.kommunenr].total if sb.measured else None
        table.add_row(
            t.kommunenr, t.name, f"{bill.infrastructure:,.2f}", f"{bill.licences:,.2f}", f"{bill.shared:,.2f}",
            f"{bill.total:,.2f}", f"{measured:,.2f}" if measured is not None else "–",
        )  # fmt: skip
    table.caption = f"Platform total {sb.platform_total:,.2f} NOK (cost model {sb.cost_model_version})"
    console.print(table)
    for note in notes:
        console.print(f"[yellow]note[/yellow] {note}")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
