"""promtool unit tests generated from the catalog, next to the rules they test.

For each service, one five-hour test runs these scenarios side by side, one
municipality each, and checks every 10 minutes that exactly the right burn-rate
alerts fire (times chosen by :mod:`epj.monitoring.burnsim`, away from any state
change, so promtool is the judge and the test is never flaky):

* **fast burn** in 5035 (half the requests fail in minutes 61..120; 5006 stays
  healthy): the 1h/5m page fires first, the 6h/30m page after its 15m ``for``, the
  3d/6h ticket after its 1h ``for``; when the errors stop the 1h/5m page clears
  within minutes (its short window) while the slower ones keep firing until their
  short windows are clean;
* **slow burn** in 5031 (3x the budget all along): only the ticket fires, never a page;
* **thresholds** in 5014 / 5020 / 5036: steady ratios at 0.8x and 1.25x the 14.4x
  page factor and 0.8x the 6x factor, so a wrong factor fails the test;
* **latency** fast burn in 5059 (95 % slow in minutes 61..240): as the fast burn, for
  the slow ratio;
* **low traffic** in 5043 / 5044 / 5046 (tiny municipalities, 5043 failing): no
  per-tenant alert; the pooled ``…LowTraffic`` alert fires without a ``tenant`` label.
  (Its 3d/6h ticket would need three days of pooled history and is not exercised.)

Expected annotations are the generated ones with ``{{ $labels.x }}`` expanded, so a
changed description is tested too. Freshness, probe, platform and migration alerts
get one firing and one quiet case each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from epj.catalog import Service, ServiceCatalog, load_catalog
from epj.monitoring.burnsim import Traffic, firing, minutes, pooled_condition, safe_times, tenant_condition
from epj.monitoring.rules import (
    BURN_WINDOWS,
    Alert,
    error_budget,
    error_burn_alerts,
    freshness_alerts,
    latency_budget,
    latency_burn_alerts,
    low_traffic_alerts,
    migration_alerts,
    operator_alerts,
    probe_alerts,
)

_TEMPLATE = re.compile(r"\{\{ \$labels\.(\w+) \}\}")


def expand(template: str, labels: dict[str, str]) -> str:
    """Expand the only template form our annotations use (``{{ $labels.x }}``)."""
    return _TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), template)


def counter(pieces: list[tuple[int, int]]) -> str:
    """A counter starting at 0 at minute 0, then ``minutes`` steps of ``per_minute`` for each piece."""
    out = ["0"]
    value = 0
    for length, per_minute in pieces:
        if length <= 0:
            continue
        out.append(f"{value + per_minute}+{per_minute}x{length - 1}")
        value += per_minute * length
    return " ".join(out)


@dataclass(frozen=True)
class Check:
    at_minute: int
    alerts: tuple[tuple[Alert, dict[str, str]], ...]  # (rule, labels from the expression)


def _exp(alert: Alert, expr_labels: dict[str, str], base_url: str | None) -> dict[str, Any]:
    labels = {**alert.all_labels(), **expr_labels}
    ann = {k: expand(v, labels) for k, v in alert.annotations(base_url).items()}
    return {"exp_labels": labels, "exp_annotations": ann}


def _alert_tests(
    names: list[str], checks: list[Check], base_url: str | None, only: set[str] | None = None
) -> list[dict[str, Any]]:
    """For every check time, every alert name: exactly the expected alerts (possibly none)."""
    out = []
    for check in checks:
        for name in names:
            exp = [_exp(a, lbl, base_url) for a, lbl in check.alerts if a.name == name]
            out.append({"eval_time": f"{check.at_minute}m", "alertname": name, "exp_alerts": exp})
    return out


def counter_from(increments: tuple[int, ...]) -> str:
    """promtool series notation for a counter at 0 at minute 0 growing by ``increments[i]`` in minute i+1."""
    pieces: list[tuple[int, int]] = []
    for inc in increments:
        if pieces and pieces[-1][1] == inc:
            pieces[-1] = (pieces[-1][0] + 1, inc)
        else:
            pieces.append((1, inc))
    return counter(pieces)


def _req(svc: Service, tenant: str, traffic: Traffic) -> list[dict[str, str]]:
    metric = svc.metrics["requests"]
    ok_label, err_label = ('code="200"', 'code="500"') if svc.kind == "app" else ('outcome="ok"', 'outcome="error"')
    good = tuple(t - b for t, b in zip(traffic.total, traffic.bad, strict=True))
    return [
        {"series": f'{metric}{{service="{svc.name}", tenant="{tenant}", {ok_label}}}', "values": counter_from(good)},
        {
            "series": f'{metric}{{service="{svc.name}", tenant="{tenant}", {err_label}}}',
            "values": counter_from(traffic.bad),
        },
    ]


def _lat(svc: Service, tenant: str, traffic: Traffic) -> list[dict[str, str]]:
    metric = svc.metrics["latency"]
    le = f"{svc.slo.latency.threshold_seconds:g}"
    fast = tuple(t - b for t, b in zip(traffic.total, traffic.bad, strict=True))
    return [
        {
            "series": f'{metric}_bucket{{service="{svc.name}", tenant="{tenant}", le="{le}"}}',
            "values": counter_from(fast),
        },
        {"series": f'{metric}_count{{service="{svc.name}", tenant="{tenant}"}}', "values": counter_from(traffic.total)},
    ]


PER_MINUTE = 2000  # plenty above any min_requests_per_hour in the catalog
CHECK_STEP = 10
EVAL_MINUTES = 2  # promtool's evaluation_interval: half the work of 1m, same windows


def _flat(length: int, per_minute: int) -> tuple[int, ...]:
    return (per_minute,) * length


def _burst(length: int, per_minute: int, start: int, end: int) -> tuple[int, ...]:
    """``per_minute`` during minutes start+1..end, 0 otherwise."""
    return tuple(per_minute if start < m <= end else 0 for m in range(1, length + 1))


@dataclass(frozen=True)
class _Expectation:
    alert: Alert
    labels: dict[str, str]
    states: list[bool]


def _scenario(
    title: str,
    length: int,
    series: list[dict[str, str]],
    expectations: list[_Expectation],
    names: list[str],
    base_url: str | None,
) -> dict[str, Any]:
    times = safe_times([e.states for e in expectations], length, step=CHECK_STEP)
    checks = [Check(t, tuple((e.alert, e.labels) for e in expectations if e.states[t])) for t in times]
    return {
        "name": title,
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": _alert_tests(names, checks, base_url),
    }


def _tenant_expectations(
    svc: Service, alerts: tuple[Alert, ...], budget: float, traffic: dict[str, tuple[Traffic, Traffic]], length: int
) -> list[_Expectation]:
    """(traffic, gate) per tenant: the bad ratio comes from ``traffic``, the low-traffic guard from ``gate``."""
    out = []
    min_rate = svc.slo.min_requests_per_hour / 3600
    for alert in alerts:
        long, short = alert.labels["long"], alert.labels["short"]
        bw = next(b for b in BURN_WINDOWS if b.long == long)
        for tenant, (tr, gate) in traffic.items():
            cond = tenant_condition(tr, gate, long, short, bw.factor * budget, min_rate)
            states = firing(cond, minutes(bw.for_), length, EVAL_MINUTES)
            out.append(_Expectation(alert, {"service": svc.name, "tenant": tenant}, states))
    return out


def _pooled_expectations(
    svc: Service, alerts: tuple[Alert, ...], tenants: list[Traffic], length: int
) -> list[_Expectation]:
    out = []
    min_rate = svc.slo.min_requests_per_hour / 3600
    for alert in alerts:
        bw = next(b for b in BURN_WINDOWS if b.long == alert.labels["long"])
        cond = pooled_condition(tenants, bw.long, bw.short, bw.factor * error_budget(svc), min_rate)
        out.append(_Expectation(alert, {"service": svc.name}, firing(cond, minutes(bw.for_), length, EVAL_MINUTES)))
    return out


SCENARIO_MINUTES = 300


def slo_test_file(svc: Service, base_url: str | None = None) -> dict[str, Any]:
    """The promtool test document for one service's SLO rule file.

    All scenarios run side by side in one five-hour test, one municipality each, so
    promtool evaluates the rules once (scenarios: see the module docstring).
    """
    err_alerts = error_burn_alerts(svc)
    lat_alerts = latency_burn_alerts(svc)
    low_alerts = low_traffic_alerts(svc)
    names = sorted({a.name for a in err_alerts + lat_alerts + low_alerts})
    eb, lb = error_budget(svc), latency_budget(svc)
    n = SCENARIO_MINUTES
    series: list[dict[str, str]] = []
    expectations: list[_Expectation] = []

    def requests(tenant: str, traffic: Traffic) -> None:
        series.extend(_req(svc, tenant, traffic))
        expectations.extend(_tenant_expectations(svc, err_alerts, eb, {tenant: (traffic, traffic)}, n))

    # Fast error burn in 5035: half the requests fail in minutes 61..120. 5006 stays healthy.
    requests("5035", Traffic(_flat(n, PER_MINUTE), _burst(n, PER_MINUTE // 2, 60, 120)))
    requests("5006", Traffic(_flat(n, PER_MINUTE), _flat(n, 0)))
    # Slow error burn in 5031: 3x the budget all along -> a ticket, never a page.
    requests("5031", Traffic(_flat(n, PER_MINUTE), _flat(n, max(1, round(3 * eb * PER_MINUTE)))))
    # Thresholds: steady ratios just below / above the page factors.
    per_minute = 10 * PER_MINUTE
    for tenant, ratio in (("5014", 0.8 * 14.4 * eb), ("5020", 1.25 * 14.4 * eb), ("5036", 0.8 * 6 * eb)):
        requests(tenant, Traffic(_flat(n, per_minute), _flat(n, round(ratio * per_minute))))
    # Fast latency burn in 5059: 95 % of requests slow in minutes 61..240 (no errors).
    lat = Traffic(_flat(n, PER_MINUTE), _burst(n, PER_MINUTE * 19 // 20, 60, 240))
    healthy = Traffic(_flat(n, PER_MINUTE), _flat(n, 0))
    series.extend(_lat(svc, "5059", lat))
    requests("5059", healthy)
    expectations.extend(_tenant_expectations(svc, lat_alerts, lb, {"5059": (lat, healthy)}, n))
    # Low traffic: three quiet municipalities, 5043 failing from minute 60; only the pool may alert.
    small = max(1, svc.slo.min_requests_per_hour // 150)
    if 2 * small * 60 >= svc.slo.min_requests_per_hour:
        raise ValueError(f"{svc.name}: min_requests_per_hour too small for the low-traffic scenario")
    quiet = {
        "5043": Traffic(tuple(small + b for b in _burst(n, small, 60, n)), _burst(n, small, 60, n)),
        "5044": Traffic(_flat(n, small), _flat(n, 0)),
        "5046": Traffic(_flat(n, small), _flat(n, 0)),
    }
    for tenant, traffic in quiet.items():
        requests(tenant, traffic)
    big = [Traffic(_flat(n, PER_MINUTE), _flat(n, 0))]  # the large tenants are never pool members
    expectations.extend(_pooled_expectations(svc, low_alerts, list(quiet.values()) + big, n))
    test = _scenario(
        f"{svc.name}: fast, slow, threshold, latency and low-traffic burns side by side",
        n,
        series,
        expectations,
        names,
        base_url,
    )
    return {
        "rule_files": [f"../rules/slo-{svc.name}.yml"],
        "evaluation_interval": f"{EVAL_MINUTES}m",
        "tests": [test],
    }


def _simple_test(
    name: str,
    series: list[dict[str, str]],
    alert: Alert,
    quiet_at: int,
    fire_at: int,
    labels: dict[str, str],
    base: str | None,
) -> dict[str, Any]:
    return {
        "name": name,
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": f"{quiet_at}m", "alertname": alert.name, "exp_alerts": []},
            {"eval_time": f"{fire_at}m", "alertname": alert.name, "exp_alerts": [_exp(alert, labels, base)]},
        ],
    }


def freshness_test_file(catalog: ServiceCatalog, base_url: str | None = None) -> dict[str, Any]:
    """Last success goes stale / a message waits too long → fires; fresh → quiet."""
    tests = []
    for svc in catalog.services.values():
        fresh = svc.freshness
        for alert in freshness_alerts(svc):
            labels = {"tenant": "5035", "service": svc.name}
            if alert.name.endswith("NoRecentSuccess") and fresh is not None:
                metric = svc.metrics["last_success"]
                # Last success at t=60s, never again: stale once now - 60 > max (+5m for).
                stale_min = (fresh.last_success_max_seconds + 60) // 60 + 7
                series = [
                    {"series": f'{metric}{{service="{svc.name}", tenant="5035"}}', "values": f"60x{stale_min + 5}"}
                ]
                quiet = max(2, fresh.last_success_max_seconds // 60 - 5)
                tests.append(_simple_test(f"{alert.name} fires", series, alert, quiet, stale_min, labels, base_url))
            elif fresh is not None and fresh.oldest_unacknowledged_max_seconds is not None:
                metric = svc.metrics["oldest_unacknowledged"]
                limit = fresh.oldest_unacknowledged_max_seconds
                # Age grows 60 s per minute from 0.
                fire_at = limit // 60 + 8
                series = [
                    {"series": f'{metric}{{service="{svc.name}", tenant="5035"}}', "values": f"0+60x{fire_at + 5}"}
                ]
                quiet = limit // 60 - 5
                tests.append(_simple_test(f"{alert.name} fires", series, alert, quiet, fire_at, labels, base_url))
    return {"rule_files": ["../rules/freshness.yml"], "evaluation_interval": "1m", "tests": tests}


def probes_test_file(catalog: ServiceCatalog, base_url: str | None = None) -> dict[str, Any]:
    tests = []
    for alert in probe_alerts(catalog):
        service = re.search(r'service=~"([^"|]+)', alert.expr)
        assert service is not None
        svc = service.group(1)
        kind = "clinical" if "clinical" in alert.expr else "integration"
        labels = {"service": svc} if kind == "integration" else {"service": svc, "tenant": "5035", "kind": kind}
        series = [
            {"series": f'epj_probe_success{{kind="{kind}", service="{svc}", tenant="5035"}}', "values": "1x10 0x30"}
        ]
        tests.append(_simple_test(f"{alert.name} for {svc}", series, alert, 8, 30, labels, base_url))
    return {"rule_files": ["../rules/probes.yml"], "evaluation_interval": "1m", "tests": tests}


def platform_test_file(base_url: str | None = None) -> dict[str, Any]:
    ops = {a.name + "/" + a.severity: a for a in operator_alerts()}
    down = ops["EpjOperatorDown/critical"]
    down_ticket = ops["EpjOperatorDown/warning"]
    errors = ops["EpjOperatorReconcileErrors/warning"]
    stalled = ops["EpjGoLiveStalled/warning"]
    tests = [
        _simple_test(
            "operator down during a cutover pages",
            [
                {"series": 'up{job="epj-operator", instance="op:8080"}', "values": "1x10 0x20"},
                # The operator's own phase gauge goes stale when it dies; the last value is remembered.
                {"series": 'epj_golive_phase{job="epj-operator", tenant="5035", phase="Cutover"}', "values": "1x10"},
            ],
            down,
            8,
            20,
            {"job": "epj-operator"},
            base_url,
        ),
        _simple_test(
            "operator down with no go-live in a critical phase is a ticket",
            [
                {"series": 'up{job="epj-operator", instance="op:8080"}', "values": "1x10 0x40"},
                {"series": 'epj_golive_phase{job="epj-operator", tenant="5035", phase="Training"}', "values": "1x10"},
            ],
            down_ticket,
            8,
            35,
            {"job": "epj-operator"},
            base_url,
        ),
        _simple_test(
            "reconcile errors persist",
            [
                {
                    "series": 'epj_operator_reconcile_errors_total{job="epj-operator", kind="GoLive", tenant="5035"}',
                    "values": "0x5 1+1x60",
                }
            ],
            errors,
            5,
            40,
            {"job": "epj-operator", "kind": "GoLive", "tenant": "5035"},
            base_url,
        ),
        _simple_test(
            "go-live stalled outside cutover",
            [
                {"series": 'epj_golive_stalled{job="epj-operator", tenant="5035"}', "values": "0x10 1x30"},
                {"series": 'epj_golive_phase{job="epj-operator", tenant="5035", phase="Training"}', "values": "1x40"},
            ],
            stalled,
            8,
            30,
            {"job": "epj-operator", "tenant": "5035"},
            base_url,
        ),
    ]
    return {"rule_files": ["../rules/platform.yml"], "evaluation_interval": "1m", "tests": tests}


def migration_test_file(base_url: str | None = None) -> dict[str, Any]:
    alerts = {a.name: a for a in migration_alerts()}
    who = 'tenant="5035", purpose="rehearsal"'
    labels = {"tenant": "5035", "purpose": "rehearsal"}
    tests = [
        _simple_test(
            "migration run failed",
            [{"series": f"epj_migration_last_run_success{{{who}}}", "values": "1x10 0x10"}],
            alerts["EpjMigrationRunFailed"],
            5,
            15,
            labels,
            base_url,
        ),
        _simple_test(
            "quarantine spike",
            [
                {"series": f'epj_migration_last_run_records{{{who}, category="read"}}', "values": "1000x40"},
                # 1 % quarantined, then a run with 10 %.
                {
                    "series": f'epj_migration_last_run_records{{{who}, category="quarantined"}}',
                    "values": "10x10 100x30",
                },
            ],
            alerts["EpjMigrationQuarantineSpike"],
            8,
            30,
            labels,
            base_url,
        ),
        _simple_test(
            "migration runs too long",
            [
                {"series": f"epj_migration_running{{{who}}}", "values": "1x480"},
                {"series": f"epj_migration_started_timestamp_seconds{{{who}}}", "values": "0x480"},
            ],
            alerts["EpjMigrationStalled"],
            300,
            400,
            labels,
            base_url,
        ),
    ]
    return {"rule_files": ["../rules/migration.yml"], "evaluation_interval": "1m", "tests": tests}


def test_files(catalog: ServiceCatalog | None = None, base_url: str | None = None) -> dict[str, dict[str, Any]]:
    """Every promtool test document, keyed by file name under ``DIR/tests/``."""
    cat = catalog or load_catalog()
    out = {f"slo-{svc.name}.test.yml": slo_test_file(svc, base_url) for svc in cat.services.values()}
    out["freshness.test.yml"] = freshness_test_file(cat, base_url)
    out["probes.test.yml"] = probes_test_file(cat, base_url)
    out["platform.test.yml"] = platform_test_file(base_url)
    out["migration.test.yml"] = migration_test_file(base_url)
    return out
