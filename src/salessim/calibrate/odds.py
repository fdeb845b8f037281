"""Odds that depend on the deal: its value and its visits to the stage, with their tests.

The scenario's factors (``value_odds``, ``visit_odds``) have two meanings, and each is
fitted as what it means:

- A stage with ``next``: the factor r multiplies the odds of moving on, so the chance of
  moving on is a logistic model, logit p = a + b log2(value / reference) + c [visit >= 2],
  and ``per_doubling`` = exp(b), the second visit's factor exp(c). Fitted by maximum
  likelihood (Newton's method) over the stage's closed visits (a time-out counts as not
  moving on).
- A stage with ``exits``: the forward exits' latent times are divided by r (accelerated
  time), so each forward exit's censored likelihood has T r ~ its fitted family:
  log f(t r) + log r at its exits, log S(t r) at every other visit, with log r =
  b log2(value / reference) + c [visit >= 2]. Fitted jointly over the forward exits
  (their families' parameters, log ``per_doubling`` and log of the second visit's
  factor).

Each term's likelihood-ratio statistic 2 (log L - log L without it) is chi-square on one
degree of freedom; the factor's interval is exp(b +- 1.96 se) with se from the observed
information. Deals without a positive amount are left out of the value fit (their value
is unknown; the engine clamps a value of 0 at 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

Z95 = float(stats.norm.ppf(0.975))


@dataclass
class Factor:
    """One fitted factor and its test.

    Attributes:
        name: ``per_doubling`` or ``second_visit``.
        n: visits the fit used.
        factor, low, high: exp(coefficient) and its 95% interval.
        lr: likelihood-ratio statistic; p: its chi-square (1 df) p-value.
    """

    name: str
    n: int
    factor: float
    low: float
    high: float
    lr: float
    p: float

    def words(self) -> str:
        return (f"{self.name} {self.factor:.3g}, 95% CI [{self.low:.3g}, {self.high:.3g}], "
                f"likelihood ratio {self.lr:.3g} on 1 df, p = {self.p:.2g}, n = {self.n}")


def logistic(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Maximum-likelihood logistic regression of ``y`` (0/1) on the columns of ``x``
    (an intercept included by the caller): coefficients, their covariance, log L."""
    beta = np.zeros(x.shape[1])
    p0 = float(np.clip(y.mean(), 1e-9, 1 - 1e-9))
    beta[0] = math.log(p0 / (1 - p0))
    for _ in range(50):
        eta = x @ beta
        p = 1 / (1 + np.exp(-eta))
        w = p * (1 - p)
        info = x.T @ (x * w[:, None])
        try:
            step = np.linalg.solve(info, x.T @ (y - p))
        except np.linalg.LinAlgError:
            break
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    eta = x @ beta
    ll = float(np.sum(y * eta - np.logaddexp(0, eta)))
    p = 1 / (1 + np.exp(-eta))
    info = x.T @ (x * (p * (1 - p))[:, None])
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full((x.shape[1], x.shape[1]), np.nan)
    return beta, cov, ll


def odds_factors(moved: np.ndarray, x: np.ndarray | None, second: np.ndarray | None
                 ) -> dict[str, Factor]:
    """The logistic factors of moving on: per doubling of value (``x`` = log2(value /
    reference), or None) and of a second or later visit (``second``, or None)."""
    y = np.asarray(moved, float)
    given = {"per_doubling": x, "second_visit": second}
    cols = {k: np.asarray(v, float) for k, v in given.items() if v is not None}
    if not cols or len(y) < 20 or y.min() == y.max():
        return {}
    design = np.column_stack([np.ones(len(y)), *cols.values()])
    beta, cov, ll = logistic(y, design)
    out = {}
    for i, name in enumerate(cols, start=1):
        _, _, ll0 = logistic(y, np.delete(design, i, axis=1))
        lr = max(0.0, 2 * (ll - ll0))
        se = math.sqrt(cov[i, i]) if cov[i, i] > 0 else math.nan
        out[name] = Factor(name, len(y), math.exp(beta[i]), math.exp(beta[i] - Z95 * se),
                           math.exp(beta[i] + Z95 * se), lr, float(stats.chi2.sf(lr, 1)))
    return out


def time_factor(fits: list, durations: np.ndarray, hit: list[np.ndarray], x: np.ndarray,
                interval: bool = True) -> Factor | None:
    """The accelerated-time factor per doubling of value alone (:func:`time_factors`)."""
    return time_factors(fits, durations, hit, {"per_doubling": x}, interval).get(
        "per_doubling")


def time_factors(fits: list, durations: np.ndarray, hit: list[np.ndarray],
                 covariates: dict[str, np.ndarray], interval: bool = True
                 ) -> dict[str, Factor]:
    """Accelerated-time factors shared by the forward exits: log r = sum_j b_j z_j, each
    forward exit's latent time T with T r ~ its family.

    Args:
        fits: each forward exit's fitted family (:class:`salessim.calibrate.durations.
            FamilyFit`, loc 0), the start of the joint fit.
        durations: every visit's age at exit or at the export date (days).
        hit: per forward exit, which visits left by it (the others are censored for it).
        covariates: per factor, its covariate per visit: ``per_doubling`` log2(value /
            reference), ``second_visit`` 1 on a second or later visit, else 0.
        interval: False skips the profile likelihood's curvature (three more fits per
            factor): the factors and their tests only, intervals NaN (a bootstrap re-fit
            needs no more).

    Each factor's test drops its term alone (the others and the families re-fitted).
    """
    from salessim.calibrate.durations import FAMILIES

    if any(f.family not in FAMILIES or f.zeros for f in fits):
        return {}  # Kaplan-Meier quantiles, or a hurdle: no family to accelerate
    t = np.maximum(np.asarray(durations, float), 1e-6)
    names = list(covariates)
    z = np.column_stack([np.asarray(covariates[k], float) for k in names])
    m = len(names)
    sizes = [len(f.params) for f in fits]
    dists = [FAMILIES[f.family][0] for f in fits]
    k_params = sum(sizes)

    def nll(theta: np.ndarray, b: np.ndarray) -> float:
        r = np.exp(z @ b)
        tr = t * r
        total, at = 0.0, 0
        for dist, size, h in zip(dists, sizes, hit, strict=True):
            params = np.exp(theta[at:at + size])
            at += size
            shapes, scale = params[:-1], params[-1]
            with np.errstate(all="ignore"):
                total += np.sum(dist.logpdf(tr[h], *shapes, scale=scale) + np.log(r[h]))
                total += np.sum(dist.logsf(tr[~h], *shapes, scale=scale))
        return -total if np.isfinite(total) else 1e300

    def fit(free: list[int], start: np.ndarray, fixed: dict[int, float] | None = None):
        """Minimise over the families' parameters and the coefficients ``free``; the others
        fixed (at 0 unless given)."""
        def f(v: np.ndarray) -> float:
            b = np.zeros(m)
            for j, value in (fixed or {}).items():
                b[j] = value
            b[free] = v[k_params:]
            return nll(v[:k_params], b)

        with np.errstate(all="ignore"):
            return optimize.minimize(f, start, method="L-BFGS-B",
                                     options={"ftol": 1e-13, "gtol": 1e-9})

    start = np.concatenate([np.log(f.params) for f in fits])
    with np.errstate(all="ignore"):
        null = optimize.minimize(lambda th: nll(th, np.zeros(m)), start, method="L-BFGS-B")
    full = fit(list(range(m)), np.concatenate([null.x, np.zeros(m)]))
    if not (np.isfinite(full.fun) and np.isfinite(null.fun)) or full.fun >= 1e299:
        return {}
    beta = full.x[k_params:]
    out = {}
    for j, name in enumerate(names):
        others = [i for i in range(m) if i != j]
        reduced = null.fun if not others else fit(others, np.delete(full.x, k_params + j)).fun
        b, se, best = float(beta[j]), math.nan, float(full.fun)
        if interval:
            # The profile likelihood's curvature in b_j (everything else re-fitted at each
            # point): a step large enough that the optimiser's tolerance does not swamp it.
            step = 0.02
            rest = np.delete(full.x, k_params + j)
            centre, up, down = (float(fit(others, rest, {j: value}).fun)
                                for value in (b, b + step, b - step))
            curvature = (up - 2 * centre + down) / step ** 2
            se = 1 / math.sqrt(curvature) if curvature > 0 else math.nan
            best = min(best, centre)
        lr = float(max(0.0, 2 * (reduced - best)))
        out[name] = Factor(name, len(t), math.exp(b), math.exp(b - Z95 * se),
                           math.exp(b + Z95 * se), lr, float(stats.chi2.sf(lr, 1)))
    return out
