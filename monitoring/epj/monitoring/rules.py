"""Prometheus recording and alerting rules generated from the service catalog.

Why generated: a service added to ``monitoring/service-catalog.yaml`` gets its SLO
recordings, burn-rate alerts, freshness alerts, probe alerts, dashboard panels and
routes in one step, and a renamed service cannot silently drop out of alerting.

Metric contract the services follow (see also :mod:`epj.telemetry.metrics`):

* every series that concerns a municipality carries ``tenant="<kommunenr>"`` and
  ``service="<catalog key>"``;
* apps count requests in ``<metrics.requests>`` with an HTTP ``code`` label
  (errors: ``code=~"5.."``), integrations with an ``outcome`` label (errors:
  ``outcome="error"``); latency is a histogram ``<metrics.latency>`` whose buckets
  include the SLO threshold.

SLOs (SRE workbook, chapter "Alerting on SLOs"): for each service, recording rules
give the per-tenant request rate, error ratio and slow ratio (share of requests
slower than the latency threshold) over 5m, 30m, 1h, 6h and 3d. Alerts burn the
error budget ``1 - objective`` at multiple windows:

* page (``severity=critical``): 1h & 5m at 14.4×, 6h & 30m at 6×;
* ticket (``severity=warning``): 3d & 6h at 1×.

Low traffic. A small municipality (Røyrvik has about 470 inhabitants) can show a
50 % error ratio from one failed request out of two, which would page at 03:00 for
nothing. So a tenant's own burn-rate alert also requires that tenant's request rate
in the long window to be at least ``slo.min_requests_per_hour``. Tenants below it
are not ignored: their requests are *pooled* into one region-wide
``…ErrorBudgetBurnLowTraffic`` alert (no ``tenant`` label, platform on-call), which
fires when the pool as a whole burns budget and itself has enough traffic. A total
outage of a quiet tenant — no traffic at all, so no ratio — is caught by the
synthetic probes (``EpjClinicalEndpointDown``), which do not depend on user traffic.
Latency burn is not pooled: slow requests from few users are not actionable.

Criticality shapes severity: pages of ``medium``/``low`` services are ``warning``
and their tickets ``info``; the ``hours`` label (from the catalog) lets Alertmanager
mute daytime-only services at night.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from epj import contract
from epj.catalog import Criticality, Service, ServiceCatalog, load_catalog
from epj.monitoring.naming import alert_name, camel, runbook_url
from epj.monitoring.naming import alert_runbook_path as alert_runbook_path
from epj.telemetry import metrics as _m

WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "6h", "3d")

ERROR_SELECTORS: dict[str, str] = {"app": 'code=~"5.."', "integration": 'outcome="error"'}


@dataclass(frozen=True)
class BurnWindow:
    """One multiwindow condition: both windows above ``factor`` × budget for ``for_``."""

    long: str
    short: str
    factor: float
    for_: str
    page: bool


BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("1h", "5m", 14.4, "2m", page=True),
    BurnWindow("6h", "30m", 6.0, "15m", page=True),
    BurnWindow("3d", "6h", 1.0, "1h", page=False),
)

# Metric names the platform itself exposes (operator, migration, probes); kept here
# and in epj.telemetry.metrics so the rules and the producers agree.
PROBE_SUCCESS = _m.PROBE_SUCCESS
GOLIVE_STALLED = _m.GOLIVE_STALLED
GOLIVE_PHASE = _m.GOLIVE_PHASE
OPERATOR_RECONCILE_ERRORS = _m.OPERATOR_RECONCILE_ERRORS
MIGRATION_LAST_RUN_SUCCESS = contract.MIGRATION_LAST_RUN_SUCCESS
MIGRATION_RUNNING = contract.MIGRATION_RUNNING
MIGRATION_LAST_RUN_RECORDS = contract.MIGRATION_LAST_RUN_RECORDS
MIGRATION_STARTED = contract.MIGRATION_STARTED

#: Go-live phases during which the operator is on the critical path (Freeze … Hypercare, DESIGN §4).
ONCALL_PHASES: tuple[str, ...] = ("Freeze", "Cutover", "Live", "Hypercare")
#: How far back the last known go-live phases count when the operator (their emitter) is gone.
PHASE_MEMORY = "2d"
#: A migration run longer than this is stalled (a cutover's whole downtime budget is one night).
MIGRATION_MAX_RUN_HOURS = 6
#: Tenant namespaces as a PromQL regex, and the kommunenummer captured from them.
TENANT_NAMESPACE_RE = contract.TENANT_NAMESPACE_PATTERN.format(kommunenummer="([0-9]{4})")
CERTIFICATE_WARN_DAYS = 21
CERTIFICATE_PAGE_DAYS = 7


@dataclass(frozen=True)
class Recording:
    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.record, "expr": self.expr}
        if self.labels:
            out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True)
class Alert:
    """One alerting rule. Several rules may share a name (e.g. page and ticket of one SLO)."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    scope: str  # clinical (tenant's service), platform (shared), project (go-live, migration)
    labels: dict[str, str] = field(default_factory=dict)
    tenant_scoped: bool = True

    def all_labels(self) -> dict[str, str]:
        return {"severity": self.severity, "scope": self.scope, **self.labels}

    def annotations(self, base_url: str | None = None) -> dict[str, str]:
        return {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": runbook_url(self.name, base_url),
        }

    def to_dict(self, base_url: str | None = None) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": self.all_labels(),
            "annotations": self.annotations(base_url),
        }


@dataclass(frozen=True)
class RuleGroup:
    """One Prometheus rule group; rendered to ``rules/<file_stem>.yml`` and one PrometheusRule object."""

    name: str
    file_stem: str
    recordings: tuple[Recording, ...] = ()
    alerts: tuple[Alert, ...] = ()
    interval: str | None = None

    def to_dict(self, base_url: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.interval:
            out["interval"] = self.interval
        out["rules"] = [r.to_dict() for r in self.recordings] + [a.to_dict(base_url) for a in self.alerts]
        return out


# ---------------------------------------------------------------------------- helpers


def _num(value: float) -> str:
    """Stable, short PromQL number (1 - 0.9995 is 0.0005, not 0.000499999…)."""
    return f"{round(value, 10):g}"


def _le_matcher(threshold: float) -> str:
    """Match the bucket bound however the client wrote it: Go writes ``1``, Python ``1.0``."""
    text = _num(threshold)
    if "." in text or "e" in text:
        return f'le="{text}"'
    return f'le=~"{text}|{text}\\\\.0"'


def _sel(service: Service, extra: str = "") -> str:
    return "{" + f'service="{service.name}"' + (f", {extra}" if extra else "") + "}"


def page_severity(svc: Service) -> str:
    return "critical" if svc.criticality in (Criticality.critical, Criticality.high) else "warning"


def ticket_severity(svc: Service) -> str:
    return "info" if svc.criticality is Criticality.low else "warning"


def freshness_severity(svc: Service) -> str:
    return {
        Criticality.critical: "critical",
        Criticality.high: "warning",
        Criticality.medium: "warning",
        Criticality.low: "info",
    }[svc.criticality]


def error_budget(svc: Service) -> float:
    return round(1 - svc.slo.availability, 10)


def latency_budget(svc: Service) -> float:
    return round(1 - svc.slo.latency.objective, 10)


def min_rate(svc: Service) -> str:
    """Minimum per-second rate a tenant needs for its own burn-rate alert."""
    return f"{svc.slo.min_requests_per_hour} / 3600"


def usable_windows(budget: float) -> tuple[BurnWindow, ...]:
    """Windows whose threshold is below 100 %: 14.4 x a 10 % budget could never fire, so no rule for it."""
    return tuple(bw for bw in BURN_WINDOWS if bw.factor * budget < 1)


# ------------------------------------------------------------------------ recordings


def slo_recordings(svc: Service) -> tuple[Recording, ...]:
    """Per-tenant request rate, error rate, error ratio and slow ratio over each window."""
    requests = svc.metrics["requests"]
    latency = svc.metrics["latency"]
    err = ERROR_SELECTORS[svc.kind]
    labels = {"service": svc.name}
    fast = _sel(svc, _le_matcher(svc.slo.latency.threshold_seconds))
    out: list[Recording] = []
    for w in WINDOWS:
        out.append(
            Recording(f"epj:sli_requests:rate{w}", f"sum by (tenant) (rate({requests}{_sel(svc)}[{w}]))", labels)
        )
        out.append(
            Recording(
                f"epj:sli_errors:rate{w}",
                f"sum by (tenant) (rate({requests}{_sel(svc, err)}[{w}]))"
                f" or (0 * sum by (tenant) (rate({requests}{_sel(svc)}[{w}])))",
                labels,
            )
        )
        out.append(
            Recording(
                f"epj:sli_error:ratio_rate{w}",
                f"epj:sli_errors:rate{w}{_sel(svc)} / epj:sli_requests:rate{w}{_sel(svc)}",
                labels,
            )
        )
        out.append(
            Recording(
                f"epj:sli_slow:ratio_rate{w}",
                f"1 - (sum by (tenant) (rate({latency}_bucket{fast}[{w}]))"
                f" / sum by (tenant) (rate({latency}_count{_sel(svc)}[{w}])))",
                labels,
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------- alerts


def _burn_labels(svc: Service, bw: BurnWindow) -> dict[str, str]:
    return {"long": bw.long, "short": bw.short, "hours": svc.hours}


def _sev(svc: Service, bw: BurnWindow) -> str:
    return page_severity(svc) if bw.page else ticket_severity(svc)


def error_burn_alerts(svc: Service) -> tuple[Alert, ...]:
    name = alert_name(svc.name, "ErrorBudgetBurn")
    budget = error_budget(svc)
    out = []
    for bw in usable_windows(budget):
        threshold = f"({_num(bw.factor)} * {_num(budget)})"
        expr = (
            f"(\n  epj:sli_error:ratio_rate{bw.long}{_sel(svc)} > {threshold}\n"
            f"and on (tenant, service)\n  epj:sli_error:ratio_rate{bw.short}{_sel(svc)} > {threshold}\n)\n"
            f"and on (tenant, service)\n  epj:sli_requests:rate{bw.long}{_sel(svc)} >= {min_rate(svc)}"
        )
        out.append(
            Alert(
                name=name,
                expr=expr,
                for_=bw.for_,
                severity=_sev(svc, bw),
                scope="clinical",
                labels=_burn_labels(svc, bw),
                summary=f"{svc.title}: errors burn the error budget in municipality {{{{ $labels.tenant }}}}.",
                description=(
                    f"{svc.title} in municipality {{{{ $labels.tenant }}}} has failed more than "
                    f"{_num(bw.factor)}x its error budget ({_num(budget * 100)} % of requests) over both the last "
                    f"{bw.long} and {bw.short}. Staff in the municipality are likely seeing errors now."
                ),
            )
        )
    return tuple(out)


def latency_burn_alerts(svc: Service) -> tuple[Alert, ...]:
    name = alert_name(svc.name, "LatencyBudgetBurn")
    budget = latency_budget(svc)
    out = []
    for bw in usable_windows(budget):
        threshold = f"({_num(bw.factor)} * {_num(budget)})"
        expr = (
            f"(\n  epj:sli_slow:ratio_rate{bw.long}{_sel(svc)} > {threshold}\n"
            f"and on (tenant, service)\n  epj:sli_slow:ratio_rate{bw.short}{_sel(svc)} > {threshold}\n)\n"
            f"and on (tenant, service)\n  epj:sli_requests:rate{bw.long}{_sel(svc)} >= {min_rate(svc)}"
        )
        out.append(
            Alert(
                name=name,
                expr=expr,
                for_=bw.for_,
                severity=_sev(svc, bw),
                scope="clinical",
                labels=_burn_labels(svc, bw),
                summary=f"{svc.title} is slow in municipality {{{{ $labels.tenant }}}}.",
                description=(
                    f"More than {_num(bw.factor)}x the allowed share ({_num(budget * 100)} %) of {svc.title} "
                    f"requests in municipality {{{{ $labels.tenant }}}} took longer than "
                    f"{_num(svc.slo.latency.threshold_seconds)} s over both the last {bw.long} and {bw.short}."
                ),
            )
        )
    return tuple(out)


def _pooled_ratio(svc: Service, window: str, member_window: str) -> str:
    s = _sel(svc)
    members = f"(epj:sli_requests:rate{member_window}{s} < {min_rate(svc)})"
    return (
        f"(sum by (service) (epj:sli_errors:rate{window}{s} and on (tenant, service) {members})\n"
        f"   / sum by (service) (epj:sli_requests:rate{window}{s} and on (tenant, service) {members}))"
    )


def low_traffic_alerts(svc: Service) -> tuple[Alert, ...]:
    """Region-wide burn over the pool of tenants too quiet for their own alert (see module docstring)."""
    name = alert_name(svc.name, "ErrorBudgetBurnLowTraffic")
    budget = error_budget(svc)
    s = _sel(svc)
    out = []
    for bw in usable_windows(budget):
        threshold = f"({_num(bw.factor)} * {_num(budget)})"
        expr = (
            f"(\n  {_pooled_ratio(svc, bw.long, bw.long)} > {threshold}\n"
            f"and on (service)\n  {_pooled_ratio(svc, bw.short, bw.long)} > {threshold}\n)\n"
            f"and on (service)\n"
            f"  sum by (service) (epj:sli_requests:rate{bw.long}{s} < {min_rate(svc)}) >= {min_rate(svc)}"
        )
        out.append(
            Alert(
                name=name,
                expr=expr,
                for_=bw.for_,
                severity=_sev(svc, bw),
                scope="platform",
                tenant_scoped=False,
                labels=_burn_labels(svc, bw),
                summary=f"{svc.title}: errors burn the error budget across the small municipalities.",
                description=(
                    f"Pooled over municipalities with fewer than {svc.slo.min_requests_per_hour} requests per hour, "
                    f"{svc.title} has failed more than {_num(bw.factor)}x its error budget over both the last "
                    f"{bw.long} and {bw.short}. Each of them is too quiet to alert on its own; check which "
                    f"municipalities have errors (dashboard 'EPJ platform overview')."
                ),
            )
        )
    return tuple(out)


def freshness_alerts(svc: Service) -> tuple[Alert, ...]:
    fresh = svc.freshness
    if fresh is None:
        return ()
    out = []
    last = svc.metrics.get("last_success")
    if last:
        out.append(
            Alert(
                name=alert_name(svc.name, "NoRecentSuccess"),
                expr=(f"time() - max by (tenant, service) ({last}{_sel(svc)}) > {fresh.last_success_max_seconds}"),
                for_="5m",
                severity=freshness_severity(svc),
                scope="clinical",
                labels={"hours": svc.hours},
                summary=f"{svc.title}: no successful exchange for municipality {{{{ $labels.tenant }}}}.",
                description=(
                    f"{svc.title} has not completed a successful exchange for municipality {{{{ $labels.tenant }}}} "
                    f"in more than {fresh.last_success_max_seconds // 60} minutes."
                ),
            )
        )
    oldest = svc.metrics.get("oldest_unacknowledged")
    if fresh.oldest_unacknowledged_max_seconds is not None and oldest:
        out.append(
            Alert(
                name=alert_name(svc.name, "MessageUnacknowledged"),
                expr=f"max by (tenant, service) ({oldest}{_sel(svc)}) > {fresh.oldest_unacknowledged_max_seconds}",
                for_="5m",
                severity=freshness_severity(svc),
                scope="clinical",
                labels={"hours": svc.hours},
                summary=f"{svc.title}: a message from municipality {{{{ $labels.tenant }}}} is unacknowledged.",
                description=(
                    f"The oldest {svc.title} message sent by municipality {{{{ $labels.tenant }}}} has waited more "
                    f"than {fresh.oldest_unacknowledged_max_seconds // 60} minutes for an application receipt "
                    f"(apprec); the receiving hospital or GP may not have it."
                ),
            )
        )
    return tuple(out)


def _grouped(services: Iterable[Service], severity: Any) -> dict[tuple[str, str], list[str]]:
    """Services grouped by (severity, hours): one rule each, so no two rules share name and labels."""
    out: dict[tuple[str, str], list[str]] = {}
    for svc in services:
        out.setdefault((severity(svc), svc.hours), []).append(svc.name)
    return out


def probe_alerts(catalog: ServiceCatalog) -> tuple[Alert, ...]:
    out: list[Alert] = []
    apps = [s for s in catalog.services.values() if s.kind == "app" and s.health_path]
    for (severity, hours), names in _grouped(apps, page_severity).items():
        out.append(
            Alert(
                name=alert_name("ClinicalEndpointDown"),
                expr=f'{PROBE_SUCCESS}{{kind="clinical", service=~"{"|".join(names)}"}} == 0',
                for_="5m",
                severity=severity,
                scope="clinical",
                labels={"hours": hours},
                summary="{{ $labels.service }} health check fails in municipality {{ $labels.tenant }}.",
                description=(
                    "The synthetic probe of {{ $labels.service }} for municipality {{ $labels.tenant }} has "
                    "failed for 5 minutes. This catches outages even when the municipality is too quiet for "
                    "the burn-rate alerts."
                ),
            )
        )
    integrations = [s for s in catalog.services.values() if s.kind == "integration"]
    for (severity, hours), names in _grouped(integrations, page_severity).items():
        out.append(
            Alert(
                name=alert_name("NationalIntegrationDown"),
                expr=f'max by (service) ({PROBE_SUCCESS}{{kind="integration", service=~"{"|".join(names)}"}}) == 0',
                for_="10m",
                severity=severity,
                scope="platform",
                tenant_scoped=False,
                labels={"hours": hours},
                summary="National integration {{ $labels.service }} is unreachable from the platform.",
                description=(
                    "Every probe of {{ $labels.service }} has failed for 10 minutes: a platform-wide cause "
                    "(health network, certificate, the national service itself). Per-municipality alerts for "
                    "this service are inhibited while this fires."
                ),
            )
        )
    return tuple(out)


def operator_alerts() -> tuple[Alert, ...]:
    """Operator health and go-live progress. ``job`` is kept on every series so inhibition can be scoped."""
    operator_absent = f'absent(up{{job="{contract.OPERATOR_NAME}"}} == 1)'
    # The last known phases (the operator emits them, so while it is down they are only remembered).
    in_oncall_phase = (
        f'(count(last_over_time({GOLIVE_PHASE}{{phase=~"{"|".join(ONCALL_PHASES)}"}}[{PHASE_MEMORY}]) == 1) > 0)'
    )
    return (
        Alert(
            name=alert_name("OperatorDown"),
            expr=f"{operator_absent}\nand on () {in_oncall_phase}",
            for_="5m",
            severity="critical",
            scope="platform",
            tenant_scoped=False,
            # absent() of a comparison carries no labels; ``job`` scopes the inhibit rule (alertmanager.py).
            labels={"job": contract.OPERATOR_NAME},
            summary="The EPJ go-live operator is down while a go-live is between Freeze and Hypercare.",
            description=(
                "No healthy epj-operator target has been scraped for 5 minutes while at least one municipality "
                "is in Freeze, Cutover, Live or Hypercare. Gates, the final migration and rollbacks do not "
                "advance while it is down."
            ),
        ),
        Alert(
            name=alert_name("OperatorDown"),
            expr=f"{operator_absent}\nunless on () {in_oncall_phase}",
            for_="15m",
            severity="warning",
            scope="platform",
            tenant_scoped=False,
            labels={"job": contract.OPERATOR_NAME},
            summary="The EPJ go-live operator is down (no go-live in a critical phase).",
            description=(
                "No healthy epj-operator target has been scraped for 15 minutes. No municipality is between "
                "Freeze and Hypercare, so nothing waits on it now; planned go-lives do not advance until it is back."
            ),
        ),
        Alert(
            name=alert_name("OperatorReconcileErrors"),
            expr=f"sum by (job, tenant, kind) (increase({OPERATOR_RECONCILE_ERRORS}[10m])) > 0",
            for_="20m",
            severity="warning",
            scope="platform",
            summary="The operator keeps failing to reconcile {{ $labels.kind }} objects.",
            description=(
                "The epj-operator has reported reconcile errors for {{ $labels.kind }} objects (municipality "
                "'{{ $labels.tenant }}', empty when not tenant-specific) for more than 20 minutes."
            ),
        ),
        Alert(
            name=alert_name("GoLiveStalled"),
            expr=f"max by (job, tenant) ({GOLIVE_STALLED}) == 1",
            for_="15m",
            severity="warning",
            scope="project",
            summary="The go-live of municipality {{ $labels.tenant }} is stalled.",
            description=(
                "The GoLive of municipality {{ $labels.tenant }} reports Progressing=False with reason Stalled: "
                "a gate timed out or nothing advanced. It waits for a person."
            ),
        ),
        Alert(
            name=alert_name("GoLiveStalled"),
            expr=(
                f"max by (job, tenant) ({GOLIVE_STALLED}) == 1\n"
                f'and on (tenant) max by (tenant) ({GOLIVE_PHASE}{{phase=~"Freeze|Cutover"}}) == 1'
            ),
            for_="5m",
            severity="critical",
            scope="project",
            summary="The cutover of municipality {{ $labels.tenant }} is stalled.",
            description=(
                "The GoLive of municipality {{ $labels.tenant }} is stalled during Freeze or Cutover: the legacy "
                "system is read-only and staff are waiting. Decide: continue or roll back."
            ),
        ),
    )


def migration_alerts() -> tuple[Alert, ...]:
    """From the operator's export of each MigrationJob's status (``purpose``: rehearsal or cutover)."""
    records = f"{MIGRATION_LAST_RUN_RECORDS}"
    return (
        Alert(
            name=alert_name("MigrationRunFailed"),
            expr=f"max by (tenant, purpose) ({MIGRATION_LAST_RUN_SUCCESS}) == 0",
            for_="0m",
            severity="warning",
            scope="project",
            summary="The last {{ $labels.purpose }} migration for municipality {{ $labels.tenant }} failed.",
            description=(
                "The most recent {{ $labels.purpose }} migration run for municipality {{ $labels.tenant }} failed "
                "or did not reconcile completely. The go-live gate on migration reconciliation stays closed."
            ),
        ),
        Alert(
            name=alert_name("MigrationQuarantineSpike"),
            expr=(
                f'(\n  max by (tenant, purpose) ({records}{{category="quarantined"}})\n'
                f'/ max by (tenant, purpose) ({records}{{category="read"}})\n) > 0.05\n'
                f'and on (tenant, purpose) max by (tenant, purpose) ({records}{{category="quarantined"}}) >= 20'
            ),
            for_="0m",
            severity="warning",
            scope="project",
            summary="Many records were quarantined in the {{ $labels.purpose }} migration of {{ $labels.tenant }}.",
            description=(
                "More than 5 % (and at least 20) of the source records read by the last {{ $labels.purpose }} "
                "migration run for municipality {{ $labels.tenant }} were quarantined (failed mapping or validation)."
            ),
        ),
        Alert(
            name=alert_name("MigrationStalled"),
            expr=(
                f"max by (tenant, purpose) ({MIGRATION_RUNNING}) == 1\n"
                f"and on (tenant, purpose) (time() - max by (tenant, purpose) ({MIGRATION_STARTED}))"
                f" > {MIGRATION_MAX_RUN_HOURS} * 3600"
            ),
            for_="5m",
            severity="warning",
            scope="project",
            summary="The {{ $labels.purpose }} migration of municipality {{ $labels.tenant }} runs too long.",
            description=(
                "A {{ $labels.purpose }} migration Job for municipality {{ $labels.tenant }} has been running for "
                f"more than {MIGRATION_MAX_RUN_HOURS} hours, longer than a cutover night allows."
            ),
        ),
    )


def exporter_alerts() -> tuple[Alert, ...]:
    """The exporters the render deploys (their ``job`` labels are the component names, epj.contract)."""
    jobs = "|".join(contract.EXPORTER_JOBS)
    return (
        Alert(
            name=alert_name("ExporterDown"),
            expr=f'up{{job=~"{jobs}"}} == 0',
            for_="10m",
            severity="warning",
            scope="platform",
            tenant_scoped=False,
            summary="Prometheus cannot scrape {{ $labels.job }} at {{ $labels.instance }}.",
            description=(
                "The target {{ $labels.instance }} of job {{ $labels.job }} has been down for 10 minutes; alerts "
                "that depend on its metrics (probes, certificates, KPIs) cannot fire."
            ),
        ),
        Alert(
            name=alert_name("ExporterDown"),
            expr=f'absent(up{{job="{contract.PROBE_EXPORTER_NAME}"}})',
            for_="10m",
            severity="warning",
            scope="platform",
            tenant_scoped=False,
            summary="No {{ $labels.job }} target exists: the clinical probes are not running.",
            description=(
                "Prometheus has no target for job {{ $labels.job }} at all (Deployment or PodMonitor missing). "
                "Without it, a quiet municipality's total outage pages nobody."
            ),
        ),
    )


def _in_tenant_namespaces(expr: str) -> str:
    """Add ``tenant`` (kommunenummer) to series that only carry the tenant's namespace."""
    return f'label_replace(\n  {expr},\n  "{contract.TENANT}", "$1", "namespace", "{TENANT_NAMESPACE_RE}"\n)'


def workload_alerts() -> tuple[Alert, ...]:
    """Pods of tenant namespaces that crash (from kube-state-metrics, a kube-prometheus prerequisite)."""
    ns = f'namespace=~"{TENANT_NAMESPACE_RE.replace("(", "").replace(")", "")}"'
    by = "max by (namespace, pod, container)"
    return (
        Alert(
            name=alert_name("PodCrashLooping"),
            expr=_in_tenant_namespaces(
                f'{by} ({contract.KUBE_POD_WAITING_REASON}{{{ns}, reason="CrashLoopBackOff"}}) == 1'
            ),
            for_="10m",
            severity="warning",
            scope="platform",
            summary=(
                "Container {{ $labels.container }} of {{ $labels.pod }} crash-loops in municipality "
                "{{ $labels.tenant }}."
            ),
            description=(
                "Container {{ $labels.container }} in pod {{ $labels.pod }} (namespace {{ $labels.namespace }}) "
                "has been in CrashLoopBackOff for 10 minutes."
            ),
        ),
        Alert(
            name=alert_name("PodOOMKilled"),
            expr=_in_tenant_namespaces(
                f'({by} ({contract.KUBE_POD_LAST_TERMINATED_REASON}{{{ns}, reason="OOMKilled"}}) == 1)\n'
                f"  and on (namespace, pod, container)\n"
                f"  ({by} (increase({contract.KUBE_POD_RESTARTS}{{{ns}}}[15m])) > 0)"
            ),
            for_="0m",
            severity="warning",
            scope="platform",
            summary=(
                "Container {{ $labels.container }} of {{ $labels.pod }} was OOM-killed in municipality "
                "{{ $labels.tenant }}."
            ),
            description=(
                "Container {{ $labels.container }} in pod {{ $labels.pod }} (namespace {{ $labels.namespace }}) "
                "was killed for exceeding its memory limit and restarted in the last 15 minutes."
            ),
        ),
    )


#: Daily base backups (stack key backupSchedule): one missed backup warns, two page.
BACKUP_WARN_HOURS = 26
BACKUP_PAGE_HOURS = 50
#: No WAL segment archived for this long on a primary (CloudNativePG switches WAL at least every 5 minutes).
WAL_ARCHIVE_LAG_MINUTES = 15
#: The PITR window (stack key backupRetention, 30 days in prod) plus a few days before retention counts as stuck.
RECOVERABILITY_MAX_DAYS = 33
VOLUME_WARN_FREE = 0.15
VOLUME_PAGE_FREE = 0.05
REPLICATION_LAG_SECONDS = 300


def _db_volumes(expr: str) -> str:
    return _in_tenant_namespaces(expr)


def backup_alerts() -> tuple[Alert, ...]:
    """Each tenant database's backups and replicas (issue 13); runbooks under ``runbooks/alerts/``."""
    age = f"(time() - max by ({contract.TENANT}) ({contract.BACKUP_LAST_AVAILABLE}))"
    out = [
        Alert(
            name=alert_name("DatabaseBackupTooOld"),
            expr=f"{age} > {hours} * 3600",
            for_="15m",
            severity=severity,
            scope="platform",
            summary=f"Municipality {{{{ $labels.tenant }}}}: last database base backup is older than {hours} hours.",
            description=(
                f"The newest successful base backup of kommune-{{{{ $labels.tenant }}}}'s database is more than "
                f"{hours} hours old (daily schedule). Point-in-time recovery still works from the older backup "
                "plus archived WAL, but takes longer and depends on more WAL; a second missed backup pages."
            ),
        )
        for hours, severity in ((BACKUP_WARN_HOURS, "warning"), (BACKUP_PAGE_HOURS, "critical"))
    ]
    primary = f"on (namespace, pod) ({contract.PG_IN_RECOVERY} == 0)"
    out += [
        Alert(
            name=alert_name("DatabaseWalArchivingFailing"),
            expr=f"max by ({contract.TENANT}) (increase({contract.PG_ARCHIVER_FAILED}[10m])) > 0",
            for_="10m",
            severity="critical",
            scope="platform",
            summary="Municipality {{ $labels.tenant }}: the database cannot archive WAL to the object store.",
            description=(
                "WAL archiving of kommune-{{ $labels.tenant }}'s database has failed for 10 minutes. Every minute "
                "of changes since the last archived segment exists only on the database volumes: a lost volume "
                "now loses patient data, and the volume fills with unarchived WAL."
            ),
        ),
        Alert(
            name=alert_name("DatabaseWalArchivingLagging"),
            expr=(
                f"max by ({contract.TENANT}) (\n  {contract.PG_ARCHIVER_SECONDS_SINCE_LAST}\n  and {primary}\n)"
                f" > {WAL_ARCHIVE_LAG_MINUTES * 60}"
            ),
            for_="5m",
            severity="warning",
            scope="platform",
            summary=(
                f"Municipality {{{{ $labels.tenant }}}}: no WAL archived for over {WAL_ARCHIVE_LAG_MINUTES} minutes."
            ),
            description=(
                f"The primary of kommune-{{{{ $labels.tenant }}}} has archived no WAL segment for more than "
                f"{WAL_ARCHIVE_LAG_MINUTES} minutes, although CloudNativePG switches segments every 5 minutes: the "
                "newest point the database can be recovered to is falling behind."
            ),
        ),
        Alert(
            name=alert_name("DatabaseRecoverabilityPointStale"),
            expr=(
                f"(time() - max by ({contract.TENANT}) ({contract.BACKUP_FIRST_RECOVERABILITY}))"
                f" > {RECOVERABILITY_MAX_DAYS} * 86400"
            ),
            for_="1h",
            severity="warning",
            scope="platform",
            summary=(
                "Municipality {{ $labels.tenant }}: the first recoverability point is more than "
                f"{RECOVERABILITY_MAX_DAYS} days old."
            ),
            description=(
                "The earliest point kommune-{{ $labels.tenant }}'s database can be recovered to has stopped "
                "moving forward: the retention policy is not pruning (backups failing since, or the plugin "
                "cannot delete). Old backups pile up in the bucket beyond the agreed window."
            ),
        ),
    ]
    pvc = f'namespace=~"{TENANT_NAMESPACE_RE.replace("(", "").replace(")", "")}"'
    free = (
        f"min by (namespace, persistentvolumeclaim) (\n    {contract.KUBELET_VOLUME_AVAILABLE}{{{pvc}}}\n"
        f"    / {contract.KUBELET_VOLUME_CAPACITY}{{{pvc}}}\n  )"
    )
    for limit, severity, for_ in ((VOLUME_WARN_FREE, "warning", "15m"), (VOLUME_PAGE_FREE, "critical", "5m")):
        pct = round(limit * 100)
        out.append(
            Alert(
                name=alert_name("DatabaseVolumeFillingUp"),
                expr=_db_volumes(f"{free} < {_num(limit)}"),
                for_=for_,
                severity=severity,
                scope="platform",
                summary=(
                    f"Volume {{{{ $labels.persistentvolumeclaim }}}} of municipality {{{{ $labels.tenant }}}} "
                    f"has less than {pct}% free."
                ),
                description=(
                    f"Persistent volume claim {{{{ $labels.persistentvolumeclaim }}}} in {{{{ $labels.namespace }}}} "
                    f"has less than {pct}% of its space left. A full database volume stops all writes: nurses "
                    "cannot document."
                ),
            )
        )
    out.append(
        Alert(
            name=alert_name("DatabaseReplicationLag"),
            expr=f"max by ({contract.TENANT}, pod) ({contract.PG_REPLICATION_LAG}) > {REPLICATION_LAG_SECONDS}",
            for_="10m",
            severity="warning",
            scope="platform",
            summary=(
                "Municipality {{ $labels.tenant }}: standby {{ $labels.pod }} lags more than "
                f"{REPLICATION_LAG_SECONDS // 60} minutes."
            ),
            description=(
                "Standby {{ $labels.pod }} of kommune-{{ $labels.tenant }}'s database replays WAL more than "
                f"{REPLICATION_LAG_SECONDS} seconds behind the primary. A failover now would lose no committed "
                "data (it waits for replay) but would take longer, and reads from the standby are stale."
            ),
        )
    )
    return tuple(out)


def certificate_alerts() -> tuple[Alert, ...]:
    """The platform's health-network and HelseID certificates (probe exporter, from their Secrets)."""
    left = f"(min by ({contract.CERTIFICATE_LABEL}) ({contract.CERTIFICATE_EXPIRY}) - time())"
    out = []
    for days, severity, for_ in ((CERTIFICATE_WARN_DAYS, "warning", "1h"), (CERTIFICATE_PAGE_DAYS, "critical", "10m")):
        out.append(
            Alert(
                name=alert_name("CertificateExpiringSoon"),
                expr=f"{left} < {days} * 86400",
                for_=for_,
                severity=severity,
                scope="platform",
                tenant_scoped=False,
                summary=f"The {{{{ $labels.certificate }}}} certificate expires within {days} days.",
                description=(
                    f"The platform's {{{{ $labels.certificate }}}} certificate expires in less than {days} days (or "
                    "its "
                    "Secret is missing or unreadable). When it expires, every municipality loses the national "
                    "services that need it (health network: e-messages, Kjernejournal; HelseID: sign-in to them)."
                ),
            )
        )
    return tuple(out)


def dependency_alerts(catalog: ServiceCatalog) -> tuple[Alert, ...]:
    """Inhibit-only ``EpjDependencyDown`` (severity ``info``): one per service whose dependency is down.

    It carries the *dependent* service's name in ``service``, so the Alertmanager inhibit rule can be
    scoped with ``equal: [service]``: only that service's burn-rate alerts are silenced, only while its
    national dependency is down. It is routed to no one (like kube-prometheus' InfoInhibitor).
    """
    out = []
    for svc in catalog.services.values():
        if svc.kind != "integration":
            continue
        for dependent in sorted(s.name for s in catalog.services.values() if svc.name in s.depends_on):
            out.append(
                Alert(
                    name=alert_name("DependencyDown"),
                    expr=f'max({PROBE_SUCCESS}{{kind="integration", service="{svc.name}"}}) == 0',
                    for_="10m",
                    severity="info",
                    scope="platform",
                    tenant_scoped=False,
                    labels={"service": dependent, "dependency": svc.name},
                    summary=f"{dependent} is degraded because {svc.name} is down (inhibits its burn alerts).",
                    description=(
                        f"The national integration {svc.name} is unreachable; {dependent} depends on it. Its "
                        "error-budget alerts are silenced while this lasts; see EpjNationalIntegrationDown."
                    ),
                )
            )
    return tuple(out)


# ------------------------------------------------------------------------ assembly


def rule_groups(catalog: ServiceCatalog | None = None) -> tuple[RuleGroup, ...]:
    """All rule groups, in a stable order: one SLO group per service, then shared groups."""
    cat = catalog or load_catalog()
    groups: list[RuleGroup] = []
    for svc in cat.services.values():
        groups.append(
            RuleGroup(
                name=f"epj-slo-{svc.name}",
                file_stem=f"slo-{svc.name}",
                recordings=slo_recordings(svc),
                alerts=error_burn_alerts(svc) + latency_burn_alerts(svc) + low_traffic_alerts(svc),
            )
        )
    freshness = tuple(a for svc in cat.services.values() for a in freshness_alerts(svc))
    groups.append(RuleGroup(name="epj-freshness", file_stem="freshness", alerts=freshness))
    groups.append(RuleGroup(name="epj-probes", file_stem="probes", alerts=probe_alerts(cat)))
    groups.append(
        RuleGroup(
            name="epj-platform",
            file_stem="platform",
            alerts=operator_alerts() + exporter_alerts() + certificate_alerts() + dependency_alerts(cat),
        )
    )
    groups.append(RuleGroup(name="epj-workloads", file_stem="workloads", alerts=workload_alerts()))
    groups.append(RuleGroup(name="epj-databases", file_stem="databases", alerts=backup_alerts()))
    groups.append(RuleGroup(name="epj-migration", file_stem="migration", alerts=migration_alerts()))
    return tuple(groups)


def all_alerts(catalog: ServiceCatalog | None = None) -> tuple[Alert, ...]:
    return tuple(a for g in rule_groups(catalog) for a in g.alerts)


def alert_names(catalog: ServiceCatalog | None = None) -> list[str]:
    """Every distinct alert name, sorted; one runbook file each (``alert_runbook_path``)."""
    return sorted({a.name for a in all_alerts(catalog)})


def rule_files(catalog: ServiceCatalog | None = None, base_url: str | None = None) -> dict[str, dict[str, Any]]:
    """Plain Prometheus rule files: ``{"<stem>.yml": {"groups": [...]}}``."""
    return {f"{g.file_stem}.yml": {"groups": [g.to_dict(base_url)]} for g in rule_groups(catalog)}


def prometheus_rule_objects(
    catalog: ServiceCatalog | None = None,
    namespace: str = contract.MONITORING_NAMESPACE,
    base_url: str | None = None,
    extra_labels: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The same groups as PrometheusRule objects (monitoring.coreos.com/v1), one per group."""
    labels = {"app.kubernetes.io/part-of": "epj-platform", "app.kubernetes.io/component": "alert-rules"}
    labels.update(extra_labels or {})
    return [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": f"epj-{g.file_stem}", "namespace": namespace, "labels": dict(labels)},
            "spec": {"groups": [g.to_dict(base_url)]},
        }
        for g in rule_groups(catalog)
    ]


def services_by_alert(catalog: ServiceCatalog | None = None) -> dict[str, tuple[str, ...]]:
    """Which catalog services each alert name concerns (for runbooks and dashboards)."""
    cat = catalog or load_catalog()
    out: dict[str, set[str]] = {}
    for svc in cat.services.values():
        groups: Iterable[Alert] = (
            error_burn_alerts(svc) + latency_burn_alerts(svc) + low_traffic_alerts(svc) + freshness_alerts(svc)
        )
        for a in groups:
            out.setdefault(a.name, set()).add(svc.name)
    return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


__all__ = [
    "BURN_WINDOWS",
    "WINDOWS",
    "Alert",
    "Recording",
    "RuleGroup",
    "alert_names",
    "alert_runbook_path",
    "all_alerts",
    "camel",
    "prometheus_rule_objects",
    "rule_files",
    "rule_groups",
]
