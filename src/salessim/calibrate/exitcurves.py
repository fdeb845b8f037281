"""The incidence curves each form implies, and their check against the Aalen-Johansen
estimate (:mod:`salessim.calibrate.exits`).

- The current form (one time T in stage, then shares p_k): F_k(t) = p_k F_T(t) before a
  time-out, plus the time-out's atom S_T(after) on its exit from then on.
- The exits form (a latent time per exit, the first wins): F_k(t) = integral of f_k times
  the other exits' survival, plus the time-out's atom (every latent time beyond it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from salessim.calibrate.durations import FamilyFit
from salessim.calibrate.incidence import Incidence
from salessim.calibrate.timeout import Timeout


def next_cif(fit: FamilyFit, shares: dict[str, float], timeout: Timeout | None):
    """The current form's incidence: p_k F(t) before a time-out; its atom after."""
    dist = fit.frozen
    after = timeout.after if timeout else math.inf

    def cif(cause: str, ages: np.ndarray) -> np.ndarray:
        f = shares.get(cause, 0.0) * dist.cdf(np.minimum(ages, after))
        if timeout is not None and cause == timeout.to:
            f = f + np.where(ages >= after, dist.sf(after), 0.0)
        return f

    return cif


def frozen_spec(spec: dict[str, Any]):
    """A scenario distribution spec (days) as a frozen scipy distribution."""
    kind = spec["dist"]
    if kind == "exponential":
        return stats.expon(scale=spec["mean"])
    if kind == "weibull":
        return stats.weibull_min(spec["shape"], scale=spec["scale"])
    if kind == "lognormal":
        s2 = math.log1p(spec["cv"] ** 2)
        return stats.lognorm(math.sqrt(s2), scale=spec["mean"] * math.exp(-s2 / 2))
    if kind == "gamma":
        k = 1 / spec["cv"] ** 2
        return stats.gamma(k, scale=spec["mean"] / k)
    raise ValueError(f"no scipy form for {kind!r}")


def _sf(spec: dict[str, Any], s: np.ndarray) -> np.ndarray:
    if spec["dist"] == "empirical":
        values = np.sort(np.asarray(spec["values"], float))
        return 1 - np.searchsorted(values, s, side="right") / len(values)
    return frozen_spec(spec).sf(s)


def exits_cif(specs: dict[str, dict[str, Any]], timeout: Timeout | None):
    """The exits form's incidence: integral of f_k times the other exits' survival, on a
    fine grid (empirical latent times as their steps), plus the time-out's atom."""
    after = timeout.after if timeout else math.inf

    def cif(cause: str, ages: np.ndarray) -> np.ndarray:
        top = float(min(np.max(ages), after))
        grid = np.concatenate([[0.0], np.geomspace(1e-5, max(top, 1e-4), 4000)])
        alive = np.prod([_sf(s, grid) for s in specs.values()], axis=0)
        own = _sf(specs[cause], grid) if cause in specs else np.ones_like(grid)
        others = np.prod([_sf(s, grid) for c, s in specs.items() if c != cause], axis=0) \
            if len(specs) > 1 else np.ones_like(grid)
        # dF_k = -dS_k x (others' survival), midpoint rule on the grid.
        mid = (others[1:] + others[:-1]) / 2
        curve = np.concatenate([[0.0], np.cumsum(-np.diff(own) * mid)])
        f = np.interp(np.minimum(ages, top), grid, curve)
        if timeout is not None and cause == timeout.to:
            f = f + np.where(ages >= after, alive[-1], 0.0)
        return f

    return cif


def check(inc: Incidence, ages: np.ndarray, cif) -> float:
    """Largest |model - Aalen-Johansen| / se over causes and ages."""
    worst = 0.0
    for cause in inc.causes:
        f, se = inc.at(cause, ages)
        model = cif(cause, ages)
        z = np.abs(model - f) / np.where(se > 0, se, np.inf)
        worst = max(worst, float(np.max(z)))
    return worst
