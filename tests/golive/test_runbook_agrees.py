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
