"""Time-outs: a jump in one exit's cumulative incidence at a fixed age.

A rule such as "a file with no answer is cancelled after 30 days" puts many exits of one
cause at one age. Its hazard there is far above the smooth hazard around it, and after it
no visit is left to leave at all. The test, for each cause of a stage:

- Ages are cut into one-day bins centred on whole days [k - 1/2, k + 1/2), from day
  :data:`MIN_AGE` on (a rule about hours is not looked for). In bin k, N_k exits of the
  cause happened over PT_k days at risk (the time all visits spent in the stage at those
  ages, open visits included).
- The smooth neighbourhood is the bins within :data:`RING` days on either side: its hazard
  h = (exits there) / (days at risk there) predicts E_k = h PT_k exits in bin k. A time-out
  bin holds N_k >= :data:`MIN_COUNT` exits, at least :data:`MIN_SHARE` of the cause's
  exits, at least :data:`MIN_RATIO` times E_k, and N_k is improbable under Poisson(E_k):
  P(N >= N_k) < :data:`ALPHA` / (bins scanned), a Bonferroni bound on the false alarms of
  one cause of one stage.
- And the stage empties there: of the visits still in it at the bin's start, at most
  :data:`MAX_SURVIVORS` are still in it at the bin's end. A rule ends every visit that
  reaches it (a few exceptions allowed); a bump in one exit's time (many exits about one
  age from a second mode of its distribution) leaves the others in the stage.
- The time-out's age is the median age of the exits in the bin (a rule fires at one age,
  so they sit together); exits of that cause in the bin are the time-outs.

The false-alarm rate this implies on smooth data is at most :data:`ALPHA` per cause and
stage where the neighbourhood's hazard is a fair prediction (a hazard that changes slowly
over :data:`RING` days); :data:`MIN_RATIO` guards the young ages where it changes fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.001
MIN_AGE = 2
RING = 7
MIN_COUNT = 10
MIN_SHARE = 0.05
MIN_RATIO = 3.0
MAX_SURVIVORS = 0.1


@dataclass
class Timeout:
    """A time-out found in one stage.

    Attributes:
        stage: the stage; to: the exit it leaves by; after: its age (days).
        count: exits of ``to`` in the jump's bin (the time-outs); share: of all of its exits.
        expected: exits the smooth neighbourhood predicts in that bin.
        p: the Poisson tail probability of ``count`` or more (before Bonferroni).
        bins: bins scanned (the Bonferroni factor).
        window: the bin (low, high) in days.
    """

    stage: str
    to: str
    after: float
    count: int
    share: float
    expected: float
    p: float
    bins: int
    window: tuple[float, float]

    def words(self) -> str:
        return (f"{self.count} of the {self.to!r} exits ({self.share:.0%}) happen at "
                f"{self.window[0]:g}-{self.window[1]:g} days where the smooth neighbourhood "
                f"predicts {self.expected:.3g} (Poisson p = {self.p:.2g}, Bonferroni over "
                f"{self.bins} one-day bins at level {ALPHA:g})")

    def hits(self, durations: np.ndarray, cause: np.ndarray, causes: list[str]) -> np.ndarray:
        """Which visits ended by the time-out: ``to`` exits inside the jump's bin."""
        lo, hi = self.window
        return (cause == causes.index(self.to)) & (durations >= lo) & (durations < hi)


def person_time(durations: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Days at risk in each bin [edges[i], edges[i + 1]) summed over visits."""
    d = np.sort(np.asarray(durations, float))
    # Days at risk up to age a: sum over visits of min(d, a) = cumulative through the sort.
    cum = np.concatenate([[0.0], np.cumsum(d)])

    def upto(a):
        i = np.searchsorted(d, a, side="left")
        return cum[i] + a * (len(d) - i)

    at = upto(edges)
    return np.diff(at)


def find_timeout(stage: str, durations: np.ndarray, cause: np.ndarray, causes: list[str]
                 ) -> Timeout | None:
    """The strongest time-out among the stage's causes, or None.

    Args:
        durations: age at exit or at the export date (days), one per visit.
        cause: index into ``causes`` of the exit, -1 for an open visit.
    """
    t = np.asarray(durations, float)
    c = np.asarray(cause, int)
    top = int(np.floor(t[c >= 0].max() + 0.5)) if (c >= 0).any() else 0
    if top < MIN_AGE:
        return None
    edges = np.arange(MIN_AGE - 0.5, top + 1.5)
    pt = person_time(t, edges)
    order = np.sort(t)
    at_risk = len(t) - np.searchsorted(order, edges, side="left")  # age >= edge
    bins = len(pt)
    best: Timeout | None = None
    for k, name in enumerate(causes):
        ages = t[c == k]
        if len(ages) < MIN_COUNT:
            continue
        counts = np.histogram(ages, edges)[0]
        # Exits at ages [k - 1/2, k + 1/2): histogram bins are [lo, hi); ages land exactly
        # on a half day only by chance, which moves one exit by one bin.
        for i in np.flatnonzero(counts >= max(MIN_COUNT, MIN_SHARE * len(ages))):
            ring = [j for j in range(max(0, i - RING), min(bins, i + RING + 1)) if j != i]
            ring_pt = pt[ring].sum()
            if ring_pt <= 0:
                continue
            expected = counts[ring].sum() / ring_pt * pt[i]
            n = int(counts[i])
            if n < MIN_RATIO * max(expected, 1.0):
                continue
            p = float(stats.poisson.sf(n - 1, max(expected, 1e-9)))
            if p >= ALPHA / bins or (best is not None and p >= best.p):
                continue
            if at_risk[i + 1] > MAX_SURVIVORS * at_risk[i]:
                continue  # the stage does not empty there: no rule
            lo, hi = float(edges[i]), float(edges[i + 1])
            inside = ages[(ages >= lo) & (ages < hi)]
            best = Timeout(stage, name, float(np.median(inside)), n, n / len(ages),
                           float(expected), p, bins, (lo, hi))
    return best
