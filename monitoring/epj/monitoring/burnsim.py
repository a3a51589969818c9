"""A minute-by-minute model of the burn-rate alerts, to choose promtool check times.

The generated promtool tests must state, for each check time, exactly which
alerts fire. Deriving that by hand for every service (budgets from 0.05 % to 10 %)
is error-prone, so this models what Prometheus computes for counters that start
at 0 and are sampled every minute: ``rate(x[W])`` at minute ``t`` is the increase
over the minutes ``max(1, t-W+1)..t`` divided by the whole window (Prometheus does
not extrapolate below a counter's zero point), ratios are ratios of increases, and
an alert fires once its condition has held for its ``for`` duration. Check times
are then taken only where no alert changes state within ±3 minutes, so small
differences between model and Prometheus cannot make a test flaky. promtool
itself is the judge: the model only picks the questions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

Series = tuple[int, ...]  # increments per minute; index 0 is minute 1


def minutes(text: str) -> int:
    """``5m`` → 5, ``6h`` → 360, ``3d`` → 4320."""
    unit = {"m": 1, "h": 60, "d": 1440}[text[-1]]
    return int(text[:-1]) * unit


@dataclass(frozen=True)
class Traffic:
    """One tenant: total requests and bad (failed or slow) requests per minute."""

    total: Series
    bad: Series

    @cached_property
    def _prefix(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for series in (self.total, self.bad):
            acc = [0]
            for v in series:
                acc.append(acc[-1] + v)
            out[id(series)] = acc
        return out

    def window_sum(self, which: Series, t: int, window: int) -> int:
        """Increase over minutes ``max(1, t-window+1)..t`` (prefix sums: the model runs for every minute)."""
        acc = self._prefix[id(which)]
        return acc[t] - acc[max(0, t - window)]

    def rate(self, t: int, window: int) -> float:
        return self.window_sum(self.total, t, window) / (window * 60)

    def ratio(self, t: int, window: int) -> float | None:
        total = self.window_sum(self.total, t, window)
        return None if total == 0 else self.window_sum(self.bad, t, window) / total


def tenant_condition(
    traffic: Traffic, gate: Traffic, long: str, short: str, threshold: float, min_rate: float
) -> Callable[[int], bool]:
    """Per-tenant multiwindow condition; ``gate`` supplies the request rate for the low-traffic guard."""
    lw, sw = minutes(long), minutes(short)

    def cond(t: int) -> bool:
        rl, rs = traffic.ratio(t, lw), traffic.ratio(t, sw)
        return rl is not None and rs is not None and rl > threshold and rs > threshold and gate.rate(t, lw) >= min_rate

    return cond


def pooled_condition(
    tenants: list[Traffic], long: str, short: str, threshold: float, min_rate: float
) -> Callable[[int], bool]:
    """The low-traffic pool: tenants below ``min_rate`` over the long window, pooled."""
    lw, sw = minutes(long), minutes(short)

    def cond(t: int) -> bool:
        members = [tr for tr in tenants if tr.rate(t, lw) < min_rate]
        if not members or sum(tr.rate(t, lw) for tr in members) < min_rate:
            return False
        for w in (lw, sw):
            total = sum(tr.window_sum(tr.total, t, w) for tr in members)
            bad = sum(tr.window_sum(tr.bad, t, w) for tr in members)
            if total == 0 or bad / total <= threshold:
                return False
        return True

    return cond


def firing(cond: Callable[[int], bool], for_minutes: int, until: int, every: int = 1) -> list[bool]:
    """Firing state at each minute 0..until, with rules evaluated every ``every`` minutes and ``for``."""
    out: list[bool] = []
    active_since: int | None = None
    state = False
    for t in range(until + 1):
        if t % every == 0:
            if t > 0 and cond(t):
                active_since = t if active_since is None else active_since
                state = t - active_since >= for_minutes
            else:
                active_since = None
                state = False
        out.append(state)
    return out


def safe_times(states: list[list[bool]], until: int, step: int = 5, margin: int = 3) -> list[int]:
    """Check times (multiples of ``step``) where no modelled alert changes state within ``margin`` minutes."""
    out = []
    for t in range(step, until - margin + 1, step):
        if all(len({s[u] for u in range(t - margin, t + margin + 1)}) == 1 for s in states):
            out.append(t)
    return out
