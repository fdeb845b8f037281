"""Forms a fitted time in stage takes beside a plain family: a hurdle (a share of no delay
and a family for the positive part) and steps (equally likely values, the Kaplan-Meier
quantiles), with the few methods calibration asks of a distribution (cdf, sf, ppf, mean,
median, std), and the bin means that write a hurdle as an empirical distribution.

A bin's mean needs the family's partial expectation E[X; X <= x], in closed form:

- gamma (shape a, scale s; the exponential is a = 1): a s G(x / s; a + 1), G the gamma
  cdf of shape a + 1;
- lognormal (sigma, scale m): m exp(sigma^2 / 2) Phi((ln(x / m) - sigma^2) / sigma);
- Weibull (shape k, scale l): l Gamma(1 + 1/k) P(1 + 1/k, (x / l)^k), P the regularised
  lower incomplete gamma function.

Bin i of probability 1 / n between the quantiles x_(i-1) and x_i has mean
n (E[X; X <= x_i] - E[X; X <= x_(i-1)]), so the n bin means keep the family's mean exactly.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats


class Hurdle:
    """No delay with probability ``zeros``, else a draw from ``base`` (a frozen scipy
    distribution on the positive line)."""

    def __init__(self, zeros: float, base) -> None:
        self.zeros, self.base = zeros, base

    def cdf(self, x):
        x = np.asarray(x, float)
        return np.where(x < 0, 0.0, self.zeros + (1 - self.zeros) * self.base.cdf(x))

    def sf(self, x):
        return 1 - self.cdf(x)

    def ppf(self, q):
        q = np.asarray(q, float)
        inner = np.clip((q - self.zeros) / (1 - self.zeros), 0.0, 1.0)
        return np.where(q <= self.zeros, 0.0, self.base.ppf(inner))

    def mean(self) -> float:
        return (1 - self.zeros) * float(self.base.mean())

    def median(self) -> float:
        return float(self.ppf(0.5))

    def std(self) -> float:
        m2 = (1 - self.zeros) * float(self.base.var() + self.base.mean() ** 2)
        return math.sqrt(max(m2 - self.mean() ** 2, 0.0))


class Steps:
    """Values with weights (an empirical distribution)."""

    def __init__(self, values: np.ndarray, weights: np.ndarray) -> None:
        order = np.argsort(values)
        self.values = np.asarray(values, float)[order]
        w = np.asarray(weights, float)[order]
        self.p = w / w.sum()
        self.cum = np.cumsum(self.p)

    def cdf(self, x):
        idx = np.searchsorted(self.values, np.asarray(x, float), side="right")
        return np.where(idx > 0, self.cum[np.clip(idx - 1, 0, None)], 0.0)

    def sf(self, x):
        return 1 - self.cdf(x)

    def ppf(self, q):
        idx = np.searchsorted(self.cum, np.asarray(q, float) - 1e-12, side="left")
        return self.values[np.clip(idx, 0, len(self.values) - 1)]

    def mean(self) -> float:
        return float(self.p @ self.values)

    def median(self) -> float:
        return float(self.ppf(0.5))

    def std(self) -> float:
        return math.sqrt(max(float(self.p @ self.values ** 2) - self.mean() ** 2, 0.0))


def partial_mean(family: str, params: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """E[X; X <= x] of a family (scipy's parameters, location 0); x may be inf."""
    x = np.asarray(x, float)
    if family in ("exponential", "gamma"):
        a, s = (1.0, params[0]) if family == "exponential" else params
        return a * s * stats.gamma.cdf(x / s, a + 1)
    if family == "lognormal":
        sigma, m = params
        with np.errstate(divide="ignore"):
            z = (np.log(x / m) - sigma ** 2) / sigma
        return m * math.exp(sigma ** 2 / 2) * stats.norm.cdf(z)
    if family == "weibull":
        k, scale = params
        return scale * special.gamma(1 + 1 / k) * special.gammainc(1 + 1 / k, (x / scale) ** k)
    raise ValueError(f"no partial mean for the family {family!r}")


def bin_means(family: str, params: tuple[float, ...], bins: int, frozen) -> np.ndarray:
    """The means of ``bins`` equal-probability bins of a family (see the module);
    ``frozen`` is the family's scipy distribution with ``params``."""
    edges = frozen.ppf(np.linspace(0.0, 1.0, bins + 1))
    return bins * np.diff(partial_mean(family, params, edges))
