"""The go-live schedule: every time-driven transition, derived from the go-live date alone.

Offsets (DESIGN.md §2; chosen defaults, overridable with :class:`Offsets`):

====================  ====================================  ===========================================
instant               default                               why
====================  ====================================  ===========================================
pre-project           go-live date − 18 months (00:00)      Planned → Preparing
withdrawal lock       go-live date − 13 months (00:00)      a tenant may leave its wave only before this
main project          go-live date − 12 months (00:00)      Preparing → Training (training is the main
                                                            project's critical path: super-users, then
                                                            about 200 end-user sessions over 8 weeks)
rehearsal             go-live date − 42 days (00:00)        Training → Rehearsal (prøvemigrering)
freeze                go-live date − 3 days (00:00)         Rehearsal → Freeze: change freeze, no new
                                                            master data or configuration
cutover               day before go-live, 16:00 Oslo        Freeze → Cutover: legacy read-only, final
                                                            extract, final migration (downtime starts)
go-live               go-live date, 07:00 Oslo              Live → Hypercare (first morning shift)
hypercare end         hypercare start + hypercare days      Hypercare → Stable (with approval)
====================  ====================================  ===========================================

Dates are local (Europe/Oslo) calendar days; all instants are returned in UTC.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from epj.golive.phases import Phase

OSLO = ZoneInfo("Europe/Oslo")


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day-of-month ``months`` earlier, clamped to the month's last day (31 Mar − 1 month = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def local_instant(day: dt.date, at: dt.time) -> dt.datetime:
    """``day`` at local Oslo time ``at``, as UTC."""
    return dt.datetime.combine(day, at, tzinfo=OSLO).astimezone(dt.UTC)


@dataclass(frozen=True)
class Offsets:
    """How far before go-live each time-driven step happens (see the module docstring)."""

    pre_project_months: int = 18
    withdrawal_lock_months: int = 13
    main_project_months: int = 12
    rehearsal_days: int = 42
    freeze_days: int = 3
    cutover_local_time: dt.time = dt.time(16, 0)
    #: The night must start by then (Oslo, day before go-live) or it does not fit before the clinical morning.
    cutover_latest_local_time: dt.time = dt.time(20, 0)
    go_live_local_time: dt.time = dt.time(7, 0)
    hypercare_days: int = 21

    def __post_init__(self) -> None:
        if not self.pre_project_months > self.withdrawal_lock_months > self.main_project_months:
            raise ValueError("offsets must satisfy pre-project > withdrawal lock > main project (months)")
        if not self.main_project_months * 28 > self.rehearsal_days > self.freeze_days >= 1:
            raise ValueError("offsets must satisfy main project > rehearsal > freeze ≥ 1 day")
        if not self.cutover_local_time <= self.cutover_latest_local_time:
            raise ValueError("the latest cutover start must not be before the cutover start")
        if self.hypercare_days < 1:
            raise ValueError("the command-centre (hypercare) period must last at least 1 day")


DEFAULT_OFFSETS = Offsets()


@dataclass(frozen=True)
class Schedule:
    """The instants of one tenant's go-live, computed once from its go-live date."""

    go_live_date: dt.date
    pre_project_at: dt.datetime
    withdrawal_lock_at: dt.datetime
    main_project_at: dt.datetime
    rehearsal_at: dt.datetime
    freeze_at: dt.datetime
    cutover_at: dt.datetime
    go_live_at: dt.datetime
    hypercare_end_date: dt.date
    #: Latest start of the cutover night: past it, Freeze holds instead of starting the night.
    cutover_latest_at: dt.datetime | None = None

    @classmethod
    def for_date(cls, go_live_date: dt.date, offsets: Offsets = DEFAULT_OFFSETS) -> Schedule:
        midnight = dt.time(0, 0)
        return cls(
            go_live_date=go_live_date,
            pre_project_at=local_instant(months_before(go_live_date, offsets.pre_project_months), midnight),
            withdrawal_lock_at=local_instant(months_before(go_live_date, offsets.withdrawal_lock_months), midnight),
            main_project_at=local_instant(months_before(go_live_date, offsets.main_project_months), midnight),
            rehearsal_at=local_instant(go_live_date - dt.timedelta(days=offsets.rehearsal_days), midnight),
            freeze_at=local_instant(go_live_date - dt.timedelta(days=offsets.freeze_days), midnight),
            cutover_at=local_instant(go_live_date - dt.timedelta(days=1), offsets.cutover_local_time),
            go_live_at=local_instant(go_live_date, offsets.go_live_local_time),
            hypercare_end_date=go_live_date + dt.timedelta(days=offsets.hypercare_days - 1),
            cutover_latest_at=local_instant(go_live_date - dt.timedelta(days=1), offsets.cutover_latest_local_time),
        )

    def local_dates(self) -> dict[str, dt.date]:
        """Every milestone as the Oslo calendar day a person sees (never the UTC date of a local midnight).

        The one list of dates the planner's outputs, the ICS, the council report and the runbooks show.
        """
        return {
            "pre_project": local_date(self.pre_project_at),
            "withdrawal_lock": local_date(self.withdrawal_lock_at),
            "main_project": local_date(self.main_project_at),
            "rehearsal": local_date(self.rehearsal_at),
            "freeze": local_date(self.freeze_at),
            "cutover": local_date(self.cutover_at),
            "go_live": self.go_live_date,
            "hypercare_end": self.hypercare_end_date,
        }

    @property
    def last_day_to_withdraw(self) -> dt.date:
        """The last Oslo day a municipality may still withdraw: the day before its withdrawal lock."""
        return local_date(self.withdrawal_lock_at) - dt.timedelta(days=1)

    def entry_due(self, phase: Phase) -> dt.datetime | None:
        """When a time-driven entry into ``phase`` becomes due (None: entered by events, not by the calendar)."""
        return {
            Phase.PREPARING: self.pre_project_at,
            Phase.TRAINING: self.main_project_at,
            Phase.REHEARSAL: self.rehearsal_at,
            Phase.FREEZE: self.freeze_at,
            Phase.CUTOVER: self.cutover_at,
            Phase.HYPERCARE: self.go_live_at,
        }.get(phase)

    def may_withdraw(self, now: dt.datetime) -> bool:
        """A municipality may leave its wave without reason only before the withdrawal lock."""
        return now < self.withdrawal_lock_at

    def resolve(self, offset: str) -> dt.datetime:
        """An instant written relative to the go-live instant, e.g. ``-19mo``, ``-2d``, ``+21d``, ``-6h``, ``+30m``.

        Also accepts an ISO 8601 timestamp with time zone. Used by scenario files.
        """
        text = offset.strip()
        if text[:1] not in "+-":
            try:
                return parse_instant(text)
            except ValueError as error:
                raise ValueError(
                    f"cannot read time offset {offset!r} (use e.g. -2d, +21d, -6h, -19mo or ISO 8601): {error}"
                ) from None
        sign = -1 if text[0] == "-" else 1
        body = text[1:]
        for unit in ("mo", "d", "h", "m", "s"):
            if body.endswith(unit) and body[: -len(unit)].isdigit():
                amount = int(body[: -len(unit)])
                break
        else:
            raise ValueError(f"cannot read time offset {offset!r} (use e.g. -2d, +21d, -6h, -19mo or ISO 8601)")
        if unit == "mo":
            base = self.go_live_at.astimezone(OSLO)
            day = months_before(base.date(), -sign * amount)
            return dt.datetime.combine(day, base.time(), tzinfo=OSLO).astimezone(dt.UTC)
        seconds = {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit] * amount
        return self.go_live_at + sign * dt.timedelta(seconds=seconds)


def local_date(instant: dt.datetime) -> dt.date:
    """The Oslo calendar day of an instant (a local midnight stored in UTC is the previous UTC day)."""
    return instant.astimezone(OSLO).date()


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 timestamp with a time zone (``Z`` allowed), as UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return value.astimezone(dt.UTC)
