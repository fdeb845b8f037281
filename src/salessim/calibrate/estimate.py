"""Estimators: arrivals, routing, time in stage, deal values and staff, each with its CI.

- Arrivals per source: a Poisson rate n / days with its exact (Garwood) interval. The
  daily counts get the chi-square dispersion test (sum (x - mean)^2 / mean on d - 1 degrees
  of freedom); the counts per weekday and per calendar month get a chi-square test against
  their exposure (days of that kind in the period). A shape whose test rejects flatness at
  :data:`ALPHA` becomes a ``profile`` of multipliers (rate of that weekday / overall rate).
  A long export (>= 90 days) whose first and last quarter differ (conditional binomial test)
  is reported as drift.
- Routing per stage: multinomial shares of the exits seen, Wilson intervals; open visits
  count for no exit.
- Time in stage: :mod:`salessim.calibrate.durations` (right-censored).
- Deal value per source: lognormal by maximum likelihood on log amounts (mean with a
  Student-t interval on the amounts); below :data:`MIN_VALUES` amounts the empirical values.
- Staff: distinct owners active (entering a visit) per calendar month; the median is the
  headcount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as st

from salessim import stats
from salessim.calibrate.durations import FamilyFit, StageTimes, fit_stage
from salessim.calibrate.readers import slug
from salessim.calibrate.visits import DAY, Visits

ALPHA = 0.01
MIN_VALUES = 20
DRIFT_DAYS = 90
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def poisson_interval(count: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson rate from ``count`` events in ``exposure``."""
    a = 1 - level
    low = st.chi2.ppf(a / 2, 2 * count) / 2 if count > 0 else 0.0
    high = st.chi2.ppf(1 - a / 2, 2 * count + 2) / 2
    return low / exposure, high / exposure


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    if n == 0:
        return 0.0, 1.0
    z = st.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


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
    """Arrivals of one source over the period."""

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


@dataclass
class Routing:
    """Where visits of one stage went: counts, shares and Wilson intervals per target."""

    stage: str
    exits: int
    open: int
    counts: dict[str, int]
    shares: dict[str, float]
    intervals: dict[str, tuple[float, float]]


@dataclass
class Values:
    """Deal values of one source."""

    source: str
    n: int
    spec: dict[str, object]
    mean: float
    low: float
    high: float
    note: str = ""


@dataclass
class Calibration:
    """Everything estimated from one export, with the visits it came from."""

    visits: Visits
    entry: str
    arrivals: dict[str, Arrivals]
    routing: dict[str, Routing]
    times: dict[str, StageTimes]
    values: dict[str, Values]
    headcount: int | None
    owners_per_month: dict[str, int]
    touch: dict[str, float]
    warnings: list[str]
    assumptions: list[str]


def fit_arrivals(visits: Visits) -> dict[str, Arrivals]:
    """Arrival rate, dispersion, weekly and monthly shape and drift per source."""
    days = pd.date_range(visits.start, visits.as_of.floor("D"), freq="D")
    exposure = visits.days
    out = {}
    for source, group in visits.deals.groupby("source", sort=True):
        sid = slug(source)
        created = group["created_at"]
        daily = created.dt.floor("D").value_counts().reindex(days, fill_value=0).sort_index()
        n = int(len(created))
        low, high = poisson_interval(n, exposure)
        rate = n / exposure
        dispersion = _dispersion(daily.to_numpy())
        weekly_test, weekly, weekly_ci = _shape_test(
            "weekday", created.dt.day_of_week, days.day_of_week, 7, n)
        monthly_test, monthly, _ = _shape_test("month", created.dt.month - 1, days.month - 1,
                                               12, n, min_levels=3)
        drift = _drift(created, visits) if exposure >= DRIFT_DAYS else None
        out[sid] = Arrivals(sid, n, exposure, rate, low, high, dispersion, weekly_test,
                            monthly_test, weekly if weekly_test and weekly_test.rejects else None,
                            weekly_ci, monthly if monthly_test and monthly_test.rejects else None,
                            drift, daily)
    return out


def _dispersion(counts: np.ndarray) -> Test | None:
    if len(counts) < 2 or counts.mean() == 0:
        return None
    stat = float(((counts - counts.mean()) ** 2).sum() / counts.mean())
    df = len(counts) - 1
    return Test("chi-square dispersion of daily counts", stat, df, float(st.chi2.sf(stat, df)))


def _shape_test(kind: str, levels: pd.Series, exposure_levels, k: int, n: int,
                min_levels: int = 7):
    """Chi-square of counts per level against the days of each level in the period."""
    days = np.bincount(np.asarray(exposure_levels), minlength=k).astype(float)
    counts = np.bincount(levels.to_numpy(), minlength=k).astype(float)
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


def _drift(created: pd.Series, visits: Visits) -> Test:
    quarter = (visits.as_of - visits.start) / 4
    first = int((created < visits.start + quarter).sum())
    last = int((created >= visits.as_of - quarter).sum())
    n = first + last
    p = float(st.binomtest(first, n, 0.5).pvalue) if n else 1.0
    return Test("binomial test of arrivals in the first against the last quarter",
                float(first - last), n, p)


def fit_routing(visits: Visits) -> dict[str, Routing]:
    """Shares of the exits of each stage, loops and skips included."""
    v = visits.visits
    out = {}
    for stage, group in v.groupby("stage", sort=False):
        closed = group["next_stage"].dropna()
        counts = closed.map(visits.target).value_counts()
        n = int(counts.sum())
        targets = {str(t): int(c) for t, c in counts.items()}
        out[visits.target(stage)] = Routing(
            visits.target(stage), n, int(group["next_stage"].isna().sum()), targets,
            {t: c / n for t, c in targets.items()},
            {t: wilson(c, n) for t, c in targets.items()})
    return out


def fit_times(visits: Visits, families: dict[str, FamilyFit] | None = None
              ) -> dict[str, StageTimes]:
    """Right-censored time in stage of every stage (only ``families[stage]``'s family, if
    given, started from its parameters)."""
    v = visits.visits
    durations = visits.durations().to_numpy()
    is_open = v["exited_at"].isna().to_numpy()
    out = {}
    for stage, idx in v.groupby("stage", sort=False).indices.items():
        sid = visits.target(stage)
        out[sid] = fit_stage(sid, durations[idx], is_open[idx], (families or {}).get(sid))
    return out


def fit_values(visits: Visits) -> dict[str, Values]:
    """Deal value per source, from each deal's amount at its end."""
    out = {}
    for source, group in visits.deals.groupby("source", sort=True):
        sid = slug(source)
        amounts = group["amount"].dropna().to_numpy(float)
        est = stats.t_interval(amounts) if len(amounts) else None
        if len(amounts) == 0:
            out[sid] = Values(sid, 0, {"dist": "constant", "value": 0}, 0.0, math.nan, math.nan,
                              "no amounts: deal value 0")
        elif len(amounts) < MIN_VALUES or (amounts <= 0).any():
            why = (f"only {len(amounts)} amounts" if len(amounts) < MIN_VALUES
                   else "amounts of 0 present")
            values = sorted({float(a) for a in amounts})
            weights = [int((amounts == a).sum()) for a in values]
            spec = {"dist": "empirical", "values": values}
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


def owners_per_month(visits: Visits) -> dict[str, int]:
    """Distinct owners entering a visit in each calendar month."""
    v = visits.visits.dropna(subset=["owner"])
    if v.empty:
        return {}
    month = v["entered_at"].dt.strftime("%Y-%m")
    return {str(m): int(c) for m, c in v.groupby(month)["owner"].nunique().items()}


def entry_stage(visits: Visits) -> tuple[str, list[str]]:
    """The stage most deals start in; a warning when some start elsewhere."""
    first = visits.visits.drop_duplicates("deal_id", keep="first")["stage"].map(visits.target)
    counts = first.value_counts()
    entry = str(counts.index[0])
    others = int(counts.iloc[1:].sum())
    warnings = []
    if others:
        warnings.append(f"several first stages: {others} of {len(first)} deals start in a stage "
                        f"other than {entry!r} (an export that starts mid-stream); the scenario "
                        f"sends every new lead to {entry!r}")
    return entry, warnings


def _logged_touch(visits: Visits, given: dict[str, float]) -> dict[str, float]:
    """Mean logged staff time per visit of each stage (days), where the export has it."""
    if "touch" not in visits.visits:
        return {}
    v = visits.visits.dropna(subset=["touch"])
    means = v.groupby(v["stage"].map(visits.target))["touch"].mean()
    return {str(s): float(m) for s, m in means.items() if m > 0 and s not in given}


def calibrate(visits: Visits, touch: dict[str, float] | None = None,
              families: dict[str, FamilyFit] | None = None) -> Calibration:
    """Every estimate from one export.

    Args:
        visits: the normalised visits (:func:`salessim.calibrate.visits.build_visits`).
        touch: staff work per stage in days (``--touch``), taken out of the stage's delay.
        families: per stage id, the only family of time in stage to fit, with the
            parameters to start from (the forecast's bootstrap keeps the fits chosen on
            the data); default: every family, chosen by AIC.
    """
    touch = dict(touch or {})
    logged = _logged_touch(visits, touch)
    touch.update(logged)
    warnings = list(visits.warnings)
    entry, more = entry_stage(visits)
    warnings += more
    arrivals = fit_arrivals(visits)
    routing = fit_routing(visits)
    times = fit_times(visits, families)
    unknown = sorted(set(touch) - set(times))
    if unknown:
        from salessim.calibrate.readers import ExportError

        raise ExportError(f"--touch {unknown[0]}: no such stage (stages: {', '.join(times)})")
    for sid, fit in times.items():
        if fit.exits == 0:
            warnings.append(f"stage never left: {sid!r} has {fit.censored} visits and none "
                            "ended; its time and routing are assumptions")
        elif fit.exits < 20:
            warnings.append(f"tiny sample: {sid!r} has only {fit.exits} exits; {fit.note}")
    for sid, a in arrivals.items():
        if a.n < 20:
            warnings.append(f"tiny sample: source {sid!r} has only {a.n} deals")
        if a.drift is not None and a.drift.rejects:
            warnings.append(f"drift: source {sid!r} had {a.drift.statistic:+.0f} more arrivals "
                            f"in the first quarter of the period than in the last "
                            f"(p = {a.drift.p:.2g}); a flat rate may not describe it")
    owners = owners_per_month(visits)
    headcount = int(round(float(np.median(list(owners.values()))))) if owners else None
    assumptions = [
        "time in stage in a CRM is queue + staff work + customer-side time together; it "
        "cannot be split without activity data, so the whole time in stage is the stage's "
        "customer-side delay" + (" less the staff work given by --touch" if touch else ""),
        "a lead arrives when its deal is created and enters the stage most deals start in",
        "deal value is each deal's amount at its end",
    ]
    if headcount is None:
        assumptions.append("no owners in the data: no staff roles")
    for sid, days in logged.items():
        assumptions.append(f"staff work of {sid!r} is the mean logged activity time of its "
                           f"visits ({days * 24:.3g} hours), exponential")
    return Calibration(visits, entry, arrivals, routing, times, fit_values(visits), headcount,
                       owners, touch, warnings, assumptions)


__all__ = ["DAY", "Calibration", "WEEKDAYS", "calibrate", "poisson_interval", "wilson"]
