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

from salessim.scenario.schema import WEEKDAYS, Calendar
from salessim.scenario.units import UNIT_HOURS

_WEEK_HOURS = 168.0


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

    def _worked(self, hours: float) -> float:
        """Working hours between 0 and clock ``hours``."""
        weeks, rest = divmod(hours, _WEEK_HOURS)
        i = bisect.bisect_right(self._starts, rest) - 1
        within = 0.0 if i < 0 else self._cum[i] + min(rest, self._ends[i]) - self._starts[i]
        return weeks * self.week_hours + within

    def _clock(self, worked: float) -> float:
        """First clock hour at which ``worked`` working hours have elapsed (worked > 0)."""
        weeks, rest = divmod(worked, self.week_hours)
        if rest == 0:  # exactly at the end of a week's last interval
            weeks -= 1
            rest = self.week_hours
        i = bisect.bisect_left(self._cum, rest) - 1
        return weeks * _WEEK_HOURS + self._starts[i] + (rest - self._cum[i])

    def working_time(self, a: float, b: float) -> float:
        """Working time between clock times ``a <= b`` (both in the time unit)."""
        h = self.hours_per_unit
        return (self._worked(b * h) - self._worked(a * h)) / h

    def next_working(self, t: float) -> float:
        """The first working instant at or after ``t``."""
        h = self.hours_per_unit
        weeks, rest = divmod(t * h, _WEEK_HOURS)
        i = bisect.bisect_right(self._ends, rest)
        if i < len(self._starts) and rest < self._ends[i] and rest >= self._starts[i]:
            return t
        if i < len(self._starts):
            return (weeks * _WEEK_HOURS + max(rest, self._starts[i])) / h
        return ((weeks + 1) * _WEEK_HOURS + self._starts[0]) / h

    def finish(self, start: float, work: float) -> float:
        """Clock time at which ``work`` units of working time started at ``start`` end."""
        if work <= 0:
            return start
        h = self.hours_per_unit
        return self._clock(self._worked(start * h) + work * h) / h


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


__all__ = ["AroundTheClock", "WorkCalendar", "working_calendar"]
