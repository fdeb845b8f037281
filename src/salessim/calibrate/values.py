"""Deal values per source (:func:`fit_values`), and when some amounts are 0: the share of
zeros and a lognormal of the rest.

A CRM export often books some deals at 0 (a free pilot, an amount never filled in). The
lognormal cannot take a 0, and the list of every distinct amount that a plain empirical
fit writes runs to hundreds of values in the scenario. :func:`zeros_and_lognormal` keeps
both facts in a short form: the share of 0 and the lognormal of the positive amounts, as an
empirical distribution of 0 and :data:`VALUE_BINS` bin means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as st

from salessim import stats
from salessim.calibrate.readers import slug
from salessim.calibrate.visits import Visits

#: Fewer amounts than this (or any of 0 without enough others) are kept as they are: the
#: empirical values.
MIN_VALUES = 20

#: Equal-probability bins of the lognormal of the positive amounts when some are 0.
VALUE_BINS = 20


def zeros_and_lognormal(amounts: np.ndarray, bins: int = VALUE_BINS
                        ) -> tuple[dict[str, Any], str]:
    """Deal values with a share of zeros: the share of 0 and a lognormal fitted on the
    positive amounts (maximum likelihood), written as an empirical distribution of 0 and
    the means of ``bins`` equal-probability bins of that lognormal.

    The bin means keep the lognormal's mean exactly (bin i of probability 1 / bins has mean
    bins x exp(mu + s^2 / 2) [Phi(z_i - s) - Phi(z_(i-1) - s)], z_i its standard normal
    quantile), so the values' mean is (1 - share of zeros) x the lognormal's mean; each
    bin's weight is the positive amounts' count / bins, the 0's the zeros' count. A list
    of every distinct amount (hundreds) is what this replaces.
    """
    positive = amounts[amounts > 0]
    logs = np.log(positive)
    mu, s = float(logs.mean()), float(logs.std())
    z = st.norm.ppf(np.linspace(0.0, 1.0, bins + 1))
    means = bins * math.exp(mu + s * s / 2) * np.diff(st.norm.cdf(z - s))
    zeros = len(amounts) - len(positive)
    values = [0.0, *(float(f"{m:.6g}") for m in means)]
    weights = [float(zeros), *([float(f"{len(positive) / bins:.6g}")] * bins)]
    mean, cv = math.exp(mu + s * s / 2), math.sqrt(math.expm1(s * s))
    note = (f"{zeros} of {len(amounts)} amounts are 0 ({zeros / len(amounts):.1%}): that "
            f"share of 0, and a lognormal (maximum likelihood) on the positive ones, mean "
            f"{mean:.4g}, cv {cv:.3g}, as the means of {bins} equal-probability bins")
    return {"dist": "empirical", "values": values, "weights": weights}, note


@dataclass
class Values:
    """Deal values of one source."""

    source: str
    n: int
    spec: dict[str, Any]  # a scenario distribution, as data
    mean: float
    low: float
    high: float
    note: str = ""


def fit_values(visits: Visits) -> dict[str, Values]:
    """Deal value per source, from each deal's amount at its end."""
    out = {}
    for source, group in visits.deals.groupby("source", sort=True):
        sid = slug(source)
        amounts = group["amount"].dropna().to_numpy(float)
        if len(amounts) == 0:
            out[sid] = Values(sid, 0, {"dist": "constant", "value": 0}, 0.0, math.nan, math.nan,
                              "no amounts: deal value 0")
            continue
        est = stats.t_interval(amounts)
        positive = amounts[amounts > 0]
        # Logs this spread (1e-300 beside 1e4) overflow a lognormal's mean: kept as they are.
        spread = len(positive) > 1 and float(np.log(positive).var()) > 50
        if (not spread and (amounts >= 0).all() and len(positive) >= MIN_VALUES
                and len(positive) < len(amounts)):
            mixed, note = zeros_and_lognormal(amounts)
            out[sid] = Values(sid, len(amounts), mixed, est.mean, est.ci_low, est.ci_high, note)
            continue
        if len(amounts) < MIN_VALUES or (amounts <= 0).any() or spread:
            why = (f"only {len(amounts)} amounts" if len(amounts) < MIN_VALUES
                   else "amounts of 0 present" if (amounts <= 0).any()
                   else "amounts too spread out for a lognormal")
            values = sorted({float(a) for a in amounts})
            weights = [int((amounts == a).sum()) for a in values]
            spec: dict[str, Any] = {"dist": "empirical", "values": values}
            if any(w != 1 for w in weights):
                spec["weights"] = weights
            out[sid] = Values(sid, len(amounts), spec, est.mean, est.ci_low, est.ci_high,
                              f"{why}: the empirical values")
        else:
            logs = np.log(amounts)
            sigma2 = float(logs.var())
            mean = math.exp(logs.mean() + sigma2 / 2)
            cv = math.sqrt(math.expm1(sigma2))
            out[sid] = Values(sid, len(amounts), {"dist": "lognormal", "mean": float(f"{mean:.6g}"),
                                                  "cv": float(f"{cv:.4g}")},
                              mean, est.ci_low, est.ci_high, "lognormal (maximum likelihood)")
    return out
