"""The project's extract contract (migration/EXTRACT-CONTRACT.md) and the code agree on every list.

The contract is written by hand from the SPEC; these tests read its tables and compare them with the
code's constants, so a code list changed on one side only fails here (a fresh clone needs no ../shared).
"""

from __future__ import annotations

import re
from pathlib import Path

from epj.migration.codes import (
    ADM_STATUS,
    BRUKER_STATUS,
    IPLOS_VARIABLER,
    KJONN,
    MAALING,
    NOTATTYPE,
    PROFIL_COLUMNS,
    REASONS,
    RELASJON_CGM,
    RELASJON_PROFIL,
    TJENESTE,
    VEDTAK_STATUS,
    WARNINGS,
)

CONTRACT = Path(__file__).resolve().parents[2] / "migration" / "EXTRACT-CONTRACT.md"


def _rows(heading: str) -> list[list[str]]:
    """Cells of the first markdown table after `heading`."""
    text = CONTRACT.read_text(encoding="utf-8")
    start = text.rindex("\n", 0, text.index(heading)) + 1
    lines = text[start:].splitlines()
    rows: list[list[str]] = []
    for line in lines if lines[0].startswith("|") else lines[1:]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # drop the header row


def test_profil_columns_as_in_the_contract() -> None:
    table = {row[0]: tuple(row[1].split(";")) for row in _rows("## Profil files")}
    assert table == PROFIL_COLUMNS


def test_code_lists_as_in_the_contract() -> None:
    lists = {row[0]: row[1] for row in _rows("Code lists and mappings:")}
    assert KJONN == {"M": "male", "K": "female", "U": "unknown"}
    assert re.findall(r"([MKU]) → (\w+)", lists["BRUKER Kjonn"]) == list(KJONN.items())
    assert set(re.findall(r"[A-Z]{3,}", lists["BRUKER Status"])) == BRUKER_STATUS
    assert lists["VEDTAK Tjeneste"].split(", ") == list(TJENESTE)
    assert dict(re.findall(r"([A-Z]+) → (\w+)", lists["VEDTAK Status"])) == VEDTAK_STATUS
    assert set(lists["JOURNAL Notattype"].split(", ")) == NOTATTYPE
    assert dict(re.findall(r"([A-Z_]+) → ([\w-]+)", lists["ADMINISTRERING Status"])) == ADM_STATUS
    assert lists["PARORENDE Relasjon"].split(";")[0].split(", ") == list(RELASJON_PROFIL)
    assert lists["CGM Foresatt relasjon"].split(", ") == list(RELASJON_CGM)


def test_iplos_variables_as_in_the_contract() -> None:
    assert {row[0]: row[1] for row in _rows("IPLOS function variables")} == IPLOS_VARIABLER


def test_measurements_as_in_the_contract() -> None:
    table = {row[0]: (row[2], row[1]) for row in _rows("| Maaling type |")}
    assert {k: (v[0], v[2]) for k, v in MAALING.items()} == table


def test_reasons_and_warnings_in_contract_order() -> None:
    assert [row[1] for row in _rows("## Quarantine and warnings")] == list(REASONS)
    text = CONTRACT.read_text(encoding="utf-8")
    warnings = text[text.index("Warnings (record migrated") :].split("\n\n")[0]
    assert re.findall(r"[A-Z]{3,}_[A-Z_]+", warnings) == list(WARNINGS)
