"""Competing exits per stage: a latent time per exit, time-outs, and the choice of form.

For every stage with two or more exits seen:

1. The Aalen-Johansen cumulative incidence of each exit (:mod:`.incidence`): what the
   data say without a model, the check of both forms below.
2. A time-out (:mod:`.timeout`): a jump in one exit's incidence at a fixed age. Its exits
   are time-outs; for every latent time they are censored at their age.
3. Each exit's latent time, fitted with censoring per cause: its own exits are events;
   the other exits, the open visits and the time-outs are right-censored (a visit that
   left by another exit at age t tells that this exit's time was > t). The families of
   :mod:`.durations` by AIC; where the chosen family leaves the exit's own Kaplan-Meier
   band at more than :data:`MISFIT_SHARE` of its exit ages, an empirical latent time (the
   Kaplan-Meier quantiles) instead.
4. The form: the current one (one time in stage, then shares of the exits) or ``exits``.
   Both are models of the same data, (age, exit) per visit, so their joint likelihoods
   compare: for ``next``, log L = the time's censored log-likelihood + sum n_k log p_k;
   for ``exits``, the sum of the latent times' censored log-likelihoods (the product of
   f_k(t) and the other exits' S_j(t) at an exit, of every S_j(t) at an open visit).
   ``exits`` is written when its AIC is lower by more than :data:`DELTA_AIC` (strong
   evidence: the simpler, bit-identical current form keeps the benefit of the doubt).
   The check: each form's implied incidence against the Aalen-Johansen estimate at the
   deciles of the exit ages, as z = (model - estimate) / se, with a Bonferroni bound.
5. Odds that depend on the deal (:mod:`.odds`): value and the visit to the stage (a
   second or later visit, in either form), written when the likelihood-ratio test's p is
   below ALPHA / stages tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from salessim.calibrate.durations import FamilyFit, StageTimes, fit_stage
from salessim.calibrate.exitcurves import check as _check
from salessim.calibrate.exitcurves import exits_cif as exits_cif  # part of this API
from salessim.calibrate.exitcurves import frozen_spec as frozen_spec  # part of this API
from salessim.calibrate.exitcurves import next_cif as next_cif  # part of this API
from salessim.calibrate.incidence import Incidence, aalen_johansen, incidence_shares
from salessim.calibrate.odds import Factor, odds_factors, time_factors
from salessim.calibrate.timeout import Timeout, find_timeout
from salessim.calibrate.visits import NURTURE, Visits
from salessim.ends import END_NAMES, is_forward

#: The exits form needs an AIC lower than the current form's by more than this.
DELTA_AIC = 10.0
#: A value or visit factor is written when its p-value is below ALPHA / stages tested.
ALPHA = 0.01
#: A family fits a latent time unless it is outside the Kaplan-Meier band this often.
MISFIT_SHARE = 1 / 3
#: Points of an empirical latent time (quantiles of its Kaplan-Meier curve).
EMPIRICAL_POINTS = 40
CHECK_LEVEL = 0.05


@dataclass
class CauseFit:
    """One exit's latent time.

    Attributes:
        cause: the exit (a stage id or an end).
        exits: visits that left by it (time-outs excluded).
        times: its censored fits (:func:`salessim.calibrate.durations.fit_stage`).
        median, median_low, median_high: the latent time's median and 95% interval, from
            its Kaplan-Meier curve, or from the chosen family where that curve stays above
            one half (``median_from`` says which).
        misfit: share of its exit ages where the chosen family is outside the band.
        spec: the scenario distribution written (the family, or ``empirical``).
    """

    cause: str
    exits: int
    times: StageTimes
    median: float
    median_low: float
    median_high: float
    median_from: str
    misfit: float
    spec: dict[str, Any]


@dataclass
class StageExits:
    """What the data say about one stage's exits, and the form chosen for it."""

    stage: str
    visits: int
    causes: list[str]
    incidence: Incidence
    timeout: Timeout | None
    fits: dict[str, CauseFit]
    current: StageTimes | None
    shares: dict[str, float]
    counts: dict[str, int]
    loglik: dict[str, float]
    aic: dict[str, float]
    check: dict[str, float]
    check_bound: float
    form: str
    why: str
    reference: float = math.nan
    value: Factor | None = None
    visit: Factor | None = None
    written: dict[str, bool] = field(default_factory=dict)
    staffed: bool = False  # staff work in the stage: the writer keeps its current form

    @property
    def value_odds(self) -> dict[str, float] | None:
        """The ``value_odds`` key to write, or None when the test does not reject."""
        if self.value is None or not self.written.get("value"):
            return None
        return {"reference": self.reference, "per_doubling": float(f"{self.value.factor:.4g}")}

    @property
    def visit_odds(self) -> list[float] | None:
        if self.visit is None or not self.written.get("visit"):
            return None
        return [1.0, float(f"{self.visit.factor:.4g}")]


def _codes(visits: Visits, group) -> tuple[np.ndarray, list[str]]:
    targets = [None if pd.isna(s) else visits.target(s) for s in group["next_stage"]]
    causes = sorted({t for t in targets if t is not None})
    code = np.array([-1 if t is None else causes.index(t) for t in targets], int)
    return code, causes


def fit_exits(visits: Visits, resolution: float, times: dict[str, StageTimes] | None = None,
              families: dict[str, Any] | None = None) -> dict[str, StageExits]:
    """Every stage's exits analysis (stages with two or more exits seen; not nurture).

    Args:
        visits: the export's visits; resolution: of their times (days).
        times: the stages' fits of time in stage (reused where no time-out censors them).
        families: a re-fit on resampled data (the forecast's bootstrap) keeps the choices
            of the original (:func:`chosen_families`): a stage is analysed when it has a
            ``"stage->..."`` key, fitted in the exits form exactly when it has
            ``"stage->exit"`` keys (each exit in its family, started from its parameters),
            has the original's time-out (or none: a resample's copies of a deal, exits
            at one age, must not make one), and its value and visit odds
            exactly when the original wrote them (their factors re-estimated).
    """
    v = visits.visits
    durations = visits.durations().to_numpy()
    amounts = v["amount"].to_numpy(float) if "amount" in v else np.full(len(v), np.nan)
    positive = amounts[np.isfinite(amounts) & (amounts > 0)]
    reference = float(f"{np.median(positive):.2g}") if len(positive) else math.nan
    visit_no = v.groupby(["deal_id", "stage"], sort=False).cumcount().to_numpy() + 1
    stage_ids = {visits.target(s) for s in v["stage"]}
    progress = {s: s != NURTURE for s in stage_ids}
    out = {}
    for stage, idx in v.groupby("stage", sort=False).indices.items():
        sid = visits.target(stage)
        code, causes = _codes(visits, v.iloc[idx])
        if sid == NURTURE or len(causes) < 2:
            continue
        if families is not None and not any(k.startswith(f"{sid}->") for k in families):
            continue  # a re-fit keeps the original's choices: none made here
        race = families is None or any(f"{sid}->{c}" in families for c in causes)
        kept = None if families is None else families.get(f"{sid}{CHOICE}timeout")
        out[sid] = _stage(sid, np.maximum(durations[idx], 0.0), code, causes, resolution,
                          (times or {}).get(sid), families, race, kept)
        forward = np.array([is_forward(c, progress) if c in progress or c in _ENDS else True
                            for c in causes])
        x = np.log2(amounts[idx] / reference) if len(positive) else None
        _odds(out[sid], durations[idx], code, forward, x, visit_no[idx], reference,
              families is None)
    tested = sum(s.value is not None for s in out.values()) or 1
    for sid, s in out.items():
        s.written = {key: f is not None and (f.p < ALPHA / tested if families is None else
                                             f"{sid}{CHOICE}{key}" in families)
                     for key, f in (("value", s.value), ("visit", s.visit))}
    return out


_ENDS = END_NAMES
#: Prefix of the keys of :func:`chosen_families` that carry a choice rather than a family
#: (stage ids and ends are slugs: no exit is named like them).
CHOICE = "->*"


def chosen_families(cal) -> dict[str, Any]:
    """The fits and choices a re-fit on resampled data keeps (the ``families`` of
    :func:`salessim.calibrate.estimate.calibrate`): every stage's time in stage, each
    exit's latent time in the stages written in the exits form, and per analysed stage
    keys ``stage->*`` (the stage was analysed), ``stage->*timeout`` (its
    :class:`~salessim.calibrate.timeout.Timeout`), ``stage->*value`` and ``stage->*visit``
    (the odds the original wrote; these hold the stage's time fit, unused). Without them
    a resample lost the time-out and value odds of every stage in the current form: on
    the exits generator the bootstrap bands came out about 20% low."""
    out = {sid: t.chosen for sid, t in cal.times.items()}
    for sid, s in (getattr(cal, "exits", None) or {}).items():
        mark = cal.times[sid].chosen
        out[f"{sid}{CHOICE}"] = mark
        if s.form == "exits":
            out.update({f"{sid}->{c}": f.times.chosen for c, f in s.fits.items()})
        if s.timeout is not None:
            out[f"{sid}{CHOICE}timeout"] = s.timeout
        out.update({f"{sid}{CHOICE}{key}": mark for key, on in s.written.items() if on})
    return out


def _stage(sid: str, t: np.ndarray, code: np.ndarray, causes: list[str], resolution: float,
           known: StageTimes | None = None, families: dict[str, Any] | None = None,
           race: bool = True, kept: Timeout | None = None) -> StageExits:
    inc = aalen_johansen(t, code, causes)
    timeout = find_timeout(sid, t, code, causes) if families is None else kept
    stopped = timeout.hits(t, code, causes) if timeout else np.zeros(len(t), bool)
    fits = {}
    for k, cause in enumerate(causes):
        hit = (code == k) & ~stopped
        if not hit.any() or not race:
            continue
        fits[cause] = _cause(sid, cause, t, hit, resolution, timeout,
                             None if families is None else families.get(f"{sid}->{cause}"))
    closed = (code >= 0) & ~stopped
    current = (known if known is not None and timeout is None else
               fit_stage(sid, t, ~closed, (families or {}).get(sid), resolution))
    counts = {c: int(((code == k) & ~stopped).sum()) for k, c in enumerate(causes)}
    counts = {c: m for c, m in counts.items() if m}
    n = sum(counts.values())
    # The shares written: the incidence at the longest follow-up, time-outs censored (the
    # closed share over-represents fast exits); the likelihood is the form's own maximum.
    shares = incidence_shares(t, np.where(stopped, -1, code), causes).shares
    ll_next = current.chosen.loglik + sum(m * math.log(m / n) for m in counts.values() if m)
    k_next = len(current.chosen.params) + len(shares) - 1
    ll_exits = sum(f.times.chosen.loglik for f in fits.values())
    k_exits = sum(len(f.times.chosen.params) for f in fits.values())
    loglik = {"next": ll_next, "exits": ll_exits}
    aic = {"next": 2 * k_next - 2 * ll_next, "exits": 2 * k_exits - 2 * ll_exits}
    ages = np.quantile(t[code >= 0], np.linspace(0.1, 0.9, 9))
    check = {"next": _check(inc, ages, next_cif(current.chosen, shares, timeout)),
             "exits": _check(inc, ages, exits_cif({c: f.spec for c, f in fits.items()},
                                                   timeout)) if fits else math.nan}
    bound = float(stats.norm.ppf(1 - CHECK_LEVEL / (2 * len(ages) * len(causes))))
    usable = current.chosen.family != "none" and len(fits) >= 2
    gain = aic["next"] - aic["exits"]
    form = "exits" if usable and (gain > DELTA_AIC if families is None else True) else "next"
    why = (f"AIC of the joint (time, exit) likelihood: next {aic['next']:.1f}, exits "
           f"{aic['exits']:.1f} (exits {'lower' if gain > 0 else 'higher'} by {abs(gain):.1f}; "
           f"exits is chosen when lower by more than {DELTA_AIC:g}); Aalen-Johansen check, "
           f"largest |z| at the deciles of the exit ages: next {check['next']:.2f}, exits "
           f"{check['exits']:.2f} (bound {bound:.2f})")
    if not race:
        aic["exits"] = loglik["exits"] = math.nan
        why = "a re-fit keeps the original's form: one time and shares"
    elif not usable:
        why = "one time and shares: " + ("no time in stage to race" if len(fits) >= 2 else
                                         "fewer than two exits outside time-outs")
    return StageExits(sid, len(t), causes, inc, timeout, fits, current, shares, counts, loglik,
                      aic, check, bound, form, why)


def _cause(sid: str, cause: str, t: np.ndarray, hit: np.ndarray, resolution: float,
           timeout: Timeout | None, family: FamilyFit | None = None) -> CauseFit:
    times = fit_stage(f"{sid}->{cause}", t, ~hit, family, resolution)
    chosen = times.chosen
    km_t, km_s, km_lo, km_hi = times.km
    misfit = 0.0
    if len(km_t) and chosen.family != "none":
        model = chosen.frozen.sf(km_t)
        misfit = float(np.mean((model < km_lo - 1e-12) | (model > km_hi + 1e-12)))
    if family is not None:  # a re-fit keeps the estimate only (no curve, no interval)
        med, lo, hi, how = chosen.median, math.nan, math.nan, "fitted family"
    elif math.isfinite(times.median):
        med, lo, hi, how = times.median, times.median_low, times.median_high, "Kaplan-Meier"
    else:
        med, (lo, hi), how = chosen.median, _median_interval(chosen, t, hit), "fitted family"
    spec = chosen.spec()
    if misfit > MISFIT_SHARE and int(hit.sum()) >= 20:
        spec = empirical_spec(km_t, km_s, None if timeout is None else timeout.window[1])
    return CauseFit(cause, int(hit.sum()), times, med, lo, hi, how, misfit, spec)


def empirical_spec(km_t: np.ndarray, km_s: np.ndarray, beyond: float | None
                   ) -> dict[str, Any]:
    """A latent time as :data:`EMPIRICAL_POINTS` equally likely quantiles of its Kaplan-
    Meier curve. The mass the curve leaves above its last exit goes to ``beyond`` (past a
    time-out, where any age behaves the same) or, without one, to the last age seen (an
    assumption: the data show nothing later)."""
    cdf = 1 - km_s
    top = float(cdf[-1]) if len(cdf) else 0.0
    probs = (np.arange(EMPIRICAL_POINTS) + 0.5) / EMPIRICAL_POINTS
    tail = beyond + 1.0 if beyond is not None else float(km_t[-1])
    idx = np.searchsorted(cdf, probs, side="left")
    values = np.where(probs <= top, km_t[np.clip(idx, 0, len(km_t) - 1)], tail)
    return {"dist": "empirical", "values": [float(f"{x:.6g}") for x in values]}


def _median_interval(fit: FamilyFit, t: np.ndarray, hit: np.ndarray) -> tuple[float, float]:
    """95% interval of a fitted family's median (delta method on the log-parameters)."""
    from salessim.calibrate.durations import loglik

    x = np.maximum(t, 1e-9)
    exits, censored = x[hit], x[~hit]
    theta = np.log(fit.params)

    def nll(th):
        return -loglik(fit.family, np.exp(th), exits, censored)

    def log_median(th):
        return math.log(FamilyFit(fit.family, tuple(np.exp(th)), 0, 0).median)

    k, h = len(theta), 1e-3
    eye = np.eye(k) * h
    hess = np.array([[(nll(theta + eye[i] + eye[j]) - nll(theta + eye[i] - eye[j])
                       - nll(theta - eye[i] + eye[j]) + nll(theta - eye[i] - eye[j]))
                      / (4 * h * h) for j in range(k)] for i in range(k)])
    grad = np.array([(log_median(theta + eye[i]) - log_median(theta - eye[i])) / (2 * h)
                     for i in range(k)])
    try:
        var = float(grad @ np.linalg.solve(hess, grad))
    except np.linalg.LinAlgError:
        return math.nan, math.nan
    if not var > 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.975)) * math.sqrt(var)
    return fit.median * math.exp(-z), fit.median * math.exp(z)


def _odds(s: StageExits, t: np.ndarray, code: np.ndarray, forward: np.ndarray,
          x: np.ndarray | None, visit_no: np.ndarray, reference: float,
          interval: bool = True) -> None:
    """Value (and visit) factors of a stage that has forward and other exits (a re-fit,
    ``interval`` False, skips the exits form's profile interval)."""
    if forward.all() or not forward.any() or x is None:
        return
    s.reference = reference
    known = np.isfinite(x)
    if s.form == "next":
        closed = (code >= 0) & known
        moved = forward[np.clip(code, 0, None)] & closed
        second = (visit_no >= 2)[closed]
        factors = odds_factors(moved[closed], x[closed],
                               second if second.sum() >= 20 else None)
        s.value, s.visit = factors.get("per_doubling"), factors.get("second_visit")
        return
    stopped = s.timeout.hits(t, code, s.causes) if s.timeout else np.zeros(len(t), bool)
    fwd = [c for k, c in enumerate(s.causes) if forward[k] and c in s.fits]
    fits = [s.fits[c].times.chosen for c in fwd]
    if not fits:
        return
    hits = [((code == s.causes.index(c)) & ~stopped)[known] for c in fwd]
    second = (visit_no >= 2)[known].astype(float)
    covariates = {"per_doubling": x[known],
                  **({"second_visit": second} if second.sum() >= 20 else {})}
    factors = time_factors(fits, t[known], hits, covariates, interval)
    s.value, s.visit = factors.get("per_doubling"), factors.get("second_visit")
