"""``epj golive …`` and ``epj operator run``: the go-live operator's command-line adapter (issue 4).

Stable interface (scripts rely on it):

* ``epj operator run [--standalone] [--namespace NS | --all-namespaces] [--liveness URL]``
* ``epj golive approve --tenant TENANT --gate G --by ROLE --reason TEXT [--reject]``
* ``epj golive resume --tenant TENANT --by ROLE --reason TEXT``
* ``epj golive status [--tenant TENANT] [--json]``
* ``epj golive smoke --tenant TENANT [--dsn DSN]`` — post-cutover smoke check (the smoke Job); exit 0/1,
  last line one JSON object.
* ``epj golive rollback --tenant TENANT [--tenant-namespace NS]`` — traffic off the new EPJ (the rollback Job);
  prints the manual legacy read-write instruction, exit 0.
* ``epj golive bench --json [--tenants N]`` — last line one JSON object with ``tenants``,
  ``handler_p50_ms``, ``handler_p95_ms``, ``peak_rss_mb``.

The API server is found as kubectl finds it (``KUBECONFIG`` / ``~/.kube/config``, or the pod's
service account); ``--server URL`` talks to a given API (e.g. a local emulator). kopf and
aiohttp are imported inside the commands so ``epj --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from epj import contract
from epj.clikit import check_dsn, check_kommunenr, check_namespace, check_tenant, fail

T = TypeVar("T")

golive_app = typer.Typer(help="Go-live of each tenant: approve gates, resume after a hold, status, bench.")
operator_app = typer.Typer(help="The go-live operator (kopf).")

NamespaceOpt = Annotated[
    str,
    typer.Option(
        "--namespace",
        "-n",
        help="Namespace of the GoLive objects.",
        envvar=contract.ENV_GOLIVE_NAMESPACE,
        callback=lambda value: check_namespace(value),
    ),
]
ServerOpt = Annotated[
    str | None, typer.Option("--server", help="API server URL (default: kubeconfig or service account).")
]
#: Where the GoLive objects live: the operator namespace (one name, epj.contract).
DEFAULT_NAMESPACE = contract.GOLIVE_NAMESPACE


TenantOpt = Annotated[str | None, typer.Option("--tenant", "-t", help="Kommunenummer, e.g. 5035.", show_default=False)]
TenantArg = Annotated[str | None, typer.Argument(hidden=True, help="Deprecated: use --tenant.", show_default=False)]


def _tenant(option: str | None, positional: str | None) -> str:
    """The tenant from --tenant (or the old positional spelling), checked for form before any work."""
    if option and positional and option != positional:
        fail(f"--tenant {option} and the positional {positional} disagree", "give only --tenant")
    value = option or positional
    if value is None:
        fail("--tenant is missing", "give the municipality, e.g. --tenant 5035")
    return check_kommunenr(value)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _check_server(value: str | None) -> str | None:
    """An http(s) URL with a host, checked before any connection (aiohttp's own errors name no option)."""
    if value is None:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        valid = False
    if not valid:
        fail(f"--server {value!r} is not an http(s) URL", "give the API server's address, e.g. https://10.0.0.1:6443")
    return value


def _with_client(server: str | None, action: Callable[[Any], Awaitable[T]]) -> T:
    import aiohttp

    from epj.operator.commands import CommandError
    from epj.operator.kube import ApiError, connect

    _check_server(server)

    async def main() -> T:
        client = await connect(server)
        async with client:
            return await action(client)

    try:
        return asyncio.run(main())
    except CommandError as error:
        _fail(str(error))
    except ApiError as error:
        hint = " (someone changed the GoLive at the same time: run the command again)" if error.status == 409 else ""
        _fail(f"{error}{hint}")
    except (RuntimeError, OSError) as error:
        _fail(f"cannot reach the Kubernetes API: {error}")
    except aiohttp.ClientError as error:  # e.g. an answer cut short (the connection dropped mid-answer)
        _fail(f"the connection to the Kubernetes API failed: {type(error).__name__}: {error}")
    raise AssertionError("unreachable")


@golive_app.command("approve")
def approve_cmd(
    gate: Annotated[str, typer.Option("--gate", help="go-no-go, extract-delivered or hypercare-exit.")],
    by: Annotated[
        str,
        typer.Option("--by", help="Role of the decider (e.g. cutover-lead), never a name; your groups must grant it."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (3–500 characters; no personal data).")],
    positional: TenantArg = None,
    tenant_opt: TenantOpt = None,
    reject: Annotated[
        bool, typer.Option("--reject", help="Record a no-go: fails the gate and holds the tenant.")
    ] = False,
    namespace: NamespaceOpt = DEFAULT_NAMESPACE,
    server: ServerOpt = None,
) -> None:
    """Record a go/no-go decision: a GoLiveApproval object the API server stamps with your user and its time.

    Example:
    [bold]epj golive approve --tenant 5035 --gate go-no-go --by project-lead --reason "Rehearsal reconciled"[/bold]
    """
    from epj.operator.commands import approval_note, approve, find_golive

    tenant = _tenant(tenant_opt, positional)

    async def run(client: Any) -> tuple[dict[str, Any], str | None]:
        body = await approve(client, namespace, tenant, gate=gate, by=by, reason=reason, reject=reject)
        return body, approval_note(await find_golive(client, namespace, tenant), gate)

    body, note = _with_client(server, run)
    decision = "rejected" if reject else "approved"
    spec = body["spec"]
    typer.echo(f"{tenant}: {gate} {decision} by {by} at {spec['at']} (recorded as {body['metadata']['name']})")
    if note:
        typer.echo(f"{tenant}: note: {note}", err=True)


@golive_app.command("resume")
def resume_cmd(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Role of the person resuming: project-lead or cutover-lead, never a name; your groups must grant it.",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why it is safe to continue.")],
    positional: TenantArg = None,
    tenant_opt: TenantOpt = None,
    namespace: NamespaceOpt = DEFAULT_NAMESPACE,
    server: ServerOpt = None,
) -> None:
    """Resume a tenant that is OnHold or RolledBack (nothing advances after a hold until this).

    Example: [bold]epj golive resume --tenant 5035 --by project-lead --reason "Extract re-run, reconciled"[/bold]
    """
    from epj.operator.commands import restore_after_rollback, resume, resume_note

    tenant = _tenant(tenant_opt, positional)

    async def run(client: Any) -> tuple[dict[str, int], str | None, str | None]:
        body = await resume(client, namespace, tenant, by=by, reason=reason)
        return (*await restore_after_rollback(client, body), resume_note(body))

    restored, note, unheld = _with_client(server, run)
    if unheld:
        typer.echo(f"{tenant}: resume recorded for {by}, but {unheld}", err=True)
    else:
        typer.echo(f"{tenant}: resume requested by {by}; the operator acts on it at once")
    if note:
        typer.echo(f"{tenant}: note: {note}", err=True)
    if restored:
        listed = ", ".join(f"{name}={replicas}" for name, replicas in restored.items())
        typer.echo(f"{tenant}: traffic back on: replicas restored as recorded before the rollback ({listed})")


@golive_app.command("status")
def status_cmd(
    positional: TenantArg = None,
    tenant_opt: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Kommunenummer, e.g. 5035.", show_default="every tenant")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    namespace: NamespaceOpt = DEFAULT_NAMESPACE,
    server: ServerOpt = None,
) -> None:
    """Phase, readiness, gates and the next action per tenant.

    Examples: [bold]epj golive status[/bold]; [bold]epj golive status --tenant 5035 --json[/bold]
    """
    from epj.operator.commands import status

    tenant = _tenant(tenant_opt, positional) if (tenant_opt or positional) else None

    rows = _with_client(server, lambda c: status(c, namespace, tenant))
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Tenant", "Wave", "Go-live", "Phase", "Ready", "Blocked", "Next action")
    for row in rows:
        table.add_row(
            str(row["tenant"]), str(row["wave"]), str(row["goLiveDate"]), row["phase"], row["ready"],
            row["blocked"], row["nextAction"],
        )  # fmt: skip
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    if tenant is not None and rows:
        rollback = rows[0].get("rollback")
        if rollback and rollback["reason"] == "RollbackJobFailed":
            typer.echo(f"  ROLLBACK FAILED: {rollback['message']}")
        elif rollback:
            typer.echo(f"  rollback: {rollback['message']}")
        for gate, outcome in rows[0]["gates"].items():
            typer.echo(f"  gate {gate}: {outcome}")
        for approval in rows[0]["approvals"]:
            line = f"{approval['at']} {approval['gate']} {approval['decision']} by {approval['by']}"
            typer.echo(f"  {line}: {approval['reason']}")


@golive_app.command("smoke")
def smoke_cmd(
    positional: TenantArg = None,
    tenant_opt: TenantOpt = None,
    dsn: Annotated[
        str,
        typer.Option("--dsn", help="postgresql://… of the tenant database.", show_default="libpq's PG* environment"),
    ] = "",
    target: Annotated[str, typer.Option("--target", hidden=True, help="Deprecated: use --dsn.")] = "",
) -> None:
    """Smoke-check the tenant's database against the migration's reconciliation (exit 1 when they disagree).

    Example: [bold]epj golive smoke --tenant 5035 --dsn postgresql://epj@db/epj[/bold]
    """
    from epj.operator.smoke import smoke_check

    tenant = _tenant(tenant_opt, positional)
    check_tenant(tenant)  # the smoke check compares a known tenant's store with its reconciliation
    target = dsn or target
    if target:
        check_dsn(target)

    outcome = smoke_check(target, tenant)
    typer.echo(f"{tenant}: smoke check {'passed' if outcome.passed else 'FAILED'}: {outcome.message}", err=True)
    typer.echo(outcome.to_json())
    if not outcome.passed:
        raise typer.Exit(1)


@golive_app.command("rollback")
def rollback_cmd(
    positional: TenantArg = None,
    tenant_opt: TenantOpt = None,
    tenant_namespace: Annotated[
        str | None,
        typer.Option("--tenant-namespace", help="Namespace of the tenant.", show_default="kommune-<kommunenr>"),
    ] = None,
    server: ServerOpt = None,
) -> None:
    """Turn the tenant's traffic off the new EPJ (clinical Deployments to zero) and say what a person must do.

    Example: [bold]epj golive rollback --tenant 5035[/bold]
    """
    from epj.operator.resources import tenant_namespace as namespace_of
    from epj.operator.rollback import rollback

    tenant = _tenant(tenant_opt, positional)
    if tenant_namespace is not None:
        check_namespace(tenant_namespace, "--tenant-namespace")

    ns = tenant_namespace or namespace_of(tenant)
    from epj.operator.rollback import record_to_termination_log

    outcome = _with_client(server, lambda c: rollback(c, tenant, ns, record=record_to_termination_log))
    typer.echo(
        f"{tenant}: traffic off in {ns} ({len(outcome.scaled)} Deployments scaled to 0, "
        f"{len(outcome.already_off)} already off)",
        err=True,
    )
    typer.echo(outcome.instruction(), err=True)
    typer.echo(outcome.to_json())


@golive_app.command("bench")
def bench_cmd(
    tenants: Annotated[int, typer.Option("--tenants", min=1, max=2000, help="How many tenants.")] = 400,
    waves: Annotated[int | None, typer.Option("--waves", min=1, max=16, help="Spread over this many waves.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line (for scripts).")] = False,
) -> None:
    """Reconcile N tenants across waves with the real operator against the kmock emulator; print latency and memory.

    Example: [bold]epj golive bench --json --tenants 400[/bold]
    """
    try:
        from epj.operator.bench import bench
    except ImportError as error:
        _fail(f"the bench needs the development extra (kmock): {error}")
    result = bench(tenants, waves)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


@operator_app.command("run")
def run_cmd(
    standalone: Annotated[bool, typer.Option("--standalone", help="No peering (tests, single replica).")] = False,
    namespace: Annotated[list[str] | None, typer.Option("--namespace", "-n", help="Namespace(s) to watch.")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Watch the whole cluster.")] = False,
    liveness: Annotated[
        str | None,
        typer.Option(
            "--liveness",
            help="Liveness endpoint, e.g. http://0.0.0.0:8080/healthz (default: on $EPJ_OPERATOR_HEALTH_PORT).",
        ),
    ] = None,
    alertmanager: Annotated[
        str | None, typer.Option("--alertmanager", envvar=contract.ENV_ALERTMANAGER_URL, help="Alertmanager base URL.")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", envvar=contract.ENV_METRICS_PORT, min=0, max=65535, help="Serve /metrics on this port."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the operator (what ``kopf run -m epj.operator.app`` does), with peering unless --standalone.

    Example: [bold]epj operator run --namespace epj-system[/bold]
    """
    if bool(namespace) == all_namespaces:
        _fail("give --namespace NS (repeatable) or --all-namespaces")
    for name in namespace or []:
        check_namespace(name)
    import logging

    from epj.operator.app import context_from_environment, start_telemetry
    from epj.operator.kube import connect
    from epj.operator.runner import StartRefused, default_liveness_endpoint, run_operator

    try:
        liveness = liveness or default_liveness_endpoint(os.environ)
    except ValueError as error:
        _fail(str(error))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if alertmanager:
        os.environ[contract.ENV_ALERTMANAGER_URL] = alertmanager
    if metrics_port:
        os.environ[contract.ENV_METRICS_PORT] = str(metrics_port)
    try:
        start_telemetry()
    except OSError as error:  # the port is taken (another operator in this pod?) or may not be bound
        _fail(f"cannot serve /metrics on port {metrics_port or os.environ.get(contract.ENV_METRICS_PORT)}: {error}")

    from epj.operator.admission import role_mapping, webhook_server

    certs = os.environ.get(contract.ENV_WEBHOOK_CERT_DIR) or None
    try:
        role_mapping()  # a bad mapping stops the start with one plain message, not at the first approval
    except ValueError as error:
        _fail(f"{contract.ENV_APPROVER_ROLES}: {error}")
    webhook = webhook_server(certs=certs) if certs else None
    if webhook is None:
        logging.getLogger(__name__).warning(
            "%s is not set: no admission webhook; go/no-go decisions cannot be recorded", contract.ENV_WEBHOOK_CERT_DIR
        )

    async def main() -> None:
        try:
            client = await connect()
        except RuntimeError as error:  # no kubeconfig and no service account: say so, not as an unexpected error
            _fail(str(error))
        ctx = context_from_environment(client)
        try:
            await run_operator(
                ctx, namespaces=namespace or (), clusterwide=all_namespaces, standalone=standalone, liveness=liveness,
                verbose=verbose, webhook=webhook,
            )  # fmt: skip
        except StartRefused as error:
            _fail(str(error))

    from epj.operator.runner import new_event_loop

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())


def register(app: typer.Typer) -> None:
    """Add ``epj golive …`` and ``epj operator …`` to the root app."""
    app.add_typer(golive_app, name="golive")
    app.add_typer(operator_app, name="operator")
