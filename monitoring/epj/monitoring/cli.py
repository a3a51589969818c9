"""epj monitoring — rules, dashboards, exporters (issue 7): command-line adapter.

Thin: every command calls a pure function from this package; heavy imports
(psycopg, prometheus_client, grafana-foundation-sdk) happen inside the commands.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from epj import contract
from epj.clikit import (
    check_database,
    check_dsn,
    check_env,
    check_out_dir,
    check_positive,
    check_tenant,
    check_url,
    fail,
    staged_dir,
)

monitoring_app = typer.Typer(
    name="monitoring",
    help="SLO rules, alerts, dashboards, Alertmanager routes, KPI and probe exporters from the service catalog.",
    no_args_is_help=True,
)


@monitoring_app.command("alerts")
def alerts_command(
    paths: bool = typer.Option(False, "--paths", help="Print the runbook path beside each alert name."),
) -> None:
    """Print every generated alert name, one per line (each needs runbooks/alerts/<name>.md).

    Example: [bold]epj monitoring alerts --paths[/bold]
    """
    from epj.monitoring.rules import alert_names, alert_runbook_path

    for name in alert_names():
        typer.echo(f"{name}\t{alert_runbook_path(name)}" if paths else name)


@monitoring_app.command("render")
def render_command(
    out: Path = typer.Option(..., "--out", help="Folder to write rules/, tests/, alertmanager.yml, dashboards/."),
    runbook_base: str | None = typer.Option(
        None,
        "--runbook-base",
        help="Base URL of runbook links (default: EPJ_RUNBOOK_BASE_URL, else the --env stack file's runbookBaseUrl).",
    ),
    env: str = typer.Option("prod", "--env", help="Environment whose active tenants get Alertmanager routes."),
) -> None:
    """Write Prometheus rules, promtool tests, the Alertmanager config and Grafana dashboards.

    Example: [bold]epj monitoring render --env prod --out out/monitoring[/bold]
    """
    from epj.monitoring.render import render_all
    from epj.tenants import TenantSetInvalid

    check_out_dir(out)
    env = check_env(env)
    if runbook_base is not None:
        check_url(runbook_base, "--runbook-base")
    try:
        with staged_dir(out, owned=("rules", "tests", "dashboards")) as scratch:
            written = [out / p.relative_to(scratch) for p in render_all(scratch, base_url=runbook_base, env=env)]
    except (TenantSetInvalid, ValueError, OSError) as exc:
        fail(f"cannot render monitoring into {out}: {exc}", "nothing was written; fix the cause and run again")
    for path in written:
        typer.echo(str(path))


kpi_app = typer.Typer(name="kpi", help="Clinical KPIs per municipality (from its PostgreSQL).", no_args_is_help=True)
monitoring_app.add_typer(kpi_app, name="kpi")


def _aware(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("Europe/Oslo"))


def _kommunenr(value: str) -> str:
    return check_tenant(value).kommunenummer


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) in Europe/Oslo; default: the last 30 days. Refuses an empty or inverted period."""
    period_end = _aware(end, datetime.now(ZoneInfo("Europe/Oslo")))
    period_start = _aware(start, period_end - timedelta(days=30))
    if period_start >= period_end:
        fail(f"--from {period_start:%Y-%m-%d %H:%M} is not before --to {period_end:%Y-%m-%d %H:%M}", "swap them")
    return period_start, period_end


@kpi_app.command("baseline")
def kpi_baseline_command(
    tenant: str = typer.Option(..., "--tenant", help="Kommunenummer, e.g. 5035.", callback=_kommunenr),
    dsn: str = typer.Option(..., "--dsn", envvar=contract.ENV_KPI_DSN, help="PostgreSQL DSN of the tenant's database."),
    start: datetime | None = typer.Option(None, "--from", help="Period start (Europe/Oslo; default: 30 days ago)."),
    end: datetime | None = typer.Option(None, "--to", help="Period end, exclusive (default: now)."),
) -> None:
    """Take a KPI baseline snapshot (before go-live) into epj_kpi_baseline and print it.

    Example: [bold]epj monitoring kpi baseline --tenant 5035 --dsn postgresql://…/epj --from 2027-01-01[/bold]
    """
    import psycopg

    from epj.monitoring.kpi import install, take_baseline

    period_start, period_end = _period(start, end)
    check_database(dsn)
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            install(conn)
            values = take_baseline(conn, tenant, period_start, period_end)
    except psycopg.Error as exc:
        typer.echo(f"error: cannot take the baseline for kommune {tenant}: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from exc
    for kpi, v in values.items():
        shown = "n/a" if v.value is None else f"{v.value:.4f}"
        note = "" if v.enough_data else "  (too few events to compare)"
        typer.echo(f"{kpi}\t{shown}\tn={v.n}{note}")


@kpi_app.command("show")
def kpi_show_command(
    tenant: str = typer.Option(..., "--tenant", help="Kommunenummer, e.g. 5035.", callback=_kommunenr),
    dsn: str = typer.Option(..., "--dsn", envvar=contract.ENV_KPI_DSN, help="PostgreSQL DSN of the tenant's database."),
    start: datetime | None = typer.Option(None, "--from", help="Period start (default: 30 days ago)."),
    end: datetime | None = typer.Option(None, "--to", help="Period end, exclusive (default: now)."),
) -> None:
    """Print the KPIs for a period as JSON (nothing is stored).

    Example: [bold]epj monitoring kpi show --tenant 5035 --dsn postgresql://…/epj[/bold]
    """
    import json

    import psycopg

    from epj.monitoring.kpi import compute_kpis, install

    period_start, period_end = _period(start, end)
    check_database(dsn)
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            install(conn)
            values = compute_kpis(conn, tenant, period_start, period_end)
    except psycopg.Error as exc:
        typer.echo(f"error: cannot compute the KPIs for kommune {tenant}: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({k: v.__dict__ for k, v in values.items()}, indent=2))


def _port(port: int) -> None:
    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a port", "give a number from 1 to 65535 (0 picks a free one)")


def _wait_forever() -> None:
    import threading

    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        return


@monitoring_app.command("kpi-exporter")
def kpi_exporter_command(
    dsn: str = typer.Option(
        ..., "--dsn", envvar=contract.ENV_KPI_DSN, help="PostgreSQL DSN with the kommune_<nr> schemas."
    ),
    port: int = typer.Option(contract.KPI_EXPORTER_PORT, "--port", help="Port for /metrics."),
    addr: str = typer.Option("0.0.0.0", "--addr", help="Address to listen on."),
    tenant: list[str] = typer.Option([], "--tenant", help="Only these tenants (default: every kommune_<nr> schema)."),
    as_of: datetime | None = typer.Option(None, "--as-of", help="Fixed end of the KPI periods (default: now)."),
    ttl: float = typer.Option(30.0, "--ttl", help="Seconds to reuse a computation between scrapes."),
    credentials_dir: str | None = typer.Option(
        None,
        "--db-credentials-dir",
        envvar=contract.ENV_DB_CREDENTIALS_DIR,
        help="Folder with the database Secret's files (password); read at each connect.",
    ),
) -> None:
    """Serve the clinical KPIs as Prometheus metrics with tenant labels.

    Example: [bold]epj monitoring kpi-exporter --dsn postgresql://…/epj --port 9464[/bold]
    """
    from epj.monitoring.kpi.exporter import serve
    from epj.telemetry import setup_tracing

    for nr in tenant:
        _kommunenr(nr)
    check_dsn(dsn)
    _port(port)
    check_positive(ttl, "--ttl", allow_zero=True)
    setup_tracing("epj-kpi-exporter")
    fixed = _aware(as_of, datetime.now(ZoneInfo("Europe/Oslo"))) if as_of else None
    server, _ = serve(
        dsn, port, addr=addr, tenants=list(tenant) or None, as_of=fixed, ttl=ttl, credentials_dir=credentials_dir
    )
    typer.echo(f"epj KPI exporter on {addr}:{server.server_port}/metrics")
    _wait_forever()
    server.shutdown()


@monitoring_app.command("probe-exporter")
def probe_exporter_command(
    port: int = typer.Option(contract.PROBE_EXPORTER_PORT, "--port", help="Port for /metrics."),
    addr: str = typer.Option("0.0.0.0", "--addr", help="Address to listen on."),
    env: str = typer.Option("prod", "--env", help="Environment whose active tenants are probed."),
    url_pattern: str | None = typer.Option(
        None,
        "--url-pattern",
        help="Clinical endpoint URL with {tenant} {namespace} {service} {port} {health_path}.",
    ),
    integration: list[str] = typer.Option(
        [], "--integration", help="SERVICE=URL of a national integration to probe (repeatable)."
    ),
    certificate: list[str] = typer.Option(
        [], "--certificate", help="NAME=PEM file of a platform certificate whose expiry to export (repeatable)."
    ),
    interval: float = typer.Option(30.0, "--interval", help="Seconds between probe rounds."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds before a probe counts as failed."),
) -> None:
    """Probe every tenant's clinical endpoints and the national integrations; serve the results.

    Example: [bold]epj monitoring probe-exporter --env prod --integration kjernejournal=https://…/health[/bold]
    """
    from epj.catalog import load_catalog
    from epj.monitoring.probes import DEFAULT_URL_PATTERN, clinical_targets, integration_targets, serve
    from epj.tenants import load_tenants

    env = check_env(env)
    _port(port)
    check_positive(interval, "--interval")
    check_positive(timeout, "--timeout")
    catalog = load_catalog()
    urls: dict[str, str] = {}
    for item in integration:
        service, sep, url = item.partition("=")
        if not sep or not url:
            fail(f"--integration {item!r} is not SERVICE=URL", "e.g. --integration kjernejournal=https://…/health")
        urls[service] = check_url(url, f"--integration {service}")
    try:
        targets = clinical_targets(load_tenants().active(env), catalog, url_pattern or DEFAULT_URL_PATTERN)
        targets += integration_targets(catalog, urls)
        certificates: dict[str, str] = {}
        for item in certificate:
            name, sep, path = item.partition("=")
            if not sep or not path:
                raise ValueError(f"--certificate {item!r}: expected NAME=PATH")
            certificates[name] = path
        server, _, stop = serve(targets, port, addr=addr, interval=interval, timeout=timeout, certificates=certificates)
    except (ValueError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"epj probe exporter: {len(targets)} targets, {addr}:{server.server_port}/metrics")
    _wait_forever()
    stop.set()
    server.shutdown()


def register(app: typer.Typer) -> None:
    """Add ``epj monitoring …`` to the root app."""
    app.add_typer(monitoring_app, name="monitoring")
