"""epj monitoring — rules, dashboards, exporters (issue 7): command-line adapter.

Thin: every command calls a pure function from this package; heavy imports
(psycopg, prometheus_client, grafana-foundation-sdk) happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

monitoring_app = typer.Typer(
    name="monitoring",
    help="SLO rules, alerts, dashboards, Alertmanager routes, KPI and probe exporters from the service catalog.",
    no_args_is_help=True,
)


@monitoring_app.command("alerts")
def alerts_command(
    paths: bool = typer.Option(False, "--paths", help="Print the runbook path beside each alert name."),
) -> None:
    """Print every generated alert name, one per line (each needs runbooks/alerts/<name>.md)."""
    from epj.monitoring.rules import alert_names, alert_runbook_path

    for name in alert_names():
        typer.echo(f"{name}\t{alert_runbook_path(name)}" if paths else name)


@monitoring_app.command("render")
def render_command(
    out: Path = typer.Option(..., "--out", help="Folder to write rules/, tests/, alertmanager.yml, dashboards/."),
    runbook_base: str | None = typer.Option(
        None, "--runbook-base", help="Base URL of runbook links (default: EPJ_RUNBOOK_BASE_URL or a placeholder)."
    ),
    env: str = typer.Option("prod", "--env", help="Environment whose active tenants get Alertmanager routes."),
) -> None:
    """Write Prometheus rules, promtool tests, the Alertmanager config and Grafana dashboards."""
    from epj.monitoring.render import render_all

    written = render_all(out, base_url=runbook_base, env=env)
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add ``epj monitoring …`` to the root app."""
    app.add_typer(monitoring_app, name="monitoring")
