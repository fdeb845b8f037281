"""The date of simulation time 0: exported logs, working calendars and holidays count from it.

It sits below everything (the scenario's time units, the working-time model, the event
records) and imports nothing, so the command line can read it while it builds its parser.
A scenario whose clock counts working time only (``working_day``: IBM Credit's 8 hours a
day) is shown on a working clock instead: ``working day 6, hour 4:30``, ``5.5 working days``.
"""

from __future__ import annotations

from datetime import datetime

#: Calendar date of simulation time 0 (a Monday, as working calendars assume).
LOG_EPOCH = datetime(2026, 1, 5)


def working_clock(time: float, day: float, hours_per_unit: float) -> str:
    """``working day 6, hour 4:30``: a time on a clock that counts working time only.

    Args:
        time: the clock time, in the scenario's unit.
        day: the length of a working day on that clock (the scenario's ``working_day``).
        hours_per_unit: hours in one unit of the clock.
    """
    days, rest = divmod(max(time, 0.0), day)
    minutes = int(rest * hours_per_unit * 60 + 0.5)
    if minutes >= day * hours_per_unit * 60:  # rounding up to the end of the day
        days, minutes = days + 1, 0
    return f"working day {int(days) + 1}, hour {minutes // 60}:{minutes % 60:02d}"


def working_span(span: float, day: float, hours_per_unit: float) -> str:
    """``5.5 working days`` from a working day on, else ``2 h 10 min`` (of working time)."""
    if span >= day * (1 - 1e-9):  # a working day on the clock, give or take rounding
        days = f"{span / day:.1f}"
        return f"{days} working day" + ("" if days == "1.0" else "s")
    minutes = int(round(span * hours_per_unit * 60))
    h, m = divmod(minutes, 60)
    return f"{m} min" if not h else f"{h} h {m} min" if m else f"{h} h"
