"""Reconciliation of one run (SPEC §6–§7): what was read, migrated, quarantined, warned, and why.

The tally is the run's book-keeping; :meth:`Tally.report` turns it into the exact ``reconciliation.json``
shape and :func:`render_markdown` into the human summary. Quarantine entries name a record by source
file and source id/key (and record number), the reason, the field that failed and the rule it broke —
never a value, national id, name or text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from epj.migration.codes import ALL_SOURCES, REASONS, RESOURCE_TYPES, WARNINGS

Reconciliation = dict[str, Any]
QuarantineEntry = dict[str, Any]


#: What a source id looks like (Profil: a positive integer; CGM: H…/K…/M…/V… + digits; IPLOS: BrukerID|Dato|Variabel).
_ID_PART = re.compile(r"[A-Z]{0,2}\d{1,10}|\d{2}\.\d{2}\.\d{4}|")
_CODE_PART = re.compile(r"[A-Z][A-Z_]{0,39}")
KEY_NOT_SHOWN = "(not shown: not a source id)"


def shown_key(key: str) -> str:
    """The key as the quarantine report may show it: a malformed row's id column can hold a national
    id or a name (a field missing before it), so anything that does not look like a source id is hidden
    (the file and record number still identify the record)."""
    parts = key.split("|") if "|" in key else key.split("/")
    for i, part in enumerate(parts):
        if not (_ID_PART.fullmatch(part) or ("|" in key and i == 2 and _CODE_PART.fullmatch(part))):
            return KEY_NOT_SHOWN
    return key


@dataclass
class SourceTally:
    """Counts for one source (a Profil file or a CGM element type)."""

    read: int = 0
    migrated: int = 0
    quarantined: int = 0


@dataclass
class Tally:
    """Running counts of a migration run."""

    kommunenr: str
    sources: dict[str, SourceTally] = field(default_factory=dict)
    resources: Counter[str] = field(default_factory=Counter)
    quarantine: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    patients_merged: int = 0
    by_source_reason: Counter[tuple[str, str]] = field(default_factory=Counter)
    on_quarantine: Callable[[QuarantineEntry], None] | None = None

    def source(self, name: str) -> SourceTally:
        tally = self.sources.get(name)
        if tally is None:
            tally = self.sources[name] = SourceTally()
        return tally

    def quarantined(self, source: str, reason: str, *, record: int, key: str, field: str = "", rule: str = "") -> None:
        """Count one quarantined record and hand its report entry on (``field``/``rule``: what failed)."""
        self.source(source).quarantined += 1
        self.quarantine[reason] += 1
        self.by_source_reason[source, reason] += 1
        if self.on_quarantine is not None:
            self.on_quarantine(
                {
                    "source": source,
                    "record": record,
                    "key": shown_key(key),
                    "reason": reason,
                    "field": field,
                    "rule": rule,
                }
            )

    def report(self, *, complete: bool | None = None) -> Reconciliation:
        """The SPEC §6 shape. ``complete`` defaults to "every source balances"."""
        balanced = all(t.read == t.migrated + t.quarantined for t in self.sources.values())
        ordered = sorted(self.sources, key=lambda s: ALL_SOURCES.index(s) if s in ALL_SOURCES else len(ALL_SOURCES))
        return {
            "kommunenr": self.kommunenr,
            "complete": balanced if complete is None else complete and balanced,
            "sources": {
                s: {"read": t.read, "migrated": t.migrated, "quarantined": t.quarantined}
                for s, t in ((s, self.sources[s]) for s in ordered)
            },
            "resources": {r: self.resources[r] for r in RESOURCE_TYPES if self.resources[r]},
            "quarantine": {r: self.quarantine[r] for r in REASONS if self.quarantine[r]},
            "warnings": {w: self.warnings[w] for w in WARNINGS if self.warnings[w]},
            "patients_merged": self.patients_merged,
        }


def incomplete_report(tally: Tally, mismatch: dict[str, dict[str, int]]) -> Reconciliation:
    """SPEC §7: an `EXTRACT_INCOMPLETE` report — read counts per source, empty resources, the mismatch."""
    report = tally.report(complete=False)
    report["complete"] = False
    report["error"] = "EXTRACT_INCOMPLETE"
    report["manifest_mismatch"] = mismatch
    report["resources"] = {}
    return report


def encoding_report(kommunenr: str, mismatched: dict[str, dict[str, Any]]) -> Reconciliation:
    """An ``ENCODING_MISMATCH`` report: nothing read, nothing written; which files, declared vs actual."""
    return {
        "kommunenr": kommunenr,
        "complete": False,
        "error": "ENCODING_MISMATCH",
        "encoding_mismatch": {
            rel: {k: m[k] for k in ("declared", "actual", "byte") if k in m} for rel, m in mismatched.items()
        },
        "sources": {},
        "resources": {},
        "quarantine": {},
        "warnings": {},
        "patients_merged": 0,
    }


#: What each warning means for the migrated data, for the console and the summary.
WARNING_MEANING: dict[str, str] = {
    "MISSING_NATIONAL_ID": "migrated without a national id",
    "INVALID_NATIONAL_ID": "national id not valid: migrated without it",
    "INVALID_ATC": "ATC code not valid: medication kept as text only",
    "CONFLICTING_DEMOGRAPHICS": "merged patients whose names or birth dates differ",
    "PERIOD_END_BEFORE_START": "period end before start: end dropped",
}


def summary_lines(report: Reconciliation) -> list[str]:
    """The console summary: status (complete / complete with warnings / NOT complete), then each warning.

    A run whose every patient record lost its national id (the classic: synthetic ids in a production
    run) says so, so it cannot read as a plain "complete".
    """
    warnings: dict[str, int] = dict(report.get("warnings") or {})
    quarantined = sum((report.get("quarantine") or {}).values())
    resources = sum((report.get("resources") or {}).values())
    if not report.get("complete"):
        status = f"NOT complete ({report.get('error', 'unaccounted records')})"
    elif warnings:
        status = f"complete with {sum(warnings.values())} warnings"
    else:
        status = "complete"
    lines = [f"kommune {report['kommunenr']}: {status}; {resources} resources, {quarantined} records quarantined"]
    sources = report.get("sources") or {}
    patients = sum(sources.get(s, {}).get("migrated", 0) for s in ("profil/BRUKER.csv", "cgm/Barn"))
    dropped = warnings.get("INVALID_NATIONAL_ID", 0) + warnings.get("MISSING_NATIONAL_ID", 0)
    for code, count in warnings.items():
        lines.append(f"  warning {code}: {count} ({WARNING_MEANING.get(code, 'migrated, flagged')})")
    if patients and dropped >= patients:
        lines.append(
            f"  every one of the {patients} migrated patient records has no national id: in a test or rehearsal "
            "extract (synthetic ids) run with --synthetic-ids; otherwise check the extract's Fodselsnummer columns"
        )
    return lines


def render_markdown(report: Reconciliation) -> str:
    """A readable summary of a reconciliation report for people (SPEC §6 "human summary")."""
    lines = [f"# Migration reconciliation — kommune {report['kommunenr']}", ""]
    status = "COMPLETE" if report.get("complete") else f"NOT COMPLETE ({report.get('error', 'unaccounted records')})"
    lines += [f"**Status:** {status}", ""]
    if report.get("manifest_mismatch"):
        lines += ["## Manifest disagrees with the extract", "", "| source | manifest | read |", "|---|---:|---:|"]
        for src, m in report["manifest_mismatch"].items():
            lines.append(f"| {src} | {m['manifest']} | {m['read']} |")
        lines += ["", "Nothing was written to the target.", ""]
    if report.get("encoding_mismatch"):
        lines += [
            "## Files not in their declared encoding",
            "",
            "| file | declared | actual | first at byte |",
            "|---|---|---|---:|",
        ]
        for src, m in report["encoding_mismatch"].items():
            lines.append(f"| {src} | {m.get('declared')} | {m.get('actual')} | {m.get('byte')} |")
        lines += ["", "Nothing was read or written. Export the files again in their declared encoding.", ""]
    lines += ["## Sources", "", "| source | read | migrated | quarantined | balances |", "|---|---:|---:|---:|:-:|"]
    for src, c in report["sources"].items():
        ok = "yes" if c["read"] == c["migrated"] + c["quarantined"] else "**NO**"
        lines.append(f"| {src} | {c['read']} | {c['migrated']} | {c['quarantined']} | {ok} |")
    for title, key in (("Resources written", "resources"), ("Quarantined (reason)", "quarantine")):
        lines += ["", f"## {title}", ""]
        lines += [f"- {k}: {v}" for k, v in report[key].items()] or ["- none"]
    lines += ["", "## Warnings (migrated, flagged)", ""]
    lines += [f"- {k}: {v}" for k, v in report["warnings"].items()] or ["- none"]
    lines += ["", f"Patients merged across or within systems: {report.get('patients_merged', 0)}", ""]
    lines += ["Quarantined records are listed by file and source id in `quarantine.ndjson`.", ""]
    return "\n".join(lines)
