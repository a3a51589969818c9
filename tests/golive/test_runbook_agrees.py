"""The cutover-night runbook and the operator say the same thing: every gate of the night is named in both."""

from __future__ import annotations

import re
from pathlib import Path

from epj.golive import EXIT_GATES, GateName, Phase
from epj.golive.phases import APPROVAL_GATES, GATE_ROLES, ApproverRole

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "process" / "cutover-night.md"
NIGHT = {
    *EXIT_GATES[Phase.FREEZE],
    *EXIT_GATES[Phase.CUTOVER],
    GateName.CUTOVER_WINDOW,
    GateName.EXTRACT_DELIVERED,
}


def test_every_gate_of_the_night_is_in_the_runbook_and_every_gate_named_there_exists() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", text)) & {str(g) for g in GateName} | set(
        re.findall(r"--gate ([a-z-]+)", text)
    )
    assert {str(g) for g in NIGHT} <= named
    assert named - {"<gate>"} <= {str(g) for g in GateName}


def test_the_runbooks_commands_are_accepted_by_the_operator() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    for gate, role in re.findall(r"--gate ([a-z-]+) --by ([a-z-]+)", text):
        assert GateName(gate) in APPROVAL_GATES, gate
        assert ApproverRole(role) in GATE_ROLES[GateName(gate)], (gate, role)


def test_the_cli_help_names_every_gate_a_person_approves_and_who_resumes() -> None:
    """`epj golive approve --help` is what the cutover lead reads at 18:00: extract-delivered must be there."""
    from typer.testing import CliRunner

    from epj.cli import app
    from epj.golive.phases import RESUME_ROLES

    runner = CliRunner()
    approve = runner.invoke(app, ["golive", "approve", "--help"], env={"COLUMNS": "250"})
    assert approve.exit_code == 0
    for gate in APPROVAL_GATES:
        assert str(gate) in approve.output, gate
    resume = runner.invoke(app, ["golive", "resume", "--help"], env={"COLUMNS": "250"})
    for role in RESUME_ROLES:
        assert str(role) in resume.output, role


def test_the_runbook_says_a_rejected_extract_rolls_back_at_once() -> None:
    """The operator rolls back on a recorded extract rejection at once, not at the 3 h deadline."""
    row = next(line for line in RUNBOOK.read_text(encoding="utf-8").splitlines() if "| Extract delivered" in line)
    assert "3 h" in row and "--reject" in row


def test_the_runbooks_resume_names_a_role_the_webhook_lets_resume() -> None:
    from epj.golive.phases import RESUME_ROLES

    resumes = re.findall(r"epj golive resume --tenant \d+ --by ([a-z-]+)", RUNBOOK.read_text(encoding="utf-8"))
    assert resumes and all(ApproverRole(role) in RESUME_ROLES for role in resumes), resumes
