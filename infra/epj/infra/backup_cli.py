"""``epj backup``: the on-call's point-in-time recovery commands (runbooks/process/restore-point-in-time.md).

- ``restore-manifest`` writes the recovery Cluster (and its NetworkPolicy) for one tenant at a
  time in the PITR window: a new cluster, never the live ``epj-db`` (:mod:`epj.infra.restore`).
- ``verify-restore`` checks the restored database once it runs: promoted (no longer replaying),
  and what it holds (rows per table of the tenant's schema), written as JSON for the record.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

backup_app = typer.Typer(help="Point-in-time recovery of a municipality's database (new cluster, never the live one).")


def _parse_time(value: str) -> dt.datetime:
    from epj.clikit import fail

    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--to {value!r} is not a date and time", "give e.g. 2026-12-04T11:30:00+01:00")
    if parsed.tzinfo is None:
        fail(f"--to {value!r} has no time zone", "add one, e.g. 2026-12-04T11:30:00+01:00 or …Z")
    return parsed


@backup_app.command("restore-manifest")
def restore_manifest(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Kommunenummer, e.g. 5035.")],
    to: Annotated[str, typer.Option("--to", help="Recovery target time with time zone (ISO 8601).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write the manifests to (YAML).")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment = Pulumi stack (test, prod).")] = "prod",
    name: Annotated[
        str | None,
        typer.Option("--name", help="Name of the new cluster.", show_default="epj-db-pitr-<target time>"),
    ] = None,
) -> None:
    """Write the recovery Cluster for a municipality at a point in time: review it, then kubectl apply it.

    Example: [bold]epj backup restore-manifest --tenant 5035 --to 2026-12-04T11:30:00+01:00 --out pitr-5035.yaml[/bold]
    """
    from rich.console import Console

    from epj.catalog import load_catalog
    from epj.clikit import check_tenant, fail
    from epj.infra.config import InfraConfigError, load_stack_config
    from epj.infra.render import to_yaml
    from epj.infra.restore import RestoreRefused, recovery_manifests
    from epj.infra.validate import validate_objects
    from epj.paths import tenants_dir
    from epj.tenants.model import Environment
    from epj.tenants.provisioned import read_registry
    from epj.tenants.sizing import tenant_sizing

    try:
        environment = Environment(env).value
    except ValueError:
        fail(f"--env {env!r} is not an environment", f"use one of {', '.join(e.value for e in Environment)}")
    target = _parse_time(to)
    chosen = check_tenant(tenant, active_in=environment)
    if out.is_dir():
        fail(f"--out {out} is a folder", "give the file to write the manifests to, e.g. --out pitr-5035.yaml")
    try:
        config = load_stack_config(environment)
    except InfraConfigError as exc:
        fail(f"stack config is invalid: {exc}", "fix the stack file")
    registry, _ = read_registry(tenants_dir(), environment)
    entry = registry.get(chosen.kommunenummer)
    sizing = tenant_sizing(chosen, load_catalog(), entry.database_storage_gib if entry else None)
    try:
        objs = recovery_manifests(chosen, sizing, config, target, now=dt.datetime.now(dt.UTC), name=name)
    except RestoreRefused as exc:
        fail(str(exc))
    problems = validate_objects(objs)
    if problems:
        fail("the recovery manifest does not validate: " + "; ".join(problems), "report this as a bug")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_yaml(objs), encoding="utf-8")
    cluster = objs[-1]["metadata"]["name"]
    ns = chosen.namespace
    console = Console(soft_wrap=True)
    console.print(
        f"wrote {out}: Cluster {ns}/{cluster} recovering to {target.isoformat()} (the live epj-db is untouched)"
    )
    console.print(f"next: kubectl apply -f {out} && kubectl cnpg status {cluster} -n {ns}", highlight=False)
    console.print(
        f"then: epj backup verify-restore --tenant {chosen.kommunenummer} --dsn postgresql://…@{cluster}-rw.{ns}/epj",
        highlight=False,
    )


@backup_app.command("verify-restore")
def verify_restore(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Kommunenummer, e.g. 5035.")],
    dsn: Annotated[str, typer.Option("--dsn", help="The restored cluster's database (postgresql://…).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the result as JSON here.")] = None,
) -> None:
    """Check a restored database: promoted, and rows per table of the municipality's schema.

    Example: [bold]epj backup verify-restore --tenant 5035 --dsn postgresql://…@epj-db-pitr-…-rw.kommune-5035/epj[/bold]
    """
    import psycopg
    from rich.console import Console

    from epj.clikit import check_dsn, check_kommunenr, fail

    number = check_kommunenr(tenant, "--tenant")
    check_dsn(dsn)
    if out is not None and out.is_dir():
        fail(f"--out {out} is a folder", "give the JSON file to write, e.g. --out restore-5035.json")
    schema = f"kommune_{number}"
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
            ).fetchall()
            counts: dict[str, int] = {}
            for (table,) in tables:
                query = psycopg.sql.SQL("SELECT count(*) FROM {}.{}").format(
                    psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                )
                row = conn.execute(query).fetchone()
                counts[table] = int(row[0]) if row else 0
    except psycopg.Error as exc:
        fail(f"cannot read the restored database: {str(exc).splitlines()[0]}", "is the recovery cluster ready?")
    if in_recovery is None or in_recovery[0]:
        fail("the restored database is still replaying WAL (in recovery)", "wait until kubectl cnpg status says ready")
    if not counts:
        fail(f"the restored database has no schema {schema} or it is empty", "check the --tenant and the target time")
    result = {"tenant": number, "schema": schema, "promoted": True, "rows": counts}
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console = Console(soft_wrap=True)
    for table, count in counts.items():
        console.print(f"  {schema}.{table}: {count} rows", highlight=False)
    console.print(f"ok: restored database for {number} is promoted and holds {len(counts)} table(s)")


def register(app: typer.Typer) -> None:
    """Add ``epj backup`` to the root app."""
    app.add_typer(backup_app, name="backup")
