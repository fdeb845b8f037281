"""Tests for salessim.stats: formulas checked by hand, coverage checked by simulation.

Random generators only build inputs; assertions are about formulas and statistical properties,
with simulation tolerances derived from the binomial standard deviation.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import stats as st

from salessim.stats import (
    Estimate,
    holm,
    mser5,
    paired_difference,
    paired_t_pvalue,
    relative_change,
    replications_needed,
    summarise,
    t_interval,
    target_replications,
    welch_moving_average,
)

N_SIM = 2000


def binomial_tolerance(p: float, trials: int, sds: float = 4.0) -> float:
    """Allowed deviation of an observed frequency from p: `sds` binomial standard deviations."""
    return sds * math.sqrt(p * (1 - p) / trials)


# --- t_interval ------------------------------------------------------------------------------


def test_t_interval_hand_computed():
    est = t_interval([1, 2, 3, 4, 5])
    half = st.t.ppf(0.975, 4) * math.sqrt(2.5) / math.sqrt(5)
    assert est.mean == pytest.approx(3.0)
    assert est.std == pytest.approx(math.sqrt(2.5))
    assert est.n == 5
    assert est.level == 0.95
    assert est.half_width == pytest.approx(half)
    assert (est.ci_low, est.ci_high) == pytest.approx((3 - half, 3 + half))


def test_t_interval_level_changes_quantile():
    est = t_interval([1, 2, 3, 4, 5], level=0.9)
    assert est.half_width == pytest.approx(st.t.ppf(0.95, 4) * math.sqrt(2.5 / 5))
    assert est.level == 0.9


def test_t_interval_drops_nan():
    assert t_interval([1, np.nan, 2, 3, np.nan, 4, 5]) == t_interval([1, 2, 3, 4, 5])


def test_t_interval_empty_and_all_nan():
    for values in ([], [np.nan, np.nan]):
        est = t_interval(values)
        assert est.n == 0
        assert all(math.isnan(v) for v in (est.mean, est.ci_low, est.ci_high, est.std))


def test_t_interval_single_value():
    est = t_interval([np.nan, 7.5])
    assert (est.mean, est.n) == (7.5, 1)
    assert math.isnan(est.ci_low) and math.isnan(est.ci_high) and math.isnan(est.std)
    assert math.isnan(est.half_width)


def test_t_interval_equal_values_collapse_exactly():
    # 0.1 is not representable, so a computed mean could drift by an ulp; the API promises not.
    est = t_interval([0.1] * 7)
    assert est.mean == est.ci_low == est.ci_high == 0.1
    assert est.std == 0.0
    assert est.half_width == 0.0


def test_t_interval_rejects_bad_level():
    with pytest.raises(ValueError, match="level"):
        t_interval([1, 2, 3], level=1.0)


def test_estimate_is_frozen():
    est = Estimate(1.0, 0.0, 2.0, 3, 1.0)
    assert est.half_width == 1.0
    with pytest.raises(AttributeError):
        est.mean = 5.0  # type: ignore[misc]


def test_t_interval_coverage():
    rng = np.random.default_rng(20240601)
    true_mean = 4.0
    samples = rng.normal(true_mean, 2.0, size=(N_SIM, 10))
    estimates = [t_interval(s) for s in samples]
    covered = np.mean([e.ci_low <= true_mean <= e.ci_high for e in estimates])
    assert abs(covered - 0.95) <= binomial_tolerance(0.95, N_SIM)


# --- summarise -------------------------------------------------------------------------------


def test_summarise_columns_order_and_values():
    rng = np.random.default_rng(1)
    reps = np.arange(6)
    parts = [
        pd.DataFrame({"replication": reps, "kpi": name, "value": rng.normal(mu, 1, reps.size)})
        for name, mu in (("win_rate", 0.3), ("cycle_time", 30.0), ("revenue", 1e5))
    ]
    # Interleave rows so that first appearance, not row grouping or alphabet, decides the order.
    frame = pd.concat(parts).sort_values(["replication"], kind="stable").reset_index(drop=True)
    frame.loc[len(frame)] = {"replication": 6, "kpi": "revenue", "value": np.nan}

    out = summarise(frame, level=0.9)

    assert list(out.columns) == ["kpi", "mean", "ci_low", "ci_high", "n", "std", "half_width"]
    assert list(out["kpi"]) == ["win_rate", "cycle_time", "revenue"]
    for row in out.itertuples(index=False):
        est = t_interval(frame.loc[frame["kpi"] == row.kpi, "value"], level=0.9)
        assert row.n == est.n == 6
        assert (row.mean, row.ci_low, row.ci_high, row.std, row.half_width) == pytest.approx(
            (est.mean, est.ci_low, est.ci_high, est.std, est.half_width)
        )


def test_summarise_requires_columns():
    with pytest.raises(KeyError, match="replication"):
        summarise(pd.DataFrame({"kpi": ["a"], "value": [1.0]}))


def test_summarise_empty_frame_keeps_columns():
    out = summarise(pd.DataFrame(columns=["replication", "kpi", "value"]))
    assert out.empty
    assert list(out.columns) == ["kpi", "mean", "ci_low", "ci_high", "n", "std", "half_width"]


# --- paired comparisons ----------------------------------------------------------------------


def test_paired_difference_identical_is_exactly_zero():
    x = np.random.default_rng(2).normal(30, 5, 12)
    est = paired_difference(x, x.copy())
    assert est.mean == est.ci_low == est.ci_high == 0.0
    assert est.half_width == 0.0


def test_paired_difference_is_t_interval_of_differences_dropping_nan_pairs():
    base = np.array([10.0, 12.0, np.nan, 11.0, 13.0, 9.0])
    other = np.array([9.0, 11.5, 8.0, 10.0, np.nan, 8.5])
    keep = [0, 1, 3, 5]
    assert paired_difference(base, other) == t_interval(other[keep] - base[keep])


def test_paired_difference_rejects_misaligned():
    with pytest.raises(ValueError, match="aligned"):
        paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])


def test_paired_t_pvalue_matches_scipy():
    rng = np.random.default_rng(3)
    base = rng.normal(30, 5, 15)
    other = base + rng.normal(-1, 2, 15)
    expected = st.ttest_rel(other, base).pvalue
    assert paired_t_pvalue(base, other) == pytest.approx(expected)


def test_paired_t_pvalue_degenerate_cases():
    base = np.array([3.0, 5.0, 8.0])
    assert paired_t_pvalue(base, base) == 1.0
    assert paired_t_pvalue(base, base - 2.0) == 0.0
    assert math.isnan(paired_t_pvalue([1.0], [2.0]))


# --- relative_change -------------------------------------------------------------------------


def test_relative_change_handbook_example():
    est = relative_change([30.0] * 5, [25.0] * 5)
    assert est.mean == pytest.approx(-1 / 6)
    assert est.ci_low == est.ci_high == est.mean
    assert est.n == 5


def test_relative_change_delta_method_formula():
    rng = np.random.default_rng(4)
    base = rng.normal(30, 3, 8)
    other = 0.8 * base + rng.normal(0, 1, 8)
    est = relative_change(base, other, level=0.9)

    mb, mo = base.mean(), other.mean()
    ratio = mo / mb
    cov = np.cov(base, other, ddof=1)
    # Var(O/B) ~ (s_o^2 - 2 r s_bo + r^2 s_b^2) / (n B^2), the textbook ratio-of-means form.
    se = math.sqrt((cov[1, 1] - 2 * ratio * cov[0, 1] + ratio**2 * cov[0, 0]) / (8 * mb**2))
    assert est.mean == pytest.approx(mo / mb - 1)
    assert est.half_width == pytest.approx(st.t.ppf(0.95, 7) * se)
    assert est.std == pytest.approx(se * math.sqrt(8))


def test_relative_change_degenerate_cases():
    zero = relative_change([1.0, -1.0, 0.0], [2.0, 3.0, 4.0])
    assert math.isnan(zero.mean) and math.isnan(zero.half_width)
    single = relative_change([np.nan, 20.0], [1.0, 25.0])
    assert (single.mean, single.n) == (0.25, 1)
    assert math.isnan(single.half_width)


def test_relative_change_coverage_correlated_pairs():
    rng = np.random.default_rng(20240602)
    sd_b, sd_o, rho = 3.0, 2.7, 0.8
    cov = [[sd_b**2, rho * sd_b * sd_o], [rho * sd_b * sd_o, sd_o**2]]
    pairs = rng.multivariate_normal([30.0, 25.0], cov, size=(N_SIM, 10))
    hits = 0
    for rep in pairs:
        est = relative_change(rep[:, 0], rep[:, 1])
        hits += est.ci_low <= -1 / 6 <= est.ci_high
    assert abs(hits / N_SIM - 0.95) <= binomial_tolerance(0.95, N_SIM)


# --- holm ------------------------------------------------------------------------------------


def test_holm_hand_computed():
    # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06.
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_nan_out_of_m():
    adjusted = holm([0.4, np.nan, 0.3])
    # m = 2, not 3: 0.3*2 = 0.6, then max(0.6, 0.4*1) = 0.6.
    np.testing.assert_allclose(adjusted, [0.6, np.nan, 0.6])
    np.testing.assert_allclose(holm([0.5, 0.9, 0.6]), [1.0, 1.0, 1.0])
    assert holm([]).size == 0


def test_holm_rejects_out_of_range():
    with pytest.raises(ValueError):
        holm([0.5, 1.5])


@settings(max_examples=60, deadline=None)
@given(hst.lists(hst.floats(0.0, 1.0), min_size=1, max_size=12))
def test_holm_properties(pvalues):
    p = np.array(pvalues)
    adj = holm(p)
    assert np.all(adj >= p) and np.all(adj <= 1.0)
    # Step-down adjustment preserves the ordering of the raw p-values.
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= 0)


# --- replication planning --------------------------------------------------------------------


def test_replications_needed_by_hand():
    values = [1, 2, 3, 4, 5]  # mean 3, h = t_{0.975,4} * sqrt(2.5 / 5)
    h = st.t.ppf(0.975, 4) * math.sqrt(0.5)
    # Asking for half the current half-width needs 2^2 = 4 times the replications: exactly 20.
    assert replications_needed(values, rel_precision=h / 2 / 3) == 20
    assert replications_needed(values, rel_precision=0.1) == math.ceil(5 * (h / 0.3) ** 2)


def test_replications_needed_already_precise_returns_pilot():
    assert replications_needed([99.0, 100.0, 101.0, 100.0], rel_precision=0.05) == 4


def test_replications_needed_errors():
    with pytest.raises(ValueError, match="zero"):
        replications_needed([-1.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="at least 2"):
        replications_needed([5.0, np.nan], 0.1)
    with pytest.raises(ValueError, match="positive"):
        replications_needed([1.0, 2.0], 0.0)


def test_target_replications_by_hand():
    values = [1, 2, 3, 4, 5]  # mean 3, h ~ 1.96 against threshold 2.5 -> gap 0.5
    h = st.t.ppf(0.975, 4) * math.sqrt(0.5)
    assert target_replications(values, 2.5) == math.ceil(5 * (h / 0.5) ** 2)
    # Threshold chosen so the half-width is exactly twice the gap: 4 times the pilot.
    assert target_replications(values, 3 - h / 2) == 20.0
    assert target_replications(values, 0.0) == 5.0  # interval already excludes 0
    assert target_replications(values, 3.0) == math.inf
    assert isinstance(target_replications(values, 2.5), float)


# --- warm-up ---------------------------------------------------------------------------------


def test_mser5_finds_initial_transient():
    truncations = []
    for seed in range(10):
        noise = np.random.default_rng(seed).normal(0.0, 1.0, 950)
        truncations.append(mser5(np.concatenate([np.full(50, 10.0), noise])))
    # The transient fills exactly 10 batches, each ~20 batch-sd away from the steady state, so
    # keeping any of them costs far more than it gains: never below 50. Beyond 50, only noise
    # decides; typically no or a few extra batches (5 observations each) are cut.
    assert min(truncations) >= 50
    assert all(t % 5 == 0 for t in truncations)
    assert np.median(truncations) <= 50 + 5 * 5


def test_mser5_white_noise_truncates_little():
    cuts = [mser5(np.random.default_rng(100 + s).normal(5.0, 1.0, 1000)) for s in range(10)]
    assert np.median(cuts) <= 25  # at most 5 batches of 1000 observations
    assert max(cuts) <= 250  # far from the half-way search limit of 500


def test_mser5_short_and_constant_series():
    assert mser5(np.arange(9.0)) == 0
    assert mser5(np.full(100, 3.0)) == 0  # all ties: the first (no truncation) wins


def test_mser5_hand_computed():
    # Batch means 10, 0, 1, 0 (k = 4, tail of 3 dropped): d = 0 -> var 17.6875 / 4,
    # d = 1 -> (2/9) / 3, d = 2 -> 0.25 / 2; d = 1 is smallest.
    series = np.concatenate([np.full(5, 10.0), np.zeros(5), np.ones(5), np.zeros(5), [9, 9, 9]])
    assert mser5(series) == 5


def test_mser5_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        mser5(np.r_[np.zeros(20), np.nan])


def test_welch_moving_average_matches_definition():
    x = np.random.default_rng(5).normal(1e6, 1.0, 40)  # large offset checks prefix-sum rounding
    w = 4
    expected = [x[: 2 * i + 1].mean() if i < w else x[i - w : i + w + 1].mean() for i in range(36)]
    got = welch_moving_average(x, w)
    assert got.shape == (40 - w,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


def test_welch_moving_average_smooths_linear_trend_exactly():
    # Symmetric windows leave a straight line unchanged.
    x = 2.0 * np.arange(30) + 1.0
    np.testing.assert_allclose(welch_moving_average(x, 5), x[:25])


def test_welch_moving_average_rejects_bad_window():
    for window in (0, 10, 2.5):
        with pytest.raises(ValueError, match="window"):
            welch_moving_average(np.arange(10.0), window)


def test_relative_change_of_a_negative_baseline_keeps_the_direction():
    # A loss of 100 cut to a loss of 50 is an improvement: +50%, not -50%.
    est = relative_change([-100.0, -100.0], [-50.0, -50.0])
    assert est.mean == pytest.approx(0.5)
    rng = np.random.default_rng(3)
    b = rng.normal(-100, 5, 30)
    o = b + rng.normal(20, 2, 30)
    pos = relative_change(-b, -o)
    neg = relative_change(b, o)
    assert neg.mean == pytest.approx(-pos.mean)
    assert neg.half_width == pytest.approx(pos.half_width)
