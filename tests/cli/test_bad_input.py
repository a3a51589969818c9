"""Every command, given the mistakes real users make, answers with one plain line and writes nothing.

The developers' rule 4: bad input gets one plain message saying what is wrong and what to do, a
non-zero exit, nothing half-written, never a traceback, never a false success. Each row below is
one mistake seen (or likely) in the field: the command line, and words the message must contain.
The expected words are written here by hand, not taken from the code under test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from epj.cli import app

runner = CliRunner()

#: Nothing listens here: a connection is refused at once (no PostgreSQL needed for these rows).
DEAD_DSN = "postgresql://postgres@127.0.0.1:1/epj"


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real plan of the default scenario, for the replan rows (planned once)."""
    out = tmp_path_factory.mktemp("plan") / "plan"
    result = runner.invoke(app, ["waves", "plan", "default", "--out", str(out), "--time-limit", "20"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder with the fixtures the rows name; commands run with it as the current folder."""
    (tmp_path / "a-file").write_text("I am a file, not a folder\n", encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("config: [unclosed\n", encoding="utf-8")
    (tmp_path / "not-a-mapping.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    (tmp_path / "empty-extract").mkdir()
    scenario = (Path(__file__).resolve().parents[2] / "operator/epj/waves/scenarios/region-default.yaml").read_text(
        encoding="utf-8"
    )
    assert "latest_go_live:" in scenario
    bad_date = "\n".join(
        "  latest_go_live: 2030-02-30" if line.strip().startswith("latest_go_live:") else line
        for line in scenario.splitlines()
    )
    (tmp_path / "bad-date.yaml").write_text(bad_date + "\n", encoding="utf-8")
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "Pulumi.yaml").write_text("name: epj-platform\nruntime: python\n", encoding="utf-8")
    (infra / "Pulumi.test.yaml").write_text("config:\n  epj-platform:storageClass: [oops\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EPJ_DEBUG", raising=False)
    yield tmp_path


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# (command line, words the one error line must contain). OUT is a folder that must not appear;
# FILE an existing file; the other capitals are fixtures of `workdir`.
CASES: list[tuple[str, list[str], str]] = [
    # report cost
    ("cost-month-13", ["report", "cost", "--period", "2027-13"], "'2027-13' is not a month"),
    ("cost-month-banana", ["report", "cost", "--period", "banana"], "'banana' is not a month"),
    ("cost-old-month-spelling", ["report", "cost", "--month", "2027-13"], "is not a month"),
    ("cost-what-if-unknown", ["report", "cost", "--tenant", "9999", "--what-if"], "9999: no municipality"),
    ("cost-what-if-principal", ["report", "cost", "--tenant", "5035", "--what-if"], "already provisioned"),
    ("cost-uncalled-option", ["report", "cost", "--tenant", "5036"], "add --what-if"),
    ("cost-what-if-no-tenant", ["report", "cost", "--what-if"], "--what-if needs --tenant"),
    ("cost-method", ["report", "cost", "--method", "bogus"], "'bogus' is not one of population"),
    ("cost-model-missing", ["report", "cost", "--cost-model", "/nope.yaml"], "no such cost model file"),
    ("cost-model-broken", ["report", "cost", "--cost-model", "BROKEN"], "not valid YAML"),
    ("cost-model-not-a-model", ["report", "cost", "--cost-model", "BADDATE"], "--cost-model"),
    ("cost-env", ["report", "cost", "--env", "staging"], "unknown environment"),
    ("cost-prometheus", ["report", "cost", "--prometheus", "prometheus:9090"], "not an http(s) URL"),
    ("cost-tenant-letters", ["report", "cost", "--tenant", "50x5"], "not a kommunenummer"),
    # report gains / council
    ("gains-period", ["report", "gains", "--tenant", "5035", "--dsn", DEAD_DSN, "--period", "2027-00"], "not a month"),
    ("gains-tenant", ["report", "gains", "--tenant", "9999", "--dsn", DEAD_DSN], "9999: no municipality"),
    ("gains-dsn-garbage", ["report", "gains", "--tenant", "5035", "--dsn", "banana"], "not a PostgreSQL address"),
    ("gains-dsn-dead", ["report", "gains", "--tenant", "5035", "--dsn", DEAD_DSN], "cannot connect"),
    ("council-period", ["report", "council", "--tenant", "5035", "--period", "banana", "--out", "OUT"], "not a month"),
    ("council-tenant", ["report", "council", "--tenant", "9999", "--period", "2027-03", "--out", "OUT"], "9999"),
    ("council-out-file", ["report", "council", "--tenant", "5035", "--period", "2027-03", "--out", "FILE"], "file"),
    (
        "council-date",
        [
            "report",
            "council",
            "--tenant",
            "5035",
            "--period",
            "2027-03",
            "--go-live-date",
            "2027-02-30",
            "--out",
            "OUT",
        ],
        "'2027-02-30' is not a date",
    ),
    (
        "council-golive-missing",
        ["report", "council", "--tenant", "5035", "--period", "2027-03", "--golive", "/nope.json", "--out", "OUT"],
        "no such GoLive JSON file",
    ),
    (
        "council-dsn",
        ["report", "council", "--tenant", "5035", "--period", "2027-03", "--dsn", DEAD_DSN, "--out", "OUT"],
        "cannot connect",
    ),
    # rehearse
    ("rehearse-db", ["rehearse", "--target", DEAD_DSN, "--out", "OUT"], "cannot connect"),
    ("rehearse-tenant", ["rehearse", "--tenant", "9999", "--out", "OUT"], "9999: no municipality"),
    ("rehearse-scenario", ["rehearse", "--scenario", "nosuch", "--out", "OUT"], "scenario 'nosuch' not found"),
    ("rehearse-out-file", ["rehearse", "--out", "FILE"], "is an existing file"),
    ("rehearse-scale", ["rehearse", "--scale", "-1", "--out", "OUT"], "--scale -1"),
    ("rehearse-clock", ["rehearse", "--clock", "fast", "--out", "OUT"], "not one of simulated, real"),
    ("rehearse-extract", ["rehearse", "--extract", "/nope", "--out", "OUT"], "no such extract folder"),
    ("rehearse-empty-extract", ["rehearse", "--extract", "EMPTY", "--out", "OUT"], "no UTTREKK.txt"),
    ("rehearse-extract-is-file", ["rehearse", "--extract", "FILE", "--out", "OUT"], "is a file"),
    ("rehearse-out-under-file", ["rehearse", "--out", "FILE/sub"], "is a file"),
    ("rehearse-target-kind", ["rehearse", "--target", "mysql://x", "--out", "OUT"], "ndjson:DIR or postgresql"),
    # waves
    ("plan-bad-date", ["waves", "plan", "BADDATE", "--out", "OUT"], "not a valid date"),
    ("plan-out-file", ["waves", "plan", "default", "--out", "FILE"], "is an existing file"),
    ("plan-time-limit", ["waves", "plan", "default", "--out", "OUT", "--time-limit", "-5"], "--time-limit -5"),
    ("plan-namespace", ["waves", "plan", "default", "--out", "OUT", "--namespace", "Bad_NS!"], "namespace"),
    ("plan-no-scenario", ["waves", "plan", "/nope.yaml", "--out", "OUT"], "no such scenario file"),
    ("plan-yaml-syntax", ["waves", "plan", "BROKEN", "--out", "OUT"], "not valid YAML"),
    ("plan-not-mapping", ["waves", "plan", "NOTMAPPING", "--out", "OUT"], "mapping"),
    ("plan-time-limit-word", ["waves", "plan", "default", "--out", "OUT", "--time-limit", "abc"], "--time-limit"),
    ("check-no-plan", ["waves", "check", "default", "/nope.json"], "no such plan file"),
    ("check-not-json", ["waves", "check", "default", "BROKEN"], "not valid JSON"),
    (
        "replan-withdraw-unknown",
        ["waves", "replan", "default", "PLAN", "--change", "withdraw:9999", "--out", "OUT"],
        "9999 is not in the plan",
    ),
    (
        "replan-call-unknown",
        ["waves", "replan", "default", "PLAN", "--change", "call:9999", "--out", "OUT"],
        "no option municipality 9999",
    ),
    (
        "replan-call-planned",
        ["waves", "replan", "default", "PLAN", "--change", "call:5035", "--out", "OUT"],
        "already in the plan",
    ),
    (
        "replan-change-garbage",
        ["waves", "replan", "default", "PLAN", "--change", "leave:5035", "--out", "OUT"],
        "not understood",
    ),
    (
        "replan-today",
        ["waves", "replan", "default", "PLAN", "--change", "call:5036", "--today", "2030-13-01", "--out", "OUT"],
        "'2030-13-01' is not a date",
    ),
    (
        "replan-time-limit",
        ["waves", "replan", "default", "PLAN", "--change", "call:5036", "--time-limit", "-5", "--out", "OUT"],
        "--time-limit -5",
    ),
    ("replan-out-file", ["waves", "replan", "default", "PLAN", "--change", "call:5036", "--out", "FILE"], "file"),
    # backup
    (
        "backup-restore-to",
        ["backup", "restore-manifest", "--tenant", "5035", "--to", "yesterday", "--out", "OUT"],
        "is not a date and time",
    ),
    (
        "backup-restore-window",
        ["backup", "restore-manifest", "--tenant", "5035", "--to", "2020-01-01T00:00:00Z", "--out", "OUT"],
        "older than the PITR window",
    ),
    (
        "backup-verify-dsn",
        ["backup", "verify-restore", "--tenant", "5035", "--dsn", DEAD_DSN],
        "cannot read the restored database",
    ),
    # render
    ("render-out-file", ["render", "--out", "FILE"], "is an existing file"),
    ("render-env", ["render", "--env", "staging", "--out", "OUT"], "unknown environment"),
    ("render-tenant-unknown", ["render", "--tenant", "9999", "--out", "OUT"], "9999"),
    ("render-tenant-letters", ["render", "--tenant", "abc", "--out", "OUT"], "not a kommunenummer"),
    ("render-what-if-principal", ["render", "--tenant", "5035", "--what-if", "--out", "OUT"], "already provisioned"),
    ("render-what-if-alone", ["render", "--what-if", "--out", "OUT"], "--what-if needs --tenant"),
    ("render-stack-yaml", ["render", "--out", "OUT"], "not valid YAML"),  # EPJ_INFRA_DIR points at INFRA
    # migrate
    ("migrate-run-no-extract", ["migrate", "run", "/nope", "--dry-run", "--out", "OUT"], "no such extract folder"),
    ("migrate-run-out-file", ["migrate", "run", ".", "--dry-run", "--out", "FILE"], "is an existing file"),
    ("migrate-run-no-out", ["migrate", "run", ".", "--dry-run"], "--out is missing"),
    ("migrate-run-tenant", ["migrate", "run", ".", "--dry-run", "--tenant", "9999", "--out", "OUT"], "9999"),
    ("migrate-run-no-target", ["migrate", "run", ".", "--out", "OUT"], "--target is missing"),
    ("generate-tenant", ["migrate", "generate", "--tenant", "9999", "--out", "OUT"], "9999 is not a tenant"),
    ("generate-out-file", ["migrate", "generate", "--tenant", "5035", "--out", "FILE"], "is an existing file"),
    ("generate-scale", ["migrate", "generate", "--tenant", "5035", "--scale", "-1", "--out", "OUT"], "--scale -1"),
    ("generate-no-tenant", ["migrate", "generate", "--out", "OUT"], "--tenant is missing"),
    ("bench-tenant", ["migrate", "bench", "--tenant", "9999"], "9999: no municipality"),
    ("bench-dsn", ["migrate", "bench", "--dsn", DEAD_DSN], "cannot connect"),
    ("seal-unknown-tenant", ["migrate", "seal", "--tenant", "9999", "--dsn", DEAD_DSN], "9999: no municipality"),
    ("smoke-unknown-tenant", ["golive", "smoke", "--tenant", "9999", "--dsn", DEAD_DSN], "9999: no municipality"),
    ("seal-dsn", ["migrate", "seal", "--tenant", "5035", "--dsn", "banana"], "banana"),
    # golive
    (
        "approve-tenant",
        ["golive", "approve", "--tenant", "abc", "--gate", "go-no-go", "--by", "project-lead", "--reason", "fine"],
        "not a kommunenummer",
    ),
    (
        "approve-no-tenant",
        ["golive", "approve", "--gate", "go-no-go", "--by", "project-lead", "--reason", "fine"],
        "--tenant is missing",
    ),
    (
        "approve-no-api",
        [
            "golive",
            "approve",
            "--tenant",
            "5035",
            "--gate",
            "go-no-go",
            "--by",
            "project-lead",
            "--reason",
            "fine",
            "--server",
            "http://127.0.0.1:1",
        ],
        "cannot reach",
    ),
    ("smoke-tenant", ["golive", "smoke", "--tenant", "12"], "not a kommunenummer"),
    ("smoke-dsn", ["golive", "smoke", "--tenant", "5035", "--dsn", "banana"], "not a PostgreSQL address"),
    ("rollback-namespace", ["golive", "rollback", "--tenant", "5035", "--tenant-namespace", "Bad_NS!"], "namespace"),
    ("status-tenant", ["golive", "status", "--tenant", "x1"], "not a kommunenummer"),
    ("status-namespace", ["golive", "status", "--namespace", "Bad_NS!"], "not a valid Kubernetes namespace"),
    ("resume-no-tenant", ["golive", "resume", "--by", "project-lead", "--reason", "fixed it"], "--tenant is missing"),
    # The role and the reason are checked before the API is asked (nothing listens at :1): the message names them.
    (
        "resume-name-as-role",
        [
            "golive",
            "resume",
            "--tenant",
            "5035",
            "--by",
            "Per Hansen",
            "--reason",
            "fixed it",
            "--server",
            "http://127.0.0.1:1",
        ],
        "never a person's name",
    ),
    (
        "resume-role-that-does-not-resume",
        [
            "golive",
            "resume",
            "--tenant",
            "5035",
            "--by",
            "service-owner",
            "--reason",
            "fixed it",
            "--server",
            "http://127.0.0.1:1",
        ],
        "roles that do: cutover-lead, project-lead",
    ),
    (
        "resume-blank-reason",
        [
            "golive",
            "resume",
            "--tenant",
            "5035",
            "--by",
            "project-lead",
            "--reason",
            "  ",
            "--server",
            "http://127.0.0.1:1",
        ],
        "--reason",
    ),
    (
        "approve-name-as-role",
        [
            "golive",
            "approve",
            "--tenant",
            "5035",
            "--gate",
            "extract-delivered",
            "--by",
            "Kari",
            "--reason",
            "counts match",
            "--server",
            "http://127.0.0.1:1",
        ],
        "never a person's name",
    ),
    (
        "approve-evidence-gate",
        [
            "golive",
            "approve",
            "--tenant",
            "5035",
            "--gate",
            "smoke-checks",
            "--by",
            "cutover-lead",
            "--reason",
            "counts match",
            "--server",
            "http://127.0.0.1:1",
        ],
        "decided by evidence",
    ),
    ("golive-bench-tenants", ["golive", "bench", "--tenants", "0"], "--tenants"),
    ("operator-run-namespace", ["operator", "run", "--namespace", "Bad_NS!"], "not a valid Kubernetes namespace"),
    ("operator-run-no-namespace", ["operator", "run"], "--all-namespaces"),
    ("waves-bench-limit", ["waves", "bench", "--national-time-limit", "-1"], "--national-time-limit -1"),
    ("report-exporter-refresh", ["report", "exporter", "--refresh", "0"], "--refresh 0"),
    ("report-exporter-env", ["report", "exporter", "--env", "staging"], "unknown environment"),
    # monitoring
    ("mon-render-out-file", ["monitoring", "render", "--out", "FILE"], "is an existing file"),
    ("mon-render-env", ["monitoring", "render", "--out", "OUT", "--env", "staging"], "unknown environment"),
    ("mon-render-base", ["monitoring", "render", "--out", "OUT", "--runbook-base", "ftp://x"], "not an http(s) URL"),
    ("kpi-show-tenant", ["monitoring", "kpi", "show", "--tenant", "9999", "--dsn", DEAD_DSN], "9999"),
    ("kpi-show-dsn", ["monitoring", "kpi", "show", "--tenant", "5035", "--dsn", DEAD_DSN], "cannot connect"),
    (
        "kpi-show-period",
        [
            "monitoring",
            "kpi",
            "show",
            "--tenant",
            "5035",
            "--dsn",
            DEAD_DSN,
            "--from",
            "2027-03-01",
            "--to",
            "2027-02-01",
        ],
        "is not before --to",
    ),
    (
        "kpi-baseline-date",
        ["monitoring", "kpi", "baseline", "--tenant", "5035", "--dsn", DEAD_DSN, "--from", "2027-02-30"],
        "--from",
    ),
    ("kpi-exporter-tenant", ["monitoring", "kpi-exporter", "--dsn", DEAD_DSN, "--tenant", "9999"], "9999"),
    ("probe-env", ["monitoring", "probe-exporter", "--env", "staging"], "unknown environment"),
    ("probe-integration", ["monitoring", "probe-exporter", "--integration", "kjernejournal"], "SERVICE=URL"),
    ("probe-interval", ["monitoring", "probe-exporter", "--interval", "-1"], "--interval -1"),
    ("probe-port", ["monitoring", "probe-exporter", "--port", "70000"], "--port 70000"),
    # runbooks, tenants
    ("runbook-unknown", ["runbook", "EpjNoSuchAlert"], "neither an alert nor a runbook"),
    ("runbook-tenant", ["runbook", "EpjJournalErrorBudgetBurn", "--tenant", "9999"], "9999: no municipality"),
    ("runbook-generate-out-file", ["runbook", "generate", "--out", "FILE"], "is an existing file"),
    ("tenants-validate-dir", ["tenants", "validate", "--dir", "/nope"], "no such folder of tenant files"),
    ("tenants-list-dir", ["tenants", "list", "--dir", "FILE"], "is a file"),
    ("population-missing", ["tenants", "population", "--from", "/nope.csv"], "no such SSB table export"),
    ("population-not-csv", ["tenants", "population", "--from", "BROKEN", "--dry-run"], "no header row"),
    (
        "pitr-tenant",
        ["backup", "restore-manifest", "--tenant", "9999", "--to", "2026-12-04T11:30:00+01:00", "--out", "OUT"],
        "9999: no municipality",
    ),
    (
        "pitr-time",
        ["backup", "restore-manifest", "--tenant", "5035", "--to", "banana", "--out", "OUT"],
        "is not a date and time",
    ),
    (
        "pitr-out-folder",
        ["backup", "restore-manifest", "--tenant", "5035", "--to", "2026-12-04T11:30:00+01:00", "--out", "EMPTY"],
        "is a folder",
    ),
    (
        "verify-restore-dsn",
        ["backup", "verify-restore", "--tenant", "5035", "--dsn", "banana"],
        "not a PostgreSQL address",
    ),
    (
        "verify-restore-tenant",
        ["backup", "verify-restore", "--tenant", "50x5", "--dsn", DEAD_DSN],
        "not a kommunenummer",
    ),
    # usage mistakes
    ("unknown-command", ["waves", "plam"], "No such command 'plam'"),
    ("unknown-option", ["report", "cost", "--kommune", "5035"], "No such option"),
    ("missing-option", ["report", "gains", "--dsn", DEAD_DSN], "--tenant"),
]


def _expand(args: list[str], root: Path, plan: Path | None) -> list[str]:
    names = {
        "OUT": str(root / "out"),
        "FILE": str(root / "a-file"),
        "BROKEN": str(root / "broken.yaml"),
        "NOTMAPPING": str(root / "not-a-mapping.yaml"),
        "BADDATE": str(root / "bad-date.yaml"),
        "EMPTY": str(root / "empty-extract"),
        "PLAN": str(plan / "plan.json") if plan else "PLAN",
    }
    return [names.get(a, a).replace("FILE/", names["FILE"] + "/") for a in args]


@pytest.mark.parametrize(("args", "words"), [(a, w) for _, a, w in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_plain_line_and_writes_nothing(
    args: list[str], words: str, workdir: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = request.getfixturevalue("plan_dir") if "PLAN" in args else None
    if request.node.callspec.id == "render-stack-yaml":
        monkeypatch.setenv("EPJ_INFRA_DIR", str(workdir / "infra"))
    before = _tree(workdir)
    result = runner.invoke(app, _expand(args, workdir, plan))
    output = result.output
    assert result.exit_code not in (0, None), f"false success: {output}"
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "╭" not in output and "│" not in output, f"a boxed message, not a plain line:\n{output}"
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"expected one 'error:' line:\n{output}"
    assert words in errors[0], f"{words!r} not in {errors[0]!r}"
    assert _tree(workdir) == before, "something was written"


def test_every_command_is_in_the_table() -> None:
    """A new command gets its bad-input rows here (the table is the proof the issue asks for)."""
    import typer.main

    def leaves(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        children = getattr(command, "commands", None)
        if not children:
            yield path
            return
        for name, sub in children.items():
            yield from leaves(sub, (*path, name))

    tried = {tuple(a for a in args[:3] if not a.startswith("-") and a.islower()) for _, args, _ in CASES}
    commands = set(leaves(typer.main.get_command(app), ()))
    exempt = {
        ("runbook", "list"),  # these three take no input
        ("runbook", "check-playbooks"),
        ("monitoring", "alerts"),
        ("runbook", "show"),  # `epj runbook NAME` is show: its rows are above
    }
    missing = sorted(" ".join(c) for c in commands - exempt if not any(t[: len(c)] == c for t in tried))
    assert missing == [], f"commands without a bad-input row: {missing}"


def test_an_unexpected_error_is_one_line_with_a_debug_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net: an exception no command expected is one plain line, exit 1; EPJ_DEBUG=1 shows it."""
    import epj.report.service

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(epj.report.service, "cost_report", explode)
    monkeypatch.delenv("EPJ_DEBUG", raising=False)
    result = runner.invoke(app, ["report", "cost", "--period", "2027-03"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: unexpected RuntimeError: disk on fire (to see the Python traceback, run again with EPJ_DEBUG=1)"
    ]
    monkeypatch.setenv("EPJ_DEBUG", "1")
    debug = runner.invoke(app, ["report", "cost", "--period", "2027-03"])
    assert isinstance(debug.exception, RuntimeError)


def test_the_console_script_has_the_safety_net_too(tmp_path: Path) -> None:
    """Run as a user does (a process, not CliRunner): one line on stderr, nothing on stdout, exit 2."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "EPJ_DEBUG"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "epj.cli",
            "waves",
            "plan",
            "default",
            "--out",
            str(tmp_path / "o"),
            "--time-limit",
            "-5",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == ["error: --time-limit -5 is not allowed; give a number more than zero"]
    assert not (tmp_path / "o").exists()
