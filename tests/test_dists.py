"""Tests of the distribution specs: mean and variance by formula and by sampling, validation.

Sampling checks use N draws and a 5-standard-error band: for a sample mean the band is
5 sd / sqrt(N); for a sample variance it is 5 sqrt((mu4 - sigma^4) / N), with the fourth
central moment mu4 taken from scipy. Under the CLT a correct distribution leaves such a band
with probability about 6e-7 per check, so a failure means a wrong formula or sampler, not luck.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from salessim.scenario.dists import (
    BLOCK,
    DIST_NAMES,
    Constant,
    Dist,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Normal,
    Pert,
    Triangular,
    Uniform,
    Weibull,
)

N = 200_000
Z = 5.0
DIST = TypeAdapter(Dist)


def parse(data: object, time_unit: str = "day"):
    return DIST.validate_python(data, context={"time_unit": time_unit})


def sample(spec, seed: int = 20260101, n: int = N) -> np.ndarray:
    return np.fromiter(itertools.islice(spec.draws(np.random.default_rng(seed)), n), float, n)


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


# Each case: the spec as a scenario writes it, and the same law in scipy.stats, built from the
# textbook parameterisation (not from salessim's code).
CASES = [
    pytest.param({"dist": "exponential", "mean": 2.5}, stats.expon(scale=2.5), id="exponential"),
    pytest.param({"dist": "uniform", "low": 1, "high": 4}, stats.uniform(1, 3), id="uniform"),
    pytest.param({"dist": "triangular", "low": 1, "mode": 2, "high": 6},
                 stats.triang(c=1 / 5, loc=1, scale=5), id="triangular"),
    pytest.param({"dist": "triangular", "low": 0, "mode": 0, "high": 3},
                 stats.triang(c=0, loc=0, scale=3), id="triangular-mode-at-low"),
    pytest.param({"dist": "pert", "low": 2, "mode": 4, "high": 10},
                 stats.beta(1 + 4 * 2 / 8, 1 + 4 * 6 / 8, loc=2, scale=8), id="pert"),
    pytest.param({"dist": "pert", "low": 0, "mode": 5, "high": 10},
                 stats.beta(3, 3, loc=0, scale=10), id="pert-symmetric"),
    pytest.param({"dist": "normal", "mean": 5, "sd": 1.5},
                 stats.truncnorm(-5 / 1.5, np.inf, 5, 1.5),
                 id="normal-little-truncation"),
    pytest.param({"dist": "normal", "mean": 1, "sd": 1}, stats.truncnorm(-1, np.inf, 1, 1),
                 id="normal-truncated"),
    pytest.param({"dist": "lognormal", "mean": 3, "cv": 0.6},
                 stats.lognorm(s=lognormal_params(3, 0.6)[1],
                               scale=math.exp(lognormal_params(3, 0.6)[0])), id="lognormal"),
    pytest.param({"dist": "gamma", "mean": 4, "cv": 0.5}, stats.gamma(a=4, scale=1), id="gamma"),
    pytest.param({"dist": "gamma", "mean": 2, "cv": 1.5}, stats.gamma(a=1 / 2.25, scale=4.5),
                 id="gamma-high-cv"),
    pytest.param({"dist": "weibull", "shape": 1.5, "scale": 2}, stats.weibull_min(1.5, scale=2),
                 id="weibull"),
    pytest.param({"dist": "empirical", "values": [1, 2, 5], "weights": [0.2, 0.3, 0.5]},
                 stats.rv_discrete(values=([1, 2, 5], [0.2, 0.3, 0.5])), id="empirical-weighted"),
    pytest.param({"dist": "empirical", "values": [0, 3, 3, 9]},
                 stats.rv_discrete(values=([0, 3, 9], [0.25, 0.5, 0.25])), id="empirical"),
]


@pytest.mark.parametrize(("data", "law"), CASES)
def test_mean_and_variance_match_the_formula(data, law):
    spec = parse(data)
    assert spec.mean == pytest.approx(law.mean(), rel=1e-9)
    assert spec.variance == pytest.approx(law.var(), rel=1e-9)
    assert spec.cv == pytest.approx(law.std() / law.mean(), rel=1e-9)


@pytest.mark.parametrize(("data", "law"), CASES)
def test_sample_mean_and_variance_within_five_standard_errors(data, law):
    spec = parse(data)
    x = sample(spec)
    assert x.min() >= 0  # times and amounts are never negative
    var = spec.variance
    assert abs(x.mean() - spec.mean) <= Z * math.sqrt(var / N)
    mu4 = (float(law.stats(moments="k")) + 3) * var * var
    assert abs(x.var(ddof=1) - var) <= Z * math.sqrt((mu4 - var * var) / N)


@pytest.mark.parametrize(("data", "law"), [c for c in CASES if c.values[0]["dist"] != "empirical"])
def test_sample_follows_the_law(data, law):
    """Kolmogorov-Smirnov on the continuous laws at a 1e-6 level (a wrong sampler fails hard)."""
    assert stats.kstest(sample(parse(data), n=20_000), law.cdf).pvalue > 1e-6


@pytest.mark.parametrize("name", ["lognormal", "gamma"])
@pytest.mark.parametrize(("mean", "cv"), [(1.0, 0.25), (50.0, 1.2)])
def test_lognormal_and_gamma_honour_mean_and_cv(name, mean, cv):
    spec = parse({"dist": name, "mean": mean, "cv": cv})
    assert (spec.mean, spec.cv) == (mean, cv)
    assert spec.variance == pytest.approx((mean * cv) ** 2, rel=1e-12)
    x = sample(spec)
    assert abs(x.mean() - mean) <= Z * mean * cv / math.sqrt(N)
    # Relative standard errors of the sample sd (delta method: sqrt((kurtosis - 1) / 4N))
    # and of the sample mean (cv / sqrt(N)); the error of their ratio is at most their sum.
    if name == "gamma":
        kurtosis = 3 + 6 * cv * cv
    else:
        w = 1 + cv * cv
        kurtosis = w**4 + 2 * w**3 + 3 * w**2 - 3
    rel_se = math.sqrt((kurtosis - 1) / (4 * N)) + cv / math.sqrt(N)
    assert abs(x.std(ddof=1) / x.mean() / cv - 1) <= Z * rel_se


def test_normal_is_truncated_at_zero():
    spec = Normal(dist="normal", mean=0.5, sd=2)
    x = sample(spec)
    assert x.min() >= 0 and len(x) == N
    a = (0 - 0.5) / 2
    phi, tail = stats.norm.pdf(a), stats.norm.sf(a)
    # Closed forms of the truncated normal (lower truncation at 0).
    mean = 0.5 + 2 * phi / tail
    var = 4 * (1 + a * phi / tail - (phi / tail) ** 2)
    assert spec.mean == pytest.approx(mean, rel=1e-9)
    assert spec.variance == pytest.approx(var, rel=1e-9)
    assert spec.mean == pytest.approx(stats.truncnorm(a, np.inf, 0.5, 2).mean(), rel=1e-9)
    assert spec.mean > 0.5  # truncation moves the mean up
    assert abs(x.mean() - mean) <= Z * math.sqrt(var / N)


def test_normal_far_from_zero_is_the_plain_normal():
    spec = Normal(dist="normal", mean=100, sd=5)
    assert spec.mean == pytest.approx(100, rel=1e-12)
    assert spec.variance == pytest.approx(25, rel=1e-9)


def test_constant():
    spec = parse("2 hours", "hour")
    assert spec == Constant(value=2)
    assert (spec.mean, spec.variance) == (2, 0)
    assert set(itertools.islice(spec.draws(np.random.default_rng(1)), 5000)) == {2.0}


@pytest.mark.parametrize(("values", "weights"), [([1, 2, 5], [0.2, 0.3, 0.5]),
                                                 ([4, 7], None), ([3, 8, 1], [0, 1, 3])])
def test_empirical_frequencies(values, weights):
    spec = Empirical(dist="empirical", values=values, weights=weights)
    p = np.full(len(values), 1 / len(values)) if weights is None else np.array(weights) / sum(
        weights)
    assert spec.mean == pytest.approx(float(np.dot(p, values)))
    x = sample(spec)
    assert set(np.unique(x)) <= set(map(float, values))
    for v, pv in zip(values, p, strict=True):
        share = float(np.mean(x == v))
        assert abs(share - pv) <= Z * math.sqrt(pv * (1 - pv) / N)


def test_draws_are_a_function_of_the_generator_only():
    """The same seed gives the same draws, across block boundaries; another seed does not."""
    spec = parse({"dist": "lognormal", "mean": 2, "cv": 0.5})
    a, b = sample(spec, seed=5, n=3 * BLOCK + 7), sample(spec, seed=5, n=3 * BLOCK + 7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sample(spec, seed=6, n=3 * BLOCK + 7))


def test_durations_inside_dists_convert():
    spec = parse({"dist": "triangular", "low": "1 hour", "mode": "2 hours", "high": "1 day"},
                 "hour")
    assert (spec.low, spec.mode, spec.high) == (1, 2, 24)
    assert parse({"dist": "exponential", "mean": "30 minutes"}, "day").mean == pytest.approx(
        1 / 48)


def test_every_named_dist_parses():
    examples = {
        "constant": {"value": 1}, "exponential": {"mean": 1}, "uniform": {"low": 0, "high": 1},
        "triangular": {"low": 0, "mode": 1, "high": 2}, "pert": {"low": 0, "mode": 1, "high": 2},
        "normal": {"mean": 1, "sd": 1}, "lognormal": {"mean": 1, "cv": 1},
        "gamma": {"mean": 1, "cv": 1}, "weibull": {"shape": 1, "scale": 1},
        "empirical": {"values": [1]},
    }
    assert set(examples) == set(DIST_NAMES)
    for name, params in examples.items():
        assert parse({"dist": name, **params}).mean > 0


# --- parameter validation --------------------------------------------------------------------


@pytest.mark.parametrize(("data", "match"), [
    ({"dist": "uniform", "low": 3, "high": 1},
     r"high must be greater than low \(low=3\.0, high=1\.0\)"),
    ({"dist": "uniform", "low": 2, "high": 2}, r"high must be greater than low"),
    ({"dist": "triangular", "low": 5, "mode": 6, "high": 4}, r"needs low <= mode <= high"),
    ({"dist": "triangular", "low": 1, "mode": 0, "high": 4}, r"needs low <= mode <= high"),
    ({"dist": "pert", "low": 2, "mode": 2, "high": 2}, r"and low < high"),
    ({"dist": "lognormal", "mean": 1, "cv": 0}, r"cv\n.*greater than 0"),
    ({"dist": "gamma", "mean": 1, "cv": -0.5}, r"cv\n.*greater than 0"),
    ({"dist": "lognormal", "mean": 0, "cv": 1}, r"mean\n.*greater than 0"),
    ({"dist": "exponential", "mean": -1}, r"mean\n.*greater than 0"),
    ({"dist": "normal", "mean": 1, "sd": 0}, r"sd\n.*greater than 0"),
    ({"dist": "normal", "mean": -4, "sd": 1}, r"mean must not be below -3 sd"),
    ({"dist": "weibull", "shape": 0, "scale": 1}, r"shape\n.*greater than 0"),
    ({"dist": "empirical", "values": [1, 2, 3], "weights": [1, 1]},
     r"weights must be as many as values \(3\), got 2"),
    ({"dist": "empirical", "values": [1, -2]}, r"values must not be negative"),
    ({"dist": "empirical", "values": [1, 2], "weights": [1, -1]},
     r"weights must be >= 0 with a positive, finite sum"),
    ({"dist": "empirical", "values": [1, 2], "weights": [0, 0]},
     r"weights must be >= 0 with a positive, finite sum"),
    ({"dist": "empirical", "values": []}, r"values\n.*at least 1 item"),
    ({"dist": "constant", "value": -1}, r"value\n.*greater than or equal to 0"),
    ({"dist": "uniform", "low": -1, "high": 1}, r"low\n.*greater than or equal to 0"),
    ({"dist": "lognormal", "mean": 1, "sd": 1}, r"Extra inputs are not permitted"),
    ({"dist": "poisson", "mean": 1}, r"does not match any of the expected tags"),
])
def test_parameter_validation(data, match):
    with pytest.raises(ValidationError, match=match):
        parse(data)


def test_classes_validate_directly():
    with pytest.raises(ValidationError, match=r"high must be greater than low"):
        Uniform(dist="uniform", low=2, high=1)
    with pytest.raises(ValidationError, match=r"greater than 0"):
        Gamma(dist="gamma", mean=1, cv=0)
    with pytest.raises(ValidationError, match=r"needs low <= mode <= high"):
        Pert(dist="pert", low=0, mode=3, high=2)
    # Frozen: a spec cannot change after validation.
    spec = Exponential(dist="exponential", mean=1)
    with pytest.raises(ValidationError, match=r"frozen"):
        spec.mean_ = 2
    assert Triangular(dist="triangular", low=0, mode=1, high=2).mean == 1
    assert Lognormal(dist="lognormal", mean=2, cv=1).cv == 1
    assert Weibull(dist="weibull", shape=1, scale=3).mean == pytest.approx(3)
