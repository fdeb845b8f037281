"""Working time: when staff work, and how long work takes on the clock.

Time 0 of a run is a Monday at 00:00. Staff work only inside the calendar's working
intervals; work that does not finish by the end of a working day goes on at the start of
the next one. Customer-side delays run on the clock and do not use this module.

The cumulative working-time function ``W(t)`` (working time elapsed between 0 and clock
time ``t``) is piecewise linear and non-decreasing; work of length ``w`` started at ``t``
ends at the first clock time where ``W`` reaches ``W(t) + w``.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from salessim.clock import LOG_EPOCH
from salessim.scenario.schema import WEEKDAYS, Calendar, shared_calendar
from salessim.scenario.units import UNIT_HOURS

if TYPE_CHECKING:
    import simpy

_WEEK_HOURS = 168.0
_SNAP = 1e-9  # hours: totals this close to an interval's end are taken as its end


class WorkCalendar:
    """A weekly working calendar in a scenario's time unit."""

    def __init__(self, calendar: Calendar, time_unit: str) -> None:
        self.hours_per_unit = UNIT_HOURS[time_unit]
        start, end = calendar.hours
        days = sorted(WEEKDAYS.index(d) for d in calendar.workdays)
        # Working intervals within one week, in hours since Monday 00:00.
        self._starts = [24.0 * d + start for d in days]
        self._ends = [24.0 * d + end for d in days]
        cum = [0.0]
        for s, e in zip(self._starts, self._ends, strict=True):
            cum.append(cum[-1] + e - s)
        self._cum = cum  # working hours before interval i
        self.week_hours = cum[-1]
        # Holidays: day numbers since time 0 that fall on a workday, with their hours.
        epoch = LOG_EPOCH.date()
        self._holidays = sorted(
            n for n in {(d - epoch).days for d in calendar.holidays}
            if n >= 0 and WEEKDAYS[n % 7] in calendar.workdays
        )
        self._holiday_hours = end - start
        self._holiday_set = set(self._holidays)
        #: Work starts only where it fits before closing (:meth:`fitting`; staff.work asks).
        self.same_day = calendar.finish_same_day
        self._day_length = (end - start) / self.hours_per_unit

    def _worked(self, hours: float) -> float:
        """Working hours between 0 and clock ``hours``, holidays excepted."""
        worked = self._weekly_worked(hours)
        if not self._holidays:
            return worked
        # Whole holidays before this day, then any part of today's if today is one.
        day = int(hours // 24)
        before = bisect.bisect_left(self._holidays, day)
        worked -= before * self._holiday_hours
        if day in self._holiday_set:
            worked -= self._weekly_worked(hours) - self._weekly_worked(24.0 * day)
        return worked

    def _weekly_worked(self, hours: float) -> float:
        weeks, rest = divmod(hours, _WEEK_HOURS)
        i = bisect.bisect_right(self._starts, rest) - 1
        within = 0.0 if i < 0 else self._cum[i] + min(rest, self._ends[i]) - self._starts[i]
        return weeks * self.week_hours + within

    def _clock(self, worked: float) -> float:
        """First clock hour at which ``worked`` working hours have elapsed (worked > 0)."""
        hours = self._weekly_clock(worked)
        if not self._holidays:
            return hours
        # Each pass moves past the holidays the previous guess ran into.
        while True:
            missing = worked - self._worked(hours)
            if missing <= 1e-9 * max(1.0, worked):
                return hours
            hours = self._weekly_clock(self._weekly_worked(hours) + missing)

    def _weekly_clock(self, worked: float) -> float:
        weeks, rest = divmod(worked, self.week_hours)
        if rest == 0:  # exactly at the end of a week's last interval
            weeks -= 1
            rest = self.week_hours
        # Rounding can put a total that should end an interval a hair past its end; the
        # tolerance keeps such work ending at closing time, not the next morning.
        i = max(bisect.bisect_left(self._cum, rest - _SNAP) - 1, 0)
        return weeks * _WEEK_HOURS + self._starts[i] + (rest - self._cum[i])

    def working_time(self, a: float, b: float) -> float:
        """Working time between clock times ``a <= b`` (both in the time unit)."""
        h = self.hours_per_unit
        return (self._worked(b * h) - self._worked(a * h)) / h

    def next_working(self, t: float) -> float:
        """The first working instant at or after ``t``."""
        h = self.hours_per_unit
        hours = self._weekly_next(t * h)
        while int(hours // 24) in self._holiday_set:
            hours = self._weekly_next(24.0 * (int(hours // 24) + 1))
        # Inside working time: t itself (a round trip through hours could move it back).
        return t if hours == t * h else max(hours / h, t)

    def _weekly_next(self, hours: float) -> float:
        weeks, rest = divmod(hours, _WEEK_HOURS)
        i = bisect.bisect_right(self._ends, rest)
        if i < len(self._starts):
            return weeks * _WEEK_HOURS + max(rest, self._starts[i])
        return (weeks + 1) * _WEEK_HOURS + self._starts[0]

    def next_shift(self, t: float) -> tuple[float, float]:
        """Start and end of the first working interval that ends after ``t``.

        The start is ``t`` itself when ``t`` is inside that interval. An interval ending
        within a rounding hair of ``t`` counts as ended.
        """
        h = self.hours_per_unit
        hours = t * h
        weeks, rest = divmod(hours, _WEEK_HOURS)
        i = bisect.bisect_right(self._ends, rest + _SNAP)
        while True:
            if i == len(self._starts):
                weeks, i = weeks + 1, 0
            start = weeks * _WEEK_HOURS + self._starts[i]
            if int(start // 24) not in self._holiday_set:
                return max(start, hours) / h, (weeks * _WEEK_HOURS + self._ends[i]) / h
            i += 1

    def fitting(self, t: float, work: float) -> float:
        """The first working instant at or after ``t`` from which ``work`` is done before
        closing time (``finish_same_day``); work longer than a working day cannot be, and
        starts at the first working instant as without the rule."""
        start, end = self.next_shift(t)
        if work >= self._day_length:
            return start
        while start + work > end + _SNAP / self.hours_per_unit:
            start, end = self.next_shift(end)
        return start

    def finish(self, start: float, work: float) -> float:
        """Clock time at which ``work`` units of working time started at ``start`` end."""
        if work <= 0:
            return start
        h = self.hours_per_unit
        return max(self._clock(self._worked(start * h) + work * h) / h, start)


class AroundTheClock:
    """No calendar: staff work at every hour."""

    week_hours = _WEEK_HOURS

    def working_time(self, a: float, b: float) -> float:
        return b - a

    def next_working(self, t: float) -> float:
        return t

    def finish(self, start: float, work: float) -> float:
        return start + work


def working_calendar(calendar: Calendar | None, time_unit: str) -> WorkCalendar | AroundTheClock:
    """The calendar staff follow in a scenario."""
    return AroundTheClock() if calendar is None else WorkCalendar(calendar, time_unit)


__all__ = ["AroundTheClock", "WorkCalendar", "shared_calendar", "working_calendar"]


class OnDuty(Protocol):
    """Staff that go off and on duty (a pool of :mod:`salessim.model.pools`)."""

    def close(self) -> None: ...
    def open(self) -> None: ...


def shifts(env: simpy.Environment, pools: Sequence[OnDuty], calendar: WorkCalendar
           ) -> Generator[simpy.Event, Any, None]:
    """A process that closes staff pools outside the calendar's working hours, from
    time 0 on (see :class:`salessim.model.pools.StaffPool`).

    Waiting for staff who are off duty is waiting: a deal that comes at night queues
    (its patience runs) and at opening time the members go to the line in its order.
    Members whose work runs on overnight keep it (it resumes by the calendar).
    """
    while True:
        opening, closing = calendar.next_shift(env.now)
        if opening > env.now:
            for pool in pools:
                pool.close()
            yield env.timeout(opening - env.now)
            for pool in pools:
                pool.open()
        yield env.timeout(closing - env.now)
