"""The ``epj`` command: one entry point whose sub-commands each area registers.

Each area (tenants, infra, migration, operator, waves, monitoring, runbooks,
report) owns a ``cli`` module with ``register(app)``. Keeping registration in the
areas means this file never grows with their options, and heavy libraries
(Pulumi, OR-Tools, kopf) are imported inside the commands that need them, so
``epj --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

from epj.clikit import SafeGroup

app = typer.Typer(
    name="epj",
    cls=SafeGroup,
    help="epj-platform: roll out and run the nursing-and-care patient record (EPJ) for the region's municipalities.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)

# (module, what it adds) in the order they appear in --help.
AREAS: tuple[str, ...] = (
    "epj.rehearsal.cli",  # epj rehearse
    "epj.tenants.cli",  # epj tenants …
    "epj.infra.cli",  # epj render
    "epj.migration.cli",  # epj migrate …
    "epj.operator.cli",  # epj golive …, epj operator run
    "epj.waves.cli",  # epj waves …
    "epj.monitoring.cli",  # epj monitoring …
    "epj.runbooks.cli",  # epj runbook …
    "epj.report.cli",  # epj report …
)

for _module in AREAS:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
