"""Time in stage from right-censored visits: censored maximum likelihood and Kaplan-Meier.

A visit still open at the export date lasted at least (export date - entry). Each candidate
family (exponential, lognormal, gamma, Weibull; location fixed at 0) is fitted by maximising

    sum over exits of log f(t) + sum over open visits of log S(t)

with :class:`scipy.stats.CensoredData`; the family with the lowest AIC = 2k - 2 log L wins.
Below :data:`MIN_EXITS` exits only the exponential is fitted (one parameter, its censored
MLE is exact: total time in stage / number of exits). The mean's 95% interval comes from
the observed information (the numerical Hessian of the log-likelihood in log-parameters)
by the delta method; the median's from the Kaplan-Meier curve and its confidence band.

Durations below the timestamps' resolution are zero: a visit left at once had no delay.
When at least :data:`ZERO_SHARE` of a stage's visits are zero, the stage is a hurdle: a
share of no delay (the zeros over all visits, its maximum likelihood: an open visit is
known not to be one) and a family fitted to the positive part, written as an empirical
distribution of 0 and the means of :data:`BINS` equal-probability bins of that family
(the scenario language has no mixture; the bin means keep its mean exactly). A chosen fit
whose cv exceeds :data:`MAX_FIT_CV` (a few extreme visits, or sub-resolution steps that
are not quite zero) is not written: the stage's time is :data:`KM_POINTS` equally likely
quantiles of its Kaplan-Meier curve instead (``empirical``), with a note naming it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from salessim.calibrate.forms import Hurdle, Steps, bin_means

#: Families tried, by their scenario name, with scipy's distribution and parameter count.
FAMILIES = {
    "exponential": (stats.expon, 1),
    "lognormal": (stats.lognorm, 2),
    "gamma": (stats.gamma, 2),
    "weibull": (stats.weibull_min, 2),
}
#: Fewer exits than this: only the exponential is fitted (and the report says so).
MIN_EXITS = 20
#: Durations are floored here (one minute, in days): a stage left the moment it was
#: entered has a time of zero, which no family with a log-density at 0 can hold.
MIN_DAYS = 1 / 1440
#: The fit of a stage every visit of which left at once (below the timestamps' resolution):
#: no delay at all, a point mass at 0.
NONE = "none"
#: The chosen family when no family is fit to be written: Kaplan-Meier quantiles.
EMPIRICAL = "empirical"
#: Share of zero durations from which a stage is a hurdle (no delay, or a fitted family).
ZERO_SHARE = 0.2
#: Equal-probability bins of a hurdle's positive part.
BINS = 20
#: A chosen fit with a larger cv is replaced by the Kaplan-Meier quantiles.
MAX_FIT_CV = 20.0
#: Equally likely Kaplan-Meier quantiles of the empirical form.
KM_POINTS = 50
Z95 = float(stats.norm.ppf(0.975))


@dataclass
class FamilyFit:
    """One family fitted to one stage's visits."""

    family: str
    params: tuple[float, ...]  # scipy's shape(s) and scale, loc fixed at 0
    loglik: float
    aic: float
    zeros: float = 0.0   # share of no delay (a hurdle); the family is the positive part's
    values: tuple[float, ...] = ()   # the empirical form's equally likely values

    @property
    def frozen(self):
        if self.family == NONE:
            return stats.rv_discrete(values=((0,), (1.0,)))
        if self.family == EMPIRICAL:
            return Steps(np.asarray(self.values, float), np.ones(len(self.values)))
        dist, _ = FAMILIES[self.family]
        base = dist(*self.params[:-1], loc=0, scale=self.params[-1])
        return Hurdle(self.zeros, base) if self.zeros else base

    @property
    def mean(self) -> float:
        return float(self.frozen.mean())

    @property
    def median(self) -> float:
        return float(self.frozen.median())

    def spec(self) -> dict[str, object]:
        """The family as a scenario distribution (``dist`` with its parameters)."""
        p = self.params
        if self.family == NONE:
            return {"dist": "constant", "value": 0}
        if self.family == EMPIRICAL:
            return {"dist": "empirical", "values": [_round(v) for v in self.values]}
        if self.zeros:
            means = bin_means(self.family, p, BINS, self.frozen.base)
            return {"dist": "empirical", "values": [0.0, *(_round(m) for m in means)],
                    "weights": [_round(self.zeros), *([_round((1 - self.zeros) / BINS)] * BINS)]}
        if self.family == "exponential":
            return {"dist": "exponential", "mean": _round(p[0])}
        if self.family == "weibull":
            return {"dist": "weibull", "shape": _round(p[0]), "scale": _round(p[1])}
        dist = self.frozen
        mean, sd = float(dist.mean()), float(dist.std())
        return {"dist": self.family, "mean": _round(mean), "cv": _round(sd / mean)}


@dataclass
class StageTimes:
    """Time in one stage: the chosen fit, the runner-up and the Kaplan-Meier estimate.

    Attributes:
        stage: scenario id of the stage.
        visits: visits seen; exits: of those, left in the period; censored: still open.
        fits: every family fitted, best AIC first.
        mean, mean_low, mean_high: the chosen family's mean and its 95% interval (days).
        median, median_low, median_high: the Kaplan-Meier median and its 95% interval.
        km: Kaplan-Meier curve (times, survival, lower band, upper band) for the report.
        note: why a simpler family or a fallback was used, if it was.
    """

    stage: str
    visits: int
    exits: int
    censored: int
    fits: list[FamilyFit]
    mean: float
    mean_low: float
    mean_high: float
    median: float
    median_low: float
    median_high: float
    km: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = field(repr=False)
    note: str = ""

    @property
    def chosen(self) -> FamilyFit:
        return self.fits[0]

    @property
    def runner_up(self) -> FamilyFit | None:
        return self.fits[1] if len(self.fits) > 1 else None


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def fit_stage(stage: str, durations: np.ndarray, open_: np.ndarray,
              family: FamilyFit | None = None, resolution: float = MIN_DAYS) -> StageTimes:
    """Fit the families to one stage's visits (days in stage, and whether still open).

    With ``family`` (a fit of the same stage on other data), only that family is fitted,
    by maximum likelihood started from its parameters (when it can be, and with at least
    :data:`MIN_EXITS` exits): the forecast's bootstrap re-estimates the parameters of the
    family chosen on the data, on each resample, at a small part of the cost (the mean's
    interval and the Kaplan-Meier curve and median are then left out: NaN and empty).

    Durations below ``resolution`` (days) were not measured: they are zero. A stage every
    exit of which is zero has no delay (:data:`NONE`, a point mass at 0); otherwise zeros
    are floored at ``resolution`` for the continuous families.
    """
    raw = np.asarray(durations, float)
    open_ = np.asarray(open_, bool)
    zero = raw < resolution
    if (~open_).any() and zero[~open_].all():
        return _no_delay(stage, raw, open_)
    exits_zero = zero & ~open_
    if exits_zero.sum() >= ZERO_SHARE * len(raw):
        return _hurdle(stage, raw, open_, exits_zero, family, resolution)
    x = np.maximum(raw, resolution)
    exits, censored = x[~open_], x[open_]
    note = ""
    if len(exits) == 0:
        # Never left in the data: the exponential's MLE needs one exit; assume one at the end
        # of the longest visit, which gives the shortest mean consistent with the data.
        note = (f"never left in the data ({len(censored)} open visits): time in stage "
                "assumed exponential with mean = total time observed (one exit assumed)")
        exits, censored = censored[:1], censored[1:]
    names = list(FAMILIES) if len(exits) >= MIN_EXITS else ["exponential"]
    if len(exits) < MIN_EXITS and not note:
        note = f"only {len(exits)} exits (< {MIN_EXITS}): exponential, the simplest family"
    fits = []
    if family is not None and family.family in names:
        fits = [f for f in (_refit(family, exits, censored),) if f is not None]
    if not fits:
        fits = [f for f in (_fit(name, exits, censored) for name in names) if f is not None]
    fits.sort(key=lambda f: f.aic)
    if family is not None:
        # A resample needs the estimate only: no intervals, no Kaplan-Meier curve.
        empty = np.array([])
        km, med = (empty, empty, empty, empty), math.nan
        mean_low = mean_high = med_low = med_high = math.nan
    else:
        mean_low, mean_high = _mean_interval(fits[0], exits, censored)
        km = _kaplan_meier(exits, censored)
        med, med_low, med_high = _km_median(*km)
        cv = fits[0].frozen.std() / fits[0].mean if fits[0].mean > 0 else math.inf
        if not cv <= MAX_FIT_CV and len(km[0]):
            # Not written: a family this extreme says more about a few visits than the
            # stage. The Kaplan-Meier quantiles are the data's own (see the module).
            note = (f"the best family ({fits[0].family}, cv {cv:.3g}) is no description "
                    f"of stage {stage!r} (cv over {MAX_FIT_CV:g}): its time is the "
                    f"{KM_POINTS} Kaplan-Meier quantiles instead")
            fits.insert(0, FamilyFit(EMPIRICAL, (), math.nan, math.nan,
                                     values=tuple(_km_quantiles(km[0], km[1]))))
            mean_low = mean_high = math.nan
    return StageTimes(stage, len(x), int((~open_).sum()), int(open_.sum()), fits,
                      fits[0].mean, mean_low, mean_high, med, med_low, med_high, km, note)


def _km_quantiles(times: np.ndarray, surv: np.ndarray) -> np.ndarray:
    """:data:`KM_POINTS` equally likely quantiles of a Kaplan-Meier curve; the mass it
    leaves above its last exit goes to the last age seen (the data show nothing later)."""
    cdf = 1 - surv
    probs = (np.arange(KM_POINTS) + 0.5) / KM_POINTS
    idx = np.searchsorted(cdf, probs, side="left")
    return times[np.clip(idx, 0, len(times) - 1)]


def _hurdle(stage: str, raw: np.ndarray, open_: np.ndarray, zero: np.ndarray,
            family: FamilyFit | None, resolution: float) -> StageTimes:
    """A share of no delay (zero exits over all visits: its maximum likelihood, since an
    open visit is known to be positive) and the families fitted to the positive part."""
    share = float(zero.sum() / len(raw))
    base = None if family is None else FamilyFit(family.family, family.params,
                                                 family.loglik, family.aic)
    positive = fit_stage(stage, raw[~zero], open_[~zero], base, resolution)
    fits = [f if f.family == EMPIRICAL else
            FamilyFit(f.family, f.params, f.loglik, f.aic, zeros=share)
            for f in positive.fits]
    if fits[0].family == EMPIRICAL:  # the positive part's quantiles, after the zeros
        n0 = round(share * KM_POINTS)
        values = np.quantile(np.asarray(fits[0].values), (np.arange(KM_POINTS - n0) + 0.5)
                             / max(KM_POINTS - n0, 1))
        fits[0] = FamilyFit(EMPIRICAL, (), math.nan, math.nan,
                            values=(*([0.0] * n0), *values))
    x = np.maximum(raw, resolution)
    if family is not None:
        empty = np.array([])
        km, med, med_low, med_high = (empty, empty, empty, empty), math.nan, math.nan, math.nan
    else:
        km = _kaplan_meier(x[~open_], x[open_])
        med, med_low, med_high = _km_median(*km)
    keep = 1 - share
    note = (f"{int(zero.sum())} of {len(raw)} visits ({share:.0%}) left below the "
            f"timestamps' resolution: a share of no delay and "
            + (f"a {fits[0].family} for the others (written as 0 and {BINS} bin means)"
               if fits[0].family != EMPIRICAL else "the others' Kaplan-Meier quantiles")
            + (f"; {positive.note}" if positive.note else ""))
    return StageTimes(stage, len(raw), int((~open_).sum()), int(open_.sum()), fits,
                      fits[0].mean, keep * positive.mean_low, keep * positive.mean_high,
                      med, med_low, med_high, km, note)


def _no_delay(stage: str, raw: np.ndarray, open_: np.ndarray) -> StageTimes:
    """Every exit at once: no delay. Open visits older than that are the data's doubt."""
    exits = int((~open_).sum())
    empty = np.array([])
    older = int((open_ & (raw > 0)).sum())
    note = (f"all {exits} exits below the timestamps' resolution: no delay"
            + (f" ({older} open visits are older than that: check them)" if older else ""))
    fit = FamilyFit(NONE, (0.0,), 0.0, 0.0)
    return StageTimes(stage, len(raw), exits, int(open_.sum()), [fit], 0.0, 0.0, 0.0, 0.0, 0.0,
                      0.0, (np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([0.0]))
                      if exits else (empty, empty, empty, empty), note)


def _fit(name: str, exits: np.ndarray, censored: np.ndarray) -> FamilyFit | None:
    dist, k = FAMILIES[name]
    if name == "exponential":
        params = ((exits.sum() + censored.sum()) / len(exits),)
    else:
        data = stats.CensoredData(uncensored=exits, right=censored) if len(censored) else exits
        try:
            with np.errstate(all="ignore"):
                fitted = dist.fit(data, floc=0)
        except (ValueError, RuntimeError, FloatingPointError):
            return None  # a family that cannot be fitted to these data is not a candidate
        params = tuple(p for i, p in enumerate(fitted) if i != len(fitted) - 2)  # drop loc
    ll = loglik(name, params, exits, censored)
    if not math.isfinite(ll):
        return None
    return FamilyFit(name, tuple(float(p) for p in params), ll, 2 * k - 2 * ll)


def _refit(start: FamilyFit, exits: np.ndarray, censored: np.ndarray) -> FamilyFit | None:
    """The censored MLE of ``start``'s family, from ``start``'s parameters (L-BFGS-B on the
    log-parameters: from a nearby start a few steps reach the maximum)."""
    from scipy.optimize import minimize

    name, k = start.family, FAMILIES[start.family][1]
    if name == "exponential":
        return _fit(name, exits, censored)

    def nll(t):
        ll = loglik(name, np.exp(t), exits, censored)
        return -ll if math.isfinite(ll) else 1e300

    with np.errstate(all="ignore"):
        found = minimize(nll, np.log(start.params), method="L-BFGS-B")
    ll = -float(found.fun)
    if not (found.success and math.isfinite(ll)) or ll < -1e299:
        return None
    return FamilyFit(name, tuple(float(p) for p in np.exp(found.x)), ll, 2 * k - 2 * ll)


def loglik(name: str, params, exits: np.ndarray, censored: np.ndarray) -> float:
    """Censored log-likelihood: log-density at exits plus log-survival at open visits."""
    dist, _ = FAMILIES[name]
    shapes, scale = tuple(params[:-1]), params[-1]
    with np.errstate(all="ignore"):
        ll = dist.logpdf(exits, *shapes, loc=0, scale=scale).sum()
        if len(censored):
            ll += dist.logsf(censored, *shapes, loc=0, scale=scale).sum()
    return float(ll)


def _mean_interval(fit: FamilyFit, exits: np.ndarray, censored: np.ndarray
                   ) -> tuple[float, float]:
    """95% interval of the fitted mean."""
    if fit.family == "exponential":
        # Exact for the exponential: 2 T / mean ~ chi-square with 2 d degrees of freedom.
        total, d = exits.sum() + censored.sum(), len(exits)
        return (2 * total / stats.chi2.ppf(0.975, 2 * d), 2 * total / stats.chi2.ppf(0.025, 2 * d))
    theta = np.log(fit.params)

    def nll(t):
        return -loglik(fit.family, np.exp(t), exits, censored)

    def log_mean(t):
        return math.log(FamilyFit(fit.family, tuple(np.exp(t)), 0, 0).mean)

    h = 1e-4
    k = len(theta)
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (nll(theta + ei + ej) - nll(theta + ei - ej)
                          - nll(theta - ei + ej) + nll(theta - ei - ej)) / (4 * h * h)
    grad = np.array([(log_mean(theta + np.eye(k)[i] * h) - log_mean(theta - np.eye(k)[i] * h))
                     / (2 * h) for i in range(k)])
    try:
        var = float(grad @ np.linalg.solve(hess, grad))
    except np.linalg.LinAlgError:
        return math.nan, math.nan
    if not var > 0:
        return math.nan, math.nan
    se = math.sqrt(var)
    return fit.mean * math.exp(-Z95 * se), fit.mean * math.exp(Z95 * se)


def _kaplan_meier(exits: np.ndarray, censored: np.ndarray):
    data = stats.CensoredData(uncensored=exits, right=censored) if len(censored) else exits
    sf = stats.ecdf(data).sf
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # Where the band is undefined (survival 0 or 1) it is filled with 0 and 1 below.
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(0.95)
    return (sf.quantiles, sf.probabilities, np.nan_to_num(band.low.probabilities, nan=0.0),
            np.nan_to_num(band.high.probabilities, nan=1.0))


def _km_median(times, surv, low, high) -> tuple[float, float, float]:
    """First time the curve (and its band) falls to 0.5 or below; inf if it never does."""
    def cross(curve):
        idx = np.flatnonzero(curve <= 0.5)
        return float(times[idx[0]]) if len(idx) else math.inf

    return cross(surv), cross(low), cross(high)


def km_cdf_at(times: np.ndarray, surv: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The Kaplan-Meier CDF (1 - survival) evaluated at ``t`` (a step function)."""
    idx = np.searchsorted(times, t, side="right") - 1
    return np.where(idx >= 0, 1 - surv[np.clip(idx, 0, None)], 0.0)
