"""The rehearsal report: ``rehearsal.json`` (for scripts), ``rehearsal.md`` (for the project lead), ``downtime.png``.

Stable JSON keys (scripts rely on them): ``tenants`` (kommunenummer → details), ``phases``
(kommunenummer → list of ``{phase, start, end}`` in simulated time), ``downtime_s`` (the longest
measured cutover, real seconds, legacy frozen → Live/RolledBack), ``outcome`` (``live``,
``rolled_back``, ``held``; ``aborted`` when a scenario aborts) and ``reconciliation``
(kommunenummer → the final migration's reconciliation, SPEC §6 shape).
Nothing personal goes in: records are named by source file and id only, as the migration reports them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from epj.golive import GateName, GateOutcome, GoLiveState, MigrationPurpose, Phase, Schedule

if TYPE_CHECKING:
    from epj.rehearsal.run import RehearsalResult

#: The attempt column of a night that ended before its final migration (no extract recorded, a NO-GO).
NO_FINAL_MIGRATION = "no final migration (the night ended before it)"

QUARANTINE_ADVICE: dict[str, str] = {
    "MALFORMED_ROW": "ask the legacy vendor to fix the export of these rows (wrong field count or unparseable values)",
    "INVALID_DATE": "correct the dates in the legacy system, or agree a mapping for impossible dates",
    "DUPLICATE_ID": "remove duplicate records in the legacy system before the final extract",
    "UNKNOWN_PARENT": "records point at a parent that is not in the extract: check the export's filters",
    "PARENT_QUARANTINED": "follows from quarantined parents: fixing those brings these records along",
    "UNKNOWN_CODE": "extend the code mapping or clean the codes in the legacy system",
    "PATIENT_UNIDENTIFIABLE": "give these patients a valid national id (or D-number) in the legacy system",
}
WARNING_ADVICE: dict[str, str] = {
    "MISSING_NATIONAL_ID": "register the missing national ids before the cutover",
    "INVALID_NATIONAL_ID": "correct invalid national ids (check digits) in the legacy system",
    "INVALID_ATC": "correct medication ATC codes",
    "CONFLICTING_DEMOGRAPHICS": "reconcile patients whose name or birth date differ between Profil and CGM",
    "PERIOD_END_BEFORE_START": "fix periods that end before they start",
}
GATE_ADVICE: dict[GateName, str] = {
    GateName.REHEARSAL_RECONCILED: "get a complete extract (manifest and files must agree) and rehearse again",
    GateName.TRAINING: "schedule catch-up courses until completion is above the threshold",
    GateName.NO_CRITICAL_ALERTS: "resolve the firing critical alerts (see their runbooks) before the cutover",
    GateName.DEPENDENCIES: "the tenants this one depends on must be live first",
    GateName.GO_NO_GO: "address the reason given at the go/no-go meeting and record a new approval",
    GateName.CUTOVER_WINDOW: "start the night before its latest start time (20:00): re-plan the go-live date",
    GateName.EXTRACT_DELIVERED: "deliver the final extract and have the cutover lead record extract-delivered "
    "(`epj golive approve --gate extract-delivered`) once UTTREKK.txt's counts match, within 3 h of the night's start",
    GateName.CUTOVER_RECONCILED: "the final migration must reconcile complete: re-deliver or fix the extract",
    GateName.SMOKE_CHECKS: "find why the smoke checks failed before opening the new EPJ to users",
    GateName.HYPERCARE_EXIT: "the command centre must approve leaving hypercare",
}


def mask_target(target: str) -> str:
    """A target URL without its password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", target)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def outcome(state: GoLiveState) -> str:
    """``live`` (Live or beyond, also when held in hypercare), ``rolled_back``, ``held`` or ``aborted``."""
    if state.phase == Phase.ROLLED_BACK:
        return "rolled_back"
    if state.phase == Phase.ABORTED:
        return "aborted"
    if state.phase in (Phase.LIVE, Phase.HYPERCARE, Phase.STABLE) or state.serving_since is not None:
        return "live"
    return "held"


def _fixes(tenant: dict[str, Any], schedule: Schedule, projected: float | None) -> list[str]:
    fixes: list[str] = []
    for entry in tenant["gate_trail"]:
        if entry["outcome"] in (GateOutcome.FAILED, GateOutcome.TIMED_OUT):
            advice = GATE_ADVICE.get(GateName(entry["gate"]), "")
            fixes.append(f"Gate {entry['gate']} {entry['outcome']}: {entry['reason']} → {advice}")
    rec = tenant.get("reconciliation") or tenant.get("rehearsal_reconciliation") or {}
    for reason, count in sorted((rec.get("quarantine") or {}).items(), key=lambda kv: -kv[1]):
        advice = QUARANTINE_ADVICE.get(reason, "see quarantine.ndjson")
        fixes.append(f"{count} record{'s' if count != 1 else ''} quarantined as {reason}: {advice}")
    for reason, count in sorted((rec.get("warnings") or {}).items(), key=lambda kv: -kv[1]):
        fixes.append(f"{count} warning{'s' if count != 1 else ''} {reason}: {WARNING_ADVICE.get(reason, 'review')}")
    window = (schedule.go_live_at - schedule.cutover_at).total_seconds()
    if projected is not None and projected > window / 2:
        fixes.append(
            f"Projected full-size downtime {projected / 3600:.1f} h uses more than half the cutover window "
            f"({window / 3600:.0f} h): speed up the migration or start the freeze earlier"
        )
    return fixes


def build_report(result: RehearsalResult) -> dict[str, Any]:
    """The ``rehearsal.json`` document."""
    executor, options, scenario = result.executor, result.options, result.scenario
    schedule = Schedule.for_date(scenario.wave.go_live_date)
    generated = executor.extracts.generated_mode
    tenants: dict[str, Any] = {}
    for number in scenario.wave.order():
        state = result.states[number]
        jobs = [job for job in executor.jobs.values() if job.kommunenummer == number]
        rehearsal_jobs = [j for j in jobs if j.purpose == MigrationPurpose.REHEARSAL and j.report]
        cutover_jobs = [j for j in jobs if j.purpose == MigrationPurpose.CUTOVER]
        attempts = [c for c in result.cutovers if c.kommunenummer == number]
        last = attempts[-1] if attempts else None
        downtime = round(last.seconds, 3) if last is not None else None
        projected = downtime / options.scale if downtime is not None and generated and options.scale else None
        final_report = next((j.report for j in reversed(cutover_jobs) if j.report), None)
        tenant: dict[str, Any] = {
            "outcome": outcome(state),
            "final_phase": str(state.phase),
            "phase_reason": state.phase_reason,
            "next_action": state.next_action,
            "downtime_s": downtime,
            "downtime_breakdown_s": {k: round(v, 3) for k, v in (last.breakdown if last else {}).items()},
            "projected_full_size_downtime_s": round(projected, 1) if projected is not None else None,
            "cutover_attempts": [
                {
                    "job": c.job_name or None,  # None: the night ended before its final migration
                    "seconds": round(c.seconds, 3),
                    "ended_in": str(c.end_phase) if c.end_phase else None,
                    "breakdown_s": {k: round(v, 3) for k, v in c.breakdown.items()},
                }
                for c in attempts
            ],
            "gates": [
                {"name": str(g.name), "outcome": str(g.outcome), "at": _iso(g.at), "reason": g.reason}
                for g in state.gates
            ],
            "gate_trail": [
                {"gate": str(e.gate), "outcome": str(e.outcome), "at": _iso(e.at), "reason": e.reason}
                for e in state.history
                if e.kind == "Gate"
            ],
            "approvals": [
                {"gate": str(e.gate), "by": e.by, "at": _iso(e.at), "decision": str(e.decision), "reason": e.reason}
                for e in state.history
                if e.kind == "Approval"
            ],
            "resumes": [
                {"by": e.by, "at": _iso(e.at), "reason": e.reason} for e in state.history if e.kind == "Resume"
            ],
            "rollbacks": [
                {"at": _iso(r.at), "reason": r.reason} for r in executor.rollbacks if r.kommunenummer == number
            ],
            "jobs": [j.to_dict() for j in jobs],
            # The go-live seal of a PostgreSQL store (None for NDJSON, which is an export, not a store).
            "seal": executor.seals.get(number),
            "rehearsal_reconciliation": rehearsal_jobs[-1].report if rehearsal_jobs else None,
            "reconciliation": final_report,
        }
        tenant["fix_before_real_night"] = _fixes(tenant, schedule, projected)
        tenants[number] = tenant
    outcomes = [t["outcome"] for t in tenants.values()]
    overall = next((o for o in ("rolled_back", "held", "aborted") if o in outcomes), "live")
    downtimes = [t["downtime_s"] for t in tenants.values() if t["downtime_s"] is not None]
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "clock": options.clock,
        "started_at": result.started_at.isoformat(),
        "wall_seconds": round(result.wall_seconds, 3),
        "extract": f"generated (scale {options.scale}, seed {options.seed})" if generated else str(options.extract),
        "synthetic_ids": executor.synthetic_ids,
        "target": mask_target(executor.target),
        "wave": {"name": scenario.wave.name, "go_live_date": scenario.wave.go_live_date.isoformat()},
        "outcome": overall,
        "downtime_s": max(downtimes) if downtimes else None,
        "tenants": tenants,
        "phases": {
            number: [
                {"phase": str(phase), "start": _iso(start), "end": _iso(end)}
                for phase, start, end in result.states[number].phase_spans()
            ]
            for number in tenants
        },
        "reconciliation": {number: t["reconciliation"] for number, t in tenants.items()},
    }


def _duration(start: str, end: str | None) -> str:
    import datetime as dt

    if end is None:
        return "—"
    seconds = (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def render_markdown(report: dict[str, Any]) -> str:
    """The human summary (``rehearsal.md``)."""
    lines = [
        f"# Cutover rehearsal — {report['wave']['name']} (go-live {report['wave']['go_live_date']})",
        "",
        f"Scenario **{report['scenario']}** on a {report['clock']} clock; extract: {report['extract']}; "
        f"target: `{report['target']}`; ran {report['wall_seconds']:.1f} s. Overall outcome: **{report['outcome']}**.",
        "",
        "| Tenant | Outcome | Final phase | Cutover downtime (real s) | Projected full size (linear) |",
        "|---|---|---|---|---|",
    ]
    for number, t in report["tenants"].items():
        down = f"{t['downtime_s']:.2f}" if t["downtime_s"] is not None else "—"
        proj = f"{t['projected_full_size_downtime_s'] / 60:.1f} min" if t["projected_full_size_downtime_s"] else "—"
        lines.append(f"| {number} | {t['outcome']} | {t['final_phase']} | {down} | {proj} |")
    for number, t in report["tenants"].items():
        lines += ["", f"## {number}", "", f"**{t['final_phase']}** — {t['phase_reason']}", ""]
        lines += [f"Next action: {t['next_action']}", "", "### Time per phase (simulated)", ""]
        lines += ["| Phase | Start | End | Duration |", "|---|---|---|---|"]
        for span in report["phases"][number]:
            took = _duration(span["start"], span["end"])
            lines.append(f"| {span['phase']} | {span['start']} | {span['end'] or '—'} | {took} |")
        lines += ["", "### Cutover downtime (real seconds, legacy frozen → Live)", ""]
        if t["cutover_attempts"]:
            lines += ["| Attempt | Ended in | Total | Breakdown |", "|---|---|---|---|"]
            for c in t["cutover_attempts"]:
                parts = ", ".join(f"{k} {v:.2f}" for k, v in c["breakdown_s"].items())
                job = c["job"] or NO_FINAL_MIGRATION
                lines.append(f"| {job} | {c['ended_in'] or '—'} | {c['seconds']:.2f} s | {parts} |")
        else:
            lines.append("No cutover was reached.")
        lines += ["", "### Gates", "", "| Gate | Outcome | At (simulated) | Reason |", "|---|---|---|---|"]
        for g in t["gate_trail"]:
            lines.append(f"| {g['gate']} | {g['outcome']} | {g['at']} | {g['reason']} |")
        if t["approvals"] or t["resumes"] or t["rollbacks"]:
            lines += ["", "### Approvals, resumes and rollbacks", ""]
            lines += [
                f"- {a['at']}: {a['gate']} **{a['decision']}** by {a['by']} — {a['reason']}" for a in t["approvals"]
            ]
            lines += [f"- {r['at']}: resumed by {r['by']} — {r['reason']}" for r in t["resumes"]]
            lines += [f"- {r['at']}: **rolled back** — {r['reason']}" for r in t["rollbacks"]]
        seal = t.get("seal")
        if seal and "sealed_at" in seal:
            lines += [
                "",
                f"Store sealed at go-live ({seal['sealed_at']}, by {seal['sealed_by']}, live data from migration run "
                f"{seal['live_run']}): every later migration run into it is refused.",
            ]
        rec = t["reconciliation"] or t["rehearsal_reconciliation"]
        lines += [
            "",
            "### Reconciliation" + (" (final migration)" if t["reconciliation"] else " (rehearsal migration)"),
            "",
        ]
        if rec:
            lines += [
                f"Complete: **{rec.get('complete')}**" + (f" — error {rec['error']}" if rec.get("error") else ""),
                "",
            ]
            lines += ["| Source | Read | Migrated | Quarantined |", "|---|---|---|---|"]
            for source, c in rec.get("sources", {}).items():
                lines.append(f"| {source} | {c['read']} | {c['migrated']} | {c['quarantined']} |")
            for title, key in (("Quarantined by reason", "quarantine"), ("Warnings by reason", "warnings")):
                if rec.get(key):
                    lines += ["", f"{title}: " + ", ".join(f"{k} {v}" for k, v in rec[key].items())]
            if rec.get("manifest_mismatch"):
                mismatch = rec["manifest_mismatch"].items()
                detail = ", ".join(f"{s} manifest {m.get('manifest')} read {m.get('read')}" for s, m in mismatch)
                lines += ["", f"Manifest mismatch: {detail}"]
        else:
            lines.append("No migration finished.")
        lines += ["", "### What to fix before the real night", ""]
        lines += [f"- {fix}" for fix in t["fix_before_real_night"]] or ["- Nothing found in this rehearsal."]
    return "\n".join(lines) + "\n"


def render_chart(report: dict[str, Any], path: Path) -> None:
    """A horizontal stacked bar per cutover attempt: where the downtime went."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        (f"{number} · {(c['job'] or 'no migration').rsplit('-', 1)[-1]}", c["breakdown_s"], c["ended_in"])
        for number, t in report["tenants"].items()
        for c in t["cutover_attempts"]
    ]
    steps = ["final extract", "migration", "smoke checks", "orchestration"]
    colours = ["#4c72b0", "#dd8452", "#55a868", "#8c8c8c"]
    fig, ax = plt.subplots(figsize=(8, 1.8 + 0.6 * max(len(rows), 1)))
    if not rows:
        ax.text(0.5, 0.5, "No cutover was reached", ha="center", va="center")
        ax.set_axis_off()
    else:
        for i, (_label, parts, ended) in enumerate(rows):
            left = 0.0
            for step, colour in zip(steps, colours, strict=True):
                width = parts.get(step, 0.0)
                ax.barh(i, width, left=left, color=colour, label=step if i == 0 else None)
                left += width
            ax.text(left, i, f" {left:.2f} s → {ended}", va="center", fontsize=8)
        ax.set_yticks(range(len(rows)), [r[0] for r in rows])
        ax.invert_yaxis()
        ax.set_xlabel("real seconds (legacy frozen → Live or RolledBack)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=4, fontsize=8, frameon=False)
        ax.margins(x=0.25)
    ax.set_title("Cutover downtime breakdown")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_reports(result: RehearsalResult) -> dict[str, Any]:
    """Write ``rehearsal.json``, ``rehearsal.md`` and ``downtime.png`` into the report folder; return the JSON."""
    import json

    report = build_report(result)
    folder = result.options.report_dir
    (folder / "rehearsal.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "rehearsal.md").write_text(render_markdown(report), encoding="utf-8")
    render_chart(report, folder / "downtime.png")
    return report
