"""The Aalen-Johansen estimate of each exit's cumulative incidence, with its variance.

For the visits of one stage (age at exit or at the export date, and the exit taken or none
while open), at each distinct exit age t_j with n_j visits still in the stage (age >= t_j),
d_kj exits by cause k and d_j exits in all:

    S(t_j) = prod_{i <= j} (1 - d_i / n_i)              (Kaplan-Meier, all causes)
    F_k(t) = sum_{t_j <= t} S(t_{j-1}) d_kj / n_j       (cumulative incidence of cause k)

F_k(t) is the chance of having left by cause k by age t. One Kaplan-Meier curve per cause
with the other causes as censoring is not it: that estimates a latent time's distribution,
whose 1 - S_k overstates the incidence whenever other causes compete.

The variance is the delta method on the hazard increments (multinomial within an age,
independent across ages), which gives (Marubini & Valsecchi's form)

    Var F_k(t) = sum_{t_j <= t} [ D_j^2 d_j / (n_j (n_j - d_j))
                                  + S(t_{j-1})^2 d_kj (n_j - d_kj) / n_j^3
                                  - 2 D_j S(t_{j-1}) d_kj / n_j^2 ],  D_j = F_k(t) - F_k(t_j);

without censoring it is F (1 - F) / n exactly. Sums over j of D_j^2 w_j expand into
cumulative sums, so the whole curve's variance costs one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))


@dataclass
class Incidence:
    """Cumulative incidence curves of one stage's causes.

    Attributes:
        causes: the causes, in the order of the rows of ``cif`` and ``se``.
        times: distinct exit ages (days), increasing.
        cif: ``cif[k, j]``: cause k's cumulative incidence at ``times[j]`` (right-continuous).
        se: its standard error (delta method).
        at_risk: visits still in the stage at each time (age >= it).
        survival: the chance of still being in the stage just after each time.
    """

    causes: list[str]
    times: np.ndarray
    cif: np.ndarray
    se: np.ndarray
    at_risk: np.ndarray
    survival: np.ndarray

    def at(self, cause: str, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Cause's incidence and standard error at ages ``t`` (a step function, 0 before
        the first exit)."""
        k = self.causes.index(cause)
        idx = np.searchsorted(self.times, np.atleast_1d(np.asarray(t, float)), side="right") - 1
        inside = idx >= 0
        i = np.clip(idx, 0, None)
        return (np.where(inside, self.cif[k, i], 0.0) if len(self.times) else
                np.zeros(len(idx)),
                np.where(inside, self.se[k, i], 0.0) if len(self.times) else np.zeros(len(idx)))

    def band(self, cause: str, t: np.ndarray | float, level: float = 0.95
             ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise normal interval of the incidence at ``t``, clipped to [0, 1]."""
        z = float(stats.norm.ppf(0.5 + level / 2))
        f, se = self.at(cause, t)
        return np.clip(f - z * se, 0, 1), np.clip(f + z * se, 0, 1)


def aalen_johansen(durations: np.ndarray, cause: np.ndarray, causes: list[str]) -> Incidence:
    """The cumulative incidence of each cause from one stage's visits.

    Args:
        durations: age at exit, or at the export date for an open visit (days).
        cause: index into ``causes`` of the exit taken, or -1 for an open visit
            (right-censored). An open visit of the same age as an exit is still at risk at
            that exit (the usual convention).
        causes: the names of the causes.
    """
    t = np.asarray(durations, float)
    c = np.asarray(cause, int)
    if len(t) != len(c):
        raise ValueError("durations and causes differ in length")
    k = len(causes)
    exits = c >= 0
    times = np.unique(t[exits])
    m = len(times)
    order = np.sort(t)
    n = (len(t) - np.searchsorted(order, times, side="left")).astype(float)
    d_k = np.zeros((k, m))
    np.add.at(d_k, (c[exits], np.searchsorted(times, t[exits])), 1.0)
    d = d_k.sum(axis=0)
    surv = np.cumprod(1 - d / n) if m else np.array([])
    before = np.concatenate([[1.0], surv[:-1]]) if m else np.array([])
    cif = np.cumsum(before * d_k / n, axis=1) if m else np.zeros((k, 0))
    # Var F(t) = F(t)^2 A(t) - 2 F(t) B(t) + C(t) + E(t) - 2 (F(t) G(t) - H(t)): each a
    # cumulative sum over exit ages up to t.
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > d, d / (n * (n - d)), 0.0)
    se = np.zeros((k, m))
    for j in range(k):
        f = cif[j]
        a = np.cumsum(w)
        b = np.cumsum(f * w)
        cc = np.cumsum(f * f * w)
        e = np.cumsum(before ** 2 * d_k[j] * (n - d_k[j]) / n ** 3)
        u = before * d_k[j] / n ** 2
        g = np.cumsum(u)
        h = np.cumsum(f * u)
        var = f * f * a - 2 * f * b + cc + e - 2 * (f * g - h)
        se[j] = np.sqrt(np.clip(var, 0, None))
    return Incidence(list(causes), times, cif, se, n, surv)


@dataclass
class Shares:
    """Where a stage's visits go, from the cumulative incidence at the longest follow-up.

    Attributes:
        shares: each cause's share, F_k(tau) / (1 - S(tau)), tau the last exit age.
        se: its standard error, se(F_k(tau)) / (1 - S(tau)).
        unresolved: S(tau), the chance of still being in the stage after the last exit
            seen; it is shared out in the proportions of the exits up to tau (the data
            show nothing of later exits).
    """

    shares: dict[str, float]
    se: dict[str, float]
    unresolved: float

    def interval(self, cause: str, level: float = 0.95) -> tuple[float, float]:
        """Wilson interval of a share at the effective sample size p (1 - p) / se^2 (the
        number of uncensored visits that would give the same standard error; without
        censoring it is the number of visits, and the interval the usual Wilson one)."""
        p, se = self.shares[cause], self.se[cause]
        z = float(stats.norm.ppf(0.5 + level / 2))
        if not se > 0:
            return p, p
        n = p * (1 - p) / se ** 2
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def incidence_shares(durations: np.ndarray, cause: np.ndarray, causes: list[str]) -> Shares:
    """Each cause's share of a stage's visits with the open ones counted right.

    The share of the closed visits is biased towards the fast causes whenever causes differ
    in speed and some visits are still open: a visit open at age a is more likely to end by
    a slow cause than the closed visits are. The Aalen-Johansen incidence at the last exit
    age counts an open visit of age a in every risk set up to a, as it should; without
    open visits it is the closed share exactly (and so is its standard error).
    """
    inc = aalen_johansen(durations, cause, causes)
    if not len(inc.times):
        return Shares({}, {}, 1.0)
    done = 1.0 - float(inc.survival[-1])
    if not done > 0:
        return Shares({}, {}, 1.0)
    shares = {c: float(inc.cif[k, -1]) / done for k, c in enumerate(causes)}
    se = {c: float(inc.se[k, -1]) / done for k, c in enumerate(causes)}
    keep = [c for c in causes if shares[c] > 0]
    return Shares({c: shares[c] for c in keep}, {c: se[c] for c in keep}, 1.0 - done)
