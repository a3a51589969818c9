"""The schedule derived from a go-live date, and the injectable clocks."""

from __future__ import annotations

import datetime as dt

import pytest

from epj.golive import Phase, Schedule, SimulatedClock, SystemClock
from epj.golive.schedule import Offsets, months_before

GO_LIVE = dt.date(2027, 9, 6)


def test_offsets_from_the_go_live_date() -> None:
    s = Schedule.for_date(GO_LIVE)
    # Oslo is UTC+2 in summer, UTC+1 in winter: local midnight / 16:00 / 07:00 in UTC.
    assert s.pre_project_at == dt.datetime(2026, 3, 5, 23, tzinfo=dt.UTC)  # 18 months before (winter time)
    assert s.withdrawal_lock_at == dt.datetime(2026, 8, 5, 22, tzinfo=dt.UTC)  # 13 months
    assert s.main_project_at == dt.datetime(2026, 9, 5, 22, tzinfo=dt.UTC)  # 12 months
    assert s.rehearsal_at == dt.datetime(2027, 7, 25, 22, tzinfo=dt.UTC)  # 42 days
    assert s.freeze_at == dt.datetime(2027, 9, 2, 22, tzinfo=dt.UTC)  # 3 days
    assert s.cutover_at == dt.datetime(2027, 9, 5, 14, tzinfo=dt.UTC)  # 16:00 the day before
    assert s.go_live_at == dt.datetime(2027, 9, 6, 5, tzinfo=dt.UTC)  # 07:00
    order = [s.pre_project_at, s.withdrawal_lock_at, s.main_project_at, s.rehearsal_at, s.freeze_at, s.cutover_at]
    assert order == sorted(order)
    assert s.entry_due(Phase.PREPARING) == s.pre_project_at and s.entry_due(Phase.LIVE) is None


def test_months_before_clamps_to_the_end_of_month() -> None:
    assert months_before(dt.date(2027, 3, 31), 1) == dt.date(2027, 2, 28)
    assert months_before(dt.date(2028, 3, 31), 1) == dt.date(2028, 2, 29)
    assert months_before(dt.date(2027, 1, 15), 13) == dt.date(2025, 12, 15)
    assert months_before(dt.date(2027, 1, 15), -1) == dt.date(2027, 2, 15)


def test_withdrawal_only_before_the_lock() -> None:
    s = Schedule.for_date(GO_LIVE)
    assert s.may_withdraw(s.withdrawal_lock_at - dt.timedelta(seconds=1))
    assert not s.may_withdraw(s.withdrawal_lock_at)


def test_relative_times() -> None:
    s = Schedule.for_date(GO_LIVE)
    assert s.resolve("-2d") == s.go_live_at - dt.timedelta(days=2)
    assert s.resolve("+90m") == s.go_live_at + dt.timedelta(minutes=90)
    assert s.resolve("-13mo") == dt.datetime(2026, 8, 6, 5, tzinfo=dt.UTC)
    assert s.resolve("2027-01-01T00:00:00Z") == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="cannot read time offset"):
        s.resolve("-2 weeks")
    with pytest.raises(ValueError, match=r"cannot read time offset.*no time zone"):
        s.resolve("2027-01-01T00:00:00")


def test_offsets_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="pre-project > withdrawal lock"):
        Offsets(pre_project_months=12, withdrawal_lock_months=13)
    with pytest.raises(ValueError, match="rehearsal > freeze"):
        Offsets(rehearsal_days=2, freeze_days=3)


def test_simulated_clock_only_moves_forward() -> None:
    clock = SimulatedClock(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    assert clock.advance(dt.timedelta(days=400)) == dt.datetime(2028, 2, 5, tzinfo=dt.UTC)
    assert clock.advance_to(dt.datetime(2020, 1, 1, tzinfo=dt.UTC)) == clock.now()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(dt.timedelta(seconds=-1))
    with pytest.raises(ValueError, match="naive"):
        SimulatedClock(dt.datetime(2027, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo == dt.UTC
