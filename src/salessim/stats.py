"""Output analysis for simulation replications.

Pure functions over numpy arrays and pandas frames: confidence intervals across independent
replications, paired comparisons of scenarios run with common random numbers, multiple-comparison
adjustment, replication planning, and warm-up detection (MSER-5, Welch's moving average).

Replications are the unit of independence throughout: every interval here treats one value per
replication as one i.i.d. observation, never the within-run observations.
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as st

__all__ = [
    "Estimate",
    "holm",
    "mser5",
    "paired_difference",
    "paired_t_pvalue",
    "relative_change",
    "replications_needed",
    "summarise",
    "t_interval",
    "target_replications",
    "welch_moving_average",
]

SUMMARY_COLUMNS = ["kpi", "mean", "ci_low", "ci_high", "n", "std", "half_width"]

# ceil() of a ratio computed in floating point can land a hair above an integer (20.000000000004)
# and cost a whole extra replication; ratios this close to an integer are treated as that integer.
_CEIL_SLACK = 1e-9

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


def _as_1d(values: npt.ArrayLike, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")


def _t_quantile(level: float, df: int) -> float:
    _check_level(level)
    return float(st.t.ppf(0.5 + level / 2.0, df))


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
    _check_level(level)  # also on the degenerate paths that never need a quantile
    x = _as_1d(values)
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
    b, o = _as_1d(base, "base"), _as_1d(other, "other")
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
    return float(2.0 * st.t.sf(abs(tstat), n - 1))


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
    _check_level(level)
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
    return rel + ((o - b) - (mo - mb) / mb * b) / abs(mb)


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
    p = _as_1d(pvalues, "pvalues")
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


def _planning_estimate(values: npt.ArrayLike, level: float) -> Estimate:
    est = t_interval(values, level)
    if est.n < 2:
        raise ValueError(f"need a pilot of at least 2 finite replications to plan, got {est.n}")
    return est


def _scaled_n(n: int, half_width: float, target: float) -> int:
    """The pilot-scaling rule n* = ceil(n * (h / target)^2), never below the pilot n."""
    needed = math.ceil(n * (half_width / target) ** 2 - _CEIL_SLACK)
    return max(n, needed)


def replications_needed(values: npt.ArrayLike, rel_precision: float, level: float = 0.95) -> int:
    """Replications needed for a CI half-width within ``rel_precision * |mean|``.

    Uses the usual pilot-scaling rule n* = ceil(n * (h / (rel_precision * |mean|))^2), where n and
    h come from the pilot's t interval; the half-width shrinks roughly as 1 / sqrt(n).

    Args:
        values: Pilot replication values (nan dropped).
        rel_precision: Target half-width relative to |mean|, e.g. 0.05 for +/-5%.
        level: Confidence level.

    Returns:
        The total number of replications (including the pilot), at least the pilot n; the
        pilot n itself when it is already precise enough.

    Raises:
        ValueError: If rel_precision <= 0, the pilot has fewer than 2 finite values, or the
            pilot mean is zero (relative precision is then undefined).
    """
    if not rel_precision > 0:
        raise ValueError(f"rel_precision must be positive, got {rel_precision!r}")
    est = _planning_estimate(values, level)
    if est.mean == 0.0:
        raise ValueError("pilot mean is zero, so a precision relative to the mean is undefined")
    target = rel_precision * abs(est.mean)
    if est.half_width <= target:
        return est.n
    return _scaled_n(est.n, est.half_width, target)


def target_replications(values_diff: npt.ArrayLike, threshold: float, level: float = 0.95) -> float:
    """Replications for the CI of a mean difference to exclude ``threshold``.

    Answers "how many paired replications until this difference is resolved, if the mean stays
    where the pilot puts it": n* = ceil(n * (h / |mean - threshold|)^2), at least the pilot n.

    Args:
        values_diff: Pilot paired differences, one per replication (nan dropped).
        threshold: Value the interval should exclude, usually 0 (no difference).
        level: Confidence level.

    Returns:
        The number of replications as a float: math.inf when the pilot mean equals the
        threshold, since no amount of replication separates them then.

    Raises:
        ValueError: If the pilot has fewer than 2 finite values.
    """
    est = _planning_estimate(values_diff, level)
    gap = abs(est.mean - threshold)
    if gap == 0.0:
        return math.inf
    if est.half_width < gap:
        return float(est.n)
    return float(_scaled_n(est.n, est.half_width, gap))


def mser5(series: npt.ArrayLike) -> int:
    """MSER-5 warm-up truncation point.

    The series is cut into k non-overlapping batches of 5 (an incomplete tail batch is dropped).
    For each d in 0..k//2 the statistic MSER(d) = sum_{j>=d} (Y_j - mean(Y_d..))^2 / (k - d)^2 is
    computed on the batch means Y_j; the d minimising it (the first, on ties) balances the bias
    removed by truncating against the precision lost. Only the first half of the batches is
    searched because MSER becomes erratic when few batches remain.

    Args:
        series: One run's output series in time order (finite values).

    Returns:
        The number of original observations to delete, 5 * d*; 0 for series shorter than 10.

    Raises:
        ValueError: If the series contains non-finite values.
    """
    x = _as_1d(series, "series")
    if not np.all(np.isfinite(x)):
        raise ValueError("mser5 needs a finite series; drop or impute missing values first")
    if x.size < 10:
        return 0
    k = x.size // 5
    batches = x[: 5 * k].reshape(k, 5).mean(axis=1)
    # np.var (ddof=0) is the sum of squared deviations / (k - d); one more division gives MSER.
    scores = [np.var(batches[d:]) / (k - d) for d in range(k // 2 + 1)]
    return 5 * int(np.argmin(scores))


def welch_moving_average(series: npt.ArrayLike, window: int) -> np.ndarray:
    """Welch's moving average, the smoothed curve of a Welch warm-up plot.

    For a series Y_0..Y_{m-1} (usually the average over replications of each period) and
    window w, point i (0 <= i < m - w) is the mean of Y_{i-w}..Y_{i+w} (2w + 1 values), except
    near the start, i < w, where only i values exist on the left and the mean is taken over the
    2i + 1 values centred on i.

    Args:
        series: One-dimensional series in time order.
        window: Half-width w of the averaging window, 1 <= w < len(series).

    Returns:
        The m - w smoothed values.

    Raises:
        ValueError: If the window is out of range.
    """
    x = _as_1d(series, "series")
    m = x.size
    if isinstance(window, bool) or int(window) != window or not 1 <= window < m:
        raise ValueError(f"window must be an integer in [1, {m - 1}], got {window!r}")
    w = int(window)
    i = np.arange(m - w)
    reach = np.minimum(i, w)
    # Prefix sums make every window O(1); centring first keeps their rounding error small when the
    # series sits far from zero (e.g. clock times).
    centre = float(np.mean(x))
    csum = np.concatenate(([0.0], np.cumsum(x - centre)))
    return centre + (csum[i + reach + 1] - csum[i - reach]) / (2 * reach + 1)
