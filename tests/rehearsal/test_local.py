"""The rehearsal's local pieces: reconciliation summary for the core, smoke checks against the target."""

from __future__ import annotations

from pathlib import Path

from epj.rehearsal.local import core_reconciliation, smoke_check_target, target_for


def test_core_reconciliation_counts_what_the_manifest_promised_but_never_arrived() -> None:
    report = {
        "complete": False,
        "error": "EXTRACT_INCOMPLETE",
        "sources": {"profil/JOURNAL.csv": {"read": 90, "migrated": 80, "quarantined": 10}},
        "manifest_mismatch": {"profil/JOURNAL.csv": {"manifest": 100, "read": 90}},
    }
    rec = core_reconciliation(report)
    assert not rec.complete
    assert rec.counts == {"read": 90, "migrated": 80, "quarantined": 10, "unaccounted": 10}
    assert rec.message == "EXTRACT_INCOMPLETE: profil/JOURNAL.csv manifest 100, read 90"


def test_smoke_check_compares_the_target_with_the_reconciliation(tmp_path: Path) -> None:
    target = target_for(f"ndjson:{tmp_path}", "5035")
    folder = tmp_path / "5035"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text('{"id": "a"}\n{"id": "b"}\n', encoding="utf-8")
    assert smoke_check_target(target, "5035", {"Patient": 2})[0]
    passed, reason = smoke_check_target(target, "5035", {"Patient": 3, "Encounter": 1})
    assert not passed and "Encounter 0≠1" in reason and "Patient 2≠3" in reason
    assert smoke_check_target(target_for(f"ndjson:{tmp_path}", "5031"), "5031", {"Patient": 1}) == (
        False,
        f"target {tmp_path / '5031'} is missing",
    )
    assert target_for("postgresql://db/x", "5035") == "postgresql://db/x"
