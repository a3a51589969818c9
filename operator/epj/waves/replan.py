"""Re-planning after reality changes: an option called, a withdrawal, a wave that slips.

The previous plan is the starting point: tenants past their withdrawal lock (13
months before go-live by default) keep their window, everyone else may move but
each move costs ``move_weight`` in the objective, so the new plan changes only what
the change forces or what clearly pays off. The report says, per tenant, what
moved and why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass

from epj.waves.model import Fixed, Plan, Scenario, WindowSpec
from epj.waves.scenario import Problem, ScenarioError, ScenarioInvalid, resolve

CHANGE_HELP = (
    "call:KOMMUNENR (an option is called), withdraw:KOMMUNENR (a tenant withdraws before its lock), "
    "slip:WINDOW=YYYY-MM-DD (a window's go-live day moves, e.g. slip:2029-Q1=2029-03-05)"
)


@dataclass(frozen=True)
class Change:
    kind: str  # call | withdraw | slip
    target: str
    day: dt.date | None = None

    def __str__(self) -> str:
        if self.kind == "slip":
            return f"window {self.target} slips to {self.day}"
        return {"call": "option called by", "withdraw": "withdrawal of"}[self.kind] + f" {self.target}"


def parse_change(text: str) -> Change:
    """Parse one ``--change`` value; ValueError with the accepted forms otherwise."""
    if m := re.fullmatch(r"(call|withdraw):([0-9]{4}(?:-[a-z0-9-]+)?)", text.strip()):
        return Change(m.group(1), m.group(2))
    if m := re.fullmatch(r"slip:([0-9]{4}-Q[1-4])=([0-9]{4}-[0-9]{2}-[0-9]{2})", text.strip()):
        try:
            day = dt.date.fromisoformat(m.group(2))
        except ValueError:
            raise ValueError(f"--change {text!r}: {m.group(2)} is not a date") from None
        return Change("slip", m.group(1), day)
    raise ValueError(f"--change {text!r} not understood; use {CHANGE_HELP}")


def apply_changes(scenario: Scenario, problem: Problem, changes: list[Change]) -> Scenario:
    """The scenario with the changes applied (windows made explicit where one slips)."""
    source = scenario.tenants
    calls = source.call_options
    exclude = list(source.exclude)
    explicit = {w.label: w for w in scenario.calendar.windows.explicit}
    for change in changes:
        if change.kind == "call":
            if change.target in exclude:
                exclude.remove(change.target)
            if isinstance(calls, tuple):
                calls = (*calls, change.target)
            elif calls == "none":
                calls = (change.target,)
        elif change.kind == "withdraw":
            exclude.append(change.target)
        else:
            assert change.day is not None
            try:
                window = problem.window(change.target)
            except KeyError:
                raise ScenarioInvalid(
                    [ScenarioError(problem.source, "--change", f"no production window {change.target}")]
                ) from None
            explicit[change.target] = WindowSpec(
                label=window.label,
                start=min(window.start, change.day),
                end=max(window.end, change.day),
                go_live=change.day,
            )
    new_windows = scenario.calendar.windows.model_copy(update={"explicit": tuple(explicit.values())})
    return scenario.model_copy(
        update={
            "tenants": source.model_copy(update={"call_options": calls, "exclude": tuple(exclude)}),
            "calendar": scenario.calendar.model_copy(update={"windows": new_windows}),
        }
    )


def prepare_replan(
    scenario: Scenario, source: str, previous: Plan, changes: list[Change], today: dt.date
) -> tuple[Problem, dict[str, str]]:
    """The re-planning problem: changes applied, locked tenants fixed, the previous plan as the reference.

    Locks become ``rules.fixed`` entries of the problem's scenario, so writing that
    scenario out (``scenario.yaml`` next to the new plan) lets ``epj waves check``
    verify the new plan on its own. Returns the problem and the tenants the changes
    touch directly (tenant -> reason).
    """
    base = resolve(scenario, source)
    prev = previous.by_tenant()
    locked = {tid for tid, entry in prev.items() if entry.milestones.withdrawal_lock <= today or entry.locked}
    errors = []
    touched: dict[str, str] = {}
    planned = {t.id for t in base.tenants}
    for change in changes:
        if change.kind == "withdraw" and change.target not in prev and change.target not in planned:
            errors.append(
                ScenarioError(source, "--change", f"withdraw:{change.target}: {change.target} is not in the plan")
            )
            continue
        if change.kind == "call" and (change.target in prev or change.target in planned):
            errors.append(
                ScenarioError(source, "--change", f"call:{change.target}: {change.target} is already in the plan")
            )
            continue
        if change.kind == "withdraw":
            if change.target in locked:
                lock = prev[change.target].milestones.withdrawal_lock
                errors.append(
                    ScenarioError(source, "--change", f"{change.target} cannot withdraw: its place locked on {lock}")
                )
            touched[change.target] = "withdrew before its withdrawal lock"
        elif change.kind == "call":
            touched[change.target] = "option called: newly planned"
    if errors:
        raise ScenarioInvalid(errors)
    changed = apply_changes(scenario, base, changes)
    unlocked = resolve(changed, source)
    ids = {t.id for t in unlocked.tenants}
    unknown = [c.target for c in changes if c.kind == "call" and c.target not in ids]
    if unknown:
        raise ScenarioInvalid(
            [ScenarioError(source, "--change", f"call:{t}: no option municipality {t} to call") for t in unknown]
        )
    labels = {w.label for w in unlocked.windows}
    already = {rule.tenant for rule in changed.rules.fixed}
    lock_rules = tuple(
        Fixed(
            tenant=tid,
            window=prev[tid].window,
            reason=f"past its withdrawal lock on {prev[tid].milestones.withdrawal_lock}",
        )
        for tid in sorted(locked & ids)
        if prev[tid].window in labels and tid not in already
    )
    effective = changed.model_copy(
        update={"rules": changed.rules.model_copy(update={"fixed": (*changed.rules.fixed, *lock_rules)})}
    )
    problem = resolve(effective, source)
    reference = {tid: entry.window for tid, entry in prev.items() if tid in ids and entry.window in labels}
    problem = dataclasses.replace(problem, locked=frozenset(locked & ids), previous=reference)
    return problem, touched


@dataclass(frozen=True)
class Move:
    tenant: str
    name: str
    before: str | None  # "2029-Q1 2029-02-19"
    after: str | None
    reason: str


def compare(problem: Problem, previous: Plan, new: Plan, changes: list[Change], touched: dict[str, str]) -> list[Move]:
    """What moved between the two plans, and why (unchanged tenants are left out)."""
    prev, cur = previous.by_tenant(), new.by_tenant()
    slips = {c.target: c for c in changes if c.kind == "slip"}
    groups = {m: g.name for g in problem.groups if g.must for m in g.members}
    summary = "; ".join(str(c) for c in changes) or "no change"
    moves = []
    for tid in sorted(set(prev) | set(cur)):
        a, b = prev.get(tid), cur.get(tid)
        before = f"{a.window} {a.go_live}" if a else None
        after = f"{b.window} {b.go_live}" if b else None
        if before == after:
            continue
        name = (b or a).name if (b or a) else tid  # type: ignore[union-attr]
        if tid in touched:
            reason = touched[tid]
        elif a and b and a.window == b.window and a.window in slips:
            reason = f"its window {a.window} slipped from {a.go_live} to {b.go_live}"
        elif tid in problem.locked:
            reason = f"locked in {a.window if a else '?'}; moved only with its window"
        else:
            reason = f"re-optimised after: {summary}"
            if tid in groups:
                partners = next(g for g in problem.groups if g.name == groups[tid]).members
                if any(
                    m in touched or (m in prev and m in cur and prev[m].window != cur[m].window)
                    for m in partners
                    if m != tid
                ):
                    reason = f"goes live together with its group {groups[tid]}, which moved ({summary})"
        moves.append(Move(tid, name, before, after, reason))
    return moves
