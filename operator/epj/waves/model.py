"""Wave-planner domain core: the scenario a project lead writes and the plan the planner returns.

A *scenario* states the facts and rules (production windows, holidays, training and
command-centre capacity, groups, precedence, fixed tenants, objective weights); a
*plan* says, for each called tenant, which window it goes live in and when its
training sessions run. Both are plain pydantic models so the solver, the
independent checker, the outputs and the CLI share one vocabulary, and so a typo in
a scenario file is reported with its field path instead of surfacing deep in the
solver. Pure: no typer, kopf, Pulumi, PostgreSQL or OR-Tools here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from epj.golive.model import ScheduleSpec
from epj.golive.schedule import Schedule

#: A tenant id: a kommunenummer ('5035'), or a GP office inside one ('5035-legekontor').
TenantId = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}(-[a-z0-9][a-z0-9-]*)?$")]
MonthDay = Annotated[str, StringConstraints(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
WindowLabel = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-Q[1-4]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------------------------------------------
# Scenario
# ----------------------------------------------------------------------------------------------------------------------


class TenantKind(StrEnum):
    municipality = "municipality"
    gp_office = "gp-office"


class InlineTenant(_Strict):
    """A tenant written in the scenario itself (synthetic tests, GP offices, what-if studies)."""

    id: TenantId
    name: str = Field(min_length=1)
    role: Literal["principal", "option"] = "option"
    kind: TenantKind = TenantKind.municipality
    municipality: TenantId | None = Field(
        default=None, description="GP offices only: the municipality it lies in (goes live before or with it)."
    )
    inhabitants: int = Field(gt=0)
    end_users: int = Field(gt=0)
    cooperation: str | None = None
    depends_on: tuple[TenantId, ...] = ()
    decided_on: dt.date | None = Field(default=None, description="When the tenant decided to join (option called).")

    @model_validator(mode="after")
    def _gp_office_has_municipality(self) -> InlineTenant:
        if self.kind is TenantKind.gp_office and self.municipality is None:
            raise ValueError("a gp-office needs 'municipality' (the municipality it lies in)")
        if self.kind is TenantKind.municipality and not re.fullmatch(r"[0-9]{4}", self.id):
            raise ValueError("a municipality's id is its 4-digit kommunenummer")
        return self


class TenantSource(_Strict):
    """Where the tenants come from: the tenant files (default) and/or inline entries."""

    from_files: bool = Field(default=True, description="Read tenants/*.yaml with epj.tenants.load_tenants().")
    call_options: Literal["all", "none"] | tuple[TenantId, ...] = Field(
        default="all", description="Options treated as called for this plan: all, none, or a list of kommunenummer."
    )
    inline: tuple[InlineTenant, ...] = ()
    exclude: tuple[TenantId, ...] = Field(default=(), description="Tenants left out (e.g. withdrawn).")


class WindowSpec(_Strict):
    """One production window: a date range labelled by quarter, with the wave's go-live day inside it."""

    label: WindowLabel
    start: dt.date
    end: dt.date
    go_live: dt.date | None = Field(
        default=None, description="Default: the first go-live weekday (calendar.windows.go_live_weekday) from start."
    )

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if self.end < self.start:
            raise ValueError("end is before start")
        if self.go_live is not None and not (self.start <= self.go_live <= self.end):
            raise ValueError("go_live must lie inside [start, end]")
        return self


class WindowTemplate(_Strict):
    """A yearly window: quarter label plus start/end as month-day."""

    quarter: Literal[1, 2, 3, 4]
    start: MonthDay
    end: MonthDay


DEFAULT_WINDOW_TEMPLATES: tuple[WindowTemplate, ...] = (
    WindowTemplate(quarter=1, start="02-15", end="03-10"),
    WindowTemplate(quarter=2, start="04-27", end="05-20"),
    WindowTemplate(quarter=3, start="09-01", end="09-30"),
    WindowTemplate(quarter=4, start="11-01", end="11-20"),
)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Windows(_Strict):
    """Four production windows a year by default; list explicit windows to override or add."""

    go_live_weekday: Weekday = Field(
        default="saturday",
        description="The weekday a wave goes live on (its first day on the new EPJ). The region's go-lives "
        "(30.04.2022, 12.11.2022) were Saturdays: cutover the Friday night, when planned activity is lowest.",
    )
    years: tuple[int, ...] = ()
    each_year: tuple[WindowTemplate, ...] = DEFAULT_WINDOW_TEMPLATES
    explicit: tuple[WindowSpec, ...] = ()


class Blackout(_Strict):
    """A period with no go-live, no hypercare and no training (holidays), or a public holiday.

    A ``public-holiday`` is one day on which no course runs and neither the cutover night nor the
    go-live day may fall; the command-centre period may span it (it is staffed like a weekend).
    """

    name: str
    start: dt.date
    end: dt.date
    kind: Literal["period", "public-holiday"] = "period"

    @model_validator(mode="after")
    def _ordered(self) -> Blackout:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class Blackouts(_Strict):
    """Holiday periods; summer, Christmas/New Year and Easter are computed for every year by default."""

    defaults: bool = True
    summer: tuple[MonthDay, MonthDay] = ("06-20", "08-15")
    christmas: tuple[MonthDay, MonthDay] = ("12-15", "01-06")
    easter_days_before: int = Field(default=7, ge=0, le=30, description="From Palm Sunday by default.")
    easter_days_after: int = Field(default=1, ge=0, le=30, description="To Easter Monday by default.")
    public_holidays: bool = Field(
        default=True,
        description="With defaults: 1 May, 17 May, Ascension Day and Whit Monday are public holidays (no course, "
        "no cutover night, no go-live day). The other public holidays lie inside Easter and Christmas.",
    )
    extra: tuple[Blackout, ...] = ()


class CalendarSpec(_Strict):
    windows: Windows = Windows()
    blackouts: Blackouts = Blackouts()
    earliest_go_live: dt.date
    latest_go_live: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> CalendarSpec:
        if self.latest_go_live < self.earliest_go_live:
            raise ValueError("latest_go_live is before earliest_go_live")
        return self


class Preparation(_Strict):
    """Project milestones counted back from go-live (DESIGN §2).

    These are the ONE set of offsets of the platform: the plan's RolloutWaves carry them to the
    operator (``spec.schedule``), and every date in the plan, the ICS, the Gantt, the operator's
    status and the council report is computed from them by :class:`epj.golive.schedule.Schedule`.
    """

    pre_project_months: int = Field(default=18, ge=1, le=60)
    main_project_months: int = Field(default=12, ge=1, le=60)
    withdrawal_lock_months: int = Field(default=13, ge=1, le=60)
    rehearsal_days: int = Field(default=42, ge=2, le=365, description="Rehearsal migration, days before go-live.")
    freeze_days: int = Field(default=3, ge=1, le=60, description="Change freeze, days before go-live.")
    hypercare_days: int = Field(default=21, ge=1, le=120)
    minimum_lead_months: int = Field(
        default=18,
        ge=0,
        le=60,
        description="A tenant needs at least this long from its decision (or planned_on) to go-live.",
    )

    @model_validator(mode="after")
    def _in_order(self) -> Preparation:
        self.schedule_spec()  # raises ValueError when the milestones would be out of order
        return self

    def schedule_spec(self) -> ScheduleSpec:
        """The offsets as the go-live core (and the RolloutWave's ``spec.schedule``) carries them."""
        return ScheduleSpec(
            pre_project_months=self.pre_project_months,
            withdrawal_lock_months=self.withdrawal_lock_months,
            main_project_months=self.main_project_months,
            rehearsal_days=self.rehearsal_days,
            freeze_days=self.freeze_days,
        )

    def schedule(self, go_live: dt.date) -> Schedule:
        """The go-live core's schedule for a go-live day under these offsets."""
        return Schedule.for_date(go_live, self.schedule_spec().offsets(self.hypercare_days))


class SessionRule(_Strict):
    """Sessions needed as a linear function of end users: ceil(sessions × end_users / per_end_users), at least min."""

    sessions: int = Field(gt=0)
    per_end_users: int = Field(gt=0)
    minimum: int = Field(default=1, ge=0)

    def needed(self, end_users: int) -> int:
        return max(self.minimum, math.ceil(self.sessions * end_users / self.per_end_users))


class Training(_Strict):
    """Training logistics: courses run in rooms, taught by instructors, on working days only."""

    courses_per_day: int = Field(default=9, gt=0, description="Parallel courses a day, region-wide.")
    instructors: int = Field(default=9, gt=0, description="One instructor per course; caps courses a day too.")
    rooms_per_tenant: int = Field(default=3, gt=0)
    rooms: dict[TenantId, int] = Field(default_factory=dict, description="Per-tenant room overrides.")
    horizon_weeks: int = Field(default=16, ge=1, le=52, description="Training happens in these weeks before go-live.")
    superuser: SessionRule = SessionRule(sessions=50, per_end_users=3100, minimum=2)
    enduser: SessionRule = SessionRule(sessions=200, per_end_users=3100, minimum=4)

    @property
    def courses_per_day_effective(self) -> int:
        return min(self.courses_per_day, self.instructors)

    def rooms_for(self, tenant: str) -> int:
        return self.rooms.get(tenant, self.rooms_per_tenant)


class Capacity(_Strict):
    command_centre_tenants: int = Field(default=6, gt=0, description="Tenants in hypercare at the same time.")
    max_tenants_per_window: int = Field(default=6, gt=0)
    max_end_users_per_window: int = Field(default=1200, gt=0)


class Group(_Strict):
    name: str
    members: tuple[TenantId, ...] = Field(min_length=2)
    must: bool = Field(default=True, description="True: same window (hard). False: preferred (objective).")


class Precedence(_Strict):
    first: TenantId
    then: TenantId
    same_window_ok: bool = True
    reason: str = ""


class Fixed(_Strict):
    tenant: TenantId
    window: WindowLabel
    reason: str = "decided"


class Rules(_Strict):
    groups_from_cooperation: bool = True
    groups: tuple[Group, ...] = ()
    precedence: tuple[Precedence, ...] = ()
    depends_on_from_tenants: bool = True
    fixed: tuple[Fixed, ...] = ()
    principals_first: bool = False


class Objective(_Strict):
    """Weights of the minimised cost (stated in the summary):

    waiting_weight × Σ (thousand inhabitants × months after the first window)
    + peak_weight × (largest window load in hundreds of end users)
    + group_split_weight × (extra windows used by preferred groups)
    + move_weight × (tenants moved from the previous plan; re-planning only)
    """

    waiting_weight: int = Field(default=1, ge=0)
    peak_weight: int = Field(default=10, ge=0)
    group_split_weight: int = Field(default=500, ge=0)
    move_weight: int = Field(default=200, ge=0)


class SolverSettings(_Strict):
    time_limit_s: float = Field(default=20.0, gt=0)
    workers: int = Field(default=2, ge=1, le=64)
    seed: int = 20261122
    deterministic: bool = Field(
        default=True,
        description="Interleaved search: the search does not depend on thread timing, so a plan solved to "
        "optimality (or stopped by work_limit) is the same on every run. A wall-clock stop is not reproducible.",
    )
    work_limit: float | None = Field(
        default=None,
        gt=0,
        description="Stop after this much deterministic work (CP-SAT 'deterministic time', roughly seconds): "
        "reproducible plans for scenarios too large to prove optimal.",
    )


class Scenario(_Strict):
    """A wave-planning scenario file."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    planned_on: dt.date
    tenants: TenantSource = TenantSource()
    calendar: CalendarSpec
    preparation: Preparation = Preparation()
    training: Training = Training()
    capacity: Capacity = Capacity()
    rules: Rules = Rules()
    objective: Objective = Objective()
    solver: SolverSettings = SolverSettings()

    @field_validator("planned_on")
    @classmethod
    def _sane_date(cls, value: dt.date) -> dt.date:
        if value.year < 2000:
            raise ValueError("planned_on looks wrong")
        return value


# ----------------------------------------------------------------------------------------------------------------------
# Plan
# ----------------------------------------------------------------------------------------------------------------------


class TrainingWeek(_Strict):
    week_start: dt.date
    superuser: int = Field(ge=0)
    enduser: int = Field(ge=0)


class Milestones(_Strict):
    """A tenant's milestones as Oslo calendar days (from :meth:`Preparation.schedule`)."""

    pre_project: dt.date
    main_project: dt.date
    last_day_to_withdraw: dt.date
    withdrawal_lock: dt.date
    training_start: dt.date | None
    training_end: dt.date | None
    rehearsal: dt.date
    freeze: dt.date
    cutover: dt.date
    go_live: dt.date
    hypercare_end: dt.date


class TenantPlan(_Strict):
    tenant: TenantId
    name: str
    role: str
    kind: TenantKind = TenantKind.municipality
    inhabitants: int
    end_users: int
    window: WindowLabel
    go_live: dt.date
    locked: bool = False
    training: tuple[TrainingWeek, ...] = ()
    milestones: Milestones


class PlanWindow(_Strict):
    label: WindowLabel
    start: dt.date
    end: dt.date
    go_live: dt.date


class Plan(_Strict):
    """The planner's answer; ``plan.json`` is this model dumped as JSON."""

    scenario: str
    planned_on: dt.date
    status: str
    objective: int
    objective_terms: dict[str, int]
    solve_seconds: float
    windows: tuple[PlanWindow, ...]
    tenants: tuple[TenantPlan, ...]
    binding: tuple[str, ...] = ()

    def by_tenant(self) -> dict[str, TenantPlan]:
        return {t.tenant: t for t in self.tenants}
