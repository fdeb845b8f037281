"""Ranking and selection: Kim and Nelson's fully sequential procedure (KN), with CRN.

KN (Kim & Nelson 2001, "A fully sequential procedure for indifference-zone selection in
simulation", ACM TOMACS 11(3)) picks the system with the largest mean among k, with
probability at least ``confidence`` whenever the best is at least ``delta`` (the
indifference zone) better than the second best, for normal outputs. It works on the
variances of pairwise differences, so common random numbers across systems are allowed
and make it stop sooner.

With n0 first-stage replications and alpha = 1 - confidence:

    eta = ((2 alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1) / 2,   h^2 = 2 eta (n0 - 1),
    S^2_il = sample variance of X_i - X_l over the first n0 replications,
    W_il(r) = max(0, delta / (2 r) * (h^2 S^2_il / delta^2 - r)).

After r replications, system i is eliminated if mean_i(r) < mean_l(r) - W_il(r) for some
surviving l. Every survivor then gets one more replication. W reaches 0 at
r = h^2 S^2_il / delta^2, so the procedure stops by then at the latest; systems whose
outputs are identical (S^2 = 0, equal means) are never told apart and all survive: the
result then reports no significant difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from salessim import stats

#: sample(systems, replications) -> array (len(systems), len(replications)) of outputs,
#: higher is better; replication r of every system uses the same random numbers.
Sampler = Callable[[Sequence[int], Sequence[int]], np.ndarray]


@dataclass
class KNResult:
    """What KN decided, and on which evidence.

    Attributes:
        best: index of the selected system.
        survivors: systems never eliminated (the best among them, by mean, is selected).
        eliminated: system -> the replication count at which it was eliminated.
        values: each system's outputs (one per replication it got).
        stop: ``one survivor``, ``indifference`` (W reached 0 with tied survivors) or
            ``replication cap``.
        eta, h2: the procedure's constants.
        delta, confidence, first_stage: its parameters.
        p_holm: Holm-adjusted p-values of the paired t tests of the best against every other
            system, on their common replications (nan for the best itself).
    """

    best: int
    survivors: list[int]
    eliminated: dict[int, int]
    values: list[np.ndarray]
    stop: str
    eta: float
    h2: float
    delta: float
    confidence: float
    first_stage: int
    p_holm: np.ndarray = field(default_factory=lambda: np.array([]))

    @property
    def means(self) -> np.ndarray:
        return np.array([float(np.mean(v)) for v in self.values])

    @property
    def replications(self) -> np.ndarray:
        return np.array([len(v) for v in self.values])

    @property
    def significant(self) -> bool:
        """Whether the best differs significantly from every other system (Holm, at
        1 - confidence). False when some other system cannot be told apart from it."""
        others = np.delete(self.p_holm, self.best)
        return bool(others.size) and bool(np.all(others < 1 - self.confidence))

    def tied_with_best(self) -> list[int]:
        """Other survivors that the best does not differ from significantly (Holm)."""
        return [i for i in self.survivors
                if i != self.best and not self.p_holm[i] < 1 - self.confidence]

    @property
    def no_significant_difference(self) -> bool:
        """Whether the best differs significantly from none of the others."""
        others = np.delete(self.p_holm, self.best)
        return bool(np.all(~(others < 1 - self.confidence)))


def kn_constants(k: int, first_stage: int, confidence: float) -> tuple[float, float]:
    """(eta, h^2) of KN for k systems, n0 first-stage replications and the confidence."""
    alpha = 1 - confidence
    n0 = first_stage
    eta = 0.5 * ((2 * alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1)
    return eta, 2 * eta * (n0 - 1)


def kim_nelson(
    sample: Sampler,
    k: int,
    delta: float,
    confidence: float = 0.95,
    first_stage: int = 10,
    max_replications: int = 1000,
) -> KNResult:
    """Select the system with the largest mean by KN.

    Args:
        sample: draws replications of systems (see :data:`Sampler`); replication numbers
            are 0, 1, 2, ... for every system (common random numbers).
        k: number of systems (indices 0..k-1).
        delta: indifference zone (> 0), in the outputs' unit.
        confidence: probability of correct selection promised (1 - alpha).
        first_stage: n0 >= 2.
        max_replications: stop there whatever happens (the best mean is then selected).

    Raises:
        ValueError: bad parameters.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not delta > 0:
        raise ValueError(f"the indifference zone must be positive, got {delta}")
    if first_stage < 2 or max_replications < first_stage:
        raise ValueError(f"need 2 <= first_stage ({first_stage}) <= max_replications "
                         f"({max_replications})")
    if k == 1:
        values = [np.asarray(sample([0], range(first_stage))[0], dtype=float)]
        return KNResult(0, [0], {}, values, "one survivor", 0.0, 0.0, delta, confidence,
                        first_stage, np.array([np.nan]))
    eta, h2 = kn_constants(k, first_stage, confidence)
    first = np.asarray(sample(range(k), range(first_stage)), dtype=float)
    if not np.all(np.isfinite(first)):
        raise ValueError("the objective is not finite in some replication (for example a "
                         "median cycle time with no deal won): choose another objective")
    values = [first[i].copy() for i in range(k)]
    diff = first[:, None, :] - first[None, :, :]
    s2 = diff.var(axis=2, ddof=1)  # S^2_il on the first stage only
    survivors = list(range(k))
    eliminated: dict[int, int] = {}
    r = first_stage
    stop = "replication cap"
    while True:
        idx = np.array(survivors)
        means = np.array([values[i][:r].mean() for i in survivors])
        w = np.maximum(0.0, delta / (2 * r) * (h2 * s2[np.ix_(idx, idx)] / delta**2 - r))
        # i is out if some survivor l beats it by more than W_il.
        out = (means[:, None] < means[None, :] - w).any(axis=1)
        for i in idx[out]:
            eliminated[int(i)] = r
        survivors = [int(i) for i in idx[~out]]
        if len(survivors) == 1:
            stop = "one survivor"
            break
        idx = np.array(survivors)
        if np.all(w[np.ix_(~out, ~out)] == 0):
            stop = "indifference"  # W is 0: survivors are tied to the last digit
            break
        if r >= max_replications:
            break
        new = np.asarray(sample(survivors, [r]), dtype=float)
        if not np.all(np.isfinite(new)):
            raise ValueError("the objective is not finite in some replication: choose "
                             "another objective")
        for row, i in enumerate(survivors):
            values[i] = np.append(values[i], new[row, 0])
        r += 1
    final = {i: float(values[i][:r].mean()) for i in survivors}
    best = max(survivors, key=lambda i: (final[i], -i))
    result = KNResult(best, survivors, eliminated, values, stop, eta, h2, delta, confidence,
                      first_stage)
    result.p_holm = _p_against_best(values, best)
    return result


def _p_against_best(values: list[np.ndarray], best: int) -> np.ndarray:
    """Holm-adjusted paired p-values of the best against every other system."""
    raw = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if i != best:
            n = min(len(v), len(values[best]))
            raw[i] = stats.paired_t_pvalue(values[best][:n], v[:n])
    return stats.holm(raw)
