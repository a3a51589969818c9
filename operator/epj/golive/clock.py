"""Where the go-live core gets its time: an injectable clock, so months play out in seconds.

The core itself never reads a clock (``decide`` takes ``now``); adapters hold a
:class:`Clock` and pass ``clock.now()`` in. The kopf operator uses
:class:`SystemClock`; tests and ``epj rehearse`` use :class:`SimulatedClock`.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable


def ensure_utc(value: dt.datetime) -> dt.datetime:
    """Normalise to an aware UTC datetime; naive values are refused (they hide bugs across time zones)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} (give a time zone)")
    return value.astimezone(dt.UTC)


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time as an aware datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class SimulatedClock:
    """A clock that only moves when told to; never goes backwards."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move forward by ``delta`` (must not be negative) and return the new time."""
        if delta < dt.timedelta(0):
            raise ValueError("a simulated clock cannot go backwards")
        self._now += delta
        return self._now

    def advance_to(self, instant: dt.datetime) -> dt.datetime:
        """Move forward to ``instant``; an instant in the past leaves the clock where it is."""
        instant = ensure_utc(instant)
        self._now = max(instant, self._now)
        return self._now
