"""Arrivals per source: rate, dispersion, day effect, weekday / hour / month shapes, drift.

- The window: from the period's start to the export date, unless arrivals stop well
  before it. No case starting in the last ``g`` days while the rate says ``r g`` should
  have (chance ``exp(-r g)`` below :data:`CUT_CHANCE`, ``g`` at least a day) is an
  extraction cut, not demand: the window ends at the last arrival's day, so the cut
  neither dilutes the rate nor zeroes a month, and a warning names the date.
- Rate: n / window days, with its exact (Garwood) interval; over-dispersed days widen it:
  rate x exp(+-t s), s = sqrt(sum (x_d - m_d)^2 d / (d - p)) / sum x_d, the days' own
  spread about their expected counts (p of them fitted), t the 97.5% Student quantile on
  d - p degrees of freedom (the spread is estimated from those days).
- Daily counts, on the full days only (the window's first and last days are partial and
  left out): the index of dispersion D = X2 / df of Pearson's chi-square test about the
  expected counts m_d (the mean, times the weekday shape when there is one:
  sum (x - m)^2 / m on d - 1, or d - 7, degrees of freedom; D is variance / mean without
  a shape). Over-dispersed counts get a
  gamma-Poisson day effect: day d has rate m w_d G_d, G_d ~ gamma(k, 1 / k), so
  Var = m_d + m_d^2 / k; 1 / k = sum((x_d - m_d)^2 - m_d) / sum(m_d^2) (moments, with the
  weekday shape w), and a bootstrap over days gives its interval.
- Weekday and calendar-month shapes: chi-square of counts against exposure (days of that
  kind in the window; months only from full months). A shape that rejects flatness at
  :data:`ALPHA` becomes a ``profile``; a monthly profile needs :data:`MIN_MONTHS` full
  months (fewer cannot tell a season from a trend), and months never observed are named.
- Hour of day: chi-square of the counts per hour (local time, full days only, so every
  hour has the same exposure) against flat; a shape that rejects at :data:`ALPHA` becomes
  ``profile.hourly`` (24 multipliers of mean 1, one shape for every weekday). The weekday x
  hour shares are kept for the report.
- Drift: a long window (>= 90 days) whose first and last quarter differ (binomial test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as st

from salessim.calibrate.readers import slug
from salessim.calibrate.visits import DAY, Visits

ALPHA = 0.01
DRIFT_DAYS = 90
CUT_CHANCE = 1e-4
MIN_MONTHS = 12
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def poisson_interval(count: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson rate from ``count`` events in ``exposure``."""
    a = 1 - level
    low = st.chi2.ppf(a / 2, 2 * count) / 2 if count > 0 else 0.0
    high = st.chi2.ppf(1 - a / 2, 2 * count + 2) / 2
    return low / exposure, high / exposure


@dataclass
class Test:
    """A chi-square or binomial test on counts: its statistic, degrees of freedom, p-value."""

    name: str
    statistic: float
    df: int
    p: float

    @property
    def rejects(self) -> bool:
        return self.p < ALPHA


@dataclass
class Arrivals:
    """Arrivals of one source over the window (see the module's description)."""

    source: str
    n: int
    days: float
    rate: float
    low: float
    high: float
    dispersion: Test | None
    weekly_test: Test | None
    monthly_test: Test | None
    weekly: list[float] | None = None
    weekly_ci: list[tuple[float, float]] | None = None
    monthly: list[float] | None = None
    drift: Test | None = None
    daily: pd.Series = field(default=None, repr=False)
    index: float = math.nan
    day_effect: float | None = None            # gamma shape k of the day effect
    day_effect_ci: tuple[float, float] | None = None
    hourly: list[list[float]] | None = None    # [weekday][hour] shares of arrivals
    hourly_test: Test | None = None
    hour_profile: list[float] | None = None    # 24 multipliers of mean 1, when not flat
    unobserved_months: list[str] = field(default_factory=list)


@dataclass
class Window:
    """The period arrivals are counted over, and what was excluded from it."""

    start: pd.Timestamp
    end: pd.Timestamp
    cut: pd.Timestamp | None = None
    warnings: list[str] = field(default_factory=list)

    def partial_months(self) -> list[str]:
        """The window's first and last months when they are partial (left out of the
        monthly test)."""
        months = _full_months(self)
        first, last = self.start.to_period("M"), (self.end - pd.Timedelta(1)).to_period("M")
        return list(dict.fromkeys(str(m) for m in (first, last) if m not in months))

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY


def window(visits: Visits) -> Window:
    """The arrival window: the period, ended early at an extraction cut."""
    created = visits.deals["created_at"].dropna()
    end = visits.as_of
    out = Window(visits.start, end)
    if created.empty:
        return out
    last = created.max()
    gap = (end - last) / DAY
    rate = len(created) / max((last - visits.start) / DAY, 1e-9)
    if gap >= 1 and math.exp(-rate * gap) < CUT_CHANCE:
        out.end = min(end, last.floor("D") + DAY)
        out.cut = last
        out.warnings.append(
            f"extraction cut: no case starts after {last:%Y-%m-%d %H:%M}, {gap:.1f} days "
            f"before the end of the log, where {rate * gap:.0f} were expected: an extraction "
            "cut? Arrivals are estimated up to that day only; cases opened later are not in "
            "the export. If arrivals really stopped, give --as-of to cut the log there")
    return out


def fit_arrivals(visits: Visits, win: Window | None = None) -> dict[str, Arrivals]:
    """Arrival rate, dispersion, day effect, shapes and drift per source."""
    win = win or window(visits)
    days = pd.date_range(win.start, win.end - pd.Timedelta(1), freq="D")
    full = days[1:-1] if len(days) > 2 else days  # the first and last days are partial
    exposure = win.days
    out = {}
    for source, group in visits.deals.groupby("source", sort=True):
        sid = slug(source)
        created = group["created_at"]
        created = created[created < win.end]
        daily = created.dt.floor("D").value_counts().reindex(days, fill_value=0).sort_index()
        n = int(len(created))
        low, high = poisson_interval(n, exposure)
        rate = n / exposure
        counts = daily.reindex(full).to_numpy()
        in_full = created[created.dt.floor("D").isin(full)]
        weekly_test, weekly, weekly_ci = _shape_test(
            "weekday", in_full.dt.day_of_week, full.day_of_week, 7, len(in_full))
        shaped = weekly_test is not None and weekly_test.rejects
        shape = np.asarray(weekly if shaped else [1.0] * 7)[full.day_of_week]
        dispersion = _dispersion(counts, shape, 7 if shaped else 1)
        months = _full_months(win)
        in_months = created[created.dt.to_period("M").isin(months)]
        month_days = pd.DatetimeIndex([d for d in days if d.to_period("M") in months])
        monthly_test, monthly, _ = _shape_test(
            "month", in_months.dt.month - 1, month_days.month - 1, 12, len(in_months),
            min_levels=3)
        seen = {m.month for m in months}
        unobserved = [MONTHS[i] for i in range(12) if i + 1 not in seen]
        use_monthly = (monthly_test is not None and monthly_test.rejects
                       and len(months) >= MIN_MONTHS)
        index = 1.0 if dispersion is None else dispersion.statistic / dispersion.df
        drift = _drift(created, win, max(index, 1.0)) if exposure >= DRIFT_DAYS else None
        a = Arrivals(sid, n, exposure, rate, low, high, dispersion, weekly_test, monthly_test,
                     weekly if weekly_test and weekly_test.rejects else None, weekly_ci,
                     monthly if use_monthly else None, drift, daily)
        a.index = math.nan if dispersion is None else dispersion.statistic / dispersion.df
        if dispersion is not None and dispersion.rejects:
            # Days are not Poisson: the rate's interval comes from the days' own spread
            # about their expected counts (a sandwich variance, whatever the day effect).
            fitted = 7 if shaped else 1
            t = float(st.t.ppf(0.975, max(len(counts) - fitted, 1)))
            half = t * _relative_se(counts, shape, fitted)
            a.low, a.high = rate * math.exp(-half), rate * math.exp(half)
            a.day_effect, a.day_effect_ci = _day_effect(counts, shape, fitted)
        a.hourly = _hourly(in_full, full)
        a.hourly_test, a.hour_profile = _hour_shape(in_full)
        a.unobserved_months = unobserved
        out[sid] = a
    return out


def _full_months(win: Window) -> list[pd.Period]:
    first = win.start.to_period("M") if win.start == win.start.to_period("M").start_time \
        else win.start.to_period("M") + 1
    last = (win.end.to_period("M") - 1) if win.end < (win.end.to_period("M") + 1).start_time \
        else win.end.to_period("M")
    return list(pd.period_range(first, last, freq="M")) if first <= last else []


def _dispersion(counts: np.ndarray, shape: np.ndarray, fitted: int) -> Test | None:
    """Pearson's chi-square of daily counts against their expected values m_d (the mean
    times the weekday shape, when there is one): sum (x - m)^2 / m on d - ``fitted`` df."""
    if len(counts) <= fitted or counts.mean() == 0:
        return None
    m = counts.mean() / shape.mean() * shape
    keep = m > 0
    stat = float(((counts[keep] - m[keep]) ** 2 / m[keep]).sum())
    df = int(keep.sum()) - fitted
    name = ("chi-square dispersion of daily counts" if fitted == 1 else
            "chi-square dispersion of daily counts about the weekday shape")
    return Test(name, stat, df, float(st.chi2.sf(stat, df)))


def _relative_se(counts: np.ndarray, shape: np.ndarray, fitted: int) -> float:
    """Relative standard error of the total count from the days' squared residuals about
    their expected counts (scaled by d / (d - ``fitted``))."""
    m = counts.mean() / shape.mean() * shape
    d = len(counts)
    return math.sqrt(((counts - m) ** 2).sum() * d / max(d - fitted, 1)) / counts.sum()


def _inverse_k(x: np.ndarray, shape: np.ndarray, fitted: int) -> float:
    """1 / k by moments; the squares are scaled by d / (d - fitted) for the ``fitted``
    means estimated from the same days (the weekday shape and the level)."""
    m = x.mean() / shape.mean() * shape
    d = len(x)
    squares = ((x - m) ** 2).sum() * d / max(d - fitted, 1)
    return float((squares - m.sum()) / (m ** 2).sum())


def _day_effect(counts: np.ndarray, shape: np.ndarray, fitted: int, resamples: int = 400
                ) -> tuple[float | None, tuple[float, float] | None]:
    """Gamma shape k of the day effect by moments, and a bootstrap-over-days 95% interval."""
    inv = _inverse_k(counts, shape, fitted)
    if not inv > 0:
        return None, None
    rng = np.random.default_rng(20250601)  # a fixed stream: the same data, the same interval
    boot = []
    for _ in range(resamples):
        i = rng.integers(len(counts), size=len(counts))
        boot.append(_inverse_k(counts[i], shape[i], fitted))
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return 1 / inv, (1 / hi if hi > 0 else 0.0, 1 / lo if lo > 0 else math.inf)


def _hourly(created: pd.Series, days: pd.DatetimeIndex) -> list[list[float]] | None:
    if created.empty:
        return None
    grid = np.zeros((7, 24))
    np.add.at(grid, (created.dt.day_of_week.to_numpy(), created.dt.hour.to_numpy()), 1)
    return (grid / grid.sum()).round(6).tolist()


def _hour_shape(created: pd.Series) -> tuple[Test | None, list[float] | None]:
    """Chi-square of the counts per hour of day against flat, and the 24 multipliers (count
    / mean count) when it rejects. Dates without a time (most arrivals at exactly
    midnight) say nothing of the hour: no test."""
    if len(created) < 24 or (created == created.dt.normalize()).mean() > 0.5:
        return None, None
    counts = np.bincount(created.dt.hour.to_numpy(), minlength=24).astype(float)
    expected = counts.mean()
    stat = float(((counts - expected) ** 2 / expected).sum())
    test = Test("chi-square of counts per hour of day against flat", stat, 23,
                float(st.chi2.sf(stat, 23)))
    return test, ([float(f"{c / expected:.4g}") for c in counts] if test.rejects else None)


def _shape_test(kind: str, levels: pd.Series, exposure_levels, k: int, n: int,
                min_levels: int = 7):
    """Chi-square of counts per level against the days of each level in the period."""
    days = np.bincount(np.asarray(exposure_levels, int), minlength=k).astype(float)
    counts = np.bincount(levels.to_numpy().astype(int), minlength=k).astype(float)
    seen = days > 0
    if seen.sum() < min_levels or n == 0:
        return None, None, None
    expected = n * days[seen] / days[seen].sum()
    stat = float(((counts[seen] - expected) ** 2 / expected).sum())
    df = int(seen.sum()) - 1
    test = Test(f"chi-square of counts per {kind} against days in the period", stat, df,
                float(st.chi2.sf(stat, df)))
    overall = n / days[seen].sum()
    multipliers = [float(f"{c / d / overall:.4g}") if d else 1.0 for c, d in zip(counts, days,
                                                                                strict=True)]
    intervals = [tuple(x / overall for x in poisson_interval(int(c), d)) if d else (0.0, math.inf)
                 for c, d in zip(counts, days, strict=True)]
    return test, multipliers, intervals


def _drift(created: pd.Series, win: Window, index: float = 1.0) -> Test:
    """First against last quarter: the binomial test for Poisson counts; for over-dispersed
    ones (index D > 1) the quasi-Poisson z = (first - last) / sqrt(D n)."""
    quarter = (win.end - win.start) / 4
    first = int((created < win.start + quarter).sum())
    last = int((created >= win.end - quarter).sum())
    n = first + last
    if index > 1 and n:
        z = (first - last) / math.sqrt(index * n)
        return Test("quasi-Poisson test of arrivals in the first against the last quarter "
                    f"(dispersion {index:.3g})", float(first - last), n,
                    float(2 * st.norm.sf(abs(z))))
    p = float(st.binomtest(first, n, 0.5).pvalue) if n else 1.0
    return Test("binomial test of arrivals in the first against the last quarter",
                float(first - last), n, p)
