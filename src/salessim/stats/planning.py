"""Replication planning: how many replications a precision or a decision needs.

Both rules scale a pilot's interval: its half-width shrinks as 1/sqrt(n), so n pilot
replications with half-width h reach a target half-width g with about n (h / g)^2.
"""

import math

import numpy.typing as npt

from salessim.stats.intervals import Estimate, t_interval

# ceil() of a ratio computed in floating point can land a hair above an integer (20.000000000004)
# and cost a whole extra replication; ratios this close to an integer are treated as that integer.
_CEIL_SLACK = 1e-9
#: A plan of more replications than this is reported as this many: no cap comes near it,
#: and the float square of a far larger ratio overflows.
FAR_TOO_MANY = 10**15


def _planning_estimate(values: npt.ArrayLike, level: float) -> Estimate:
    est = t_interval(values, level)
    if est.n < 2:
        raise ValueError(f"need a pilot of at least 2 finite replications to plan, got {est.n}")
    return est


def _scaled_n(n: int, half_width: float, target: float) -> int:
    """The pilot-scaling rule n* = ceil(n * (h / target)^2), never below the pilot n."""
    scale = half_width / target
    if not scale < math.sqrt(FAR_TOO_MANY):  # also inf, from a target of no width
        return max(n, FAR_TOO_MANY)
    needed = math.ceil(n * scale**2 - _CEIL_SLACK)
    return max(n, min(needed, FAR_TOO_MANY))


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
