"""``epj tenants``: check and list the municipality files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from epj.clikit import check_dir, fmt_int
from epj.tenants.loader import TenantSet, validate_tenant_dir

tenants_app = typer.Typer(
    help="The municipalities (tenants) as code: validate and list tenants/*.yaml.", no_args_is_help=True
)

_DIR_OPTION = typer.Option(None, "--dir", help="Folder of tenant files (default: the repository's tenants/).")


@tenants_app.command("validate")
def validate(directory: Path | None = _DIR_OPTION) -> None:
    """Validate every tenant file; print each error as file, field and reason; exit 1 on any error.

    Example: [bold]epj tenants validate[/bold]
    """
    console = Console(stderr=True)
    if directory is not None:
        check_dir(directory, "--dir", "folder of tenant files")
    tenant_set, errors = validate_tenant_dir(directory)
    if errors:
        for error in errors:
            console.print(f"[red]error[/red] {error.file}: [bold]{error.field}[/bold]: {error.reason}", highlight=False)
        console.print(f"[red]{len(errors)} error(s)[/red]; nothing may be deployed from this set.")
        raise typer.Exit(1)
    Console().print(f"[green]ok[/green] {len(tenant_set)} tenant files valid: {_states(tenant_set)}.")


def _states(tenant_set: TenantSet) -> str:
    """The words both commands use for a tenant's state: provisioned, or option not called."""
    provisioned = len(tenant_set.active())
    uncalled = len(tenant_set) - provisioned
    return f"{provisioned} provisioned, {uncalled} not provisioned ({_PROVISIONED_NO.removeprefix('no: ')})"


_PROVISIONED_NO = "no: option not called"


@tenants_app.command("list")
def list_tenants(directory: Path | None = _DIR_OPTION) -> None:
    """Show the municipalities as a table: role, whether provisioned, population, users, legacy systems.

    Example: [bold]epj tenants list[/bold]
    """
    if directory is not None:
        check_dir(directory, "--dir", "folder of tenant files")
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
            "yes" if t.active else _PROVISIONED_NO,
            population,
            fmt_int(t.expected_end_users),
            ", ".join(s.value for s in t.legacy_systems),
            str(len(t.services)),
        )
        total_pop += t.population.inhabitants
        total_users += t.expected_end_users
    table.caption = (
        f"{len(tenant_set)} municipalities: {_states(tenant_set)}; "
        f"{_thousands(total_pop)} inhabitants, {_thousands(total_users)} end users. "
        "* = estimate (see the file's population.note)"
    )
    Console().print(table)


_thousands = fmt_int  # Norwegian digit grouping with a space: 24 800


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")
