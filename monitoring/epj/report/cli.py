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


@report_app.command("gains")
def gains_command(
    tenant: str = typer.Option(..., "--tenant", help="Kommunenummer."),
    dsn: str = typer.Option(..., "--dsn", envvar="EPJ_TENANT_DSN", help="The tenant's PostgreSQL (postgresql://…)."),
    period: str = typer.Option(None, "--period", help="YYYY-MM (default: this month)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Each clinical KPI against the baseline taken before go-live; flags figures with too little data."""
    import psycopg

    from epj.monitoring.kpi.sql import install
    from epj.report.gains import gains
    from epj.report.usage import month_bounds

    start, end = month_bounds(period or _this_month())
    with psycopg.connect(dsn) as conn:
        install(conn)
        rows = gains(conn, tenant, start, end)
    if as_json:
        print(json.dumps({"tenant": tenant, "gains": [row.__dict__ | {"change": row.change} for row in rows]}))
        return
    table = Table("KPI", "Baseline", "Now", "Change", "Enough data", title=f"Gains for {tenant}")
    for row in rows:
        table.add_row(
            row.name,
            "–" if row.baseline is None else f"{row.baseline:.1f} {row.unit} ({row.baseline_period})",
            "–" if row.current is None else f"{row.current:.1f} {row.unit} ({row.current_period})",
            "–" if row.change is None else f"{row.change:+.1f}",
            "yes" if row.enough_data else "[yellow]no: too little data to mean anything[/yellow]",
        )
    Console().print(table)


@report_app.command("council")
def council(
    tenant: str = typer.Option(..., "--tenant", help="Kommunenummer."),
    period: str = typer.Option(..., "--period", help="YYYY-MM: the month the council is briefed on."),
    out: Path = typer.Option(Path("council-report"), "--out", help="Folder for the HTML, PDF and chart."),
    env: str = typer.Option("prod", "--env"),
    dsn: str = typer.Option(None, "--dsn", envvar="EPJ_TENANT_DSN", help="Tenant PostgreSQL for gains."),
    prometheus: str = typer.Option(None, "--prometheus", envvar="EPJ_PROMETHEUS_URL", help="Prometheus base URL."),
    golive_file: Path = typer.Option(
        None, "--golive", help="The tenant's GoLive object as JSON (kubectl get golive … -o json) for phase and dates."
    ),
    go_live_date: str = typer.Option(None, "--go-live-date", help="YYYY-MM-DD, when no GoLive object is at hand."),
) -> None:
    """Render the council briefing (Norwegian bokmål) as HTML and PDF."""
    from epj.golive import GoLiveSpec, Phase
    from epj.report.briefing import build_briefing, phase_from_status
    from epj.report.council import GainRow, write_council_report
    from epj.report.usage import month_bounds

    phase: Phase | None = None
    date: dt.date | None = dt.date.fromisoformat(go_live_date) if go_live_date else None
    spec: GoLiveSpec | None = None
    if golive_file is not None:
        golive = json.loads(golive_file.read_text(encoding="utf-8"))
        phase, date = phase_from_status(golive)
        spec = GoLiveSpec.model_validate(golive.get("spec") or {})
    rows: tuple[GainRow, ...] = ()
    notes: list[str] = []
    if dsn:
        import psycopg

        from epj.monitoring.kpi.sql import install
        from epj.report.gains import gains

        start, end = month_bounds(period)
        with psycopg.connect(dsn) as conn:
            install(conn)
            rows = gains(conn, tenant, start, end)
    else:
        notes.append("Gevinster er ikke målt: rapporten ble laget uten tilgang til kommunens database.")
    data = build_briefing(
        tenant, period, env=env, phase=phase, go_live_date=date, gain_rows=rows, prometheus_url=prometheus,
        notes=tuple(notes), golive_spec=spec,
    )  # fmt: skip
    html_path, pdf_path = write_council_report(data, out)
    Console().print(f"wrote {html_path} and {pdf_path}")


@report_app.command("exporter")
def exporter(
    port: int = typer.Option(9464, "--port", help="Port for /metrics."),
    address: str = typer.Option("0.0.0.0", "--address", help="Address to listen on."),
    env: str = typer.Option("prod", "--env"),
    prometheus: str = typer.Option(None, "--prometheus", envvar="EPJ_PROMETHEUS_URL", help="Prometheus base URL."),
    refresh_s: int = typer.Option(3600, "--refresh", help="Seconds between recomputations of the showback."),
) -> None:
    """Serve this month's cost per tenant as Prometheus gauges (epj_tenant_cost_nok)."""
    import threading

    from prometheus_client import REGISTRY, start_http_server

    from epj.report.cost import Showback
    from epj.report.metrics import CostCollector
    from epj.report.service import cost_report

    latest: list[Showback] = []

    def refresh() -> None:
        report = cost_report(_this_month(), env=env, prometheus_url=prometheus)
        latest[:] = [report.showback]

    refresh()
    REGISTRY.register(CostCollector(lambda: latest[0] if latest else None))
    start_http_server(port, addr=address)
    Console(stderr=True).print(f"cost exporter on {address}:{port}/metrics, refreshing every {refresh_s}s")
    stop = threading.Event()
    while not stop.wait(refresh_s):
        try:
            refresh()
        except Exception as exc:  # keep serving the last good figures
            Console(stderr=True).print(f"[yellow]refresh failed[/yellow]: {exc}")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
