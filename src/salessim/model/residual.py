"""The rest of a stage's time for deals that have already spent part of it there.

For a duration T and a deal of age a, the remaining time is drawn from T - a given T > a
(the residual life) by inversion on the upper tail: with S the survival function and u a
uniform on (0, 1), T = S^-1(u S(a)). For an exponential the remaining time does not depend
on the age (memoryless); for a lognormal it grows with it, which is why old deals in a CRM
are slow to move. Every family is done in closed form or in log space, so deals far in a
tail (a "zombie" deal open for years) get a finite, correct draw rather than an overflow.
"""

from __future__ import annotations

import math

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

#: An array of float64; numpy's stubs (and scipy, untyped) give Any through arithmetic, so
#: the results are declared with this type where they are returned.
Floats = npt.NDArray[np.float64]


def residual(dist: Dist, ages: npt.ArrayLike, u: npt.ArrayLike) -> Floats:
    """Remaining times T - a given T > a, for ages ``ages`` and uniforms ``u`` on (0, 1).

    The ages must lie below the distribution's upper bound (``pipeline_problems`` checks).
    """
    a = np.asarray(ages, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    left: Floats  # declared: numpy's ufuncs are typed as returning Any
    if isinstance(dist, Constant):
        return float(dist.value) - a
    if isinstance(dist, Exponential):
        left = -dist.mean_ * np.log(u)
        return left
    if isinstance(dist, Weibull):
        k, s = dist.shape, dist.scale
        # S(t) = exp(-(t/s)^k): (T/s)^k = (a/s)^k - ln u.
        left = s * ((a / s) ** k - np.log(u)) ** (1 / k) - a
        return left
    if isinstance(dist, Uniform):
        lo = np.maximum(a, dist.low)
        left = lo + (dist.high - lo) * (1 - u) - a
        return left
    if isinstance(dist, Lognormal):
        sigma2 = math.log1p(dist.cv_**2)
        mu, sigma = math.log(dist.mean_) - sigma2 / 2, math.sqrt(sigma2)
        with np.errstate(divide="ignore"):
            z = (np.log(a) - mu) / sigma  # log(0) = -inf: the whole distribution
        return np.exp(mu + sigma * _normal_tail(z, u)) - a
    if isinstance(dist, Normal):
        z = (np.maximum(a, 0.0) - dist.mu) / dist.sd  # truncated at zero
        return dist.mu + dist.sd * _normal_tail(z, u) - a
    if isinstance(dist, Gamma):
        return _gamma(dist, a, u)
    if isinstance(dist, Triangular):
        return _triangular(dist, a, u)
    if isinstance(dist, Pert):
        return _pert(dist, a, u)
    if isinstance(dist, Empirical):
        return _empirical(dist, a, u)
    raise TypeError(f"no residual life for {type(dist).__name__}")  # pragma: no cover


def _normal_tail(z: Floats, u: Floats) -> Floats:
    """Z given Z > z for a standard normal: the point whose upper tail is u P(Z > z).

    In log space (log_ndtr, ndtri_exp), so z far in the tail still gives a finite answer.
    """
    from scipy.special import log_ndtr, ndtri_exp

    tail: Floats = -ndtri_exp(np.log(u) + log_ndtr(-z))
    return tail


def _gamma(dist: Gamma, a: Floats, u: Floats) -> Floats:
    from scipy.special import gammaincc, gammainccinv

    shape = 1 / dist.cv_**2
    scale = dist.mean_ / shape
    tail = gammaincc(shape, a / scale)
    out = np.empty_like(a)
    ok = tail > 1e-300
    out[ok] = scale * gammainccinv(shape, u[ok] * tail[ok]) - a[ok]
    # Beyond ~700 scales the tail underflows; there the gamma's hazard has converged to
    # 1 / scale, so the remaining time is exponential with mean scale.
    out[~ok] = -scale * np.log(u[~ok])
    left: Floats = np.maximum(out, 0.0)
    return left


def _triangular(dist: Triangular, a: Floats, u: Floats) -> Floats:
    lo, mode, hi = dist.low, dist.mode, dist.high
    span = hi - lo

    def cdf(t: Floats) -> Floats:
        t = np.clip(t, lo, hi)
        left = (t - lo) ** 2 / (span * (mode - lo)) if mode > lo else np.zeros_like(t)
        right = 1 - (hi - t) ** 2 / (span * (hi - mode)) if hi > mode else np.ones_like(t)
        p: Floats = np.where(t <= mode, left, right)
        return p

    def ppf(p: Floats) -> Floats:
        at_mode = (mode - lo) / span
        t: Floats = np.where(p <= at_mode, lo + np.sqrt(p * span * (mode - lo)),
                             hi - np.sqrt((1 - p) * span * (hi - mode)))
        return t

    f = cdf(a)
    left: Floats = np.maximum(ppf(1 - u * (1 - f)), a) - a  # S(T) = u S(a)
    return left


def _pert(dist: Pert, a: Floats, u: Floats) -> Floats:
    from scipy.special import betainc, betaincinv

    alpha, beta = dist._shape
    span = dist.high - dist.low
    x = np.clip((a - dist.low) / span, 0.0, 1.0)
    # The upper tail of Beta(alpha, beta) at x is the lower tail of Beta(beta, alpha) at 1 - x.
    tail = betainc(beta, alpha, 1 - x)
    y = 1 - betaincinv(beta, alpha, u * tail)
    left: Floats = np.maximum(dist.low + span * y, a) - a
    return left


def _empirical(dist: Empirical, a: Floats, u: Floats) -> Floats:
    values = np.asarray(dist.values, dtype=float)
    order = np.argsort(values, kind="stable")
    values, p = values[order], dist._p[order]
    out = np.empty_like(a)
    for i, (age, ui) in enumerate(zip(a, u, strict=True)):
        keep = values > age
        w = p[keep]
        cum = np.cumsum(w) / w.sum()
        out[i] = values[keep][min(np.searchsorted(cum, ui, side="right"), len(cum) - 1)] - age
    return out
