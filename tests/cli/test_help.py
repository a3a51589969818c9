"""Help texts speak one vocabulary: --tenant, --period, --dsn, --out; an example per command; defaults one way.

Snapshot of the words, not of the layout: each rule is checked over every command's rendered
``--help``, so a new command (or option) that says ``--kommunenr`` or ``<bool>`` fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer.main
from typer.testing import CliRunner

from epj.cli import app

runner = CliRunner()


def _leaves(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    children = getattr(command, "commands", None)
    if not children:
        yield path, command
        return
    for name, sub in children.items():
        yield from _leaves(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = sorted(_leaves(ROOT), key=lambda item: item[0])
IDS = [" ".join(path) for path, _ in COMMANDS]


def _help(path: tuple[str, ...]) -> str:
    args = list(path)
    if args[:2] == ["runbook", "show"]:
        args = ["runbook", "show"]
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def _visible_options(command: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False):
            for name in param.opts:
                out[name] = param
    return out


#: What the issue found, spelled five ways; the one name for each is on the right.
OLD_SPELLINGS = {
    "--kommunenr": "--tenant",
    "--what-if-tenant": "--tenant N --what-if",
    "--call-option": "--tenant N --what-if",
    "--month": "--period",
    "--admin-dsn": "--dsn",
    "--report": "--out",
}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_no_old_spelling_is_offered(path: tuple[str, ...], command: object) -> None:
    offered = set(_visible_options(command)) & set(OLD_SPELLINGS)
    assert not offered, {name: f"use {OLD_SPELLINGS[name]}" for name in offered}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_one_name_per_concept(path: tuple[str, ...], command: object) -> None:
    for name, param in _visible_options(command).items():
        text = (getattr(param, "help", "") or "").lower()
        if getattr(param, "is_flag", False):
            continue
        if "kommunenummer" in text:
            assert name in ("--tenant", "-t"), f"{name}: a municipality is --tenant"
        if re.search(r"yyyy-mm(?!-dd)", text):
            assert name == "--period", f"{name}: a month is --period YYYY-MM"
        if "postgresql" in text and "ndjson" not in text:
            assert name == "--dsn", f"{name}: a database is --dsn (--target is where a migration writes)"
        if text.startswith("folder") and ("write" in text or "for " in text):
            assert name in ("--out", "-o"), f"{name}: an output folder is --out"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_has_an_example_and_reads_one_way(path: tuple[str, ...], command: object) -> None:
    text = _help(path)
    assert "Example" in text, f"epj {' '.join(path)} --help shows no example"
    for placeholder in ("<bool>", "<str>", "<int>", "<float>", "<path>", "<list[", "<datetime>"):
        assert placeholder not in text, f"type placeholder {placeholder} in help"
    assert "(default:" not in text and "Default:" not in text, "a default inside the help text, not [default: …]"


def test_defaults_are_shown_in_the_same_column() -> None:
    text = _help(("monitoring", "kpi", "show"))
    assert "[default: (30 days ago)]" in text and "[default: (now)]" in text
    plan = _help(("waves", "plan"))
    assert "[default: (scenario's)]" in plan
    cost = _help(("report", "cost"))
    assert "--period" in cost and "[default: (this month)]" in cost and "--what-if" in cost


def test_old_spellings_still_work_but_are_hidden() -> None:
    """Scripts written before the rename keep working for now (hidden aliases)."""
    result = runner.invoke(app, ["report", "cost", "--month", "2026-10", "--json"])
    assert result.exit_code == 0, result.output
    assert '"month": "2026-10"' in result.output
    assert "--month" not in _help(("report", "cost"))


def test_numbers_use_norwegian_grouping() -> None:
    from epj.clikit import fmt_decimal, fmt_int

    assert fmt_int(144431) == "144 431"
    assert fmt_decimal(613091.5) == "613 091,50"
    assert fmt_decimal(-1234.5, sign=True) == "-1 234,50"
    assert fmt_decimal(820, sign=True) == "+820,00"
    listing = runner.invoke(app, ["tenants", "list"], env={"COLUMNS": "250"}).output
    assert re.search(r"\b1[0-9] [0-9]{3}\b", listing)  # e.g. Malvik's 14 xxx inhabitants
    assert not re.search(r"\b[0-9]{1,3},[0-9]{3}\b", listing)  # never 14,000


def test_tenants_validate_and_list_use_the_same_words() -> None:
    validate = runner.invoke(app, ["tenants", "validate"]).output
    listing = runner.invoke(app, ["tenants", "list"], env={"COLUMNS": "250"}).output
    summary = re.search(r"(\d+) provisioned, (\d+) not provisioned \(option not called\)", validate)
    assert summary, validate
    assert f"{summary.group(1)} provisioned, {summary.group(2)} not provisioned (option not called)" in " ".join(
        listing.split()
    )
    assert listing.count("no: option not called") == int(summary.group(2))
    assert "active" not in validate
