"""Intervals across replications: t intervals, paired differences, relative change, Holm.

Pure functions over numpy arrays and pandas frames: confidence intervals across independent
replications, paired comparisons of scenarios run with common random numbers and their
multiple-comparison adjustment.

Replications are the unit of independence throughout: every interval here treats one value per
replication as one i.i.d. observation, never the within-run observations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

# pandas and scipy are imported inside the functions that use them: every command imports
# this module (targets, verdicts), and a command that only reads a scenario must not pay
# for either. The t distribution comes from scipy.special (a third of scipy.stats' cost).

SUMMARY_COLUMNS = ["kpi", "mean", "ci_low", "ci_high", "n", "std", "half_width"]


_NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval.

    Attributes:
        mean: Point estimate.
        ci_low: Lower confidence limit (nan when it cannot be computed).
        ci_high: Upper confidence limit (nan when it cannot be computed).
        n: Number of finite values (or pairs) used.
        std: Sample standard deviation (ddof=1) of the values the interval is built from;
            nan if n < 2.
        level: Confidence level of the interval.
    """

    mean: float
    ci_low: float
    ci_high: float
    n: int
    std: float
    level: float = 0.95

    @property
    def half_width(self) -> float:
        """Half the interval width; nan when the interval is undefined."""
        return (self.ci_high - self.ci_low) / 2.0


def as_1d(values: npt.ArrayLike, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")


def _t_quantile(level: float, df: int) -> float:
    from scipy.special import stdtrit  # the t quantile function

    check_level(level)
    return float(stdtrit(df, 0.5 + level / 2.0))


def _interval(mean: float, std: float, n: int, level: float) -> Estimate:
    """Student-t interval mean +/- t * std / sqrt(n); std == 0 gives exactly [mean, mean]."""
    half = _t_quantile(level, n - 1) * std / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, std, level)


def t_interval(values: npt.ArrayLike, level: float = 0.95) -> Estimate:
    """Student-t confidence interval on the mean across replications.

    Non-finite values (nan, and inf which would make the interval meaningless) are dropped, so
    ``n`` counts the finite values actually used.

    Args:
        values: One value per replication.
        level: Confidence level, strictly between 0 and 1.

    Returns:
        The estimate. With no finite values every field is nan (n = 0); with one value the mean
        is that value and the interval and std are nan. When all values are equal the interval
        collapses to the mean exactly.
    """
    check_level(level)  # also on the degenerate paths that never need a quantile
    x = as_1d(values)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Estimate(_NAN, _NAN, _NAN, 0, _NAN, level)
    if n == 1:
        return Estimate(float(x[0]), _NAN, _NAN, 1, _NAN, level)
    if np.all(x == x[0]):
        # np.mean of equal values may be off by an ulp; equal inputs should give that value.
        return _interval(float(x[0]), 0.0, n, level)
    return _interval(float(np.mean(x)), float(np.std(x, ddof=1)), n, level)


def summarise(frame: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per-KPI t intervals from a tidy frame of replication results.

    Args:
        frame: Tidy results with at least the columns ``replication``, ``kpi`` and ``value``
            (one row per replication and KPI).
        level: Confidence level.

    Returns:
        One row per KPI in order of first appearance, with exactly the columns
        kpi, mean, ci_low, ci_high, n, std, half_width.

    Raises:
        KeyError: If a required column is missing.
    """
    import pandas as pd

    missing = {"replication", "kpi", "value"} - set(frame.columns)
    if missing:
        raise KeyError(f"summarise needs columns {sorted(missing)} in the frame")
    rows = []
    for kpi, group in frame.groupby("kpi", sort=False, observed=True):
        est = t_interval(group["value"].to_numpy(dtype=float), level)
        rows.append((kpi, est.mean, est.ci_low, est.ci_high, est.n, est.std, est.half_width))
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return out.astype({"n": "int64"})


def _paired(base: npt.ArrayLike, other: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Aligned finite pairs; a pair is dropped if either side is missing."""
    b, o = as_1d(base, "base"), as_1d(other, "other")
    if b.shape != o.shape:
        raise ValueError(
            f"base and other must be aligned by replication, got lengths {b.size} and {o.size}"
        )
    keep = np.isfinite(b) & np.isfinite(o)
    return b[keep], o[keep]


def paired_difference(base: npt.ArrayLike, other: npt.ArrayLike, level: float = 0.95) -> Estimate:
    """Student-t interval on the mean of ``other - base`` across paired replications.

    Pairing (replication i of each scenario shares its random numbers) removes the common noise,
    which is why this is much tighter than comparing two independent intervals.

    Args:
        base: Baseline value per replication.
        other: Alternative value per replication, aligned with ``base``.
        level: Confidence level.

    Returns:
        Estimate of the mean difference; pairs where either value is nan are dropped.
    """
    b, o = _paired(base, other)
    return t_interval(o - b, level)


def paired_t_pvalue(base: npt.ArrayLike, other: npt.ArrayLike) -> float:
    """Two-sided p-value of the paired t test of mean(other - base) == 0.

    Degenerate cases are decided directly instead of producing 0/0: all differences exactly zero
    give 1.0, constant nonzero differences give 0.0. Fewer than two pairs give nan.
    """
    b, o = _paired(base, other)
    d = o - b
    n = d.size
    if n < 2:
        return _NAN
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0.0 else 0.0
    tstat = float(np.mean(d)) / (float(np.std(d, ddof=1)) / math.sqrt(n))
    from scipy.special import stdtr  # the t distribution function

    return float(2.0 * stdtr(n - 1, -abs(tstat)))


def relative_change(base: npt.ArrayLike, other: npt.ArrayLike, level: float = 0.95) -> Estimate:
    """Relative change of the mean, (mean(other) - mean(base)) / |mean(base)|, with a CI.

    This is the handbook's improvement formula: a cycle time going from 30 to 25 is -1/6.
    Dividing by the absolute baseline keeps the sign of the difference when the baseline is
    negative (a loss of 100 cut to 50 is +50%).

    The interval uses the delta method on the paired replications. Writing B and O for the
    sample means over n complete pairs and R = (O - B) / B, the estimator is linearised as
    R - r ~= mean(z_i) with z_i = ((o_i - b_i) - R * b_i) / B, so

        Var(R) ~= s_z^2 / n,  s_z^2 = (s_o^2 - 2 (1 + R) s_bo + (1 + R)^2 s_b^2) / B^2,

    i.e. the ratio-of-means variance including the covariance s_bo of base and other (which is
    large and positive under common random numbers, and shrinks the interval). The interval is
    R +/- t_{n-1} * s_z / sqrt(n). ``std`` holds s_z, the standard deviation of the linearised
    values, so ``half_width == t * std / sqrt(n)`` as for the other estimates.

    Args:
        base: Baseline value per replication.
        other: Alternative value per replication, aligned with ``base``.
        level: Confidence level.

    Returns:
        Estimate of the relative change. Pairs with a nan are dropped. mean(base) == 0 (or no
        pairs) gives a nan estimate; a single pair gives the point estimate with a nan interval.
    """
    check_level(level)
    b, o = _paired(base, other)
    n = int(b.size)
    if n == 0:
        return Estimate(_NAN, _NAN, _NAN, 0, _NAN, level)
    mb, mo = float(np.mean(b)), float(np.mean(o))
    if mb == 0.0:
        return Estimate(_NAN, _NAN, _NAN, n, _NAN, level)
    # Divided by |mean(base)|: a loss (negative profit) shrinking from -100 to -50 is a
    # change of +50%, the direction of the difference. The sign does not change the variance.
    rel = (mo - mb) / abs(mb)
    if n == 1:
        return Estimate(rel, _NAN, _NAN, 1, _NAN, level)
    z = _linearised(b, o) - rel
    sz = 0.0 if np.all(z == z[0]) else float(np.std(z, ddof=1))
    return _interval(rel, sz, n, level)


def _linearised(b: np.ndarray, o: np.ndarray) -> np.ndarray:
    # R + z_i with z_i = ((o_i - b_i) - ((O - B) / B) b_i) / |B|: the residuals have mean zero
    # by construction, so their sample variance is exactly the delta-method expression,
    # without the cancellation of expanding the covariance terms; dividing by |B| gives them
    # the sign convention of R.
    mb, mo = float(np.mean(b)), float(np.mean(o))
    rel = (mo - mb) / abs(mb)
    z: npt.NDArray[np.float64] = rel + ((o - b) - (mo - mb) / mb * b) / abs(mb)
    return z


def relative_change_linearised(base: npt.ArrayLike, other: npt.ArrayLike) -> np.ndarray | None:
    """Per-replication values whose mean and standard deviation are those of
    :func:`relative_change` (its estimate R and its ``std``): ``R + z_i``.

    Pairs with a nan are dropped. Returns None when there is no pair or mean(base) == 0.
    Used to ask how many replications would settle a target on the relative change, on the
    same scale as the interval the verdict was read from.
    """
    b, o = _paired(base, other)
    if b.size == 0 or float(np.mean(b)) == 0.0:
        return None
    return _linearised(b, o)


def holm(pvalues: npt.ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values.

    With the m non-nan p-values sorted ascending, p_(i) is adjusted to
    max_{j <= i} min(1, (m - j + 1) * p_(j)), which makes the adjusted values monotone in the raw
    ones and controls the family-wise error rate without independence assumptions.

    Args:
        pvalues: Raw p-values in [0, 1]; nan entries are kept as nan and not counted in m.

    Returns:
        Adjusted p-values in the same order as the input.

    Raises:
        ValueError: If a p-value lies outside [0, 1].
    """
    p = as_1d(pvalues, "pvalues")
    out = np.full(p.shape, _NAN)
    ok = ~np.isnan(p)
    q = p[ok]
    if np.any((q < 0.0) | (q > 1.0)):
        raise ValueError("p-values must lie in [0, 1]")
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    scaled = (m - np.arange(m)) * q[order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    back = np.empty(m)
    back[order] = adjusted
    out[ok] = back
    return out
