"""The back-test's scores by horizon, the naive run rate and the Gong-style accuracy.

One forecast from an as-of date to ``as_of + horizon`` holds the bookings to every day of
the window (``Forecast.cumulative``), so it scores the shorter horizons too: for each of
:data:`HORIZON_WEEKS` that fits in the window, the band of the bookings to ``as_of + h``
against what was booked by then. Over the as-of dates this gives the coverage per horizon
with its Wilson interval, against the nominal :data:`NOMINAL` (forecasts ``every`` days
apart overlap at a horizon longer than ``every``: their coverage interval is then too
narrow, and the table says so).

Two point forecasts stand beside the P50:

- the **weighted pipeline** (amount x the stage's chance to be won, over the open deals):
  every future win of the open deals, whenever it comes, and no new leads. It is one
  number whatever the horizon: too high for a short window (deals that close later count)
  and too low for a long one (the leads still to come are missing);
- the **naive run rate**: the bookings of the last :data:`RUN_RATE_DAYS` days before the
  as-of date (fewer when the history is shorter), per day, times the horizon. It knows
  nothing of the pipeline, and is what a forecast must beat to be worth its trouble.

The **Gong-style accuracy** of a point forecast is forecast / actual; a forecast is "on"
when it lies within 85-115% of the actual (:data:`ON_TARGET`), and the share of periods on
target is reported with its Wilson interval. Periods that booked nothing have no ratio and
are left out of that share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from salessim.calibrate.estimate import wilson
from salessim.calibrate.visits import DAY, Visits
from salessim.ends import WON
from salessim.forecast import score

#: The horizons scored, in weeks (those that fit in the back-test's window).
HORIZON_WEEKS = (1, 2, 4, 8, 13)
#: The band's nominal coverage: P10 to P90.
NOMINAL = 0.8
#: Days of bookings before the as-of date that the naive run rate averages.
RUN_RATE_DAYS = 90.0
#: A point forecast within this share of the actual is on target (Gong's 85-115%).
ON_TARGET = (0.85, 1.15)
#: The point forecasts scored side by side, as column suffixes.
POINTS = ("p50", "weighted", "run_rate")
#: The columns of one forecast scored at one horizon (``backtest_horizons.csv``).
COLUMNS = ("as_of", "horizon_weeks", "until", "actual", "p10", "p50", "p90", "inside",
           "weighted", "run_rate", "error_p50", "error_weighted", "error_run_rate",
           "accuracy_p50", "accuracy_weighted", "accuracy_run_rate")


def won_between(visits: Visits, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Amounts of the deals won in (start, end] (a missing amount counts 0)."""
    d = visits.deals
    won = d[(d["outcome"] == WON.name) & (d["closed_at"] > start) & (d["closed_at"] <= end)]
    return float(won["amount"].fillna(0.0).astype(float).sum())


def run_rate(visits: Visits, as_of: pd.Timestamp, lookback_days: float = RUN_RATE_DAYS
             ) -> float:
    """Bookings per day over the ``lookback_days`` before ``as_of`` (or since the start of
    the history, when it is shorter): the naive run rate's daily rate."""
    days = min(lookback_days, (as_of - visits.start) / DAY)
    if not days > 0:
        return math.nan
    return won_between(visits, as_of - days * DAY, as_of) / days


def accuracy(forecast: float, actual: float) -> float:
    """Forecast / actual (NaN when nothing was booked: no ratio)."""
    return forecast / actual if actual != 0 else math.nan


def on_target(ratios: Sequence[float] | np.ndarray, level: float = 0.95) -> score.Coverage:
    """The share of ratios within :data:`ON_TARGET` (ends included), with its Wilson
    interval, over the finite ratios."""
    r = np.asarray(ratios, dtype=float)
    r = r[np.isfinite(r)]
    k = int(((r >= ON_TARGET[0]) & (r <= ON_TARGET[1])).sum())
    low, high = wilson(k, len(r), level)
    return score.Coverage(k, len(r), k / len(r) if len(r) else math.nan, float(low),
                          float(high), level)


def horizons_in(horizon_days: float) -> list[int]:
    """The weeks of :data:`HORIZON_WEEKS` that fit in a window of ``horizon_days``."""
    return [w for w in HORIZON_WEEKS if 7 * w <= horizon_days + 1e-9]


def horizon_rows(visits: Visits, as_of: pd.Timestamp, cumulative: np.ndarray,
                 weighted: float, rate: float, horizon_days: float) -> list[dict]:
    """One row per horizon of :func:`horizons_in` for the forecast made at ``as_of``.

    Args:
        visits: the whole history (what happened after ``as_of`` included).
        cumulative: per replication, bookings to the end of each day after ``as_of``
            (column d - 1: to day d), as :class:`~salessim.forecast.Forecast` has them.
        weighted: the weighted pipeline at ``as_of``.
        rate: the naive run rate's bookings per day at ``as_of``.
    """
    rows = []
    for weeks in horizons_in(horizon_days):
        days = 7 * weeks
        sample = cumulative[:, days - 1]
        actual = won_between(visits, as_of, as_of + days * DAY)
        p10, p90 = score.band(sample, NOMINAL)
        p50 = float(np.quantile(sample, 0.5))
        naive = rate * days
        rows.append({"as_of": as_of, "horizon_weeks": weeks,
                     "until": as_of + days * DAY, "actual": actual, "p10": p10, "p50": p50,
                     "p90": p90, "inside": score.inside(actual, p10, p90),
                     "weighted": weighted, "run_rate": naive,
                     "error_p50": p50 - actual, "error_weighted": weighted - actual,
                     "error_run_rate": naive - actual,
                     "accuracy_p50": accuracy(p50, actual),
                     "accuracy_weighted": accuracy(weighted, actual),
                     "accuracy_run_rate": accuracy(naive, actual)})
    return rows


def horizon_scores(rows: pd.DataFrame, every_days: float) -> pd.DataFrame:
    """``horizons.csv``: per horizon, the coverage of the P10-P90 band with its Wilson 95%
    interval against :data:`NOMINAL`, whether the forecasts overlap at that horizon, and
    per point forecast (P50, weighted pipeline, run rate) its mean absolute error and its
    share of periods on target (:func:`on_target`) with the interval."""
    out = []
    for weeks, t in rows.groupby("horizon_weeks", sort=True):
        cov = score.coverage(t["inside"].to_numpy(bool))
        row = {"horizon_weeks": int(weeks), "horizon_days": 7 * int(weeks),
               "forecasts": cov.n, "inside": cov.inside, "coverage": cov.share,
               "coverage_low": cov.low, "coverage_high": cov.high, "nominal": NOMINAL,
               "overlapping": bool(every_days < 7 * weeks and cov.n > 1)}
        for point in POINTS:
            on = on_target(t[f"accuracy_{point}"])
            row |= {f"{point}_mae": score.mean_absolute_error(t[point], t["actual"]),
                    f"{point}_on_target": on.share, f"{point}_on_target_low": on.low,
                    f"{point}_on_target_high": on.high, f"{point}_on_target_n": on.n}
        out.append(row)
    return pd.DataFrame(out)
