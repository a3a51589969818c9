"""epj migrate — legacy extracts (Profil CSV, CGM XML) to FHIR R4 (issue 3): the command-line adapter.

Stable interface that scripts rely on:

- ``epj migrate run EXTRACT_DIR --target URL [--synthetic-ids] [--dry-run] --report DIR [--tenant N]``
  (exit 0 only when the reconciliation is complete; 1 when incomplete; 2 when the run was refused)
- ``epj migrate generate OUT_DIR --kommunenr N [--scale S] [--seed K]``
- ``epj migrate bench --json [--scale S]`` (last output line: one JSON object)

Heavy imports (psycopg, the pipeline) happen inside the commands so ``epj --help`` stays fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

migrate_app = typer.Typer(
    name="migrate",
    help="Migrate a municipality's legacy extracts (Profil, CGM) to FHIR R4: run, generate, bench.",
    no_args_is_help=True,
)


def _progress_reporter(label: str) -> tuple[Any, Any]:
    """(progress callback, close) — a Rich bar with rate and ETA on a terminal, plain lines otherwise."""
    import time

    if sys.stderr.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]} rec/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        bar.start()
        task = bar.add_task(label, total=None, rate="-")
        start = time.perf_counter()

        def update(done: int, total: int | None) -> None:
            elapsed = time.perf_counter() - start
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:,.0f}" if elapsed else "-")

        return update, bar.stop

    state = {"last": 0.0, "start": time.perf_counter()}

    def plain(done: int, total: int | None) -> None:
        now = time.perf_counter()
        if now - state["last"] < 5 and (total is None or done < total):
            return
        state["last"] = now
        elapsed = now - state["start"]
        rate = done / elapsed if elapsed else 0.0
        eta = f", ETA {max(total - done, 0) / rate:.0f} s" if total and rate else ""
        of = f"/{total}" if total else ""
        print(f"{label}: {done}{of} records, {rate:,.0f} rec/s{eta}", file=sys.stderr, flush=True)

    return plain, lambda: None


@migrate_app.command("run")
def run_cmd(
    extract_dir: Annotated[Path, typer.Argument(help="Extract folder (UTTREKK.txt, profil/, cgm/).")],
    report: Annotated[Path, typer.Option("--report", help="Folder for reconciliation.json/.md, quarantine.ndjson.")],
    target: Annotated[
        str | None, typer.Option("--target", help="ndjson:DIR or postgresql://… (not needed with --dry-run).")
    ] = None,
    synthetic_ids: Annotated[
        bool, typer.Option("--synthetic-ids", help="Test/rehearsal run: synthetic national ids count as valid.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read, map, reconcile; write nothing.")] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Kommunenummer being migrated; the manifest must match.")
    ] = None,
    validate_fhir: Annotated[
        bool,
        typer.Option("--validate-fhir", help="Validate every resource with fhir.resources R4B (measured ~11x slower)."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG.")] = False,
) -> None:
    """Migrate one extract into the target; exit 0 only when the reconciliation is complete."""
    from epj.migration.pipeline import MigrationError, run_migration

    # On a terminal the progress bar tells the story (INFO lines would tear it); logs keep INFO lines.
    quiet = sys.stderr.isatty() and not verbose
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s %(message)s")
    if target is None and not dry_run:
        typer.echo("error: --target is required unless --dry-run", err=True)
        raise typer.Exit(2)
    update, close = _progress_reporter(f"migrate {extract_dir.name}")
    try:
        result = run_migration(
            extract_dir,
            target,
            kommunenr=tenant,
            synthetic_ids=synthetic_ids,
            dry_run=dry_run,
            report_dir=report,
            progress=update,
            validate_fhir=validate_fhir,
        )
    except MigrationError as exc:
        close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (OSError, ValueError) as exc:
        close()
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            raise
        close()
        typer.echo(f"error: PostgreSQL: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", err=True)
        raise typer.Exit(2) from None
    close()
    quarantined = sum(result["quarantine"].values())
    status = "complete" if result["complete"] else f"NOT complete ({result.get('error', 'unaccounted records')})"
    typer.echo(
        f"kommune {result['kommunenr']}: {status}; {sum(result['resources'].values())} resources, "
        f"{quarantined} records quarantined; report in {report}"
    )
    raise typer.Exit(0 if result["complete"] else 1)


@migrate_app.command("generate")
def generate_cmd(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the synthetic extract into.")],
    kommunenr: Annotated[str, typer.Option("--kommunenr", help="4-digit kommunenummer.")],
    scale: Annotated[float, typer.Option("--scale", help="Size factor (1.0 = realistic for the population).")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same extract).")] = 0,
) -> None:
    """Write a SPEC-conformant synthetic extract (synthetic national ids only)."""
    try:
        from epj.migration.generate import generate_extract  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        typer.echo("error: the extract generator (epj.migration.generate) is not installed yet", err=True)
        raise typer.Exit(2) from None
    update, close = _progress_reporter(f"generate {kommunenr}")
    try:
        summary = generate_extract(out_dir, kommunenr, scale=scale, seed=seed, progress=lambda done: update(done, None))
    except ValueError as exc:
        close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    close()
    typer.echo(f"wrote {summary.records} source records for kommune {kommunenr} to {out_dir}")


@migrate_app.command("bench")
def bench_cmd(
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON line (last line).")] = False,
    scale: Annotated[float, typer.Option("--scale", help="Extract size factor (1.0 = Stjørdal size).")] = 1.0,
    kommunenr: Annotated[str, typer.Option("--kommunenr", help="Municipality whose size to generate.")] = "5035",
    dsn: Annotated[
        str, typer.Option("--admin-dsn", help="PostgreSQL server to create the scratch database on.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    extract: Annotated[
        Path | None, typer.Option("--extract", help="Use this extract instead of generating one.")
    ] = None,
) -> None:
    """Whole pipeline into a scratch database vs the raw COPY rate of the same rows; prints JSON."""
    import orjson

    from epj.migration.bench import run_bench

    result = run_bench(scale=scale, kommunenr=kommunenr, admin_dsn=dsn, extract=extract, log=lambda m: typer.echo(m))
    if json_out:
        typer.echo(orjson.dumps(result).decode())
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    """Add `epj migrate …` to the root `epj` app."""
    app.add_typer(migrate_app, name="migrate")
