"""Assemble one council briefing from the platform's own data.

Every number comes from the functions the CLI tables use: :func:`cost_report`
for money, :func:`gains` for the KPIs, Prometheus' ALERTS for incidents, and the
go-live core's :class:`Schedule` and GoLive status for progress. A source that is
not reachable leaves a plain note in the report rather than a wrong figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from epj.golive import GoLiveSpec, GoLiveState, Phase
from epj.golive.model import ScheduleSpec
from epj.golive.schedule import Schedule
from epj.report.council import CouncilData, GainRow, Incident, Milestone
from epj.report.model import CostModel, load_cost_model
from epj.report.service import cost_report
from epj.report.usage import PrometheusUnavailable, critical_episodes, downtime_minutes, month_bounds
from epj.tenants import TenantSet, load_tenants

PHASE_TEXT_NB: dict[Phase, str] = {
    Phase.PLANNED: "Planlagt",
    Phase.PREPARING: "Forprosjekt",
    Phase.TRAINING: "Hovedprosjekt og opplæring",
    Phase.REHEARSAL: "Prøvemigrering",
    Phase.FREEZE: "Endringsfrys før oppstart",
    Phase.CUTOVER: "Overgang: data flyttes fra gamle systemer",
    Phase.LIVE: "I drift",
    Phase.HYPERCARE: "Kommandosentral (hypercare) etter oppstart",
    Phase.STABLE: "Ordinær drift",
    Phase.ON_HOLD: "Satt på vent",
    Phase.ABORTED: "Avbrutt",
    Phase.ROLLED_BACK: "Rullet tilbake til gamle systemer",
}
HYPERCARE_DAYS = 21


def milestones(
    go_live_date: dt.date,
    after: dt.date,
    hypercare_days: int = HYPERCARE_DAYS,
    schedule: ScheduleSpec | None = None,
) -> tuple[Milestone, ...]:
    """The go-live milestones still ahead of ``after``: Oslo calendar days from the core's schedule.

    The same offsets as the GoLive's ``spec.schedule`` (so the council sees the operator's dates), and
    local days, never the UTC date of a local midnight (which would show every milestone a day early).
    """
    offsets = (schedule or ScheduleSpec()).offsets(hypercare_days)
    s = Schedule.for_date(go_live_date, offsets)
    days = s.local_dates()
    items = [
        (days["pre_project"], "Forprosjekt starter"),
        (s.last_day_to_withdraw, "Siste dag for å trekke seg fra bølgen"),
        (days["main_project"], "Hovedprosjekt og opplæring starter"),
        (days["rehearsal"], "Prøvemigrering"),
        (days["freeze"], "Endringsfrys"),
        (days["cutover"], "Overgangsnatt: gamle systemer kun lesbare fra kl. 16"),
        (days["go_live"], "Oppstart i ny journal"),
        (days["hypercare_end"], "Siste dag med kommandosentral (hypercare)"),
    ]
    return tuple(Milestone(day, label) for day, label in items if day > after)


def phase_from_status(golive: Mapping[str, Any]) -> tuple[Phase, dt.date | None]:
    """Phase and go-live date from a GoLive object as ``kubectl get golive -o json`` prints it."""
    state = GoLiveState.from_status(golive.get("status") or {})
    spec = GoLiveSpec.model_validate(golive.get("spec") or {})
    return state.phase, spec.go_live_date


def months_of_year_to(period: str, since: dt.date | None) -> list[str]:
    """The months of ``period``'s year up to it that the tenant paid for: from its go-live month on."""
    year, month = (int(part) for part in period.split("-"))
    first = 1
    if since is not None and since.year == year:
        first = since.month
    elif since is not None and since.year > year:
        return []
    return [f"{year}-{m:02d}" for m in range(first, month + 1)]


def build_briefing(
    kommunenr: str,
    period: str,
    *,
    env: str = "prod",
    phase: Phase | None = None,
    go_live_date: dt.date | None = None,
    gain_rows: tuple[GainRow, ...] = (),
    prometheus_url: str | None = None,
    cost_model: CostModel | None = None,
    tenant_set: TenantSet | None = None,
    notes: tuple[str, ...] = (),
    golive_spec: GoLiveSpec | None = None,
) -> CouncilData:
    """Everything for one municipality's briefing for ``period`` (YYYY-MM)."""
    _, end = month_bounds(period)
    tenants = tenant_set or load_tenants()
    tenant = tenants.get(kommunenr)
    model = cost_model or load_cost_model()
    report = cost_report(period, env=env, prometheus_url=prometheus_url, cost_model=model, tenant_set=tenants)
    bills = report.showback.measured or report.showback.allocated
    if kommunenr not in bills:
        raise ValueError(f"{kommunenr} ({tenant.name}) is not provisioned in {env}; there is no cost to report")
    month_cost = bills[kommunenr].total
    # The allocation does not change within a year unless the tenant files change, so each month
    # since the tenant went live costs the same; measured months would need one query per month.
    extra = list(notes)
    ytd_months = months_of_year_to(period, go_live_date)
    if go_live_date is None:
        extra.append("Go-live-dato er ikke oppgitt; kostnad hittil i år er regnet fra årets begynnelse.")
    ytd = report.showback.allocated[kommunenr].total * len(ytd_months)
    if any(t.population_estimate for t in report.tenants):
        extra.append(
            "Innbyggertallene er anslag, ikke SSBs eksakte tall; kostnadsfordelingen etter innbyggertall er "
            "derfor også et anslag."
        )
    if report.prometheus_note:
        extra.append("Målt ressursbruk var ikke tilgjengelig; kostnadene bygger på tildelte ressurser.")
    incidents: tuple[Incident, ...] = ()
    downtime: int | None = None
    if prometheus_url:
        try:
            episodes = critical_episodes(prometheus_url, kommunenr, period)
            incidents = tuple(Incident(e.alert, e.severity, e.started, e.minutes, e.service) for e in episodes)
            downtime = downtime_minutes(episodes)
        except PrometheusUnavailable:
            extra.append("Overvåkingen svarte ikke; hendelser og nedetid mangler for perioden.")
    else:
        extra.append("Overvåkingen ble ikke spurt (ingen Prometheus-adresse); hendelser og nedetid er ukjent.")
    return CouncilData(
        kommunenr=kommunenr,
        name=tenant.name,
        period=period,
        phase=phase.value if phase is not None else "Unknown",
        phase_text=PHASE_TEXT_NB[phase] if phase is not None else "Ukjent (GoLive-status ikke oppgitt)",
        milestones=milestones(
            go_live_date,
            (end - dt.timedelta(days=1)).date(),
            golive_spec.hypercare_days if golive_spec else HYPERCARE_DAYS,
            golive_spec.schedule if golive_spec else None,
        )
        if go_live_date
        else (),
        cost_month=month_cost,
        cost_year_to_date=ytd,
        budget_year=model.budgets.get(kommunenr),
        cost_model_version=model.version,
        gains=gain_rows,
        incidents=incidents,
        downtime_minutes=downtime,
        notes=tuple(extra),
    )
