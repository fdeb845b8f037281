"""Drift in routing and in time in stage over the export, with the date and size of it.

The arrival counts have their own test (:mod:`salessim.calibrate.arrivals`). A process
whose win share halves, or whose stage takes twice as long, half-way through an export is
not one process: a calibration on the whole export averages the two and forecasts from
it are off. Each stage is scanned for one change point:

- routing: the stage's exits in time order are split at each candidate point (the 20%,
  25%, ..., 80% quantiles of the exits); the exit targets before and after are compared by
  the chi-square test of independence;
- time in stage: its visits in order of entry are split at the same quantiles; the times
  before and after (open visits right-censored) are compared by the log-rank test; the
  size is the ratio of exit rates after / before ((O/E) of one group over the other's),
  so a stage that takes twice as long has a ratio of about 0.5.

The smallest p over the candidates is Bonferroni-adjusted for the candidates and stages
scanned (conservative: the candidate splits are correlated) and a change is reported when
it is below :data:`ALPHA`, with the split date and a proposed calibration window after it
(``--since DATE``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as st

from salessim.calibrate.visits import Visits

#: Family-wise level of the drift scan.
ALPHA = 0.01
#: A stage needs this many exits (routing) or visits (time) to be scanned.
MIN_N = 40
#: Where a split may fall, as quantiles of the stage's exits or entries.
SPLITS = np.arange(0.20, 0.8001, 0.05)


@dataclass(frozen=True)
class Drift:
    """One change found: in a stage's routing or its time in stage."""

    stage: str
    kind: str   # "routing" or "time"
    date: pd.Timestamp
    p: float    # Bonferroni-adjusted
    size: str   # in words, e.g. "won share 0.61 -> 0.30"
    shares: dict[str, tuple[float, float]] = field(default_factory=dict)  # routing: before, after
    ratio: float = math.nan  # time: exit rate after / before

    def warning(self) -> str:
        """The finding in words, with what to do."""
        what = "routing" if self.kind == "routing" else "time in stage"
        return (f"drift: {what} of {self.stage!r} changed about {self.date:%Y-%m-%d}: "
                f"{self.size} (p = {self.p:.2g}, adjusted for the splits and stages scanned); "
                "one calibration over the whole export averages the two and forecasts from it "
                f"are off. Calibrate on the data after the change: --since {self.date:%Y-%m-%d}")


def logrank(t1: np.ndarray, e1: np.ndarray, t2: np.ndarray, e2: np.ndarray
            ) -> tuple[float, float]:
    """Log-rank test of two right-censored samples: (p, exit-rate ratio of 2 over 1).

    At each distinct exit time u, with n_g at risk and d exits in all: E1 += d n1 / n and
    V += d (n1 / n) (1 - n1 / n) (n - d) / (n - 1); chi2 = (O1 - E1)^2 / V on 1 df. The
    ratio is (O2 / E2) / (O1 / E1).
    """
    s1, s2 = np.sort(t1), np.sort(t2)
    u, d = np.unique(np.concatenate([t1[e1], t2[e2]]), return_counts=True)
    d1 = np.searchsorted(np.sort(t1[e1]), u, "right") - np.searchsorted(np.sort(t1[e1]), u)
    n1 = len(s1) - np.searchsorted(s1, u)
    n2 = len(s2) - np.searchsorted(s2, u)
    n = n1 + n2
    e = d * n1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(n > 1, d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1), 0.0)
    o1, exp1, var = float(d1.sum()), float(e.sum()), float(v.sum())
    if var <= 0 or exp1 <= 0 or d.sum() - exp1 <= 0:
        return 1.0, float("nan")
    p = float(st.chi2.sf((o1 - exp1) ** 2 / var, 1))
    return p, ((d.sum() - o1) / (d.sum() - exp1)) / (o1 / exp1) if o1 > 0 else float("inf")


def _routing(visits: Visits, stage: str, group: pd.DataFrame, scans: int) -> Drift | None:
    done = group.dropna(subset=["exited_at"]).sort_values("exited_at", kind="stable")
    targets = done["next_stage"].map(visits.target).to_numpy()
    names = np.unique(targets)
    n = len(done)
    if n < MIN_N or len(names) < 2:
        return None
    onehot = (targets[:, None] == names[None, :]).astype(float)
    cum = onehot.cumsum(axis=0)
    best = (1.0, 0)
    for k in sorted({int(q * n) for q in SPLITS}):
        table = np.vstack([cum[k - 1], cum[-1] - cum[k - 1]])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            continue
        p = float(st.chi2_contingency(table, correction=False)[1])
        best = min(best, (p, k))
    p, k = best
    p = min(1.0, p * scans)
    if p >= ALPHA:
        return None
    before, after = cum[k - 1] / k, (cum[-1] - cum[k - 1]) / (n - k)
    moved = sorted(range(len(names)), key=lambda i: -abs(after[i] - before[i]))
    shares = ", ".join(f"{names[i]} {before[i]:.2f} -> {after[i]:.2f}" for i in moved
                       if abs(after[i] - before[i]) >= 0.05) or "shares moved"
    return Drift(stage, "routing", done["exited_at"].iloc[k], p,
                 f"shares of exits {shares} ({k} exits before, {n - k} after)",
                 {str(t): (float(before[i]), float(after[i])) for i, t in enumerate(names)})


def _time(visits: Visits, stage: str, group: pd.DataFrame, durations: pd.Series,
          scans: int) -> Drift | None:
    order = group.sort_values("entered_at", kind="stable").index
    t = durations.loc[order].to_numpy(float)
    e = group.loc[order, "exited_at"].notna().to_numpy()
    n = len(t)
    if n < MIN_N or e.sum() < MIN_N // 2:
        return None
    best = (1.0, 0, float("nan"))
    for k in sorted({int(q * n) for q in SPLITS}):
        p, ratio = logrank(t[:k], e[:k], t[k:], e[k:])
        best = min(best, (p, k, ratio))
    p, k, ratio = best
    p = min(1.0, p * scans)
    if p >= ALPHA:
        return None
    return Drift(stage, "time", group.loc[order[k], "entered_at"], p,
                 f"exit rate after / before {ratio:.2f} (log-rank), so visits entered after "
                 f"it take about {1 / ratio:.2g} times as long ({k} visits before, "
                 f"{n - k} after)", ratio=float(ratio))


def find_drift(visits: Visits) -> list[Drift]:
    """Changes in each stage's routing and time in stage (see the module)."""
    v = visits.visits
    durations = visits.durations()
    groups = list(v.groupby(v["stage"].map(visits.target), sort=False))
    # Two scans per stage (routing and time in stage), each over every split.
    scans = 2 * len(SPLITS) * max(1, len(groups))
    out = []
    for stage, group in groups:
        for found in (_routing(visits, str(stage), group, scans),
                      _time(visits, str(stage), group, durations, scans)):
            if found is not None:
                out.append(found)
    return out


def arrival_change(created: pd.Series, start: pd.Timestamp, end: pd.Timestamp
                   ) -> tuple[pd.Timestamp, float, float] | None:
    """Where a source's arrival rate changed most: (date, rate before, rate after) per day.

    The split is the candidate (quantiles :data:`SPLITS` of the creation times) with the
    largest Poisson likelihood ratio 2 sum n_i log(n_i / (n T_i / T)) of the counts before
    and after against their exposures T_i. Used once a drift test has rejected a flat rate.
    """
    times = np.sort(((created - start) / pd.Timedelta(days=1)).to_numpy(float))
    total = (end - start) / pd.Timedelta(days=1)
    n = len(times)
    if n < MIN_N or total <= 0:
        return None
    best = (-1.0, 0.0)
    for q in SPLITS:
        t = float(times[int(q * n)])
        n1, n2 = int(np.searchsorted(times, t)), n - int(np.searchsorted(times, t))
        if not 0 < t < total or n1 == 0 or n2 == 0:
            continue
        lr = 2 * (n1 * math.log(n1 / (n * t / total))
                  + n2 * math.log(n2 / (n * (total - t) / total)))
        best = max(best, (lr, t))
    if best[0] < 0:
        return None
    t = best[1]
    n1 = int(np.searchsorted(times, t))
    return start + pd.Timedelta(days=t), n1 / t, (n - n1) / (total - t)
