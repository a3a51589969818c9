"""``epj render``: write the Kubernetes objects the Pulumi program creates, as YAML, for review and GitOps.

Thin adapter over :mod:`epj.infra.render` (Pulumi is imported only when the command runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from epj.clikit import check_env, check_kommunenr, check_out_dir, fail


def render(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the YAML files into.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment = Pulumi stack (test, prod).")] = "test",
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant's file (kommunenummer, e.g. 5035).")
    ] = None,
    what_if: Annotated[
        bool,
        typer.Option("--what-if", help="With --tenant: render as if this option municipality had called its option."),
    ] = False,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Check every object against its schema first.")
    ] = True,
    call_option: Annotated[
        str | None, typer.Option("--call-option", hidden=True, help="Deprecated: use --tenant N --what-if.")
    ] = None,
) -> None:
    """Render the exact Kubernetes objects `pulumi up` would create, without a cluster or the Pulumi CLI.

    One file per tenant namespace (kommune-<nr>.yaml) plus platform.yaml. Passwords are placeholders.
    Nothing is written when the tenant files, the stack file or an object is invalid.

    Examples: [bold]epj render --env prod --out out/prod[/bold];
    [bold]epj render --tenant 5036 --what-if --out out/preview[/bold] (preview calling Frosta's option).
    """
    from rich.console import Console

    from epj.infra.config import InfraConfigError, load_stack_config
    from epj.infra.render import group_by_file, render_objects, write_rendered
    from epj.infra.validate import validate_objects
    from epj.tenants import TenantSet, TenantSetInvalid, load_tenants

    err = Console(stderr=True, soft_wrap=True)
    console = Console(soft_wrap=True)
    check_out_dir(out)
    environment = check_env(env)
    if call_option is not None:
        if tenant is not None and tenant != call_option:
            fail("--call-option and --tenant name different municipalities", "give --tenant N --what-if")
        tenant, what_if = call_option, True
    if what_if and tenant is None:
        fail("--what-if needs --tenant", "give the option municipality, e.g. --tenant 5036 --what-if")
    if tenant is not None:
        check_kommunenr(tenant)
    if what_if:
        call_option = tenant
    try:
        load_stack_config(environment)
        tenants = load_tenants()
        if call_option is not None:
            tenants.get(call_option)  # KeyError names it
            if tenants.get(call_option).active:
                fail(f"--tenant {call_option} is already provisioned", "leave out --what-if")
            tenants = tenants.with_option_called(call_option)
        active = {t.kommunenummer: t for t in tenants.active(environment)}
        if tenant is not None and tenant not in active:
            known = tenants.get(tenant)  # KeyError when unknown
            why = "its option is not called" if not known.active else f"it does not run in {environment}"
            hint = f"preview it with: epj render --tenant {tenant} --what-if" if not known.active else None
            fail(f"--tenant {tenant}: {known.name} gets nothing in {environment}: {why}", hint)
        if tenant is not None:
            # A tenant's objects depend on that tenant alone (tests/infra prove it), so render just it.
            tenants = TenantSet((active[tenant],))
            active = {tenant: active[tenant]}
        console.print(f"rendering {environment}: platform + {len(active)} tenant(s) …")
        objs = render_objects(environment, tenants)
    except TenantSetInvalid as exc:
        typer.echo(f"error: tenant files are invalid; nothing rendered ({len(exc.errors)} error(s)):", err=True)
        for error in exc.errors:
            err.print(f"  {error}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except InfraConfigError as exc:
        typer.echo(f"error: stack config is invalid: {exc}; fix the stack file (nothing was rendered)", err=True)
        raise typer.Exit(1) from None
    except KeyError as exc:
        fail(str(exc.args[0]), "see: epj tenants list")
    if validate:
        problems = validate_objects(objs)
        if problems:
            err.print(f"[red]{len(problems)} rendered object problem(s); nothing written:")
            for problem in problems:
                err.print(f"  {problem}", markup=False, highlight=False)
            raise typer.Exit(1)
    files = group_by_file(objs, (t.namespace for t in active.values()))
    if tenant is not None:
        files = {name: o for name, o in files.items() if name == f"kommune-{tenant}.yaml"}
    written = write_rendered(files, out, prune=tenant is None)  # one file at a time, each complete
    for path in written:
        console.print(f"  {path}  ({len(files[path.name])} objects)", highlight=False)
    checked = "validated" if validate else "not validated"
    console.print(f"wrote {sum(len(v) for v in files.values())} objects in {len(written)} file(s), {checked}")


def register(app: typer.Typer) -> None:
    """Add ``epj render`` and ``epj backup …`` to the root app."""
    app.command("render")(render)
    from epj.infra import backup_cli

    backup_cli.register(app)
