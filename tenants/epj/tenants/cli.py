"""``epj tenants``: check and list the municipality files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from epj.tenants.loader import validate_tenant_dir

tenants_app = typer.Typer(
    help="The municipalities (tenants) as code: validate and list tenants/*.yaml.", no_args_is_help=True
)

_DIR_OPTION = typer.Option(None, "--dir", help="Folder of tenant files (default: the repository's tenants/).")


@tenants_app.command("validate")
def validate(directory: Path | None = _DIR_OPTION) -> None:
    """Validate every tenant file; print each error as file, field and reason; exit 1 on any error."""
    console = Console(stderr=True)
    tenant_set, errors = validate_tenant_dir(directory)
    if errors:
        for error in errors:
            console.print(f"[red]error[/red] {error.file}: [bold]{error.field}[/bold]: {error.reason}", highlight=False)
        console.print(f"[red]{len(errors)} error(s)[/red]; nothing may be deployed from this set.")
        raise typer.Exit(1)
    Console().print(f"[green]ok[/green] {len(tenant_set)} tenant files valid ({len(tenant_set.active())} active).")


@tenants_app.command("list")
def list_tenants(directory: Path | None = _DIR_OPTION) -> None:
    """Show the municipalities as a table: role, whether provisioned, population, users, legacy systems."""
    tenant_set, errors = validate_tenant_dir(directory)
    if errors:
        validate(directory)
    table = Table(title="Municipalities (tenants)")
    for column in (
        "Kommunenr",
        "Name",
        "County",
        "Role",
        "Provisioned",
        "Inhabitants",
        "End users",
        "Legacy",
        "Services",
    ):
        table.add_column(column, justify="right" if column in ("Inhabitants", "End users") else "left")
    total_pop = total_users = 0
    for t in tenant_set.tenants:
        population = _thousands(t.population.inhabitants) + ("*" if t.population.estimate else "")
        table.add_row(
            t.kommunenummer,
            t.name,
            t.county,
            t.role.value,
            "yes" if t.active else "no: option not called",
            population,
            str(t.expected_end_users),
            ", ".join(s.value for s in t.legacy_systems),
            str(len(t.services)),
        )
        total_pop += t.population.inhabitants
        total_users += t.expected_end_users
    table.caption = (
        f"{len(tenant_set)} municipalities, {len(tenant_set.active())} provisioned; "
        f"{_thousands(total_pop)} inhabitants, {_thousands(total_users)} end users. "
        "* = estimate (see the file's population.note)"
    )
    Console().print(table)


def _thousands(number: int) -> str:
    """Norwegian digit grouping with a space: 24 800."""
    return f"{number:,}".replace(",", " ")


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")
