"""Which runbooks exist, which alerts need one, and where they disagree.

Kept free of Typer and of the monitoring rules' internals: the caller passes the
alert names (normally ``epj.monitoring.rules.alert_names()``), so the gap logic is
one small pure function that the CLI, the tests and CI share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from epj.paths import runbooks_dir

ALERTS_SUBDIR = "alerts"
PROCESS_SUBDIR = "process"
_PLAYBOOK_REF = re.compile(r"playbooks/([A-Za-z0-9_.-]+\.ya?ml)")


@dataclass(frozen=True)
class RunbookIndex:
    """Alerts side by side with runbooks. Paths are repository-relative (``runbooks/alerts/X.md``)."""

    alerts: tuple[str, ...]
    runbooks: dict[str, str]
    missing: tuple[str, ...]
    orphans: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """The stable ``epj runbook list --json`` shape."""
        return {
            "alerts": list(self.alerts),
            "runbooks": dict(self.runbooks),
            "missing": list(self.missing),
            "orphans": list(self.orphans),
        }

    @property
    def complete(self) -> bool:
        return not self.missing and not self.orphans


def alert_runbook_files(root: Path | None = None) -> dict[str, Path]:
    """Runbook files under ``runbooks/alerts``, by alert name (the file stem)."""
    folder = (root or runbooks_dir()) / ALERTS_SUBDIR
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.md"))}


def process_runbook_files(root: Path | None = None) -> dict[str, Path]:
    """Process runbooks (cutover night, rollback, …) by name, e.g. ``cutover-night``."""
    folder = (root or runbooks_dir()) / PROCESS_SUBDIR
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.md"))}


def build_index(alert_names: list[str] | tuple[str, ...], root: Path | None = None) -> RunbookIndex:
    """Compare the generated alerts with the runbook files; ``orphans`` are runbooks of no alert."""
    files = alert_runbook_files(root)
    alerts = tuple(sorted(set(alert_names)))
    runbooks = {name: f"runbooks/{ALERTS_SUBDIR}/{files[name].name}" for name in alerts if name in files}
    missing = tuple(name for name in alerts if name not in files)
    orphans = tuple(sorted(set(files) - set(alerts)))
    return RunbookIndex(alerts=alerts, runbooks=runbooks, missing=missing, orphans=orphans)


def playbook_references(text: str) -> list[str]:
    """Playbook file names a runbook mentions (``…/playbooks/restore-tenant-db.yml`` → ``restore-tenant-db.yml``)."""
    return sorted(set(_PLAYBOOK_REF.findall(text)))


def missing_playbooks(root: Path | None = None) -> dict[str, list[str]]:
    """Runbook (repository-relative path) → playbooks it names that do not exist in runbooks/ansible/playbooks."""
    base = root or runbooks_dir()
    playbooks = base / "ansible" / "playbooks"
    out: dict[str, list[str]] = {}
    for path in sorted([*alert_runbook_files(base).values(), *process_runbook_files(base).values()]):
        absent = [
            name for name in playbook_references(path.read_text(encoding="utf-8")) if not (playbooks / name).is_file()
        ]
        if absent:
            out[f"runbooks/{path.parent.name}/{path.name}"] = absent
    return out
