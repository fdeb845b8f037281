"""Warnings a careful analyst would raise about a calibration, each with what to do.

Each check is a pure function of the estimates and returns sentences that start with the
warning's kind (``extreme fit: ...``), as every calibration warning does; they are printed
on the terminal and written to the report and to ``calibration.json``.

- extreme fit: the chosen family's cv above :data:`MAX_CV` or its mean above
  :data:`MAX_MEAN_MEDIAN` times its median;
- a jump in the Kaplan-Meier curve: one short span of ages (a bin of width
  max(median / 50, resolution), or a day) holding at least :data:`JUMP_SHARE` of a
  stage's exits and :data:`JUMP_FACTOR` times the mean of the ten bins either side: a
  time-out or a batch rule;
- durations at the resolution: at least :data:`AT_RESOLUTION` of a stage's exits below it;
- over-dispersed arrivals; stages with too few visits for their fit;
- resources in several roles (from the staff found in the log).
"""

from __future__ import annotations

import math

import numpy as np

from salessim.calibrate.arrivals import Arrivals
from salessim.calibrate.durations import EMPIRICAL, NONE, StageTimes

MAX_CV = 3.0
MAX_MEAN_MEDIAN = 3.0
JUMP_SHARE = 0.02
JUMP_FACTOR = 8.0
AT_RESOLUTION = 0.2
MIN_VISITS = 20


def fit_warnings(sid: str, t: StageTimes) -> list[str]:
    """Extreme cv or mean-to-median ratio of the chosen fit."""
    fit = t.chosen
    if fit.family == NONE or not t.exits:
        return []
    if fit.family == EMPIRICAL:
        return [f"extreme fit: {t.note}. Look for a time-out or batch rule, cases that were "
                "never closed, or two kinds of visit in one stage; split the stage or cut "
                "the long tail in the stage map"]
    # A hurdle's share of no delay is no tail: the check is of its positive part.
    dist = fit.frozen.base if fit.zeros else fit.frozen
    mean, median, sd = float(dist.mean()), float(dist.median()), float(dist.std())
    cv = sd / mean if mean > 0 else math.nan
    ratio = mean / median if median > 0 else math.inf
    if cv > MAX_CV or ratio > MAX_MEAN_MEDIAN:
        return [f"extreme fit: stage {sid!r} is fitted by a {fit.family} with cv {cv:.3g} "
                f"(mean {ratio:.3g} times the median): a few very long visits set the mean. "
                "Look for a time-out or batch rule (a jump in its Kaplan-Meier curve), cases "
                "that were never closed, or two kinds of visit in one stage; split the stage "
                "or cut the long tail in the stage map"]
    return []


def jump_warnings(sid: str, durations: np.ndarray, is_open: np.ndarray,
                  resolution: float) -> list[str]:
    """A time-out or batch rule: many exits at nearly the same age (at either bin width:
    a fiftieth of the median, or a day; the first two bins, instantaneous
    steps, are the resolution check's)."""
    exits = np.asarray(durations, float)[~np.asarray(is_open, bool)]
    exits = exits[exits > 0]
    if len(exits) < 50:
        return []
    found: dict[tuple[float, float], str] = {}   # (age, bin width) -> warning
    for width in sorted({max(float(np.median(exits)) / 50, resolution), 1.0}):
        nbins = int(min(float(exits.max()) / width + 1, 20000))
        counts, edges = np.histogram(exits, bins=nbins, range=(0, nbins * width))
        for i in np.argsort(counts)[::-1][:10]:
            c = int(counts[i])
            if c < max(20, JUMP_SHARE * len(exits)):
                break
            around = np.concatenate([counts[max(0, i - 10):i], counts[i + 1:i + 11]])
            typical = float(np.mean(around)) if len(around) else 0.0
            age = (edges[i] + edges[i + 1]) / 2
            # A jump already found at the other width is the same jump (within a bin).
            same = any(abs(age - a) <= max(width, w) for a, w in found)
            if i < 2 or c < JUMP_FACTOR * max(typical, 1.0) or same:
                continue
            found[(age, width)] = (
                f"jump in the Kaplan-Meier curve: stage {sid!r}: {c} of {len(exits)} exits "
                f"({c / len(exits):.0%}) happen at an age of {age:.3g} days (a time-out or a "
                "batch rule?). A fitted family smears it out: model the rule itself (e.g. a "
                "patience or a fixed delay to the exit it feeds) or check the exits at that "
                "age in the log")
    return list(found.values())


def resolution_warnings(sid: str, durations: np.ndarray, is_open: np.ndarray,
                        resolution: float) -> list[str]:
    """Many exits shorter than the timestamps can tell apart."""
    exits = np.asarray(durations, float)[~np.asarray(is_open, bool)]
    if not len(exits):
        return []
    share = float((exits < resolution).mean())
    if AT_RESOLUTION <= share < 1:
        return [f"durations at the resolution: {share:.0%} of the exits of stage {sid!r} are "
                f"shorter than the timestamps' resolution ({resolution * 86400:.3g} s): they "
                "had no delay, and the stage's time is that share of no delay and a fit of "
                "the others (a hurdle). If they are instantaneous system steps, not visits "
                "of the stage, merge those activities into the stage before or after in the "
                "stage map"]
    return []


def arrival_warnings(a: Arrivals) -> list[str]:
    out = []
    if a.dispersion is not None and a.dispersion.rejects:
        k = ("" if a.day_effect is None or a.day_effect_ci is None else
             f"; as a gamma-Poisson day effect, shape k = {a.day_effect:.3g} "
             f"(95% CI [{a.day_effect_ci[0]:.3g}, {a.day_effect_ci[1]:.3g}])")
        out.append(f"over-dispersed arrivals: source {a.source!r}: daily counts vary "
                   f"{a.index:.3g} times as much as Poisson (chi-square {a.dispersion.statistic:.4g}"
                   f" on {a.dispersion.df} df, p = {a.dispersion.p:.2g}){k}. "
                   + ("The scenario simulates it as profile.day_effect: check the waits in "
                      "the back-test" if a.day_effect is not None else
                      "The scenario simulates Poisson arrivals, so busy days and the queues "
                      "they cause are understated: compare the waits in the back-test, or "
                      "add staff margin"))
    if (a.unobserved_months and a.monthly is None and a.monthly_test is not None
            and a.monthly_test.rejects):
        out.append(f"months not observed: source {a.source!r} differs between months (p = "
                   f"{a.monthly_test.p:.2g}) but has no full month of "
                   f"{', '.join(a.unobserved_months)}; no monthly profile is fitted (a season "
                   "needs a full year, and a trend looks the same): the rate is the window's "
                   "mean in every month")
    return out


def sample_warnings(sid: str, t: StageTimes) -> list[str]:
    if 0 < t.visits < MIN_VISITS:
        return [f"too few visits: stage {sid!r} has {t.visits} visits; its fit "
                f"({t.chosen.family}) rests on {t.exits} exits: pool it with a neighbouring "
                "stage in the stage map, or calibrate on a longer period"]
    return []


def staff_warnings(several: dict[str, list[str]]) -> list[str]:
    if not several:
        return []
    names = ", ".join(f"{who} ({' / '.join(r)})" for who, r in list(several.items())[:5])
    return [f"resources in several roles: {len(several)} resources do a large share of "
            f"another role's work: {names}{', ...' if len(several) > 5 else ''}; each is "
            "counted in the role of most of its work. Check the roles, or model them as "
            "shared"]
