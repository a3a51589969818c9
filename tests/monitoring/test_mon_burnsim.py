"""The minute model that picks promtool check times: Prometheus' rate and ``for`` semantics in small cases."""

from __future__ import annotations

from epj.monitoring.burnsim import Traffic, firing, minutes, safe_times, tenant_condition


def test_window_rates_divide_by_the_whole_window_like_prometheus() -> None:
    tr = Traffic(total=(60,) * 10, bad=(0,) * 5 + (30,) * 5)
    assert minutes("5m") == 5 and minutes("6h") == 360 and minutes("3d") == 4320
    assert tr.rate(10, 5) == 300 / 300  # five minutes of 60 requests over a 5-minute window
    assert tr.rate(3, 5) == 180 / 300  # younger than the window: no extrapolation below zero
    assert tr.ratio(10, 5) == 0.5 and tr.ratio(5, 5) == 0.0


def test_for_holds_the_condition_before_firing_and_clears_at_once() -> None:
    cond_true = {3, 4, 5, 6, 7}
    states = firing(lambda t: t in cond_true, for_minutes=2, until=10)
    assert [t for t, s in enumerate(states) if s] == [5, 6, 7]
    every_two = firing(lambda t: t in cond_true, for_minutes=2, until=10, every=2)
    assert [t for t, s in enumerate(every_two) if s] == [6, 7]


def test_check_times_avoid_state_changes() -> None:
    states = [[t >= 23 for t in range(61)]]
    assert safe_times(states, 60, step=5, margin=3) == [5, 10, 15, 30, 35, 40, 45, 50, 55]


def test_low_traffic_guard_blocks_a_tenant_below_the_minimum() -> None:
    quiet = Traffic(total=(2,) * 120, bad=(1,) * 120)
    cond = tenant_condition(quiet, quiet, "1h", "5m", threshold=0.01, min_rate=300 / 3600)
    assert not any(cond(t) for t in range(1, 121))
    busy = Traffic(total=(20,) * 120, bad=(10,) * 120)
    cond = tenant_condition(busy, busy, "1h", "5m", threshold=0.01, min_rate=300 / 3600)
    assert cond(90)
