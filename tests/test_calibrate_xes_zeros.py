"""Stages with many durations below the timestamps' resolution (a hurdle: a share of no
delay and a fit of the others), and fits too extreme to write (Kaplan-Meier quantiles)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import stats

from salessim.calibrate.checks import fit_warnings
from salessim.calibrate.durations import BINS, EMPIRICAL, KM_POINTS, MAX_FIT_CV, fit_stage
from salessim.calibrate.forms import bin_means, partial_mean
from salessim.scenario.dists import Dist

SECOND = 1 / 86400


def _zeros_and_gamma(seed: int, n: int = 2000, zeros: float = 0.7, mean: float = 2.0,
                     cv: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Durations (days): a share ``zeros`` of sub-second steps, the others gamma; visits
    entered uniformly over 200 days before the export, so the long ones are still open."""
    rng = np.random.default_rng(seed)
    shape = 1 / cv ** 2
    d = np.where(rng.random(n) < zeros, rng.uniform(0, 0.5 * SECOND, n),
                 rng.gamma(shape, mean / shape, n))
    age = rng.uniform(0, 200, n)
    return np.minimum(d, age), d > age


def test_seventy_percent_zeros_give_a_share_of_no_delay_and_a_fit_of_the_rest():
    d, is_open = _zeros_and_gamma(1)
    t = fit_stage("check", d, is_open, resolution=SECOND)
    fit = t.chosen
    n0 = int((d < SECOND).sum())
    # The share of no delay is the zeros' maximum likelihood, within its binomial interval
    # of the truth.
    assert fit.zeros == pytest.approx(n0 / len(d))
    assert abs(fit.zeros - 0.7) <= 3 * math.sqrt(0.7 * 0.3 / len(d))
    # The mean (share x the positive part's) holds the true 0.3 x 2 in its interval; the
    # positive part is no absurd fit.
    assert t.mean_low <= 0.3 * 2.0 <= t.mean_high
    base = fit.frozen.base
    assert base.std() / base.mean() < 2 and fit_warnings("check", t) == []
    assert t.note.startswith(f"{n0} of 2000 visits (70%) left below the timestamps' "
                             "resolution: a share of no delay and a ")
    # Written as 0 with the zeros' share and the positive part's bin means: a valid
    # distribution of the scenario language with the fit's mean.
    spec = fit.spec()
    assert spec["values"][0] == 0 and spec["weights"][0] == pytest.approx(fit.zeros, abs=1e-6)
    assert len(spec["values"]) == BINS + 1
    dist = TypeAdapter(Dist).validate_python(spec)
    assert dist.mean == pytest.approx(t.mean, rel=1e-5)


def test_before_the_hurdle_the_same_data_gave_an_absurd_lognormal():
    """What the floor at the resolution did to these data: the continuous families see a
    lump at one second and a bulk at days (the reason for the hurdle)."""
    d, is_open = _zeros_and_gamma(1)
    floored = np.maximum(d, SECOND)
    fit = stats.lognorm.fit(floored[~is_open], floc=0)
    cv = math.sqrt(math.expm1(fit[0] ** 2))
    assert cv > 1e3
    t = fit_stage("check", d, is_open, resolution=SECOND)
    assert t.chosen.frozen.std() / t.mean < 3


@pytest.mark.parametrize(("family", "params"), [
    ("exponential", (2.0,)), ("gamma", (1.7, 0.9)), ("lognormal", (0.8, 1.5)),
    ("weibull", (1.4, 2.2)), ("weibull", (0.6, 2.2))])
def test_bin_means_keep_the_family_s_mean_and_partial_means_are_right(family, params):
    from salessim.calibrate.durations import FAMILIES

    frozen = FAMILIES[family][0](*params[:-1], loc=0, scale=params[-1])
    means = bin_means(family, params, BINS, frozen)
    assert means.mean() == pytest.approx(frozen.mean(), rel=1e-9)
    assert np.all(np.diff(means) > 0)
    x = frozen.ppf(0.3)
    assert partial_mean(family, params, np.array([x]))[0] == pytest.approx(
        frozen.expect(lambda v: v, lb=0, ub=x), rel=1e-6)


def test_a_fit_with_a_huge_cv_is_written_as_kaplan_meier_quantiles():
    rng = np.random.default_rng(2)
    d = rng.lognormal(math.log(0.5), 3.0, 1000)   # cv of the truth: about 90
    age = rng.uniform(0, 300, 1000)
    t = fit_stage("review", np.minimum(d, age), d > age, resolution=SECOND)
    assert t.chosen.family == EMPIRICAL and t.fits[1].family == "lognormal"
    assert t.fits[1].frozen.std() / t.fits[1].mean > MAX_FIT_CV
    spec = t.chosen.spec()
    assert spec["dist"] == "empirical" and len(spec["values"]) == KM_POINTS
    assert np.all(np.diff(spec["values"]) >= 0)
    # The quantiles are the Kaplan-Meier curve's: its median is between the middle two.
    assert spec["values"][KM_POINTS // 2 - 1] <= t.median <= spec["values"][KM_POINTS // 2]
    (warning,) = fit_warnings("review", t)
    assert warning.startswith("extreme fit: the best family (lognormal, cv ")
    assert "stage 'review'" in warning and "50 Kaplan-Meier quantiles" in warning
    TypeAdapter(Dist).validate_python(spec)


def test_a_hurdle_refits_on_a_resample_with_its_family():
    d, is_open = _zeros_and_gamma(3)
    first = fit_stage("check", d, is_open, resolution=SECOND)
    again = fit_stage("check", d, is_open, first.chosen, resolution=SECOND)
    assert again.chosen.family == first.chosen.family
    assert again.chosen.zeros == first.chosen.zeros
    assert again.mean == pytest.approx(first.mean, rel=1e-3)
