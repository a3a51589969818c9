"""epj rehearse — a cutover night on one machine (issue 5): the command-line adapter.

Stable interface that scripts rely on::

    epj rehearse [--tenant N ...] [--extract DIR | --generate] [--target ndjson:DIR | postgresql://…]
                 [--clock simulated|real] [--scenario NAME|FILE] [--scale S] [--seed K] [--out DIR]

writes ``DIR/rehearsal.json`` (``tenants``, ``phases``, ``downtime_s``, ``outcome``, ``reconciliation``),
``DIR/rehearsal.md`` and ``DIR/downtime.png``; exit 0 when every tenant reached Live or beyond,
1 when one was rolled back or held, 2 on a usage error. With no arguments it rehearses Stjørdal
(5035) on a small generated extract, start to finish, in well under a minute.
Heavy imports happen inside the command so ``epj --help`` stays fast.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from epj.clikit import (
    check_choice,
    check_database,
    check_dir,
    check_file,
    check_out_dir,
    check_positive,
    check_tenant,
    fail,
    mask_dsn,
)


def rehearse_cmd(
    tenant: Annotated[
        list[str] | None,
        typer.Option("--tenant", "-t", help="Kommunenummer to rehearse (repeatable). Default: the scenario's wave."),
    ] = None,
    extract: Annotated[
        Path | None,
        typer.Option(
            "--extract",
            help="Legacy extract folder (SPEC layout), or a folder of <kommunenr>-… extracts for several tenants.",
        ),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate a synthetic extract (the default when --extract is not given).")
    ] = False,
    target: Annotated[
        str | None,
        typer.Option(help="ndjson:DIR (one folder per tenant below it) or postgresql://…. Default: ndjson:OUT/target."),
    ] = None,
    clock: Annotated[
        str, typer.Option(help="simulated (months in seconds) or real (waits in real time; for near dates).")
    ] = "simulated",
    scenario: Annotated[
        str, typer.Option(help="Built-in scenario name (default, shared-wave, truncated-extract, …) or a YAML file.")
    ] = "default",
    scale: Annotated[float, typer.Option(help="Generator scale (1.0 = the tenant's full size).")] = 0.05,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
    synthetic_ids: Annotated[
        bool | None,
        typer.Option(
            "--synthetic-ids/--no-synthetic-ids",
            help="Accept synthetic national ids (default: yes for generated extracts, no for --extract).",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for rehearsal.json, rehearsal.md and downtime.png.")
    ] = Path("rehearsal-report"),
    report: Annotated[Path | None, typer.Option("--report", hidden=True, help="Deprecated: use --out.")] = None,
) -> None:
    """Rehearse a cutover night: the go-live core drives real migrations locally; report downtime and problems.

    Examples: [bold]epj rehearse[/bold] (Stjørdal on a small generated extract);
    [bold]epj rehearse --tenant 5035 --extract /path/to/extract --out night-1/[/bold]
    """
    report = check_out_dir(report or out)
    if extract is not None and generate:
        fail("give either --extract or --generate, not both", "leave out one of them")
    check_choice(clock, ["simulated", "real"], "--clock")
    for number in tenant or []:
        check_tenant(number)
    if target is not None and not target.startswith(("ndjson:", "postgresql://", "postgres://")):
        fail(f"--target {mask_dsn(target)!r} is not a target", "give ndjson:DIR or postgresql://…")
    if target is not None and target.startswith(("postgresql://", "postgres://")):
        check_database(target, "--target")  # before simulating months: a wrong database fails now
    if extract is not None:
        check_dir(extract, "--extract", "extract folder")
    check_positive(scale, "--scale")
    if scenario != "default" and scenario.endswith((".yaml", ".yml")):
        check_file(Path(scenario), "--scenario", "scenario file")

    from epj.rehearsal.display import ConsoleDisplay
    from epj.rehearsal.run import Options, rehearse

    options = Options(
        report_dir=report,
        tenants=list(tenant or []),
        extract=extract,
        target=target,
        clock=clock,
        scenario=scenario,
        scale=scale,
        seed=seed,
        synthetic_ids=synthetic_ids,
    )
    display = ConsoleDisplay(clock_label="sim" if clock == "simulated" else "real")
    existed = report.exists()
    try:
        result = rehearse(options, display)
    except (ValueError, FileNotFoundError) as error:
        if not existed:  # a usage error found while setting up: leave nothing half-written behind
            shutil.rmtree(report, ignore_errors=True)
        fail(str(error))
    data = result.report
    display.note("")
    for number, t in data["tenants"].items():
        down = f"{t['downtime_s']:.2f} s" if t["downtime_s"] is not None else "no cutover"
        display.note(f"{number}: {t['outcome']} ({t['final_phase']}), cutover downtime {down} — {t['phase_reason']}")
    display.note(f"Report: {report / 'rehearsal.md'} (also rehearsal.json, downtime.png)")
    raise typer.Exit(0 if result.all_live else 1)


def register(app: typer.Typer) -> None:
    """Add ``epj rehearse`` to the root app."""
    app.command("rehearse")(rehearse_cmd)
