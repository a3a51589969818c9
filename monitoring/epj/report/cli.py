"""``epj report``: what each municipality pays, and what it gains."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from epj.clikit import (
    check_choice,
    check_database,
    check_date,
    check_env,
    check_file,
    check_out_dir,
    check_period,
    check_positive,
    check_tenant,
    check_url,
    fail,
    fmt_decimal,
    staged_dir,
)
from epj.tenants import load_tenants

if TYPE_CHECKING:
    from epj.report.model import CostModel, SplitMethod

report_app = typer.Typer(
    help="Cost showback, what-if for option holders, gains and the council report.", no_args_is_help=True
)


def _money(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def _this_month() -> str:
    return dt.date.today().strftime("%Y-%m")


def _cost_model(path: Path | None) -> CostModel:
    """The cost model, or one plain message naming the file and what is wrong with it."""
    import yaml
    from pydantic import ValidationError

    from epj.report.model import load_cost_model

    if path is not None:
        check_file(path, "--cost-model", "cost model file")
    try:
        return load_cost_model(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        fail(f"--cost-model {path}: not valid YAML{at}", "fix the file (see monitoring/cost-model.yaml)")
    except ValueError as exc:  # pydantic's ValidationError is one; YAML dates like 2030-02-30 too
        if not isinstance(exc, ValidationError):
            fail(f"--cost-model {path}: {exc}", "fix the file (see monitoring/cost-model.yaml)")
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"--cost-model {path}: {where}: {first['msg']}", "fix the file (see monitoring/cost-model.yaml)")


def _split(method: str | None) -> SplitMethod | None:
    from epj.report.model import SplitMethod

    if method is None:
        return None
    return SplitMethod(check_choice(method, [m.value for m in SplitMethod], "--method"))


@report_app.command("cost")
def cost(
    period: str = typer.Option(None, "--period", help="Month as YYYY-MM.", show_default="this month"),
    tenant: str = typer.Option(None, "--tenant", help="Only this municipality (kommunenummer, e.g. 5035)."),
    what_if: bool = typer.Option(
        False, "--what-if", help="With --tenant: estimate what calling this option municipality would cost."
    ),
    env: str = typer.Option("prod", "--env", help="Environment (Pulumi stack) whose allocations are charged."),
    method: str = typer.Option(
        None,
        "--method",
        help="Split of shared costs: population, end_users or measured_usage.",
        show_default="the cost model's",
    ),
    prometheus: str = typer.Option(None, "--prometheus", envvar="EPJ_PROMETHEUS_URL", help="Prometheus base URL."),
    cost_model_file: Path = typer.Option(
        None, "--cost-model", help="Cost model file.", show_default="monitoring/cost-model.yaml"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object as the last line."),
    month: str = typer.Option(None, "--month", hidden=True, help="Deprecated: use --period."),
    what_if_old: str = typer.Option(None, "--what-if-tenant", hidden=True, help="Deprecated: --tenant N --what-if."),
) -> None:
    """Monthly showback per tenant (allocated and measured side by side), or a what-if for an option holder.

    Examples: [bold]epj report cost --period 2027-03[/bold];
    [bold]epj report cost --tenant 5036 --what-if[/bold] (what joining would cost Frosta).
    """
    from epj.report.service import cost_report, what_if_report

    if month is not None and period is not None and month != period:
        fail("--month and --period disagree", "give only --period YYYY-MM")
    period = check_period(period or month) if (period or month) else _this_month()
    if what_if_old is not None:
        tenant, what_if = what_if_old, True
    env = check_env(env)
    split = _split(method)
    if prometheus:
        check_url(prometheus, "--prometheus")
    if what_if and tenant is None:
        fail("--what-if needs --tenant", "give the option municipality, e.g. --tenant 5036 --what-if")
    chosen = check_tenant(tenant) if tenant is not None else None
    if chosen is not None and what_if and chosen.active:
        fail(
            f"--tenant {chosen.kommunenummer} ({chosen.name}) is already provisioned; "
            "--what-if is for uncalled options",
            "leave out --what-if to see its showback",
        )
    if chosen is not None and not what_if and chosen not in load_tenants().active(env):
        fail(
            f"--tenant {chosen.kommunenummer} ({chosen.name}) is not provisioned in {env}, so it pays nothing",
            f"add --what-if to estimate what calling its option would cost (epj report cost --tenant "
            f"{chosen.kommunenummer} --what-if)",
        )
    model = _cost_model(cost_model_file)
    console = Console()
    if chosen is not None and what_if:
        result = what_if_report(chosen.kommunenummer, env=env, method=split, cost_model=model)
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
        console.print(
            f"[bold]What if {result.kommunenr} ({chosen.name}) calls its option[/bold] (cost model {model.version})"
        )
        console.print(
            f"Monthly: {fmt_decimal(result.monthly.total)} NOK   One-time: {fmt_decimal(result.one_time)} NOK"
        )
        table = Table("Tenant", "Change in monthly cost (NOK)")
        for kommunenr, change in sorted(result.others_change.items()):
            table.add_row(kommunenr, fmt_decimal(change, sign=True))
        console.print(table)
        return
    report = cost_report(period, env=env, method=split, prometheus_url=prometheus, cost_model=model)
    sb = report.showback
    shown = [t for t in report.tenants if chosen is None or t.kommunenr == chosen.kommunenummer]
    tenants_json = {
        t.kommunenr: {
            "name": t.name,
            "allocated_nok": _money(sb.allocated[t.kommunenr].total),
            "measured_nok": _money(sb.measured[t.kommunenr].total) if sb.measured else None,
        }
        for t in shown
    }
    notes = [*sb.warnings, *([report.prometheus_note] if report.prometheus_note else [])]
    payload_cost = {
        "month": report.month,
        "period": report.month,
        "env": env,
        "tenants": tenants_json,
        "platform_total_nok": _money(sb.platform_total),
        "shared_total_nok": _money(sb.shared_total),
        "method": sb.method.value,
        "cost_model_version": sb.cost_model_version,
        "private_actors": {
            a.id: {"name": a.name, "municipality": a.municipality, "item": a.item, "nok": _money(a.total)}
            for a in sb.private_actors.values()
            if chosen is None or a.municipality == chosen.kommunenummer
        },
        "notes": notes,
    }
    if as_json:
        print(json.dumps(payload_cost, ensure_ascii=False))
        return
    table = Table(title=f"Showback {report.month} ({env}, shared costs split by {sb.method.value}), NOK")
    for column in ("Tenant", "Name", "Infrastructure", "Licences", "Shared", "Allocated total", "Measured total"):
        table.add_column(column, justify="left" if column in ("Tenant", "Name") else "right")
    for t in shown:
        bill = sb.allocated[t.kommunenr]
        measured = sb.measured[t.kommunenr].total if sb.measured else None
        table.add_row(
            t.kommunenr, t.name, fmt_decimal(bill.infrastructure), fmt_decimal(bill.licences),
            fmt_decimal(bill.shared), fmt_decimal(bill.total), fmt_decimal(measured) if measured is not None else "–",
        )  # fmt: skip
    table.caption = f"Platform total {fmt_decimal(sb.platform_total)} NOK (cost model {sb.cost_model_version})"
    console.print(table)
    actors = [a for a in sb.private_actors.values() if chosen is None or a.municipality == chosen.kommunenummer]
    if actors:
        private = Table(title="Private actors (GP offices): billed to the office, not to the municipality, NOK")
        for column in ("GP office", "Name", "Municipality", "What", "Monthly"):
            private.add_column(column, justify="right" if column == "Monthly" else "left")
        for a in actors:
            private.add_row(a.id, a.name, a.municipality, a.item, fmt_decimal(a.total))
        console.print(private)
    for note in notes:
        console.print(f"[yellow]note[/yellow] {note}")


@report_app.command("gains")
def gains_command(
    tenant: str = typer.Option(..., "--tenant", help="Kommunenummer, e.g. 5035."),
    dsn: str = typer.Option(..., "--dsn", envvar="EPJ_TENANT_DSN", help="The tenant's PostgreSQL (postgresql://…)."),
    period: str = typer.Option(None, "--period", help="Month as YYYY-MM.", show_default="this month"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object as the last line."),
) -> None:
    """Each clinical KPI against the baseline taken before go-live; flags figures with too little data.

    Example: [bold]epj report gains --tenant 5035 --period 2027-03 --dsn postgresql://…/epj[/bold]
    """
    import psycopg

    from epj.monitoring.kpi.sql import KpiFunctionsMissing, require_installed
    from epj.report.gains import gains
    from epj.report.usage import month_bounds

    number = check_tenant(tenant).kommunenummer
    start, end = month_bounds(check_period(period) if period else _this_month())
    check_database(dsn)
    with psycopg.connect(dsn) as conn:
        try:
            require_installed(conn)  # reports read only: no DDL with a read-only role
        except KpiFunctionsMissing as exc:
            fail(str(exc))
        rows = gains(conn, number, start, end)
    if as_json:
        print(json.dumps({"tenant": number, "gains": [row.__dict__ | {"change": row.change} for row in rows]}))
        return
    table = Table("KPI", "Baseline", "Now", "Change", "Enough data", title=f"Gains for {number}")
    for row in rows:
        table.add_row(
            row.name,
            "–" if row.baseline is None else f"{fmt_decimal(row.baseline, 1)} {row.unit} ({row.baseline_period})",
            "–" if row.current is None else f"{fmt_decimal(row.current, 1)} {row.unit} ({row.current_period})",
            "–" if row.change is None else fmt_decimal(row.change, 1, sign=True),
            "yes" if row.enough_data else "[yellow]no: too little data to mean anything[/yellow]",
        )
    Console().print(table)


@report_app.command("council")
def council(
    tenant: str = typer.Option(..., "--tenant", help="Kommunenummer, e.g. 5035."),
    period: str = typer.Option(..., "--period", help="Month as YYYY-MM: the month the council is briefed on."),
    out: Path = typer.Option(Path("council-report"), "--out", help="Folder for the HTML, PDF and chart."),
    env: str = typer.Option("prod", "--env", help="Environment (Pulumi stack) whose allocations are charged."),
    dsn: str = typer.Option(None, "--dsn", envvar="EPJ_TENANT_DSN", help="Tenant PostgreSQL for gains."),
    prometheus: str = typer.Option(None, "--prometheus", envvar="EPJ_PROMETHEUS_URL", help="Prometheus base URL."),
    golive_file: Path = typer.Option(
        None, "--golive", help="The tenant's GoLive object as JSON (kubectl get golive … -o json) for phase and dates."
    ),
    go_live_date: str = typer.Option(None, "--go-live-date", help="YYYY-MM-DD, when no GoLive object is at hand."),
) -> None:
    """Render the council briefing (Norwegian bokmål) as HTML and PDF.

    Example: [bold]epj report council --tenant 5035 --period 2027-03 --out council/[/bold]
    """
    from epj.golive import GoLiveSpec, Phase
    from epj.report.briefing import build_briefing, phase_from_status
    from epj.report.council import GainRow, write_council_report
    from epj.report.usage import month_bounds

    number = check_tenant(tenant).kommunenummer
    period = check_period(period)
    env = check_env(env)
    check_out_dir(out)
    if prometheus:
        check_url(prometheus, "--prometheus")
    phase: Phase | None = None
    date: dt.date | None = check_date(go_live_date, "--go-live-date") if go_live_date else None
    spec: GoLiveSpec | None = None
    if golive_file is not None:
        check_file(golive_file, "--golive", "GoLive JSON file")
        try:
            golive = json.loads(golive_file.read_text(encoding="utf-8"))
            phase, date = phase_from_status(golive)
            spec = GoLiveSpec.model_validate(golive.get("spec") or {})
        except (ValueError, AttributeError) as exc:
            fail(
                f"--golive {golive_file} is not a GoLive object ({type(exc).__name__})",
                "give the output of: kubectl get golive NAME -o json",
            )
    if dsn:
        check_database(dsn)
    rows: tuple[GainRow, ...] = ()
    notes: list[str] = []
    if dsn:
        import psycopg

        from epj.monitoring.kpi.sql import KpiFunctionsMissing, require_installed
        from epj.report.gains import gains

        start, end = month_bounds(period)
        with psycopg.connect(dsn) as conn:
            try:
                require_installed(conn)  # no DDL: the council report runs with a read-only role
            except KpiFunctionsMissing as exc:
                fail(str(exc), "or leave out --dsn to render the report without gains")
            rows = gains(conn, number, start, end)
    else:
        notes.append("Gevinster er ikke målt: rapporten ble laget uten tilgang til kommunens database.")
    data = build_briefing(
        number, period, env=env, phase=phase, go_live_date=date, gain_rows=rows, prometheus_url=prometheus,
        notes=tuple(notes), golive_spec=spec,
    )  # fmt: skip
    with staged_dir(out) as scratch:
        html_path, pdf_path = write_council_report(data, scratch)
    Console().print(f"wrote {out / html_path.name} and {out / pdf_path.name}")


@report_app.command("exporter")
def exporter(
    port: int = typer.Option(9464, "--port", help="Port for /metrics."),
    address: str = typer.Option("0.0.0.0", "--address", help="Address to listen on."),
    env: str = typer.Option("prod", "--env", help="Environment (Pulumi stack) whose allocations are charged."),
    prometheus: str = typer.Option(None, "--prometheus", envvar="EPJ_PROMETHEUS_URL", help="Prometheus base URL."),
    refresh_s: int = typer.Option(3600, "--refresh", help="Seconds between recomputations of the showback."),
) -> None:
    """Serve this month's cost per tenant as Prometheus gauges (epj_tenant_cost_nok).

    Example: [bold]epj report exporter --env prod --prometheus http://prometheus:9090 --port 9466[/bold]
    """
    env = check_env(env)
    if prometheus:
        check_url(prometheus, "--prometheus")
    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a port", "give a number from 1 to 65535")
    check_positive(refresh_s, "--refresh")
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
