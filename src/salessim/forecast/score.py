"""Scores of a probabilistic forecast against what then happened.

A forecast here is a sample (the bookings of each replication); the outcome is one number.

- The continuous ranked probability score of the sample's empirical distribution,
  ``CRPS = mean|X - y| - 0.5 mean|X - X'|`` over all pairs of the sample (in the units of
  ``y``; lower is better). A point forecast ``x`` is the sample ``[x]``: its CRPS is its
  absolute error ``|x - y|``, so the two kinds of forecast are scored on one scale.
- The central band (P10 to P90 for 80%) and whether the outcome lies in it; over many
  forecasts the share inside (the coverage) should be the band's level, with a Wilson
  interval for the share.
- The mean absolute error and mean absolute percentage error of a point forecast (the
  P50, or the weighted pipeline).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from salessim.calibrate.estimate import wilson


def crps_sample(sample: Sequence[float] | np.ndarray, y: float) -> float:
    """The CRPS of the sample's empirical distribution at the outcome ``y``, exactly.

    With the sample sorted, ``x_(1) <= ... <= x_(n)``, the sum over all ordered pairs is
    ``sum_ij |x_i - x_j| = 2 sum_i (2i - n - 1) x_(i)``, so

        CRPS = (1/n) sum_i |x_i - y|  -  (1/n^2) sum_i (2i - n - 1) x_(i),

    which is the definition ``mean|X - y| - 0.5 mean|X - X'|`` (pairs i = j included, as in
    the empirical distribution's own CRPS) in O(n log n) instead of O(n^2).

    Raises:
        ValueError: an empty sample, or a value or ``y`` that is NaN or infinite.
    """
    x = np.sort(np.asarray(sample, dtype=float).ravel())
    n = len(x)
    if n == 0:
        raise ValueError("crps_sample: the sample is empty")
    if not (np.isfinite(x).all() and math.isfinite(y)):
        raise ValueError("crps_sample: the sample and the outcome must be finite numbers")
    rank = np.arange(1, n + 1, dtype=float)
    spread = float(np.dot(2 * rank - n - 1, x)) / (n * n)
    return float(np.abs(x - y).mean()) - spread


#: How a quantile of the replications is read: the order statistic at position p (R + 1)
#: of R, interpolated (numpy's "weibull"). Its expected probability content is exactly p
#: for any R, so a right forecast's P10-P90 band holds 80% of the outcomes; numpy's
#: default, position p (R - 1) + 1, gives 0.8 (R - 1) / (R + 1) (0.761 with 40). The median
#: is the same either way.
METHOD: Final = "weibull"


def quantiles(sample: Sequence[float] | np.ndarray, q, axis: int | None = None):
    """The ``q`` quantiles of the replications, read as :data:`METHOD` says."""
    return np.quantile(np.asarray(sample, dtype=float), q, axis=axis, method=METHOD)


def band(sample: Sequence[float] | np.ndarray, level: float = 0.8) -> tuple[float, float]:
    """The central band holding ``level`` of the sample: its (1 - level)/2 and (1 + level)/2
    quantiles (P10 and P90 for 0.8), read as :data:`METHOD` says."""
    if not 0 < level < 1:
        raise ValueError(f"band: the level must be between 0 and 1, got {level!r}")
    low, high = quantiles(sample, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def inside(y: float, low: float, high: float) -> bool:
    """Whether the outcome lies in the band, ends included (an outcome equal to a P10 that
    is an atom of the forecast, such as no bookings at all, is inside)."""
    return bool(low <= y <= high)


@dataclass(frozen=True)
class Coverage:
    """The share of outcomes inside their bands, with its Wilson interval.

    Attributes:
        inside: how many outcomes were inside.
        n: how many forecasts were scored.
        share: inside / n (NaN with no forecast).
        low, high: the Wilson interval of the share at ``level``.
        level: the interval's confidence level.
    """

    inside: int
    n: int
    share: float
    low: float
    high: float
    level: float = 0.95


def coverage(flags: Sequence[bool] | np.ndarray, level: float = 0.95) -> Coverage:
    """The coverage of a series of forecasts from their inside flags.

    The Wilson interval treats the flags as independent trials: true of forecasts whose
    windows do not overlap (the outcome of one is known before the next is made), not of
    overlapping windows, whose interval is then too narrow.
    """
    flags = np.asarray(flags, dtype=bool)
    k, n = int(flags.sum()), len(flags)
    low, high = wilson(k, n, level)
    return Coverage(k, n, k / n if n else math.nan, float(low), float(high), level)


def mean_absolute_error(forecast: Sequence[float] | np.ndarray,
                        actual: Sequence[float] | np.ndarray) -> float:
    """mean |forecast - actual| (NaN with no forecast)."""
    f, a = np.asarray(forecast, dtype=float), np.asarray(actual, dtype=float)
    return float(np.abs(f - a).mean()) if len(a) else math.nan


def mean_absolute_percentage_error(forecast: Sequence[float] | np.ndarray,
                                   actual: Sequence[float] | np.ndarray) -> float:
    """mean |forecast - actual| / actual, over the outcomes that are not 0.

    A percentage of nothing is undefined: outcomes of 0 are left out (NaN if all are 0).
    """
    f, a = np.asarray(forecast, dtype=float), np.asarray(actual, dtype=float)
    some = a != 0
    return float((np.abs(f[some] - a[some]) / np.abs(a[some])).mean()) if some.any() else math.nan
