"""epj migrate — legacy extracts (Profil CSV, CGM XML) to FHIR R4 (issue 3): the command-line adapter.

Stable interface that scripts rely on:

- ``epj migrate run EXTRACT_DIR --target URL [--synthetic-ids] [--dry-run] --out DIR [--tenant N] [--run-id ID]``
  (exit 0 only when the reconciliation is complete; 1 when incomplete; 2 when the run was refused, e.g.
  ``TENANT_LIVE``, ``ENCODING_MISMATCH``; 130 when interrupted with Ctrl-C)
- ``epj migrate seal --tenant N [--dsn URL] [--by TEXT]`` — the go-live seal of a tenant's store
- ``epj migrate generate --tenant N --out DIR [--scale S] [--seed K]``
- ``epj migrate bench --json [--scale S]`` (last output line: one JSON object)

Heavy imports (psycopg, the pipeline) happen inside the commands so ``epj --help`` stays fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from epj.clikit import (
    check_database,
    check_dir,
    check_kommunenr,
    check_out_dir,
    check_positive,
    check_tenant,
    fail,
    staged_dir,
)
from epj.numbers import fmt_int

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
            bar.update(task, completed=done, total=total, rate=fmt_int(round(done / elapsed)) if elapsed else "-")

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
        print(f"{label}: {done}{of} records, {fmt_int(round(rate))} rec/s{eta}", file=sys.stderr, flush=True)

    return plain, lambda: None


@migrate_app.command("run")
def run_cmd(
    extract_dir: Annotated[Path, typer.Argument(help="Extract folder (UTTREKK.txt, profil/, cgm/).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for reconciliation.json/.md, quarantine.ndjson.")
    ] = None,
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
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id", help="This run's name in the store's ledger (default: $EPJ_MIGRATION_RUN or generated)."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG.")] = False,
    report: Annotated[Path | None, typer.Option("--report", hidden=True, help="Deprecated: use --out.")] = None,
) -> None:
    """Migrate one extract into the target; exit 0 only when the reconciliation is complete.

    Example: [bold]epj migrate run extracts/5035 --tenant 5035 --target postgresql://epj@db/epj --out report/5035[/bold]
    """
    from epj.migration.pipeline import MigrationError, MigrationInterrupted, run_migration
    from epj.migration.readers import MANIFEST_NAME, ExtractError, read_manifest
    from epj.migration.reconciliation import summary_lines

    # On a terminal the progress bar tells the story (INFO lines would tear it); logs keep INFO lines.
    quiet = sys.stderr.isatty() and not verbose
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s %(message)s")
    if out is None and report is None:
        fail("--out is missing", "give the folder for the reconciliation report, e.g. --out report/5035")
    report = check_out_dir(out or report)  # type: ignore[arg-type]
    check_dir(extract_dir, "EXTRACT_DIR", "extract folder")
    if tenant is not None:
        check_tenant(tenant)
    else:  # the extract names its municipality: it must be a tenant too (as --tenant would have to be)
        try:
            named = read_manifest(extract_dir).kommunenr
        except ExtractError:
            named = None  # the run reports what is wrong with the manifest
        if named is not None:
            check_tenant(named, f"{MANIFEST_NAME} kommunenr")
    if target is None and not dry_run:
        fail("--target is missing", "give postgresql://… or ndjson:DIR, or add --dry-run")
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
            run_id=run_id,
            notice=_notice,
        )
    except MigrationInterrupted as exc:
        close()
        typer.echo(f"epj migrate run: {exc.explain()}", err=True)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        close()
        typer.echo("epj migrate run: interrupted (Ctrl-C) before loading began: nothing was written", err=True)
        raise typer.Exit(130) from None
    except MigrationError as exc:
        close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except FileExistsError as exc:
        close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (OSError, ValueError) as exc:
        close()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            raise
        close()
        typer.echo(f"error: {database_problem(exc, target)}", err=True)
        raise typer.Exit(2) from None
    close()
    lines = summary_lines(result)
    lines[0] += f"; report in {report}"
    for line in lines:
        typer.echo(line)
    raise typer.Exit(0 if result["complete"] else 1)


def _notice(message: str) -> None:
    """A message for the person at the console now (above a progress bar, if one is drawn)."""
    print(message, file=sys.stderr, flush=True)


def database_problem(exc: BaseException, target: str | None) -> str:
    """One plain sentence for a PostgreSQL error (no password: psycopg's messages never echo it)."""
    from epj.migration.targets import dsn_host

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = f" at {dsn_host(target)}" if target else ""
    hint = ""
    lowered = first.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = " Check the user and password (a password with @, : or / must be percent-encoded in the URL)."
    elif "could not translate host name" in lowered or "failed to resolve host" in lowered:
        hint = " Check the host name in the URL (a password with @ must be percent-encoded as %40)."
    elif "does not exist" in lowered and "database" in lowered:
        hint = " Create the database first, or name an existing one in the URL."
    elif "connection refused" in lowered or "timeout" in lowered:
        hint = " Is PostgreSQL running and reachable from here?"
    return f"PostgreSQL{where}: {first}.{hint} Nothing was written."


@migrate_app.command("generate")
def generate_cmd(
    out_arg: Annotated[
        Path | None, typer.Argument(hidden=True, help="Deprecated: use --out.", show_default=False)
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder to write the synthetic extract into.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Kommunenummer, e.g. 5035.")] = None,
    scale: Annotated[float, typer.Option("--scale", help="Size factor (1.0 = realistic for the population).")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same extract).")] = 0,
    kommunenr: Annotated[str | None, typer.Option("--kommunenr", hidden=True, help="Deprecated: --tenant.")] = None,
) -> None:
    """Write a SPEC-conformant synthetic extract (synthetic national ids only).

    Example: [bold]epj migrate generate --tenant 5035 --scale 0.05 --out extracts/5035[/bold]
    """
    from epj.tenants import load_tenants

    out_dir = out or out_arg
    if out_dir is None:
        fail("--out is missing", "give the folder for the extract, e.g. --out extracts/5035")
    check_out_dir(out_dir)
    kommunenr = tenant or kommunenr
    if kommunenr is None:
        fail("--tenant is missing", "give the municipality whose extract to generate, e.g. --tenant 5035")
    check_kommunenr(kommunenr)
    check_positive(scale, "--scale")
    known = {t.kommunenummer: t.name for t in load_tenants().tenants}
    if kommunenr not in known:
        listing = ", ".join(f"{k} {v}" for k, v in sorted(known.items()))
        fail(f"--tenant {kommunenr} is not a tenant (tenants/*.yaml)", f"use one of: {listing}")
    try:
        from epj.migration.generate import generate_extract  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        typer.echo("error: the extract generator (epj.migration.generate) is not installed yet", err=True)
        raise typer.Exit(2) from None
    update, close = _progress_reporter(f"generate {kommunenr}")
    try:
        with staged_dir(out_dir) as scratch:
            summary = generate_extract(
                scratch, kommunenr, scale=scale, seed=seed, progress=lambda done: update(done, None)
            )
    except ValueError as exc:
        close()
        fail(str(exc))
    close()
    typer.echo(f"wrote {summary.records} source records for kommune {kommunenr} to {out_dir}")


@migrate_app.command("bench")
def bench_cmd(
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON line (last line).")] = False,
    scale: Annotated[float, typer.Option("--scale", help="Extract size factor (1.0 = Stjørdal size).")] = 1.0,
    tenant: Annotated[str, typer.Option("--tenant", help="Municipality whose size to generate.")] = "5035",
    dsn: Annotated[
        str, typer.Option("--dsn", help="PostgreSQL server to create the scratch database on.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    extract: Annotated[
        Path | None, typer.Option("--extract", help="Use this extract instead of generating one.")
    ] = None,
    kommunenr: Annotated[str | None, typer.Option("--kommunenr", hidden=True, help="Deprecated: --tenant.")] = None,
    admin_dsn: Annotated[str | None, typer.Option("--admin-dsn", hidden=True, help="Deprecated: --dsn.")] = None,
) -> None:
    """Whole pipeline into a scratch database vs the raw COPY rate of the same rows; prints JSON.

    Example: [bold]epj migrate bench --json --scale 0.2[/bold]
    """
    import orjson

    from epj.migration.bench import run_bench

    kommunenr = check_tenant(kommunenr or tenant).kommunenummer
    dsn = check_database(admin_dsn or dsn)
    check_positive(scale, "--scale")
    if extract is not None:
        check_dir(extract, "--extract", "extract folder")

    result = run_bench(scale=scale, kommunenr=kommunenr, admin_dsn=dsn, extract=extract, log=lambda m: typer.echo(m))
    if json_out:
        typer.echo(orjson.dumps(result).decode())
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@migrate_app.command("seal")
def seal_cmd(
    tenant: Annotated[str, typer.Option("--tenant", help="Kommunenummer whose store goes live.")],
    dsn: Annotated[
        str,
        typer.Option("--dsn", help="postgresql://… of the tenant's store (default: libpq's PG* environment)."),
    ] = "",
    by: Annotated[
        str, typer.Option("--by", help="Who or what seals (a role or process, never a person's name).")
    ] = "epj migrate seal",
    target: Annotated[str, typer.Option("--target", hidden=True, help="Deprecated: use --dsn.")] = "",
) -> None:
    """Seal a tenant's store at go-live: from then on every migration run into it is refused.

    The go-live does this itself (operator: a Job at Cutover → Live; rehearsal: directly). Idempotent:
    a sealed store keeps its first record.

    Example: [bold]epj migrate seal --tenant 5035 --dsn postgresql://epj@db/epj[/bold]
    """
    target = dsn or target
    import psycopg

    from epj.migration.store import seal_tenant
    from epj.migration.targets import check_dsn, tenant_schema

    try:
        tenant = check_tenant(tenant).kommunenummer  # an unknown number must not get a seal of its own
        tenant_schema(tenant)
        if target:
            check_dsn(target)
        seal, created = seal_tenant(target, tenant, sealed_by=by, notice=_notice)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except psycopg.Error as exc:
        typer.echo(f"error: {database_problem(exc, target)}", err=True)
        raise typer.Exit(2) from None
    typer.echo(("sealed: " if created else "already sealed: ") + seal.describe())
    if created and seal.live_run is None:  # libpq's defaults or a typo may have reached another database
        typer.echo(
            f"warning: no migration run has published into kommune {tenant}'s store in this database; "
            "if it is not the tenant's store, check --dsn (the seal stays: go-live happens once)",
            err=True,
        )


def register(app: typer.Typer) -> None:
    """Add `epj migrate …` to the root `epj` app."""
    app.add_typer(migrate_app, name="migrate")
