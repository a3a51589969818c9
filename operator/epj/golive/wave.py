"""Wave level: the RolloutWave spec, deterministic processing order and failure isolation.

* Order: members are processed in their declared order; ties (members declared with the
  same ``order``) break by kommunenummer; a member is moved after the members it depends
  on (a stable topological sort), and a dependency cycle is an error.
* Isolation: a failed tenant (OnHold, RolledBack, Aborted) blocks only the tenants that
  depend on it, transitively; the rest of the wave goes on. Each tenant's core sees its
  direct dependencies' state (``dependencies-live`` gate), so holds cascade by themselves;
  :func:`blocked_by` computes the transitive picture for status and reports.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Mapping

from pydantic import Field, model_validator

from epj.golive.model import (
    KOMMUNENR_PATTERN,
    Approval,
    CoreModel,
    DependencyStatus,
    GateConfig,
    GoLiveSpec,
    GoLiveState,
    ResumeRequest,
    ScheduleSpec,
    UtcDatetime,
)
from epj.golive.phases import Phase

FAILED = frozenset({Phase.ON_HOLD, Phase.ROLLED_BACK, Phase.ABORTED})


class ProductionWindow(CoreModel):
    """One of the four production windows a year (e.g. ``2027-Q3``)."""

    label: str = Field(pattern=r"^[0-9]{4}-Q[1-4]$")
    start: dt.date
    end: dt.date


class GpOfficeMember(CoreModel):
    """A GP office whose readiness gates its municipality's cutover (it goes live before or with it).

    The office keeps its own record system; it is ready when it has exchanged test e-messages with
    the new EPJ and confirmed it switches over no later than the municipality's cutover night. A
    project lead records that as ``readyAt`` on the RolloutWave (persisted, so a restart keeps it).
    """

    id: str = Field(pattern=r"^[0-9]{4}-[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    municipality: str = Field(pattern=KOMMUNENR_PATTERN)
    ready_at: UtcDatetime | None = None

    def status(self) -> DependencyStatus:
        """As a dependency of its municipality: serving (ready) since ``readyAt``, else not yet."""
        if self.ready_at is None:
            return DependencyStatus(phase=Phase.PLANNED)
        return DependencyStatus(phase=Phase.LIVE, serving_since=self.ready_at)


class Member(CoreModel):
    kommunenummer: str = Field(pattern=KOMMUNENR_PATTERN)
    depends_on: tuple[str, ...] = ()
    #: Optional explicit rank; members without one keep their list position.
    order: int | None = None


class WaveSpec(CoreModel):
    """A RolloutWave spec (camelCase on the wire, as in the CRD)."""

    name: str = Field(default="wave", min_length=1, max_length=63)
    go_live_date: dt.date
    production_window: ProductionWindow
    members: tuple[Member, ...] = Field(min_length=1)
    hypercare_days: int = Field(default=21, ge=1)
    soak_days: int = Field(default=0, ge=0)
    gp_offices: tuple[GpOfficeMember, ...] = ()
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    paused: bool = False
    aborted: bool = False
    gates: GateConfig = Field(default_factory=GateConfig)
    alertmanager_url: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> WaveSpec:
        window = self.production_window
        if window.start > window.end:
            raise ValueError(f"productionWindow {window.label}: start {window.start} is after end {window.end}")
        if not window.start <= self.go_live_date <= window.end:
            raise ValueError(
                f"goLiveDate {self.go_live_date} is outside production window {window.label} "
                f"({window.start} – {window.end})"
            )
        numbers = [m.kommunenummer for m in self.members]
        if len(set(numbers)) != len(numbers):
            raise ValueError("members lists a tenant twice")
        for member in self.members:
            if member.kommunenummer in member.depends_on:
                raise ValueError(f"member {member.kommunenummer} depends on itself")
        processing_order(self.members)  # raises on cycles
        ids = [g.id for g in self.gp_offices]
        if len(set(ids)) != len(ids):
            raise ValueError("gpOffices lists an office twice")
        for office in self.gp_offices:
            if office.municipality not in numbers:
                raise ValueError(f"gpOffices: {office.id} belongs to {office.municipality}, which is not a member")
        return self

    def gp_offices_of(self, kommunenummer: str) -> tuple[GpOfficeMember, ...]:
        return tuple(g for g in self.gp_offices if g.municipality == kommunenummer)

    def gp_office_statuses(self, kommunenummer: str) -> dict[str, DependencyStatus]:
        """The dependencies-live gate's view of a member's GP offices (from the persisted wave)."""
        return {g.id: g.status() for g in self.gp_offices_of(kommunenummer)}

    def order(self) -> list[str]:
        return processing_order(self.members)

    def member(self, kommunenummer: str) -> Member:
        for member in self.members:
            if member.kommunenummer == kommunenummer:
                return member
        raise KeyError(kommunenummer)

    def golive_spec(
        self,
        kommunenummer: str,
        *,
        approvals: tuple[Approval, ...] = (),
        paused: bool = False,
        aborted: bool = False,
        withdraw: bool = False,
        resume: ResumeRequest | None = None,
    ) -> GoLiveSpec:
        """The member's GoLive spec, with the wave's levers folded in (wave paused ⇒ member paused)."""
        member = self.member(kommunenummer)
        return GoLiveSpec(
            kommunenummer=kommunenummer,
            wave=self.name,
            go_live_date=self.go_live_date,
            depends_on=member.depends_on + tuple(g.id for g in self.gp_offices_of(kommunenummer)),
            hypercare_days=self.hypercare_days,
            soak_days=self.soak_days,
            schedule=self.schedule,
            gates=self.gates,
            paused=paused or self.paused,
            aborted=aborted or self.aborted,
            withdraw=withdraw,
            approvals=approvals,
            resume=resume,
        )


def processing_order(members: tuple[Member, ...] | list[Member]) -> list[str]:
    """Deterministic order: by ``order`` (list position when absent), then kommunenummer; dependencies first.

    Raises ValueError on a dependency cycle among members. Dependencies outside the
    wave are ignored here (they are checked against their own GoLive at cutover).
    At each step the first member (by rank) whose dependencies are all placed comes next: a heap of the
    ready members keeps that linear-logarithmic (the wave status is rebuilt from it as 400 members move).
    """
    rank = {m.kommunenummer: (m.order if m.order is not None else i, m.kommunenummer) for i, m in enumerate(members)}
    deps = {m.kommunenummer: {d for d in m.depends_on if d in rank} for m in members}
    waiting = {k: len(deps[k]) for k in rank}
    dependents_of: dict[str, list[str]] = {k: [] for k in rank}
    for k, ds in deps.items():
        for d in ds:
            dependents_of[d].append(k)
    ready = [(rank[k], k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    done: list[str] = []
    while ready:
        _, first = heapq.heappop(ready)
        done.append(first)
        for k in dependents_of[first]:
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, (rank[k], k))
    if len(done) < len(rank):
        remaining = sorted(set(rank) - set(done))
        raise ValueError(f"dependency cycle among {', '.join(remaining)}")
    return done


def dependents(members: tuple[Member, ...] | list[Member]) -> dict[str, set[str]]:
    """kommunenummer → every member that depends on it, directly or transitively."""
    direct: dict[str, set[str]] = {m.kommunenummer: set() for m in members}
    for member in members:
        for dep in member.depends_on:
            direct.setdefault(dep, set()).add(member.kommunenummer)
    closure: dict[str, set[str]] = {}
    for root in direct:
        seen: set[str] = set()
        stack = list(direct[root])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack += direct.get(node, set())
        closure[root] = seen
    return closure


def blocked_by(members: tuple[Member, ...] | list[Member], phases: Mapping[str, Phase]) -> dict[str, list[str]]:
    """Members blocked by a failed tenant they depend on (transitively): kommunenummer → failed tenants, sorted."""
    reach = dependents(members)
    blocked: dict[str, set[str]] = {}
    for tenant, phase in phases.items():
        if phase in FAILED:
            for dependent in reach.get(tenant, set()):
                blocked.setdefault(dependent, set()).add(tenant)
    return {k: sorted(v) for k, v in sorted(blocked.items())}


def dependency_status(state: GoLiveState) -> DependencyStatus:
    """What dependents of this tenant need to know about it (its phase and since when it serves)."""
    return DependencyStatus(phase=state.phase, serving_since=state.serving_since)


def tenants_by_phase(phases: Mapping[str, Phase]) -> dict[str, int]:
    """Count of members per phase, in main-line order (for the wave status and metrics)."""
    counts: dict[str, int] = {}
    for phase in Phase:
        n = sum(1 for p in phases.values() if p == phase)
        if n:
            counts[str(phase)] = n
    return counts
