"""Warm-up detection on an output series: MSER-5, its significance check, and Welch's
moving average."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from salessim.stats.intervals import Estimate, as_1d, t_interval


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
    x = as_1d(series, "series")
    if not np.all(np.isfinite(x)):
        raise ValueError("mser5 needs a finite series; drop or impute missing values first")
    if x.size < 10:
        return 0
    k = x.size // 5
    batches = x[: 5 * k].reshape(k, 5).mean(axis=1)
    # np.var (ddof=0) is the sum of squared deviations / (k - d); one more division gives MSER.
    scores = [np.var(batches[d:]) / (k - d) for d in range(k // 2 + 1)]
    return 5 * int(np.argmin(scores))


@dataclass(frozen=True)
class Truncation:
    """A warm-up truncation checked against the noise (:func:`checked_truncation`).

    Attributes:
        deleted: samples to delete: the shortest cut whose remaining transient is noise.
        mser: samples MSER-5 alone would delete, on the across-replication mean.
        transient: mean over samples 0..mser-1 minus the mean after them, per replication,
            with its interval at the adjusted level; None when MSER-5 cuts nothing.
        checked: False when the check could not be made (one replication): ``deleted``
            is then MSER-5's cut.
    """

    deleted: int
    mser: int
    transient: Estimate | None
    checked: bool


def checked_truncation(values: npt.ArrayLike, level: float = 0.95) -> Truncation:
    """MSER-5 on the across-replication mean, kept only as far as the data prove a transient.

    MSER-5 always returns some cut, and on a flat but autocorrelated series its minimum wanders
    across the first half of the run (a 2,000-day run flat from day 150 got 800 days). So:

    1. ``c`` = :func:`mser5` of the mean over replications (at most half the series).
    2. For t = 0, 1, ..., c - 1, per replication r the difference
       D_r(t) = mean(x_r[t:c]) - mean(x_r[c:]) and its Student-t interval across replications
       (replications are independent whatever the autocorrelation within a run). The cut is
       the first t whose interval contains 0: from there on, what would be deleted cannot be
       told from the steady state, so deleting it removes no bias the run can see. If every
       interval excludes 0, the cut is c.
    3. The level is Bonferroni-adjusted for the k // 2 cuts MSER-5 may choose from (k
       batches of 5): on a series with no transient, the chance of any cut at all is at most
       1 - ``level`` (the false alarm rate), whichever cut MSER-5 picked.

    Args:
        values: replications x samples (or one series, one replication), in time order.
        level: the family-wise confidence level of the check.

    Returns:
        The :class:`Truncation`. With one replication no interval exists: MSER-5's cut is
        returned unchecked.

    Raises:
        ValueError: non-finite values, or a level outside (0, 1).
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    cut = mser5(x.mean(axis=0))
    if cut == 0:
        return Truncation(0, 0, None, True)
    if x.shape[0] < 2:
        return Truncation(cut, cut, None, False)
    adjusted = 1.0 - (1.0 - level) / ((x.shape[1] // 5) // 2)
    after = x[:, cut:].mean(axis=1)
    # Suffix sums give every mean(x_r[t:c]) at once.
    tails = np.cumsum(x[:, :cut][:, ::-1], axis=1)[:, ::-1] / np.arange(cut, 0, -1)
    first = None
    for t in range(cut):
        est = t_interval(tails[:, t] - after, adjusted)
        if first is None:
            first = est
        if not est.ci_low > 0 and not est.ci_high < 0:
            return Truncation(t, cut, first, True)
    return Truncation(cut, cut, first, True)


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
    x = as_1d(series, "series")
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
    sums = csum[i + reach + 1] - csum[i - reach]
    smooth: npt.NDArray[np.float64] = centre + sums / (2 * reach + 1)
    return smooth
