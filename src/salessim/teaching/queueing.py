"""Queueing formulas for a pooled role: Erlang C (M/M/c) and Allen-Cunneen (M/G/c).

For ``c`` staff, arrival rate ``lam`` and mean work ``s`` (offered load ``a = lam s``,
utilisation ``rho = a / c < 1``):

- Erlang C: P(wait) = C(c, a) = (a^c / c!) (c / (c - a)) / (sum_{k<c} a^k / k! +
  (a^c / c!) (c / (c - a))), and the mean time queued Wq = C(c, a) s / (c - a).
- Allen-Cunneen: Wq(M/G/c) ~ Wq(M/M/c) (ca^2 + cs^2) / 2, with ca^2 = 1 for Poisson
  arrivals and cs^2 the squared coefficient of variation of the work. Exact for c = 1
  (Pollaczek-Khinchine); an approximation otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (``a`` in Erlangs, below c)."""
    if c < 1:
        raise ValueError(f"c must be at least 1, got {c}")
    if not 0 <= a < c:
        raise ValueError(f"offered load must be in [0, c) = [0, {c}), got {a}")
    if a == 0:
        return 0.0
    # a^k / k! built term by term: no large factorials or powers.
    term, below = 1.0, 1.0
    for k in range(1, c):
        term *= a / k
        below += term
    full = term * a / c * c / (c - a)
    return full / (below + full)


@dataclass(frozen=True)
class QueueEstimate:
    """The queue at one role: P(wait), mean time queued, the formula used."""

    p_wait: float
    wait: float
    method: str  # "erlang_c" or "allen_cunneen"


def pooled_wait(c: int, lam: float, mean: float, scv: float) -> QueueEstimate:
    """Mean time queued for one of ``c`` staff, Poisson arrivals at ``lam``.

    Args:
        c: headcount.
        lam: arrival rate of work requests at the role.
        mean: mean work per request.
        scv: squared coefficient of variation of the work (1 for exponential work).

    Returns:
        Erlang C when ``scv == 1``, Allen-Cunneen otherwise; ``inf`` wait when unstable.
    """
    a = lam * mean
    method = "erlang_c" if math.isclose(scv, 1.0) else "allen_cunneen"
    if a >= c:
        return QueueEstimate(1.0, math.inf, method)
    p = erlang_c(c, a)
    wq = p * mean / (c - a)
    return QueueEstimate(p, wq * (1 + scv) / 2, method)
