"""The week-of-quarter view of the back-test: as of week k of a quarter, the forecast of
the quarter's bookings and its error, for k = 1..13.

A sales leader reads the forecast of the quarter as the quarter goes by: in week 1 nothing
is booked and everything is forecast; by week 13 most of the quarter is booked. For each
calendar quarter of the history that starts after the back-test's first possible as-of
date and ends by the end of the data, the forecast is made at the start of each of its 13
weeks (as_of = quarter start + 7 (k - 1) days) from what was known then, to the quarter's
end; the quarter's bookings are what was booked since its start plus the forecast. Beside
it: the quarter's actual bookings, the P50's error and its share of the actual.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import pandas as pd

from salessim.calibrate.durations import MIN_EXITS
from salessim.calibrate.visits import DAY, Visits
from salessim.forecast import score
from salessim.forecast.backtest import MIN_HISTORY_DAYS, as_of_dates, forecast_at, forecast_seed
from salessim.forecast.horizons import NOMINAL, won_between
from salessim.scenario.schema import Scenario

#: Weeks of a quarter a forecast is made at.
WEEKS = 13
#: The columns of ``quarters.csv``.
COLUMNS = ("quarter", "week", "as_of", "until", "booked", "p10", "p50", "p90", "actual",
           "inside", "error_p50", "error_share")


def quarters_in(visits: Visits, first: pd.Timestamp) -> list[pd.Period]:
    """The calendar quarters that start on or after ``first`` and end by the end of the
    data."""
    start = first.to_period("Q")
    if start.start_time < first:
        start += 1
    out = []
    q = start
    while (q + 1).start_time <= visits.as_of:
        out.append(q)
        q += 1
    return out


def quarter_view(visits: Visits, replications: int, seed: int, origin: str = "<history>",
                 scenario: Scenario | None = None, resamples: int = 0,
                 min_history_days: float | None = None,
                 mapper: Callable[[Callable, Iterable], Iterable] = map) -> pd.DataFrame:
    """``quarters.csv``: one row per quarter and week (see the module's docstring).

    The first possible as-of date is the back-test's (``as_of_dates``); each forecast has
    its own seed (``forecast_seed`` of ``seed`` and 1000 + 13 x quarter + week), calibrated
    on what was known then unless ``scenario`` is given, with ``resamples`` bootstrap
    resamples (0: none).
    """
    history = MIN_HISTORY_DAYS if min_history_days is None else min_history_days
    first = as_of_dates(visits, 1.0, 1.0, history, MIN_EXITS if scenario is None else 0)[0]
    rows = []
    for i, quarter in enumerate(quarters_in(visits, first)):
        start, end = quarter.start_time, (quarter + 1).start_time
        actual = won_between(visits, start, end)
        for week in range(1, WEEKS + 1):
            as_of = start + 7 * (week - 1) * DAY
            fc, _, _, _ = forecast_at(visits, as_of, end, replications,
                                      forecast_seed(seed, 1000 + WEEKS * i + week), origin,
                                      scenario, resamples, mapper, plain=False)
            booked = won_between(visits, start, as_of)
            total = booked + fc.bookings
            p10, p90 = score.band(total, NOMINAL)
            p50 = float(score.quantiles(total, 0.5))
            rows.append({"quarter": str(quarter), "week": week, "as_of": as_of, "until": end,
                         "booked": booked, "p10": p10, "p50": p50, "p90": p90,
                         "actual": actual, "inside": score.inside(actual, p10, p90),
                         "error_p50": p50 - actual,
                         "error_share": (p50 - actual) / actual if actual else math.nan})
    return pd.DataFrame(rows, columns=list(COLUMNS))
