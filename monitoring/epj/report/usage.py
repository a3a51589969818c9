"""Measured usage per tenant for a month, read from Prometheus' HTTP API.

Prometheus is optional: when it cannot be reached the report shows allocated
costs only and says why, instead of failing the whole report.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal

from epj.report.cost import Resources
from epj.report.incidents import counts_as_downtime

GIB = Decimal(1024**3)
#: Prometheus refuses a range query of more than 11,000 points per series; stay below it.
MAX_POINTS_PER_QUERY = 10_000
_NAMESPACE = 'namespace=~"kommune-[0-9]{4}"'


class PrometheusUnavailable(Exception):
    """Prometheus could not answer; the caller reports allocated costs only."""


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY-MM`` → [start, end) in UTC (a council month; billing does not need local time)."""
    try:
        start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from exc
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def _query(base_url: str, promql: str, at: dt.datetime, timeout: float) -> dict[str, Decimal]:
    params = urllib.parse.urlencode({"query": promql, "time": f"{at.timestamp():.0f}"})
    url = f"{base_url.rstrip('/')}/api/v1/query?{params}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PrometheusUnavailable(f"Prometheus at {base_url} did not answer: {exc}") from exc
    if body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus query failed: {body.get('error', 'unknown error')}")
    values: dict[str, Decimal] = {}
    for series in body["data"]["result"]:
        namespace = series["metric"].get("namespace", "")
        if namespace.startswith("kommune-"):
            values[namespace.removeprefix("kommune-")] = Decimal(series["value"][1])
    return values


def measured_usage(
    base_url: str, month: str, *, now: dt.datetime | None = None, timeout: float = 10.0
) -> dict[str, Resources]:
    """Average CPU cores, average memory GiB and peak storage GiB per tenant over the month.

    A month still running is measured up to ``now``. Tenants with no series at all
    are absent from the result (they were not running).
    """
    start, end = month_bounds(month)
    at = min(end, now or dt.datetime.now(dt.UTC))
    if at <= start:
        raise ValueError(f"month {month} has not started")
    window = f"{int((at - start).total_seconds())}s"
    seconds = Decimal(int((at - start).total_seconds()))
    cpu = _query(
        base_url,
        f"sum by (namespace) (increase(container_cpu_usage_seconds_total{{{_NAMESPACE}}}[{window}]))",
        at,
        timeout,
    )
    memory = _query(
        base_url,
        f"avg_over_time((sum by (namespace) (container_memory_working_set_bytes{{{_NAMESPACE}}}))[{window}:5m])",
        at,
        timeout,
    )
    storage = _query(
        base_url,
        f"max_over_time((sum by (namespace) (kubelet_volume_stats_used_bytes{{{_NAMESPACE}}}))[{window}:1h])",
        at,
        timeout,
    )
    tenants = sorted(set(cpu) | set(memory) | set(storage))
    return {
        t: Resources(
            cpu_cores=cpu.get(t, Decimal(0)) / seconds,
            memory_gib=memory.get(t, Decimal(0)) / GIB,
            storage_gib=storage.get(t, Decimal(0)) / GIB,
        )
        for t in tenants
    }


@dataclass(frozen=True)
class FiringEpisode:
    """One stretch of a critical alert firing for a tenant (Prometheus' ALERTS series)."""

    alert: str
    severity: str
    started: dt.datetime
    minutes: int
    service: str | None = None


def critical_episodes(
    base_url: str,
    kommunenr: str,
    month: str,
    *,
    now: dt.datetime | None = None,
    step_s: int = 60,
    timeout: float = 10.0,
) -> list[FiringEpisode]:
    """Critical alerts that fired for the tenant in the month, as episodes with their length.

    Downtime for the council is the union of these episodes; Prometheus keeps
    ``ALERTS`` as a series for every evaluation while an alert fires.
    """
    start, end = month_bounds(month)
    stop = min(end, now or dt.datetime.now(dt.UTC))
    if stop <= start:
        return []
    if not kommunenr.isdigit() or len(kommunenr) != 4:
        raise ValueError(f"kommunenummer must be four digits, got {kommunenr!r}")
    query = f'ALERTS{{alertstate="firing", severity="critical", tenant="{kommunenr}"}}'
    # Prometheus answers at most 11,000 points per series: a month at one-minute steps is 44,640, so the
    # range is asked for in chunks (same resolution, never "unknown" because the month is long).
    stamps_by_series: dict[tuple[str, str | None], set[float]] = {}
    chunk = dt.timedelta(seconds=step_s * MAX_POINTS_PER_QUERY)
    begin = start
    while begin < stop:
        end_chunk = min(stop, begin + chunk)
        params = urllib.parse.urlencode(
            {
                "query": query,
                "start": f"{begin.timestamp():.0f}",
                "end": f"{end_chunk.timestamp():.0f}",
                "step": str(step_s),
            }
        )
        try:
            with urllib.request.urlopen(
                f"{base_url.rstrip('/')}/api/v1/query_range?{params}", timeout=timeout
            ) as response:
                body = json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PrometheusUnavailable(f"Prometheus at {base_url} did not answer: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"Prometheus query failed: {body.get('error', 'unknown error')}")
        for series in body["data"]["result"]:
            key = (series["metric"].get("alertname", "unknown"), series["metric"].get("service"))
            stamps_by_series.setdefault(key, set()).update(float(ts) for ts, _ in series["values"])
        begin = end_chunk
    episodes: list[FiringEpisode] = []
    for (alertname, service), stamp_set in sorted(stamps_by_series.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        stamps = sorted(stamp_set)
        run_start = previous = None
        for ts in [*stamps, None]:
            if ts is not None and previous is not None and ts - previous <= step_s:
                previous = ts
                continue
            if run_start is not None and previous is not None:
                episodes.append(
                    FiringEpisode(
                        alert=alertname,
                        severity="critical",
                        started=dt.datetime.fromtimestamp(run_start, dt.UTC),
                        minutes=max(1, round((previous - run_start + step_s) / 60)),
                        service=service,
                    )
                )
            run_start = previous = ts
    return sorted(episodes, key=lambda e: e.started)


def downtime_minutes(episodes: list[FiringEpisode]) -> int:
    """Minutes during which a service was down for users (overlaps counted once; latency is not downtime)."""
    spans = sorted(
        (e.started, e.started + dt.timedelta(minutes=e.minutes)) for e in episodes if counts_as_downtime(e.alert)
    )
    total = dt.timedelta()
    current_start: dt.datetime | None = None
    current_end: dt.datetime | None = None
    for begin, finish in spans:
        if current_end is None or begin > current_end:
            if current_start is not None and current_end is not None:
                total += current_end - current_start
            current_start, current_end = begin, finish
        else:
            current_end = max(current_end, finish)
    if current_start is not None and current_end is not None:
        total += current_end - current_start
    return int(total.total_seconds() // 60)
