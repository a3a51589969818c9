"""``epj waves …``: plan, check, re-plan and benchmark go-live waves (issue 6).

A thin adapter: parsing arguments, printing tables and mapping errors to exit codes.
The planning itself lives in the pure modules next to this one; OR-Tools, matplotlib
and icalendar are imported inside the commands so ``epj --help`` stays fast.

Exit codes: 0 ok; 1 the plan breaks a rule (check) or an output failed; 2 bad input
(scenario, plan file, --change); 3 no plan exists (the conflicting rules are printed).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from epj import contract
from epj.clikit import check_date, check_file, check_namespace, check_out_dir, check_positive, fail, fmt_int, staged_dir

if TYPE_CHECKING:
    from epj.waves.model import Plan
    from epj.waves.scenario import Problem

waves_app = typer.Typer(
    name="waves",
    help="Plan go-live waves under real constraints (windows, holidays, training, command centre, groups).",
    no_args_is_help=True,
)

ScenarioArg = Annotated[
    Path, typer.Argument(help="Scenario YAML file, or 'default' for the region's default scenario.", show_default=False)
]


def _scenario_path(path: Path) -> Path:
    from epj.waves.scenario import DEFAULT_SCENARIO

    return DEFAULT_SCENARIO if str(path) == "default" else path


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _progress(message: str) -> None:
    """A progress line on stderr: styled by Rich on a terminal, plain text in a pipe or log."""
    from rich.console import Console

    Console(stderr=True, highlight=False).print(message, markup=False)


def _load(path: Path) -> Problem:
    from epj.waves.scenario import ScenarioInvalid, load_problem

    scenario = _scenario_path(path)
    check_file(scenario, "SCENARIO", "scenario file")
    try:
        return load_problem(scenario)
    except ScenarioInvalid as exc:
        _scenario_errors(exc)
        raise AssertionError("unreachable") from None


def _scenario_errors(exc: Exception) -> None:
    """Every problem of a scenario on its own line, then exit 2 (nothing planned, nothing written)."""
    errors = list(getattr(exc, "errors", []))
    for error in errors[1:]:
        _err(f"  {error}")
    first = errors[0] if errors else exc
    more = f" (and {len(errors) - 1} more above)" if len(errors) > 1 else ""
    if getattr(first, "field", None) == "--change":
        fail(f"{first.reason}{more}", "see the tenants in the previous plan, or: epj tenants list")  # type: ignore[union-attr]
    fail(f"scenario {first}{more}", "fix the scenario (see operator/epj/waves/scenarios/README.md)")


def _print_table(plan: Plan) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Go-live plan: {plan.scenario} (cost {plan.objective}, {plan.status})")
    for column in ("window", "go-live", "tenants", "end users", "sessions", "training"):
        table.add_column(column)
    by: dict[str, list[object]] = {}
    for t in plan.tenants:
        by.setdefault(t.window, []).append(t)
    for w in plan.windows:
        members = [t for t in plan.tenants if t.window == w.label]
        if not members:
            continue
        starts = [t.milestones.training_start for t in members if t.milestones.training_start]
        ends = [t.milestones.training_end for t in members if t.milestones.training_end]
        table.add_row(
            w.label,
            str(w.go_live),
            ", ".join(f"{t.name} ({t.tenant}){' 🔒' if t.locked else ''}" for t in members),
            fmt_int(sum(t.end_users for t in members)),
            str(sum(x.superuser + x.enduser for t in members for x in t.training)),
            f"{min(starts)} – {max(ends)}" if starts and ends else "–",
        )
    Console(width=160).print(table)


def _print_conflict(exc: Exception) -> None:
    _err(str(exc))


@waves_app.command("plan")
def plan_command(
    scenario: ScenarioArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for plan.json, manifests, ICS, Gantt and summary.")],
    time_limit: Annotated[
        float | None, typer.Option(help="Solver time limit in seconds (default: scenario's).")
    ] = None,
    namespace: Annotated[str, typer.Option(help="Namespace of the RolloutWave manifests.")] = contract.GOLIVE_NAMESPACE,
) -> None:
    """Plan every called tenant into a production window, with its training, and write the outputs.

    Example: [bold]epj waves plan default --out plan/[/bold]
    """
    from epj.waves.check import check_plan
    from epj.waves.pipeline import plan_problem, write_outputs
    from epj.waves.solver import Infeasible

    check_out_dir(out)
    check_positive(time_limit, "--time-limit")
    check_namespace(namespace)
    problem = _load(scenario)
    _progress(f"planning {len(problem.tenants)} tenants over {len(problem.windows)} windows …")
    try:
        plan = plan_problem(problem, time_limit=time_limit)
    except Infeasible as exc:
        _print_conflict(exc)
        raise typer.Exit(3) from None
    _progress(f"solved in {plan.solve_seconds:.2f} s: {plan.status}, cost {plan.objective}")
    violations = check_plan(problem, plan)
    with staged_dir(out) as scratch:
        files = [out / p.name for p in write_outputs(problem, plan, scratch, namespace)]
    _print_table(plan)
    if plan.binding:
        typer.echo("Binding rules (relaxing one would improve the plan):")
        for text in plan.binding[:5]:
            typer.echo(f"  - {text}")
    for path in files:
        typer.echo(f"wrote {path}")
    if violations:
        _err("the independent checker found violations (a planner bug):")
        for v in violations:
            _err(f"  {v}")
        raise typer.Exit(1)


@waves_app.command("check")
def check_command(
    scenario: ScenarioArg,
    plan_json: Annotated[Path, typer.Argument(help="A plan.json written by 'epj waves plan'.", show_default=False)],
) -> None:
    """Check a plan against every rule of the scenario, independently of the solver.

    Example: [bold]epj waves check default plan/plan.json[/bold]
    """
    from epj.waves.check import check_plan
    from epj.waves.plan import read_plan

    check_file(plan_json, "PLAN_JSON", "plan file")
    problem = _load(scenario)
    try:
        plan = read_plan(plan_json)
    except ValueError as exc:
        fail(str(exc), "give a plan.json written by: epj waves plan")
    violations = check_plan(problem, plan)
    if violations:
        typer.echo(f"{len(violations)} violation(s):")
        for v in violations:
            typer.echo(f"  {v}")
        raise typer.Exit(1)
    typer.echo(f"ok: {len(plan.tenants)} tenants, every rule holds")


@waves_app.command("replan")
def replan_command(
    scenario: ScenarioArg,
    previous_plan: Annotated[Path, typer.Argument(help="The plan.json being revised.", show_default=False)],
    change: Annotated[list[str], typer.Option("--change", help="call:NNNN, withdraw:NNNN or slip:YYYY-Qn=YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the new plan and its outputs.")],
    today: Annotated[str | None, typer.Option(help="Date the locks are judged on (default: today).")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Solver time limit in seconds.")] = None,
) -> None:
    """Plan again after a change, keeping locked tenants in place, and report what moved and why.

    Writes the new plan's outputs, ``changes.md`` (what moved and why) and ``scenario.yaml``
    (the scenario with the changes and locks applied, for ``epj waves check``).

    Example: [bold]epj waves replan default plan/plan.json --change call:5036 --out plan-2/[/bold]
    """
    import yaml

    from epj.waves.check import check_plan
    from epj.waves.pipeline import plan_problem, write_outputs
    from epj.waves.plan import read_plan
    from epj.waves.replan import compare, parse_change, prepare_replan
    from epj.waves.scenario import ScenarioInvalid, load_scenario
    from epj.waves.solver import Infeasible

    check_out_dir(out)
    check_positive(time_limit, "--time-limit")
    as_of = check_date(today, "--today") if today else dt.date.today()
    try:
        changes = [parse_change(c) for c in change]
    except ValueError as exc:
        fail(str(exc))
    check_file(previous_plan, "PREVIOUS_PLAN", "plan file")
    try:
        previous = read_plan(previous_plan)
    except ValueError as exc:
        fail(str(exc), "give a plan.json written by: epj waves plan")
    path = _scenario_path(scenario)
    check_file(path, "SCENARIO", "scenario file")
    try:
        problem, touched = prepare_replan(load_scenario(path), str(path), previous, changes, as_of)
    except ScenarioInvalid as exc:
        _scenario_errors(exc)
    _progress(
        f"re-planning {len(problem.tenants)} tenants ({len(problem.locked)} locked) after: "
        + "; ".join(str(c) for c in changes)
    )
    try:
        plan = plan_problem(problem, time_limit=time_limit)
    except Infeasible as exc:
        _print_conflict(exc)
        raise typer.Exit(3) from None
    violations = check_plan(problem, plan)
    moves = compare(problem, previous, plan, changes, touched)
    lines = ["# What moved and why", ""]
    lines += [
        f"- {m.name} ({m.tenant}): {m.before or 'not planned'} → {m.after or 'not planned'}: {m.reason}" for m in moves
    ]
    if not moves:
        lines.append("- nothing moved")
    report = "\n".join(lines) + "\n"
    with staged_dir(out) as scratch:
        write_outputs(problem, plan, scratch)
        (scratch / "scenario.yaml").write_text(
            yaml.safe_dump(problem.scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        (scratch / "changes.md").write_text(report, encoding="utf-8")
    _print_table(plan)
    typer.echo(report)
    if violations:
        for v in violations:
            _err(f"  {v}")
        raise typer.Exit(1)


@waves_app.command("bench")
def bench_command(
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line of figures.")] = False,
    national_time_limit: Annotated[float, typer.Option(help="Time limit for the national solve (s).")] = 50.0,
) -> None:
    """Solve the regional (22) and a synthetic national (357) scenario, and compare with a greedy baseline.

    Example: [bold]epj waves bench --json[/bold]
    """
    from epj.waves.bench import run_bench

    check_positive(national_time_limit, "--national-time-limit")
    figures = run_bench(national_time_limit, progress=_progress)
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        for key, value in figures.items():
            typer.echo(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    """Add ``epj waves …`` to the root app."""
    app.add_typer(waves_app, name="waves")
