"""Deal values when some amounts are 0: the share of zeros and a lognormal of the rest.

A CRM export often books some deals at 0 (a free pilot, an amount never filled in). The
lognormal cannot take a 0, and the list of every distinct amount that a plain empirical
fit writes runs to hundreds of values in the scenario. :func:`zeros_and_lognormal` keeps
both facts in a short form: the share of 0 and the lognormal of the positive amounts, as an
empirical distribution of 0 and :data:`VALUE_BINS` bin means.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as st

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
