"""Plan outputs a project lead and the operator consume: RolloutWave manifests, ICS calendar, Markdown summary.

Everything is rendered from the :class:`Plan` (plus the resolved problem for the
rules), deterministically: the same plan gives byte-identical files, so a plan
change shows up as a readable diff in review.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from epj import contract
from epj.numbers import fmt_int
from epj.waves.model import Plan, TenantKind, TenantPlan
from epj.waves.scenario import Problem

API_VERSION = "epj.no/v1alpha1"
#: RolloutWaves go where the operator watches (one name, epj.contract).
DEFAULT_NAMESPACE = contract.GOLIVE_NAMESPACE


def _members_by_window(plan: Plan) -> dict[str, list[TenantPlan]]:
    by: dict[str, list[TenantPlan]] = defaultdict(list)
    for t in plan.tenants:
        by[t.window].append(t)
    return by


def rollout_waves(problem: Problem, plan: Plan, namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """One RolloutWave per used window; members in processing order, dependencies from the scenario.

    GP offices have no GoLive of their own (they keep their record systems): each one is listed
    in ``spec.gpOffices`` of its municipality's wave, whose dependencies-live gate waits for the
    office to be ready — before or with the municipality, as the seeds require.
    """
    offices: dict[str, list[dict[str, str]]] = defaultdict(list)
    for office in problem.gp_offices:
        offices[office.municipality].append({"id": office.id, "name": office.name, "municipality": office.municipality})
    for entry in plan.tenants:
        if entry.kind is TenantKind.gp_office:
            municipality = problem.tenant(entry.tenant).municipality
            if municipality is not None:
                offices[municipality].append({"id": entry.tenant, "name": entry.name, "municipality": municipality})
    depends: dict[str, set[str]] = defaultdict(set)
    for rule in problem.precedence:
        first = problem.tenant(rule.first)
        if first.kind is TenantKind.municipality:
            depends[rule.then].add(rule.first)
    windows = {w.label: w for w in plan.windows}
    waves = []
    for label, members in sorted(_members_by_window(plan).items(), key=lambda kv: windows[kv[0]].go_live):
        window = windows[label]
        municipalities = sorted((m for m in members if m.kind is TenantKind.municipality), key=lambda m: m.tenant)
        in_wave = {m.tenant for m in municipalities}
        ordered: list[TenantPlan] = []
        remaining = list(municipalities)
        while remaining:  # dependencies inside the wave first, then kommunenummer
            ready = [m for m in remaining if not (depends[m.tenant] & in_wave) - {o.tenant for o in ordered}]
            pick = ready[0] if ready else remaining[0]
            ordered.append(pick)
            remaining.remove(pick)
        if not ordered:
            continue
        annotations = {
            "epj.no/planned-by": f"epj waves plan ({plan.scenario})",
            "epj.no/planned-on": str(plan.planned_on),
        }
        waves.append(
            {
                "apiVersion": API_VERSION,
                "kind": "RolloutWave",
                "metadata": {
                    "name": f"wave-{label.lower()}",
                    "namespace": namespace,
                    "labels": {
                        "app.kubernetes.io/part-of": "epj-platform",
                        "app.kubernetes.io/managed-by": "epj-waves",
                        "epj.no/scenario": plan.scenario,
                    },
                    "annotations": annotations,
                },
                "spec": {
                    "goLiveDate": window.go_live.isoformat(),
                    "productionWindow": {
                        "label": label,
                        "start": window.start.isoformat(),
                        "end": window.end.isoformat(),
                    },
                    "members": [
                        {"kommunenummer": m.tenant, "dependsOn": sorted(d for d in depends[m.tenant] if len(d) == 4)}
                        for m in ordered
                    ],
                    "gpOffices": sorted((o for m in ordered for o in offices[m.tenant]), key=lambda o: o["id"]),
                    "hypercareDays": problem.scenario.preparation.hypercare_days,
                    # The runbook's night (runbooks/process/cutover-night.md): the final migration waits
                    # for the cutover lead's record that the final extract arrived and its counts match.
                    "gates": {"requireExtractDelivered": True},
                    "schedule": problem.scenario.preparation.schedule_spec().to_dict(),
                },
            }
        )
    return waves


MILESTONE_TITLES = {
    "pre_project": "pre-project starts",
    "main_project": "main project starts",
    "last_day_to_withdraw": "last day to withdraw",
    "withdrawal_lock": "place locked (no withdrawal from this day)",
    "training_start": "training starts",
    "training_end": "training ends",
    "rehearsal": "rehearsal migration",
    "freeze": "change freeze",
    "cutover": "cutover night (legacy read-only from 16:00)",
    "go_live": "GO-LIVE",
    "hypercare_end": "command-centre period ends",
}


def calendar_ics(plan: Plan) -> bytes:
    """An ICS calendar with every milestone of every tenant as an all-day event (stable UIDs)."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//epj-platform//wave planner//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"EPJ go-live plan ({plan.scenario})")
    stamp = dt.datetime.combine(plan.planned_on, dt.time(0, 0), tzinfo=dt.UTC)
    for t in plan.tenants:
        for key, title in MILESTONE_TITLES.items():
            day = getattr(t.milestones, key)
            if day is None:
                continue
            event = Event()
            event.add("uid", f"{plan.scenario}-{t.tenant}-{key}@epj.no")
            event.add("dtstamp", stamp)
            event.add("dtstart", day)
            event.add("dtend", day + dt.timedelta(days=1))
            event.add("summary", f"{t.name} ({t.tenant}): {title}")
            event.add("description", f"Wave {t.window}, go-live {t.go_live.isoformat()}")
            event.add("categories", [key])
            cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


def summary_markdown(problem: Problem, plan: Plan) -> str:
    """The plan in a page: the objective, the waves, and the rules that bind."""
    s = problem.scenario
    o = s.objective
    lines = [
        f"# Go-live plan: {plan.scenario}",
        "",
        f"Planned on {plan.planned_on}. Solver status **{plan.status}** in {plan.solve_seconds:.2f} s; "
        f"cost **{plan.objective}** (lower is better).",
        "",
        "## Objective (minimised)",
        "",
        f"- waiting: {o.waiting_weight} × Σ thousand inhabitants × months after the first window "
        f"= {o.waiting_weight} × {plan.objective_terms.get('waiting', 0)}",
        f"- spread: {o.peak_weight} × end users in the busiest window (hundreds) "
        f"= {o.peak_weight} × {plan.objective_terms.get('peak', 0)}",
        f"- preferred groups kept together: {o.group_split_weight} × extra windows used "
        f"= {o.group_split_weight} × {plan.objective_terms.get('group_splits', 0)}",
        f"- stability when re-planning: {o.move_weight} × tenants moved "
        f"= {o.move_weight} × {plan.objective_terms.get('moves', 0)}",
        "",
        "## Waves",
        "",
        "| window | go-live | tenants | end users | sessions / capacity |",
        "|---|---|---|---|---|",
    ]
    by = _members_by_window(plan)
    cap = s.capacity
    for w in plan.windows:
        members = by.get(w.label, [])
        if not members:
            continue
        sessions = sum(sum(x.superuser + x.enduser for x in m.training) for m in members)
        capacity = s.training.courses_per_day_effective * problem.training_days(w.label)
        names = ", ".join(f"{m.name} ({m.tenant})" for m in sorted(members, key=lambda m: m.tenant))
        users = sum(m.end_users for m in members)
        lines.append(f"| {w.label} | {w.go_live} | {names} | {fmt_int(users)} | {sessions} / {capacity} |")
    lines += ["", "## Binding rules", ""]
    if plan.binding:
        lines.append("Relaxing one of these rules would make the plan better (each tested by re-solving without it):")
        lines.append("")
        lines += [f"- {text}" for text in plan.binding]
    else:
        lines.append("No single rule, dropped alone, would improve the plan (or the check was skipped).")
    tight = []
    for label, members in sorted(by.items()):
        if len(members) == cap.max_tenants_per_window:
            tight.append(f"{label} is full: {len(members)} of {cap.max_tenants_per_window} municipalities")
        users = sum(m.end_users for m in members)
        if users > 0.95 * cap.max_end_users_per_window:
            tight.append(f"{label} uses {fmt_int(users)} of {fmt_int(cap.max_end_users_per_window)} end users")
    if tight:
        lines += ["", "Limits at (or near) capacity:", ""]
        lines += [f"- {text}" for text in tight]
    lines += ["", "## Blackouts", "", *_blackout_lines(problem, plan)]
    lines += [
        "",
        "## Milestones",
        "",
        "| tenant | pre-project | main project | withdrawal lock | training | freeze | go-live | hypercare end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in sorted(plan.tenants, key=lambda t: (t.go_live, t.tenant)):
        ms = t.milestones
        training = f"{ms.training_start} – {ms.training_end}" if ms.training_start else "–"
        lines.append(
            f"| {t.name} ({t.tenant}) | {ms.pre_project} | {ms.main_project} | {ms.withdrawal_lock} | {training} "
            f"| {ms.freeze} | {ms.go_live} | {ms.hypercare_end} |"
        )
    return "\n".join(lines) + "\n"


def _blackout_lines(problem: Problem, plan: Plan) -> list[str]:
    """The periods closed to go-lives, each by the name it has in the scenario (custom ones as written)."""
    if not plan.tenants:
        return ["No tenant planned."]
    first = min(t.milestones.main_project for t in plan.tenants)
    last = max(t.milestones.hypercare_end for t in plan.tenants)
    custom = {b.name for b in problem.scenario.calendar.blackouts.extra}
    lines = ["No go-live or command-centre period falls in these periods; no cutover night or go-live day falls on a "
             "public holiday:", ""]  # fmt: skip
    for b in problem.blackouts:
        if b.end < first or b.start > last:
            continue
        what = "public holiday" if b.kind == "public-holiday" else ("from the scenario" if b.name in custom else "")
        when = str(b.start) if b.start == b.end else f"{b.start} – {b.end}"
        lines.append(f"- {b.name}: {when}" + (f" ({what})" if what else ""))
    return lines
