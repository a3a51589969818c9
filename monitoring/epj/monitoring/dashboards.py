"""Grafana dashboards as code (grafana-foundation-sdk), from the service catalog.

Four dashboards: the platform overview (every service's SLIs across municipalities,
firing alerts, probes), the per-tenant clinical dashboard (a ``tenant`` variable;
the clinical KPIs beside the service SLIs), go-live wave progress and migration
progress. Queries use the recording rules of :mod:`epj.monitoring.rules` and the
metric names of :mod:`epj.telemetry.metrics`, so a panel never invents a name.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus as gp
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as gm

from epj import contract
from epj.catalog import ServiceCatalog

DATASOURCE = gm.DataSourceRef(type_val="prometheus", uid="${datasource}")


def _q(expr: str, legend: str = "", ref: str = "A") -> gp.Dataquery:
    return gp.Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def _ts(title: str, unit: str, *queries: gp.Dataquery, width: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(width)
    for q in queries:
        panel = panel.with_target(q)
    return panel


def _stat(title: str, unit: str, expr: str, width: int = 6) -> stat.Panel:
    return stat.Panel().title(title).unit(unit).datasource(DATASOURCE).height(4).span(width).with_target(_q(expr))


def _base(uid: str, title: str, tags: list[str]) -> gd.Dashboard:
    ds = gd.DatasourceVariable("datasource").label("Data source").type("prometheus")
    return (
        gd.Dashboard(title)
        .uid(uid)
        .tags(["epj", *tags])
        .timezone("Europe/Oslo")
        .refresh("1m")
        .time("now-24h", "now")
        .with_variable(ds)
    )


def platform_overview(catalog: ServiceCatalog) -> gd.Dashboard:
    dash = _base("epj-platform-overview", "EPJ platform overview", ["platform"])
    dash = dash.with_panel(
        _stat("Critical alerts firing", "short", 'count(ALERTS{alertstate="firing", severity="critical"}) or vector(0)')
    )
    dash = dash.with_panel(_stat("Failing probes", "short", "count(epj_probe_success == 0) or vector(0)"))
    dash = dash.with_panel(_stat("Municipalities reporting", "short", "count(count by (tenant) (epj_probe_success))"))
    dash = dash.with_panel(_stat("Operator up", "short", 'max(up{job="epj-operator"}) or vector(0)'))
    for svc in catalog.services.values():
        dash = dash.with_row(gd.Row(svc.title))
        dash = dash.with_panel(
            _ts(
                f"{svc.title}: error ratio (1h) by municipality",
                "percentunit",
                _q(f'epj:sli_error:ratio_rate1h{{service="{svc.name}"}}', "{{tenant}}"),
                _q(f"vector({1 - svc.slo.availability:g})", "error budget", "B"),
            )
        )
        dash = dash.with_panel(
            _ts(
                f"{svc.title}: share slower than {svc.slo.latency.threshold_seconds:g} s (1h)",
                "percentunit",
                _q(f'epj:sli_slow:ratio_rate1h{{service="{svc.name}"}}', "{{tenant}}"),
                _q(f"vector({1 - svc.slo.latency.objective:g})", "latency budget", "B"),
            )
        )
    return dash


def tenant_clinical(catalog: ServiceCatalog) -> gd.Dashboard:
    tenant_var = (
        gd.QueryVariable("tenant")
        .label("Municipality (kommunenummer)")
        .datasource(DATASOURCE)
        .query("label_values(epj_probe_success, tenant)")
        .refresh(gm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(gm.VariableSort.ALPHABETICAL_ASC)
    )
    dash = _base("epj-tenant-clinical", "EPJ clinical signals per municipality", ["tenant", "clinical"])
    dash = dash.with_variable(tenant_var)
    t = 'tenant="$tenant"'
    dash = dash.with_row(gd.Row("Clinical KPIs (from the municipality's database)"))
    dash = dash.with_panel(
        _stat(
            "Medication given on time (7 d)",
            "percentunit",
            f'epj_kpi_value{{{t}, kpi="medication_on_time_share", period="7d"}}',
        )
    )
    dash = dash.with_panel(
        _stat(
            "Medication administrations per day",
            "short",
            f'epj_kpi_value{{{t}, kpi="medication_administrations_per_day", period="7d"}}',
        )
    )
    dash = dash.with_panel(
        _stat(
            "Care continuity (30 d)", "percentunit", f'epj_kpi_value{{{t}, kpi="care_continuity_share", period="30d"}}'
        )
    )
    dash = dash.with_panel(
        _stat("No-show rate (30 d)", "percentunit", f'epj_kpi_value{{{t}, kpi="no_show_rate", period="30d"}}')
    )
    dash = dash.with_panel(
        _ts(
            "KPI now vs. baseline before go-live",
            "short",
            _q(f'epj_kpi_value{{{t}, period="7d"}}', "{{kpi}}"),
            _q(f"epj_kpi_baseline_value{{{t}}}", "{{kpi}} baseline", "B"),
            width=24,
        )
    )
    dash = dash.with_row(gd.Row("Services"))
    for svc in catalog.services.values():
        dash = dash.with_panel(
            _ts(
                f"{svc.title}",
                "percentunit",
                _q(f'epj:sli_error:ratio_rate5m{{service="{svc.name}", {t}}}', "errors"),
                _q(f'epj:sli_slow:ratio_rate5m{{service="{svc.name}", {t}}}', "slow", "B"),
                width=8,
            )
        )
    dash = dash.with_row(gd.Row("Probes and integrations"))
    dash = dash.with_panel(
        table.Panel()
        .title("Probe results")
        .datasource(DATASOURCE)
        .height(8)
        .span(24)
        .with_target(_q(f"epj_probe_success{{{t}}}").instant())
    )
    return dash


def golive_waves() -> gd.Dashboard:
    dash = _base("epj-golive-waves", "EPJ go-live wave progress", ["golive"])
    dash = dash.with_panel(
        table.Panel()
        .title("Go-live phase per municipality")
        .datasource(DATASOURCE)
        .height(10)
        .span(24)
        .with_target(_q("(epj_golive_phase == 1) * on (tenant) group_left (wave) epj_golive_wave").instant())
    )
    dash = dash.with_panel(_stat("Stalled go-lives", "short", "count(epj_golive_stalled == 1) or vector(0)"))
    dash = dash.with_panel(
        _stat(
            "Municipalities live", "short", 'count(epj_golive_phase{phase=~"Live|Hypercare|Stable"} == 1) or vector(0)'
        )
    )
    dash = dash.with_panel(
        _ts("Municipalities per phase", "short", _q("count by (phase) (epj_golive_phase == 1)", "{{phase}}"), width=12)
    )
    dash = dash.with_panel(
        _ts(
            "Municipalities live per wave",
            "short",
            _q(
                'count by (wave) ((epj_golive_phase{phase=~"Live|Hypercare|Stable"} == 1)'
                " * on (tenant) group_left (wave) epj_golive_wave)",
                "{{wave}}",
            ),
            width=12,
        )
    )
    dash = dash.with_panel(
        _ts(
            "Operator reconcile errors",
            "short",
            _q("sum by (kind) (rate(epj_operator_reconcile_errors_total[5m]))", "{{kind}}"),
            width=24,
        )
    )
    return dash


def migration_progress() -> gd.Dashboard:
    """From the operator's export of the MigrationJob status (the Jobs themselves are not scraped)."""
    rec, run = contract.MIGRATION_LAST_RUN_RECORDS, contract.MIGRATION_RUNNING
    dash = _base("epj-migration", "EPJ migration progress", ["migration"])
    dash = dash.with_panel(
        _ts("Migrations running", "short", _q(f"max by (tenant, purpose) ({run})", "{{tenant}} {{purpose}}"), width=12)
    )
    dash = dash.with_panel(
        _ts(
            "Running for (hours)",
            "h",
            _q(
                f"(time() - max by (tenant, purpose) ({contract.MIGRATION_STARTED})) / 3600"
                f" and on (tenant, purpose) max by (tenant, purpose) ({run}) == 1",
                "{{tenant}} {{purpose}}",
            ),
            width=12,
        )
    )
    dash = dash.with_panel(
        table.Panel()
        .title("Last run: records by category")
        .datasource(DATASOURCE)
        .height(8)
        .span(12)
        .with_target(_q(f"max by (tenant, purpose, category) ({rec})").instant())
    )
    dash = dash.with_panel(
        _ts(
            "Last run: quarantined share",
            "percentunit",
            _q(
                f'max by (tenant, purpose) ({rec}{{category="quarantined"}})'
                f' / max by (tenant, purpose) ({rec}{{category="read"}})',
                "{{tenant}} {{purpose}}",
            ),
            width=12,
        )
    )
    dash = dash.with_panel(
        table.Panel()
        .title("Last run succeeded and reconciled (1) / failed (0)")
        .datasource(DATASOURCE)
        .height(8)
        .span(24)
        .with_target(_q(f"max by (tenant, purpose) ({contract.MIGRATION_LAST_RUN_SUCCESS})").instant())
    )
    return dash


def dashboards(catalog: ServiceCatalog) -> dict[str, dict[str, Any]]:
    """Every dashboard as plain JSON-ready dicts, keyed by file name."""
    built = {
        "platform-overview.json": platform_overview(catalog),
        "tenant-clinical.json": tenant_clinical(catalog),
        "golive-waves.json": golive_waves(),
        "migration-progress.json": migration_progress(),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, builder in built.items():
        out[name] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return out
