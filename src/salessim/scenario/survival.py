"""Survival functions of the duration families, and the race of competing exits.

A stage with ``exits`` gives each exit its own latent time; the deal leaves by the first.
With S_k the survival function of exit k's time, a time-out at c and a deal of age a in
the stage (each time given T_k > a), the chance of leaving by exit k is

    P(k) = integral over (0, c) of prod_{j != k} S_j(a + s) / S_j(a) dF_k(a + s) / S_k(a)

the chance of the time-out is prod_k S_k(a + c) / S_k(a), and the mean time still to
spend in the stage is the integral of prod_k S_k(a + s) / S_k(a) over (0, c). They are
computed here by a Stieltjes sum on a fine geometric grid of remaining times (the
trapezoid rule in F_k, second order in the grid's step, with every atom of a constant or
empirical time on the grid), which holds for every family, discrete ones included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from salessim.scenario.dists import (
    Constant,
    Dist,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Normal,
    Pert,
    Triangular,
    Uniform,
    Weibull,
)

Floats = npt.NDArray[np.float64]

#: Points of the integration grid (geometric in the remaining time).
GRID = 6000
#: The grid ends where every exit has fired but this share of deals (or at the time-out).
TAIL = 1e-13


def survival(dist: Dist, t: npt.ArrayLike) -> Floats:
    """P(T > t) for the duration ``dist`` at times ``t`` (an array)."""
    x = np.asarray(t, dtype=np.float64)
    out: Floats
    if isinstance(dist, Constant):
        out = (x < dist.value).astype(np.float64)
    elif isinstance(dist, Exponential):
        out = np.exp(-np.maximum(x, 0.0) / dist.mean_)
    elif isinstance(dist, Weibull):
        out = np.exp(-(np.maximum(x, 0.0) / dist.scale) ** dist.shape)
    elif isinstance(dist, Uniform):
        out = np.clip((dist.high - x) / (dist.high - dist.low), 0.0, 1.0) \
            if dist.high > dist.low else (x < dist.low).astype(np.float64)
    elif isinstance(dist, Empirical):
        values = np.asarray(dist.values, dtype=np.float64)
        out = (values[None, :] > x.reshape(-1, 1)) @ dist._p
        out = out.reshape(x.shape)
    else:
        out = _smooth(dist, x)
    return out


def _smooth(dist: Dist, x: Floats) -> Floats:
    """The families whose survival needs special functions (imported here, when used)."""
    from scipy.special import betainc, gammaincc, ndtr

    out: Floats
    if isinstance(dist, Lognormal):
        sigma2 = math.log1p(dist.cv_**2)
        mu, sigma = math.log(dist.mean_) - sigma2 / 2, math.sqrt(sigma2)
        with np.errstate(divide="ignore"):
            out = ndtr(-(np.log(np.maximum(x, 0.0)) - mu) / sigma)
    elif isinstance(dist, Gamma):
        shape = 1 / dist.cv_**2
        out = gammaincc(shape, np.maximum(x, 0.0) * shape / dist.mean_)
    elif isinstance(dist, Normal):  # truncated at zero
        out = ndtr((dist.mu - np.maximum(x, 0.0)) / dist.sd) / ndtr(dist.mu / dist.sd)
    elif isinstance(dist, Pert):
        alpha, beta = dist._shape
        y = np.clip((x - dist.low) / (dist.high - dist.low), 0.0, 1.0)
        out = betainc(beta, alpha, 1 - y)
    elif isinstance(dist, Triangular):
        lo, mode, hi = dist.low, dist.mode, dist.high
        t = np.clip(x, lo, hi)
        span = hi - lo
        left = 1 - (t - lo) ** 2 / (span * (mode - lo)) if mode > lo else np.ones_like(t)
        right = (hi - t) ** 2 / (span * (hi - mode)) if hi > mode else np.zeros_like(t)
        out = np.where(t <= mode, left, right)
    else:  # pragma: no cover - every family is handled above
        raise TypeError(f"no survival function for {type(dist).__name__}")
    return np.asarray(out, dtype=np.float64)


def atoms(dist: Dist) -> list[float]:
    """The times at which ``dist`` has a jump or an end of its support."""
    if isinstance(dist, Constant):
        return [float(dist.value)]
    if isinstance(dist, Empirical):
        return [float(v) for v in dist.values]
    if isinstance(dist, Uniform | Triangular | Pert):
        return [float(dist.low), float(dist.high)]
    return []


class Race(NamedTuple):
    """How a race of exits ends for a deal of a given age.

    Attributes:
        exits: the chance of leaving by each exit (in the order given).
        timed_out: the chance of leaving by the time-out.
        mean_time: the mean time still spent in the stage (capped by the time-out).
    """

    exits: list[float]
    timed_out: float
    mean_time: float


def race(times: Sequence[Dist], cap: float | None = None, age: float = 0.0,
         speed: Sequence[float] | None = None) -> Race:
    """The race of latent exit times for a deal of ``age`` (each time given T_k > age).

    Args:
        times: each exit's latent time.
        cap: the time still allowed before the time-out (None: no time-out), counted from
            now (from age).
        age: the time already spent in the stage.
        speed: per exit, r_k: the exit's time is T_k / r_k (value and visit odds); 1 each
            by default.
    """
    speed = [1.0] * len(times) if speed is None else list(speed)
    if cap is not None and cap <= 0:
        return Race([0.0] * len(times), 1.0, 0.0)

    def surv(k: int, s: Floats) -> Floats:  # P(T_k / r_k > age + s | T_k / r_k > age)
        r = speed[k]
        now = survival(times[k], np.array([age * r]))[0]
        if now <= 0:
            return np.zeros_like(s)
        out: Floats = survival(times[k], (age + s) * r) / now
        return out

    end = cap if cap is not None else _horizon(times, speed, age, surv)
    grid = np.concatenate(([0.0], np.geomspace(end * 1e-9, end, GRID)))
    for k, dist in enumerate(times):  # each atom, and a point just before it, on the grid
        for t in atoms(dist):
            s = t / speed[k] - age
            if 0 < s <= end:
                grid = np.append(grid, [s, s * (1 - 1e-12)])
    grid = np.unique(grid)
    alive = np.array([surv(k, grid) for k in range(len(times))])
    together = np.prod(alive, axis=0)
    probs = []
    for k in range(len(times)):
        others = np.prod(np.delete(alive, k, axis=0), axis=0)
        dF = -np.diff(alive[k])
        probs.append(float(np.sum(dF * 0.5 * (others[:-1] + others[1:]))))
    mean = float(np.sum(np.diff(grid) * 0.5 * (together[:-1] + together[1:])))
    if cap is not None:
        return Race(probs, float(together[-1]), mean)
    total = math.fsum(probs)  # what the grid left beyond its end, shared out
    return Race([p / total for p in probs] if total > 0 else probs, 0.0, mean)


def _horizon(times: Sequence[Dist], speed: Sequence[float], age: float, surv: object) -> float:
    """A remaining time by which all but TAIL of the deals have left."""
    scale = max(max(float(d.mean) for d in times), 1e-12)
    t = scale
    for _ in range(200):
        left = np.prod([surv(k, np.array([t]))[0]  # type: ignore[operator]
                        for k in range(len(times))])
        if left < TAIL:
            break
        t *= 2
    return t
