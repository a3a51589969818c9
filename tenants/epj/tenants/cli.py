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

#: The population the tender states for the 22 municipalities (SSB, Q3 2024): the import is checked against it.
TENDER_POPULATION = 144_431


@tenants_app.command("population")
def population(
    source: Path = typer.Option(..., "--from", help="CSV exported from Statistikkbanken (table 07459 or 01222)."),
    quarter: str = typer.Option(None, "--quarter", help="Quarter to take, e.g. 2024K3.", show_default="the latest"),
    table: str = typer.Option("07459", "--table", help="The SSB table number, recorded as the figures' source."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the changes without writing the files."),
    directory: Path | None = _DIR_OPTION,
) -> None:
    """Import exact populations from a Statistics Norway table export into every tenant file (estimate: false).

    Every municipality must be in the file; nothing is written unless all files update cleanly.

    Example: [bold]epj tenants population --from 07459.csv --quarter 2024K3[/bold]
    """
    import os
    import tempfile

    from epj.clikit import check_file, fail
    from epj.paths import tenants_dir
    from epj.tenants.loader import parse_tenant_file
    from epj.tenants.population import (
        PopulationFileError,
        parse_population_csv,
        population_block,
        replace_population_block,
    )

    check_file(source, "--from", "SSB table export (CSV)")
    if not table.isdigit() or len(table) != 5:
        fail(f"--table {table!r} is not an SSB table number", "give the five digits, e.g. 07459")
    folder = directory or tenants_dir()
    check_dir(folder, "--dir", "folder of tenant files")
    tenant_set, errors = validate_tenant_dir(folder)
    if errors:
        fail(f"the tenant files have {len(errors)} error(s)", "run `epj tenants validate` and fix them first")
    try:
        figures = parse_population_csv(source.read_bytes(), quarter)
    except PopulationFileError as exc:
        fail(f"--from {source} {exc}")
    missing = [t.kommunenummer for t in tenant_set.tenants if t.kommunenummer not in figures]
    if missing:
        fail(
            f"--from {source} has no figure for {', '.join(missing)}",
            "export the table with every municipality of the region selected",
        )
    from epj.catalog import load_catalog

    catalog = load_catalog()
    updates: list[tuple[Path, str]] = []
    console = Console()
    table_rows = Table(title=f"Populations from SSB table {table}, {next(iter(figures.values())).quarter}")
    for column in ("Kommunenr", "Name", "Before", "After", "Change"):
        table_rows.add_column(column, justify="left" if column in ("Kommunenr", "Name") else "right")
    for tenant in tenant_set.tenants:
        figure = figures[tenant.kommunenummer]
        path = folder / f"{tenant.file_stem}.yaml"
        text = replace_population_block(path.read_text(encoding="utf-8"), population_block(figure, table))
        with tempfile.TemporaryDirectory() as scratch:  # the new text must still be a valid tenant file
            trial = Path(scratch) / path.name
            trial.write_text(text, encoding="utf-8")
            parsed, problems = parse_tenant_file(trial, catalog)
        if parsed is None:
            fail(f"updating {path.name} would make it invalid: {problems[0]}", "fix the file by hand, then retry")
        updates.append((path, text))
        before = tenant.population.inhabitants
        table_rows.add_row(
            tenant.kommunenummer, tenant.name, _thousands(before) + ("*" if tenant.population.estimate else ""),
            _thousands(figure.inhabitants), f"{figure.inhabitants - before:+d}",
        )  # fmt: skip
    total = sum(figures[t.kommunenummer].inhabitants for t in tenant_set.tenants)
    table_rows.caption = f"total {_thousands(total)} inhabitants (the tender states {_thousands(TENDER_POPULATION)})"
    console.print(table_rows)
    if dry_run:
        console.print("dry run: no file written")
        return
    for path, text in updates:  # every new text is checked; now replace each file atomically
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    console.print(f"[green]ok[/green] {len(updates)} tenant files now carry exact SSB figures (estimate: false)")
    if total != TENDER_POPULATION and len(tenant_set) == 22:
        console.print(
            f"[yellow]note[/yellow] the total {_thousands(total)} differs from the tender's "
            f"{_thousands(TENDER_POPULATION)}: check the quarter (the tender used 2024K3)"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")
