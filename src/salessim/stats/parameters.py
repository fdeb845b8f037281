"""A KPI's interval with the parameters' uncertainty beside the simulation's.

A calibrated scenario's parameters are estimates. Its run's t interval holds the
simulation's randomness with those estimates taken as true; the bootstrap of the history
(:mod:`salessim.forecast.bootstrap`) gives scenarios whose spread is the estimates' error.
:func:`parameter_interval` puts the two together: replication r runs on the calibrated
scenario and, with the same random numbers, on bootstrap scenario r mod B.
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as st

from salessim.stats.intervals import as_1d, check_level


@dataclass(frozen=True)
class ParameterEstimate:
    """A KPI (or a paired difference) with both intervals.

    Attributes:
        mean: the run's mean (the calibrated parameters).
        sim_low, sim_high: the t interval over the run's replications: simulation only.
        low, high: the interval with the parameters' uncertainty added.
        parameter_sd: the estimated standard deviation of the KPI's expectation across the
            bootstrap scenarios (the parameters' part; 0 when the spread is all noise).
        resamples: the bootstrap scenarios it rests on.
        level: the confidence level of both intervals.
    """

    mean: float
    sim_low: float
    sim_high: float
    low: float
    high: float
    parameter_sd: float
    resamples: int
    level: float = 0.95


def parameter_interval(run: npt.ArrayLike, boot: npt.ArrayLike, groups: npt.ArrayLike,
                       level: float = 0.95) -> ParameterEstimate:
    """The run's mean with the simulation's interval and the simulation-and-parameters one.

    ``run[r]`` is replication r on the calibrated scenario, ``boot[r]`` replication r (the
    same random numbers) on bootstrap scenario ``groups[r]``: n pairs, B scenarios, m_b
    pairs each. The paired differences d_r = boot[r] - run[r] keep what the parameters
    change and little of the simulation's noise (common random numbers cancel most of it).
    Their mean per scenario, D_b, varies by the parameters (variance p^2) and by what noise
    is left; so

        p^2 = var(D_b) - w * mean(1 / m_b)   (w: pooled variance of d within the scenarios)

    when some scenario has 2 or more pairs, cut at 0, else var(D_b) itself (the left-over
    noise then widens the interval a little rather than narrow it). With s^2 the run's
    sample variance, the interval is mean +/- t * sqrt(p^2 + s^2 / n), its degrees of freedom
    by Welch-Satterthwaite from B - 1 (p^2) and n - 1 (s^2). Pairs with a non-finite value
    are dropped (a KPI undefined in some replications).

    Args:
        run: values on the calibrated scenario, one per replication (at least 2).
        boot: values on the bootstrap scenarios, replication by replication.
        groups: the bootstrap scenario of each replication.
        level: confidence level.

    Returns:
        The :class:`ParameterEstimate`; nan limits when fewer than 2 pairs or 2 bootstrap
        scenarios remain.

    Raises:
        ValueError: arrays of different lengths, or a level outside (0, 1).
    """
    check_level(level)
    x, y, g = as_1d(run, "run"), as_1d(boot, "boot"), np.asarray(groups)
    if not x.shape == y.shape == g.shape:
        raise ValueError(f"run, boot and groups must have the same length, got {x.size}, "
                         f"{y.size} and {g.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, g = x[keep], y[keep], g[keep]
    labels, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    nan = math.nan
    mean = float(np.mean(x)) if x.size else nan
    if x.size < 2 or labels.size < 2:
        return ParameterEstimate(mean, nan, nan, nan, nan, nan, int(labels.size), level)
    n, b = x.size, labels.size
    d = y - x
    means = np.bincount(inverse, weights=d) / counts
    p2 = float(np.var(means, ddof=1))
    if counts.max() >= 2:
        within = float(np.sum((d - means[inverse]) ** 2)) / (n - b)
        p2 = max(0.0, p2 - within * float(np.mean(1.0 / counts)))
    sim = float(np.var(x, ddof=1)) / n
    q = 0.5 + level / 2.0
    sim_half = float(st.t.ppf(q, n - 1)) * math.sqrt(sim)
    total = p2 + sim
    if total == 0:
        return ParameterEstimate(mean, mean, mean, mean, mean, 0.0, int(b), level)
    df = total**2 / (p2**2 / (b - 1) + sim**2 / (n - 1))
    half = float(st.t.ppf(q, df)) * math.sqrt(total)
    return ParameterEstimate(mean, mean - sim_half, mean + sim_half, mean - half, mean + half,
                             math.sqrt(p2), int(b), level)
