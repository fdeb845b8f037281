"""A response-surface metamodel of a sweep: a KPI as a linear or quadratic function of the
numeric factors, fitted by least squares to the design means.

The model is y_d = b0 + sum_i b_i x_di (linear), plus sum_i b_ii x_di^2 and
sum_{i<j} b_ij x_di x_dj (quadratic), in the factors' own units, fitted by ordinary least
squares to each design's mean over its replications. With N designs, p terms,
residuals e and SS_res = sum e^2, SS_tot = sum (ybar_d - mean ybar)^2:

- R^2 = 1 - SS_res / SS_tot, adjusted R^2 = 1 - (1 - R^2) (N - 1) / (N - p);
- residual standard error s = sqrt(SS_res / (N - p));
- coefficient intervals b_k +/- t(N - p) s sqrt([(X'X)^-1]_kk).

The residuals hold both lack of fit and the noise of the means, so the intervals are wide
when the surface is the wrong shape; a model needs more designs than terms.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salessim.errors import UsageError
from salessim.experiments.analysis import design_factors, replication_table
from salessim.stats.intervals import check_level

KINDS = ("linear", "quadratic")


@dataclass(frozen=True)
class Metamodel:
    """A fitted response surface (see the module docstring for the formulas).

    Attributes:
        kpi: the KPI modelled.
        kind: ``linear`` or ``quadratic``.
        coefficients: one row per term: term, estimate, std_error, ci_low, ci_high.
        r2, adj_r2: coefficient of determination and its adjusted form.
        rse: residual standard error; df: its degrees of freedom (N - p).
        n: designs fitted; level: the intervals' confidence level.
    """

    kpi: str
    kind: str
    coefficients: pd.DataFrame
    r2: float
    adj_r2: float
    rse: float
    df: int
    n: int
    level: float

    def predict(self, values: dict[str, float]) -> float:
        """The fitted KPI at factor values ``{factor: value}``."""
        row = _terms(pd.DataFrame([values]), list(_base_factors(self.coefficients)), self.kind)
        return float(row.to_numpy()[0] @ self.coefficients["estimate"].to_numpy())


def _base_factors(coefficients: pd.DataFrame) -> list[str]:
    return [t for t in coefficients["term"] if t != "1" and "^" not in t and " x " not in t]


def _terms(values: pd.DataFrame, factors: list[str], kind: str) -> pd.DataFrame:
    """The model matrix: intercept ``1``, the factors, and for quadratic ``A^2`` and ``A x B``."""
    columns = {"1": np.ones(len(values))}
    for f in factors:
        columns[f] = values[f].to_numpy(dtype=float)
    if kind == "quadratic":
        for f in factors:
            columns[f"{f}^2"] = columns[f] ** 2
        for a, b in itertools.combinations(factors, 2):
            columns[f"{a} x {b}"] = columns[a] * columns[b]
    return pd.DataFrame(columns)


def fit_metamodel(frame: pd.DataFrame, kpi: str, kind: str = "linear",
                  level: float = 0.95) -> Metamodel:
    """Fit a linear or quadratic response surface of a KPI on the numeric factors.

    Args:
        frame: a result table (:func:`salessim.experiments.load_results`).
        kpi: the KPI modelled (each design's mean over its replications).
        kind: ``linear`` or ``quadratic``.
        level: confidence level of the coefficient intervals.

    Raises:
        UsageError: unknown kind or KPI, a non-numeric factor, no varying factor, or no
            more designs than terms.
    """
    from scipy.special import stdtrit

    check_level(level)
    if kind not in KINDS:
        raise UsageError(f"a metamodel is {' or '.join(KINDS)}, got {kind!r}")
    means = replication_table(frame, kpi).mean(axis=0, skipna=True).dropna()
    table = design_factors(frame).loc[list(means.index)]
    factors = [f for f in table.columns if table[f].nunique() > 1]
    text = [f for f in factors if not pd.api.types.is_numeric_dtype(table[f])]
    if text:
        raise UsageError(f"a metamodel needs numeric factors; {text[0]} is not (contrast its "
                         "designs with --contrasts instead)")
    if not factors:
        raise UsageError("no factor varies between the designs: there is nothing to fit")
    x = _terms(table, factors, kind)
    n, p = x.shape
    if n <= p:
        raise UsageError(f"a {kind} metamodel of {len(factors)} factors has {p} terms and needs "
                         f"more designs than that; the results have {n}")
    xm, y = x.to_numpy(), means.to_numpy(dtype=float)
    beta, *_ = np.linalg.lstsq(xm, y, rcond=None)
    resid = y - xm @ beta
    ss_res = float(resid @ resid)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    df = n - p
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    adj = 1.0 - (1.0 - r2) * (n - 1) / df if ss_tot > 0 else math.nan
    rse = math.sqrt(ss_res / df)
    se = rse * np.sqrt(np.diag(np.linalg.pinv(xm.T @ xm)))
    half = float(stdtrit(df, 0.5 + level / 2.0)) * se
    coefficients = pd.DataFrame({"term": list(x.columns), "estimate": beta, "std_error": se,
                                 "ci_low": beta - half, "ci_high": beta + half})
    return Metamodel(kpi, kind, coefficients, r2, adj, rse, df, n, level)
