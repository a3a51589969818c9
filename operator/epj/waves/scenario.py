"""Read a scenario file and resolve it into the concrete planning problem.

Loading collects every validation problem as (file, field, reason) so a project lead
fixes a scenario in one pass. Resolving turns the compact scenario (templates,
defaults, "groups from cooperation") into explicit lists: the tenants to plan, the
windows with their go-live days, holidays, groups, precedence pairs, fixed tenants
and the training demand of each tenant. The solver, the greedy baseline and the
checker all start from this :class:`Problem`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from epj.tenants.gp_office import GpOffice
from epj.waves.calendar import add_months, default_blackouts, go_live_blockers, resolve_windows, working_days
from epj.waves.model import Blackout, Group, Precedence, Scenario, TenantKind, WindowSpec

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SCENARIO = SCENARIOS_DIR / "region-default.yaml"


@dataclass(frozen=True)
class ScenarioError:
    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class ScenarioInvalid(Exception):
    """A scenario that cannot be planned; carries every problem found."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class PlanTenant:
    """A tenant as the planner sees it: identity, size, and what it is bound to."""

    id: str
    name: str
    role: str
    kind: TenantKind
    inhabitants: int
    end_users: int
    cooperation: str | None
    depends_on: tuple[str, ...]
    municipality: str | None
    decided_on: dt.date | None

    @property
    def principal(self) -> bool:
        return self.role == "principal"


@dataclass(frozen=True)
class Problem:
    """The resolved scenario: explicit everything, in a deterministic order."""

    scenario: Scenario
    source: str
    tenants: tuple[PlanTenant, ...]
    windows: tuple[WindowSpec, ...]
    blackouts: tuple[Blackout, ...]
    groups: tuple[Group, ...]
    precedence: tuple[Precedence, ...]
    fixed: dict[str, tuple[str, str]]  # tenant -> (window label, reason)
    locked: frozenset[str] = frozenset()
    #: GP offices from the tenant files, listed in their municipality's RolloutWave (not planned on their own).
    gp_offices: tuple[GpOffice, ...] = ()
    previous: dict[str, str] = field(default_factory=dict)  # tenant -> window label of the plan being revised

    # -- derived facts (pure functions of the scenario, shared by solver and outputs) --------------------------------

    def tenant(self, tenant_id: str) -> PlanTenant:
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        raise KeyError(tenant_id)

    def window(self, label: str) -> WindowSpec:
        for window in self.windows:
            if window.label == label:
                return window
        raise KeyError(label)

    def go_live(self, label: str) -> dt.date:
        go_live = self.window(label).go_live
        assert go_live is not None
        return go_live

    def superuser_sessions(self, tenant: PlanTenant) -> int:
        return self.scenario.training.superuser.needed(tenant.end_users)

    def enduser_sessions(self, tenant: PlanTenant) -> int:
        return self.scenario.training.enduser.needed(tenant.end_users)

    def sessions(self, tenant: PlanTenant) -> int:
        return self.superuser_sessions(tenant) + self.enduser_sessions(tenant)

    def window_blackouts(self, label: str) -> list[Blackout]:
        """Holidays this window's go-live would break (see :func:`epj.waves.calendar.go_live_blockers`)."""
        return go_live_blockers(self.go_live(label), self.scenario.preparation.hypercare_days, self.blackouts)

    def training_weeks(self, label: str) -> list[tuple[dt.date, int]]:
        """(week start, working days) of the weeks a wave in this window may train.

        The ``horizon_weeks`` weeks before go-live, but not before the previous window's
        go-live: instructors follow the waves, one wave's training at a time.
        """
        index = [w.label for w in self.windows].index(label)
        go_live = self.go_live(label)
        not_before = self.go_live(self.windows[index - 1].label) if index > 0 else dt.date.min
        weeks = []
        for k in range(self.scenario.training.horizon_weeks, 0, -1):
            start = go_live - dt.timedelta(days=7 * k)
            if start >= not_before:
                weeks.append((start, working_days(start, 7, self.blackouts)))
        return weeks

    def training_days(self, label: str) -> int:
        return sum(days for _, days in self.training_weeks(label))

    def earliest_for(self, tenant: PlanTenant) -> dt.date:
        """The tenant's own earliest go-live: its decision (or planned_on) plus the minimum lead time."""
        start = tenant.decided_on or self.scenario.planned_on
        return add_months(start, self.scenario.preparation.minimum_lead_months)

    def hypercare_overlap(self, a: str, b: str) -> bool:
        """Whether tenants going live in windows a and b are in hypercare on the same day."""
        days = self.scenario.preparation.hypercare_days
        ga, gb = self.go_live(a), self.go_live(b)
        return abs((ga - gb).days) < days


# ----------------------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def parse_scenario(data: object, source: str) -> Scenario:
    """Validate a scenario mapping; raise :class:`ScenarioInvalid` listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioInvalid([ScenarioError(source, "(file)", "expected a mapping at the top level")])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioInvalid(
            [ScenarioError(source, _loc(tuple(err["loc"])), err["msg"]) for err in exc.errors()]
        ) from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioInvalid([ScenarioError(str(path), "(file)", f"cannot read: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ScenarioInvalid([ScenarioError(str(path), where, f"not valid YAML: {exc}")]) from None
    except ValueError as exc:  # a date YAML cannot build, e.g. 2030-02-30
        raise ScenarioInvalid([ScenarioError(str(path), "(file)", f"not a valid date: {exc}")]) from None
    return parse_scenario(data, str(path))


def _file_gp_offices(scenario: Scenario, municipalities: set[str]) -> tuple[GpOffice, ...]:
    """GP offices from ``tenants/gp-offices/`` whose municipality is planned: they gate its cutover."""
    from epj.tenants import load_tenants

    if not scenario.tenants.from_files:
        return ()
    return tuple(g for g in load_tenants().gp_offices if g.municipality in municipalities)


def _file_tenants(scenario: Scenario) -> list[PlanTenant]:
    from epj.tenants import load_tenants

    tenant_set = load_tenants()
    calls = scenario.tenants.call_options
    for tenant in tenant_set.tenants:
        if tenant.role.value == "option" and (
            calls == "all" or (isinstance(calls, tuple) and tenant.kommunenummer in calls)
        ):
            tenant_set = tenant_set.with_option_called(tenant.kommunenummer)
    return [
        PlanTenant(
            id=t.kommunenummer,
            name=t.name,
            role=t.role.value,
            kind=TenantKind.municipality,
            inhabitants=t.population.inhabitants,
            end_users=t.expected_end_users,
            cooperation=t.cooperation,
            depends_on=t.depends_on,
            municipality=None,
            decided_on=t.option_called_on,
        )
        for t in tenant_set.active()
    ]


def resolve(scenario: Scenario, source: str = "(scenario)") -> Problem:
    """Turn a validated scenario into an explicit :class:`Problem`; reference errors raise ScenarioInvalid."""
    errors: list[ScenarioError] = []
    tenants: dict[str, PlanTenant] = {}
    if scenario.tenants.from_files:
        tenants.update({t.id: t for t in _file_tenants(scenario)})
    for i, inline in enumerate(scenario.tenants.inline):
        if inline.id in tenants:
            errors.append(ScenarioError(source, f"tenants.inline.{i}.id", f"tenant {inline.id} is listed twice"))
        tenants[inline.id] = PlanTenant(
            id=inline.id,
            name=inline.name,
            role=inline.role,
            kind=inline.kind,
            inhabitants=inline.inhabitants,
            end_users=inline.end_users,
            cooperation=inline.cooperation,
            depends_on=inline.depends_on,
            municipality=inline.municipality,
            decided_on=inline.decided_on,
        )
    calls = scenario.tenants.call_options
    if scenario.tenants.from_files and isinstance(calls, tuple):
        for i, tid in enumerate(calls):
            if tid not in tenants:
                errors.append(ScenarioError(source, f"tenants.call_options.{i}", f"no option tenant {tid}"))
    for excluded in scenario.tenants.exclude:
        tenants.pop(excluded, None)
    ordered = tuple(sorted(tenants.values(), key=lambda t: t.id))
    if not ordered:
        errors.append(ScenarioError(source, "tenants", "no tenant to plan"))

    cal = scenario.calendar
    years = range(cal.earliest_go_live.year, cal.latest_go_live.year + 1)
    windows = resolve_windows(cal.windows, years)
    labels = {w.label for w in windows}
    if not windows:
        errors.append(ScenarioError(source, "calendar.windows", "no production window"))
    blackout_years = range(
        min(cal.earliest_go_live.year, windows[0].start.year if windows else 9999) - 1,
        max(cal.latest_go_live.year, windows[-1].end.year if windows else 0) + 2,
    )
    blackouts = default_blackouts(cal.blackouts, blackout_years)

    groups: list[Group] = []
    if scenario.rules.groups_from_cooperation:
        by_coop: dict[str, list[str]] = {}
        for t in ordered:
            if t.cooperation:
                by_coop.setdefault(t.cooperation, []).append(t.id)
        groups.extend(
            Group(name=name, members=tuple(m), must=True) for name, m in sorted(by_coop.items()) if len(m) > 1
        )
    for i, group in enumerate(scenario.rules.groups):
        present = tuple(m for m in group.members if m in tenants)
        for m in group.members:
            if m not in tenants and m not in scenario.tenants.exclude:
                errors.append(ScenarioError(source, f"rules.groups.{i}.members", f"unknown tenant {m}"))
        if len(present) > 1:
            groups = [g for g in groups if g.name != group.name]
            groups.append(group.model_copy(update={"members": present}))

    precedence: list[Precedence] = []
    for i, rule in enumerate(scenario.rules.precedence):
        for end in ("first", "then"):
            tid = getattr(rule, end)
            if tid not in tenants and tid not in scenario.tenants.exclude:
                errors.append(ScenarioError(source, f"rules.precedence.{i}.{end}", f"unknown tenant {tid}"))
        if rule.first in tenants and rule.then in tenants:
            precedence.append(rule)
    for t in ordered:
        if t.kind is TenantKind.gp_office and t.municipality in tenants:
            precedence.append(
                Precedence(
                    first=t.id,
                    then=t.municipality,
                    same_window_ok=True,
                    reason="GP office before or with its municipality",
                )
            )
        if scenario.rules.depends_on_from_tenants:
            for dep in t.depends_on:
                if dep in tenants:
                    precedence.append(Precedence(first=dep, then=t.id, same_window_ok=False, reason="depends_on"))

    fixed: dict[str, tuple[str, str]] = {}
    for i, fixed_rule in enumerate(scenario.rules.fixed):
        if fixed_rule.tenant not in tenants:
            if fixed_rule.tenant not in scenario.tenants.exclude:
                errors.append(ScenarioError(source, f"rules.fixed.{i}.tenant", f"unknown tenant {fixed_rule.tenant}"))
            continue
        if fixed_rule.window not in labels:
            errors.append(ScenarioError(source, f"rules.fixed.{i}.window", f"no production window {fixed_rule.window}"))
            continue
        fixed[fixed_rule.tenant] = (fixed_rule.window, fixed_rule.reason)
    for tid in scenario.training.rooms:
        if tid not in tenants:
            errors.append(ScenarioError(source, f"training.rooms.{tid}", f"unknown tenant {tid}"))
    if errors:
        raise ScenarioInvalid(errors)
    return Problem(
        scenario=scenario,
        source=source,
        tenants=ordered,
        windows=tuple(windows),
        blackouts=tuple(blackouts),
        groups=tuple(groups),
        precedence=tuple(precedence),
        fixed=fixed,
        gp_offices=_file_gp_offices(scenario, {t.id for t in ordered if t.kind is TenantKind.municipality}),
    )


def load_problem(path: Path) -> Problem:
    """Load a scenario file and resolve it."""
    return resolve(load_scenario(path), str(path))
