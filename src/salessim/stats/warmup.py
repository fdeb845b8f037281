"""Warm-up detection on an output series: MSER-5 and Welch's moving average."""

import numpy as np
import numpy.typing as npt

from salessim.stats.intervals import as_1d


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
