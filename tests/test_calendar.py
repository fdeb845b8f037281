"""Tests of staff working time (model/calendar.py).

Time 0 is a Monday at 00:00. Exact cases are written in hours since then (Mon 16:00 = 16,
Tue 10:00 = 34, next Monday 09:00 = 177) and checked in the time units hour and day; the
properties tie ``finish`` and ``working_time`` together for arbitrary weekly calendars.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from salessim.model.calendar import AroundTheClock, WorkCalendar, working_calendar
from salessim.scenario.schema import WEEKDAYS, Calendar

OFFICE = Calendar()  # mon-fri, 9 to 17
UNITS = {"hour": 1.0, "day": 24.0}


def at(day: int, hour: float) -> float:
    """Hours since Monday 00:00 of week 0 (day 0 = Monday)."""
    return 24.0 * day + hour


@pytest.fixture(params=list(UNITS))
def unit(request) -> str:
    return request.param


def in_unit(hours: float, unit: str) -> float:
    return hours / UNITS[unit]


# (start, work, expected end), all in hours.
FINISH = [
    pytest.param(at(0, 10), 3, at(0, 13), id="inside-one-day"),
    pytest.param(at(0, 16), 2, at(1, 10), id="crosses-the-evening"),
    pytest.param(at(0, 9), 8, at(0, 17), id="ends-at-closing-time"),
    pytest.param(at(0, 20), 1, at(1, 10), id="starts-at-night"),
    pytest.param(at(0, 3), 1, at(0, 10), id="starts-before-opening"),
    pytest.param(at(4, 16), 2, at(7, 10), id="crosses-the-weekend"),
    pytest.param(at(5, 12), 1, at(7, 10), id="starts-on-saturday"),
    pytest.param(at(0, 9), 20, at(2, 13), id="several-days"),
    pytest.param(at(0, 9), 40, at(4, 17), id="a-whole-week"),
    pytest.param(at(2, 12), 45, at(9, 17), id="more-than-a-week"),
    pytest.param(at(1, 11), 400, at(71, 11), id="ten-weeks"),
]


@pytest.mark.parametrize(("start", "work", "end"), FINISH)
def test_finish(unit, start, work, end):
    cal = WorkCalendar(OFFICE, unit)
    got = cal.finish(in_unit(start, unit), in_unit(work, unit))
    assert got == pytest.approx(in_unit(end, unit), rel=1e-12, abs=1e-12)


def test_finish_of_no_work_is_the_start(unit):
    cal = WorkCalendar(OFFICE, unit)
    for t in (at(0, 3), at(2, 12), at(6, 23)):
        assert cal.finish(in_unit(t, unit), 0.0) == in_unit(t, unit)


@pytest.mark.parametrize(("t", "expected"), [
    pytest.param(at(0, 20), at(1, 9), id="evening"),
    pytest.param(at(1, 2), at(1, 9), id="night"),
    pytest.param(at(0, 17), at(1, 9), id="at-closing-time"),
    pytest.param(at(4, 18), at(7, 9), id="friday-evening"),
    pytest.param(at(5, 12), at(7, 9), id="saturday"),
    pytest.param(at(6, 23.5), at(7, 9), id="sunday-night"),
    pytest.param(at(2, 11), at(2, 11), id="inside-hours"),
    pytest.param(at(0, 9), at(0, 9), id="at-opening-time"),
    pytest.param(at(14, 16.99), at(14, 16.99), id="just-before-closing"),
])
def test_next_working(unit, t, expected):
    cal = WorkCalendar(OFFICE, unit)
    assert cal.next_working(in_unit(t, unit)) == pytest.approx(in_unit(expected, unit), rel=1e-12)


@pytest.mark.parametrize(("a", "b", "hours"), [
    pytest.param(0, 168, 40, id="one-week"),
    pytest.param(0, 336, 80, id="two-weeks"),
    pytest.param(at(0, 12), at(1, 10), 6, id="overnight"),
    pytest.param(at(4, 15), at(7, 11), 4, id="over-the-weekend"),
    pytest.param(at(5, 0), at(7, 0), 0, id="weekend-only"),
    pytest.param(at(3, 12), at(3, 12), 0, id="empty"),
    pytest.param(at(2, 13), at(9, 13), 40, id="any-seven-days"),
])
def test_working_time(unit, a, b, hours):
    cal = WorkCalendar(OFFICE, unit)
    got = cal.working_time(in_unit(a, unit), in_unit(b, unit))
    assert got == pytest.approx(in_unit(hours, unit), rel=1e-12, abs=1e-12)


def test_finish_of_work_below_rounding_is_not_before_start():
    cal = WorkCalendar(OFFICE, "hour")
    start = at(1, 9)  # Tuesday's opening: one whole working day already behind
    assert cal.finish(start, 1e-300) >= start


def test_next_working_inside_hours_is_exactly_t():
    cal = WorkCalendar(OFFICE, "day")
    grid = [round(k * 0.001, 3) for k in range(5000)]  # a week, every 1.44 minutes
    inside = [t for t in grid if cal.working_time(t, t + 1e-6) > 0]
    assert inside
    assert [t for t in inside if cal.next_working(t) != t] == []


def test_back_to_back_work_filling_a_day_ends_at_closing_time():
    cal = WorkCalendar(OFFICE, "day")
    five_minutes = 5 / (24 * 60)
    t = at(1, 9) / 24  # Tuesday 09:00
    for _ in range(96):  # 8 hours of 5-minute tasks
        t = cal.finish(t, five_minutes)
    assert t * 24 == pytest.approx(at(1, 17), abs=1e-6)  # not Wednesday 09:00


def test_other_calendars():
    weekend_shift = WorkCalendar(Calendar(workdays=["sat", "sun"], hours=[10, 14]), "hour")
    assert weekend_shift.week_hours == 8
    assert weekend_shift.next_working(at(0, 9)) == at(5, 10)
    assert weekend_shift.finish(at(5, 13), 2) == at(6, 11)
    assert weekend_shift.finish(at(6, 13), 2) == at(12, 11)  # into next Saturday
    # Every hour of every day is the same as no calendar.
    always = WorkCalendar(Calendar(workdays=list(WEEKDAYS), hours=[0, 24]), "day")
    assert always.finish(2.3, 4.1) == pytest.approx(6.4)
    assert always.working_time(1.5, 9.25) == pytest.approx(7.75)


def test_around_the_clock():
    cal = working_calendar(None, "day")
    assert isinstance(cal, AroundTheClock)
    assert (cal.finish(1.5, 2.0), cal.next_working(3.3), cal.working_time(1.0, 4.5)) == (
        3.5, 3.3, 3.5)
    assert isinstance(working_calendar(OFFICE, "day"), WorkCalendar)


# --- properties ------------------------------------------------------------------------------

calendars = hst.builds(
    lambda days, start, length: Calendar(workdays=sorted(days, key=WEEKDAYS.index),
                                         hours=[start, min(24.0, start + length)]),
    hst.sets(hst.sampled_from(WEEKDAYS), min_size=1),
    hst.floats(0, 23, allow_nan=False).map(lambda x: round(x * 4) / 4),
    hst.floats(0.25, 24, allow_nan=False).map(lambda x: round(x * 4) / 4),
)
units = hst.sampled_from(list(UNITS))
hours_in_weeks = hst.floats(0, 3 * 168, allow_nan=False)
# Work is none at all or at least a second: shorter work is lost in the rounding of the
# cumulative working time (see test_finish_of_work_below_rounding_is_not_before_start).
work_hours = hst.one_of(hst.just(0.0), hst.floats(1 / 3600, 200, allow_nan=False))


@settings(deadline=None, max_examples=300)
@given(calendars, units, hours_in_weeks, work_hours)
def test_working_time_to_finish_is_the_work(calendar, unit, start, work):
    cal = WorkCalendar(calendar, unit)
    s, w = in_unit(start, unit), in_unit(work, unit)
    end = cal.finish(s, w)
    assert end >= s
    assert cal.working_time(s, end) == pytest.approx(w, rel=1e-9, abs=1e-9)
    if w > 0:  # work ends inside working time: nothing of it is idle at the end
        assert cal.working_time(s, end - 1e-6 / UNITS[unit]) < w


@settings(deadline=None, max_examples=200)
@given(calendars, units, hours_in_weeks, work_hours, work_hours)
def test_finish_is_monotone_and_additive(calendar, unit, start, w1, w2):
    cal = WorkCalendar(calendar, unit)
    s, a, b = in_unit(start, unit), in_unit(min(w1, w2), unit), in_unit(max(w1, w2), unit)
    assert cal.finish(s, a) <= cal.finish(s, b)
    # Work done in two pieces is the same work as done at once. (The end times themselves may
    # differ by a whole night or weekend: a piece that ends exactly at closing time ends then
    # or, after float rounding, at the next opening, with no working time in between.)
    two_pieces = cal.finish(cal.finish(s, a), b - a)
    assert cal.working_time(s, two_pieces) == pytest.approx(b, rel=1e-9, abs=1e-9)


@settings(deadline=None, max_examples=200)
@given(calendars, units, hours_in_weeks)
def test_next_working_is_the_first_working_instant(calendar, unit, t_hours):
    cal = WorkCalendar(calendar, unit)
    t = in_unit(t_hours, unit)
    nxt = cal.next_working(t)
    assert nxt >= t
    assert cal.working_time(t, nxt) == pytest.approx(0, abs=1e-9)  # nothing skipped
    # Work started at t begins at next_working(t).
    small = in_unit(0.01, unit)
    assert cal.finish(t, small) == pytest.approx(cal.finish(nxt, small), rel=1e-9, abs=1e-9)
    if cal.working_time(nxt, nxt + small) == pytest.approx(small, rel=1e-9):
        # Inside one working interval the clock and working time run together.
        assert cal.finish(t, small) == pytest.approx(nxt + small, rel=1e-9, abs=1e-9)
