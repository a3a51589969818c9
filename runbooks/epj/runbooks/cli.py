"""epj runbook — open an alert's runbook, list alerts beside runbooks, regenerate them.

``epj runbook EpjSomething`` shows a runbook and ``epj runbook list`` lists them:
a group that takes a free argument AND has subcommands. Click would read
``EpjSomething`` as an unknown subcommand, so :class:`_ShowByDefault` routes any
first argument that is not a subcommand to ``show``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from epj.clikit import check_out_dir, check_tenant, fail


class _ShowByDefault(TyperGroup):
    """``epj runbook X`` means ``epj runbook show X`` unless X is a subcommand or an option."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's vendored click Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


runbook_app = typer.Typer(
    name="runbook",
    cls=_ShowByDefault,
    help=(
        "On-call runbooks: [bold]epj runbook ALERTNAME[/bold] prints one; [bold]list[/bold] shows alerts and "
        "runbooks side by side and flags gaps; [bold]generate[/bold] rewrites the alert runbooks."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    subcommand_metavar="ALERTNAME | COMMAND [ARGS]...",
)


def _alert_names() -> list[str]:
    from epj.monitoring.rules import alert_names

    return list(alert_names())


@runbook_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Alert name (EpjJournalErrorBudgetBurn) or process runbook (cutover-night)."),
    plain: bool = typer.Option(False, "--plain", help="Print the Markdown source instead of rendering it."),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Fill in this municipality's number and namespace (kommunenummer, e.g. 5035)."
    ),
) -> None:
    """Print an alert's (or a process) runbook; with --tenant, its commands are filled in for that municipality.

    Examples: [bold]epj runbook EpjJournalErrorBudgetBurn --tenant 5035[/bold]; [bold]epj runbook cutover-night[/bold]
    """
    import difflib

    from epj.runbooks.index import alert_runbook_files, process_runbook_files

    files = {**process_runbook_files(), **alert_runbook_files()}
    path = files.get(name) or files.get(name.removeprefix("process/").removesuffix(".md"))
    if path is None:
        close = difflib.get_close_matches(name, list(files), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See: epj runbook list"
        known = name in _alert_names()
        reason = "is an alert without a runbook (a gap: write it)" if known else "is neither an alert nor a runbook"
        typer.echo(f"error: {name} {reason}.{hint}", err=True)
        raise typer.Exit(2)
    text = path.read_text(encoding="utf-8")
    if tenant is not None:
        text = _filled_in(name, path, tenant)
    from rich.console import Console

    console = Console()
    if plain or not console.is_terminal:
        typer.echo(text, nl=False)
        return
    from rich.markdown import Markdown

    console.print(Markdown(text))
    console.print(f"[dim]{path}[/dim]")


def _filled_in(name: str, path: Path, number: str) -> str:
    """The alert runbook rendered for one tenant: its number, name and namespace in every command."""
    from epj.runbooks.generate import GeneratorError, TenantView, render_all

    chosen = check_tenant(number)
    if path.parent.name != "alerts":
        fail(
            f"--tenant: {path.stem} is a process runbook, written for every municipality",
            f"leave out --tenant (the alert runbooks take it, e.g. epj runbook EpjJournalErrorBudgetBurn --tenant "
            f"{chosen.kommunenummer})",
        )
    view = TenantView(chosen.kommunenummer, chosen.name, chosen.namespace)
    try:
        rendered = render_all(tenant=view)
    except GeneratorError as exc:
        fail(f"cannot fill in the runbook: {exc}", "print it without --tenant and replace <KOMMUNENR> by hand")
    filename = f"{path.stem}.md"
    if filename not in rendered:
        fail(f"{path.stem} has no generated runbook", "print it without --tenant")
    return rendered[filename]


@runbook_app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="One JSON object: alerts, runbooks, missing, orphans."),
) -> None:
    """Alerts and runbooks side by side; exit 1 when an alert lacks a runbook or a runbook has no alert.

    Example: [bold]epj runbook list[/bold]
    """
    from epj.runbooks.index import build_index, process_runbook_files

    index = build_index(_alert_names())
    if as_json:
        typer.echo(json.dumps(index.to_json(), indent=2, sort_keys=False))
        raise typer.Exit(0 if index.complete else 1)
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Alerts and their runbooks", show_lines=False)
    table.add_column("alert")
    table.add_column("runbook")
    table.add_column("status")
    for alert in index.alerts:
        path = index.runbooks.get(alert)
        table.add_row(alert, path or "—", "ok" if path else "[bold red]MISSING[/bold red]")
    for orphan in index.orphans:
        table.add_row(f"[yellow]{orphan}[/yellow]", f"runbooks/alerts/{orphan}.md", "[yellow]ORPHAN: no such alert[/]")
    console = Console()
    console.print(table)
    process = process_runbook_files()
    console.print("Process runbooks: " + ", ".join(process) if process else "Process runbooks: none")
    console.print(
        f"{len(index.alerts)} alerts, {len(index.runbooks)} with runbooks, "
        f"{len(index.missing)} missing, {len(index.orphans)} orphans"
    )
    raise typer.Exit(0 if index.complete else 1)


@runbook_app.command("generate")
def generate_command(
    out: Path | None = typer.Option(None, "--out", help="Folder to write to (default: runbooks/alerts)."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 when the committed runbooks are stale."),
) -> None:
    """Render the alert runbooks from runbooks/templates and the service catalog.

    Example: [bold]epj runbook generate --check[/bold]
    """
    from epj.paths import runbooks_dir
    from epj.runbooks.generate import GeneratorError, out_of_sync, render_all, write_all

    target = check_out_dir(out) if out is not None else runbooks_dir() / "alerts"
    try:
        rendered = render_all()
    except GeneratorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if check:
        stale = out_of_sync(target, rendered)
        for name in stale:
            typer.echo(f"stale: {target / name}", err=True)
        if stale:
            typer.echo("run: epj runbook generate", err=True)
        raise typer.Exit(1 if stale else 0)
    changed = write_all(target, rendered)
    typer.echo(f"{len(rendered)} runbooks in {target}, {len(changed)} written")


@runbook_app.command("check-playbooks")
def check_playbooks_command() -> None:
    """Exit 1 when a runbook names a playbook that does not exist in runbooks/ansible/playbooks.

    Example: [bold]epj runbook check-playbooks[/bold]
    """
    from epj.runbooks.index import missing_playbooks

    problems: dict[str, Any] = missing_playbooks()
    for runbook, names in problems.items():
        typer.echo(f"{runbook}: no such playbook {', '.join(names)}", err=True)
    raise typer.Exit(1 if problems else 0)


def register(app: typer.Typer) -> None:
    """Add ``epj runbook …`` to the root app."""
    app.add_typer(runbook_app, name="runbook")
