"""The forecast back-test: its scores against their formulas, its table against the file,
and the forecast's calibration on histories from a known process (issue 9, sections 3, 5).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from tests.forecast_histories import history, truth

from salessim import stats
from salessim.calibrate.pipeline import read_visits
from salessim.calibrate.readers import ExportError
from salessim.errors import UsageError
from salessim.forecast import score
from salessim.forecast.backtest import (
    MIN_HISTORY_DAYS,
    as_of_dates,
    forecast_seed,
    run_backtest,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "crm" / "stage_history.csv"
DAY = pd.Timedelta(days=1)


# --- the scores -----------------------------------------------------------------------------

def crps_by_pairs(x: np.ndarray, y: float) -> float:
    """The definition, O(n^2): mean|X - y| - 0.5 mean|X - X'| over all pairs."""
    x = np.asarray(x, float)
    return float(np.abs(x - y).mean() - 0.5 * np.abs(x[:, None] - x[None, :]).mean())


def crps_normal(mu: float, sigma: float, y: float) -> float:
    """The CRPS of N(mu, sigma^2) at y (Gneiting and Raftery 2007):
    sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)], z = (y - mu) / sigma."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * st.norm.cdf(z) - 1) + 2 * st.norm.pdf(z) - 1 / math.sqrt(math.pi))


def test_crps_sorted_formula_equals_the_definition_by_pairs():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 257):
        for x in (rng.lognormal(10, 1, n), np.round(rng.normal(0, 1, n), 1)):  # ties too
            for y in (float(x.min()) - 1, float(np.median(x)), float(x.max()) * 3 + 1):
                assert score.crps_sample(x, y) == pytest.approx(crps_by_pairs(x, y),
                                                                rel=1e-12, abs=1e-9)
                assert score.crps_sample(x[::-1], y) == pytest.approx(score.crps_sample(x, y),
                                                                      rel=1e-12, abs=1e-9)


def test_crps_of_a_point_forecast_is_its_absolute_error():
    assert score.crps_sample([5.0], 2.0) == 3.0
    assert score.crps_sample(np.full(50, 7.5), 10.0) == pytest.approx(2.5, rel=1e-12)


def test_crps_of_a_normal_sample_matches_the_closed_form():
    mu, sigma, n = 100.0, 15.0, 40_000
    x = np.random.default_rng(11).normal(mu, sigma, n)
    for y in (mu, mu + 0.7 * sigma, mu - 2.5 * sigma):
        got = score.crps_sample(x, y)
        # The sample's 0.5 mean|X - X'| counts the n pairs i = j (zero): its mean is
        # (1 - 1/n) sigma / sqrt(pi), so the sample CRPS exceeds the closed form by
        # sigma / (sqrt(pi) n) on average.
        expected = crps_normal(mu, sigma, y) + sigma / (math.sqrt(math.pi) * n)
        # Standard error from the statistic's linear part (a U-statistic's projection):
        # h(x) = |x - y| - E|x - X'|, with E|x - X'| = sigma [z (2 Phi(z) - 1) + 2 phi(z)].
        z = (x - mu) / sigma
        h = np.abs(x - y) - sigma * (z * (2 * st.norm.cdf(z) - 1) + 2 * st.norm.pdf(z))
        se = h.std(ddof=1) / math.sqrt(n)
        assert se < 0.01 * sigma  # the check below is tight
        assert abs(got - expected) < 4 * se, (y, got, expected, se)


def test_crps_refuses_an_empty_or_non_finite_sample():
    with pytest.raises(ValueError, match="empty"):
        score.crps_sample([], 1.0)
    with pytest.raises(ValueError, match="finite"):
        score.crps_sample([1.0, math.nan], 1.0)
    with pytest.raises(ValueError, match="finite"):
        score.crps_sample([1.0, 2.0], math.inf)


def test_band_inside_coverage_and_errors():
    # Order statistics at positions p (n + 1), 1-based: 10.2 and 91.8 of 0..100.
    assert score.band(np.arange(101.0)) == pytest.approx((9.2, 90.8), rel=1e-12)
    assert score.band(np.arange(101.0), 0.5) == pytest.approx((24.5, 75.5), rel=1e-12)
    # Their expected probability content is 0.8 for any n >= 9 (0.1 (n + 1) >= 1): order
    # statistic j of n uniforms has mean j / (n + 1), and interpolation keeps it linear.
    for n in (9, 39, 40):
        u = np.sort(np.random.default_rng(n).random((20000, n)), axis=1)
        low, high = score.quantiles(u, [0.1, 0.9], axis=1)
        assert (high - low).mean() == pytest.approx(0.8, abs=0.005)
    assert score.inside(10.0, 10.0, 90.0) and score.inside(90.0, 10.0, 90.0)
    assert not score.inside(90.5, 10.0, 90.0)
    cov = score.coverage([True] * 8 + [False] * 2)
    assert (cov.inside, cov.n, cov.share) == (8, 10, 0.8)
    assert (cov.low, cov.high) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # Wilson, 95%
    assert math.isnan(score.coverage([]).share)
    assert score.mean_absolute_error([1.0, 5.0], [2.0, 2.0]) == 2.0
    # A window with nothing booked has no percentage error: it is left out.
    assert score.mean_absolute_percentage_error([1.0, 5.0, 3.0], [2.0, 4.0, 0.0]) == 0.375
    assert math.isnan(score.mean_absolute_percentage_error([1.0], [0.0]))


# --- the as-of dates and bad input -------------------------------------------------------

@pytest.fixture(scope="module")
def short_history():
    return history(truth(), 150.0, seed=4)


def test_as_of_dates_follow_the_rule(short_history):
    v = short_history
    dates = as_of_dates(v, 20.0, 30.0, min_exits=0)
    assert dates[0] == v.start + MIN_HISTORY_DAYS * DAY
    assert all(b - a == 20 * DAY for a, b in zip(dates, dates[1:], strict=False))
    assert dates[-1] + 30 * DAY <= v.as_of < dates[-1] + 50 * DAY  # no room for one more
    # Calibrating: the first date waits for 20 exits from every stage that gets them.
    calibrated = as_of_dates(v, 20.0, 30.0)
    exits = v.visits.dropna(subset=["exited_at"]).groupby("stage")["exited_at"]
    twentieth = exits.apply(lambda t: t.sort_values().iloc[19] if len(t) >= 20 else pd.NaT)
    assert calibrated[0] >= twentieth.max() and calibrated[0] >= dates[0]
    assert calibrated[0] - max(twentieth.max(), dates[0]) < DAY
    assert calibrated[0] == calibrated[0].normalize()


@pytest.mark.parametrize("every", [0, -3.0, math.nan, math.inf, True, "30"])
def test_a_bad_spacing_is_refused(short_history, every):
    with pytest.raises(UsageError, match="--every: must be a positive number of days"):
        run_backtest(None, every, 30.0, visits=short_history, scenario=truth())


def test_a_short_history_and_few_replications_are_refused(short_history):
    with pytest.raises(ExportError, match=r"runs 15\d\.\d days .* needs 60 days to calibrate "
                                          r"on plus the 100-day horizon"):
        run_backtest(None, 30.0, 100.0, visits=short_history, scenario=truth())
    with pytest.raises(UsageError, match="at least 2 per forecast, got 1"):
        run_backtest(None, 30.0, 30.0, replications=1, visits=short_history)


def test_warnings_are_given_once_with_the_dates_they_held_at(short_history):
    noted = replace(short_history, warnings=["duplicated rows: 2 rows repeat a deal"])
    d = noted.deals
    early = d["created_at"] < noted.start + 65 * DAY
    noted = replace(noted, deals=d.assign(amount=d["amount"].where(~early)))
    noted.visits["amount"] = noted.visits["deal_id"].map(noted.deals.set_index("deal_id")["amount"])
    bt = run_backtest(None, 30.0, 30.0, 4, visits=noted, scenario=truth())
    dates = as_of_dates(noted, 30.0, 30.0, min_exits=0)
    assert bt.warnings[0] == "duplicated rows: 2 rows repeat a deal"  # at every date
    n0 = int(noted.open_deals(dates[0])["amount"].isna().sum())
    first = [w for w in bt.warnings if "no amount" in w][0]
    assert first.startswith(f"{n0} open deals have no amount: counted as 0 (as-of "
                            f"{dates[0]:%Y-%m-%d}")


def test_the_same_seed_gives_the_same_backtest_and_forecasts_get_their_own(short_history):
    sc = truth()
    calls = []
    one = run_backtest(None, 30.0, 30.0, 10, seed=5, visits=short_history, scenario=sc,
                       progress=calls.append)
    two = run_backtest(None, 30.0, 30.0, 10, seed=5, visits=short_history, scenario=sc)
    assert len(calls) == 10 * len(as_of_dates(short_history, 30.0, 30.0, min_exits=0)) == 30
    pd.testing.assert_frame_equal(one.table(), two.table())
    assert not one.summary()["overlapping"] and not one.summary()["calibrated"]
    overlapping = run_backtest(None, 20.0, 30.0, 2, visits=short_history, scenario=sc)
    assert overlapping.summary()["overlapping"] and len(overlapping.windows) > len(one.windows)
    assert len({forecast_seed(5, k) for k in range(100)} | {forecast_seed(6, 0)}) == 101


# --- end to end on the shipped sample export -------------------------------------------------

def test_backtest_of_the_sample_export_agrees_with_the_file(tmp_path):
    bt = run_backtest(SAMPLE, every_days=45.0, horizon_days=60.0, replications=20, seed=3)
    t = bt.table()
    assert len(t) == len(as_of_dates(read_visits(SAMPLE), 45.0, 60.0)) >= 2
    assert (t["p10"] <= t["p50"]).all() and (t["p50"] <= t["p90"]).all()
    assert (t["inside"] == ((t["p10"] <= t["actual"]) & (t["actual"] <= t["p90"]))).all()
    assert (t["until"] == t["as_of"] + 60 * DAY).all()
    assert np.allclose(t["error_p50"], t["p50"] - t["actual"])
    assert np.allclose(t["crps_weighted"], (t["weighted"] - t["actual"]).abs())
    assert (t["crps"] >= 0).all() and t["pit"].between(0, 1).all()
    # The actuals, independently from the file: the amounts of the deals whose last
    # visit went to "Closed Won", by the time it left.
    raw = pd.read_csv(SAMPLE, parse_dates=["entered_at", "exited_at", "created_at"])
    ends = raw[raw["next_stage"].isin(["Closed Won", "Closed Lost"])]
    won = ends[ends["next_stage"] == "Closed Won"]
    created = raw.groupby("deal_id")["created_at"].min()
    closed = ends.set_index("deal_id")["exited_at"]
    for row in t.itertuples():
        here = won[(won["exited_at"] > row.as_of) & (won["exited_at"] <= row.until)]
        old = here["created_at"] <= row.as_of
        assert row.actual == pytest.approx(here["amount"].sum(), rel=1e-12)
        assert row.actual_from_open == pytest.approx(here.loc[old, "amount"].sum(), rel=1e-12)
        open_then = (created <= row.as_of) & ~(closed.reindex(created.index) <= row.as_of)
        assert row.open_deals == int(open_then.sum())
    s = bt.summary()
    assert s["forecasts"] == len(t) and s["inside"] == int(t["inside"].sum())
    assert s["coverage_low"] <= s["coverage"] == t["inside"].mean() <= s["coverage_high"]
    assert s["p50_mae"] == pytest.approx((t["p50"] - t["actual"]).abs().mean())
    assert s["weighted_mae"] == pytest.approx(s["crps_weighted_mean"])
    assert s["mae_gain"] == pytest.approx(s["weighted_mae"] - s["p50_mae"])
    assert s["mae_gain_low"] < s["mae_gain"] < s["mae_gain_high"]
    assert s["p50_bias"] == pytest.approx(t["error_p50"].mean())
    assert s["overlapping"] is True and s["calibrated"] is True  # every 45 days, 60 ahead
    # The naive run rate by hand from the file: won in the 90 days before as-of, per day,
    # times the 60-day window (the first as-of date has more than 90 days behind it).
    start = raw["created_at"].min().normalize()
    for row in t.itertuples():
        back_to = max(row.as_of - 90 * DAY, start)
        days = (row.as_of - back_to) / DAY
        booked = won[(won["exited_at"] > back_to) & (won["exited_at"] <= row.as_of)]
        assert row.run_rate == pytest.approx(booked["amount"].sum() / days * 60, rel=1e-12)
        assert row.accuracy_p50 == pytest.approx(row.p50 / row.actual, rel=1e-12)
    assert s["run_rate_mae"] == pytest.approx((t["run_rate"] - t["actual"]).abs().mean())
    ratio = t["accuracy_weighted"]
    on = int(ratio.between(0.85, 1.15).sum())
    assert (s["weighted_on_target"], s["weighted_on_target_n"]) == (on / len(t), len(t))
    # Each forecast at the horizons that fit in 60 days: 1, 2, 4 and 8 weeks.
    h = bt.horizon_table()
    assert list(h["horizon_weeks"]) == [1, 2, 4, 8] * len(t)
    for row in h.itertuples():
        here = won[(won["exited_at"] > row.as_of) & (won["exited_at"] <= row.until)]
        assert row.until == row.as_of + 7 * row.horizon_weeks * DAY
        assert row.actual == pytest.approx(here["amount"].sum(), rel=1e-12)
        assert row.p10 <= row.p50 <= row.p90
    # The 60-day run rate, per day, is the same rate at every horizon.
    rates = h["run_rate"] / (7 * h["horizon_weeks"])
    assert np.allclose(rates, np.repeat(t["run_rate"].to_numpy() / 60, 4))
    by = bt.horizon_scores()
    assert list(by["horizon_weeks"]) == [1, 2, 4, 8] and (by["forecasts"] == len(t)).all()
    # Forecasts 45 days apart overlap at 8 weeks only.
    assert list(by["overlapping"]) == [False, False, False, True]
    # What a user opens: the tables in pandas, the figure as an image.
    written = bt.write(tmp_path / "bt")
    assert [p.name for p in written] == ["backtest.csv", "backtest_horizons.csv",
                                         "coverage_by_horizon.csv", "backtest.png"]
    back = pd.read_csv(written[0], parse_dates=["as_of", "until"])
    assert list(back.columns) == list(t.columns)
    pd.testing.assert_series_equal(back["actual"], t["actual"])
    assert list(pd.read_csv(written[2])["coverage"].round(12)) == list(by["coverage"].round(12))
    assert matplotlib.image.imread(written[3]).shape == (400, 800, 4)
    assert not [p for p in (tmp_path / "bt").iterdir() if p.name.startswith(".")]


# --- the forecast's calibration on histories from a known process (slow) --------------------
#
# Each history is one run of the known process (tests/forecast_histories.py) from an empty
# pipeline, read back as an export; the back-test forecasts windows that do not overlap
# (every = horizon), so the outcome of one window is known before the next forecast is made.
# When the forecast is the true conditional distribution, the place of each outcome in its
# forecast (and so "inside or not") is then independent of the earlier ones: the inside
# flags are independent trials, within a history as across histories, and a binomial
# interval applies to their count.
#
# With R replications the band runs between sample quantiles; for a continuous outcome the
# expected share of the true distribution between the order statistics at positions
# 0.1 (R + 1) and 0.9 (R + 1) is 0.8 (order statistic j of R has E[F] = j / (R + 1)): that
# is what a correct forecast covers (numpy's default positions would give 0.8 (R - 1) /
# (R + 1)).

REPLICATIONS = 40
EXPECTED = 0.8  # the band's quantiles are read at positions p (R + 1): score.METHOD


def scored(n_histories: int, windows: int, horizon: float, first_seed: int,
           min_history: float = MIN_HISTORY_DAYS, true_process: bool = True) -> pd.DataFrame:
    """The back-test tables of independent histories, each long enough for ``windows``."""
    process = truth()
    tables = []
    for h in range(n_histories):
        # Three days more than needed: a history whose first lead came on day 1 or 2
        # starts then, and would lose its last window.
        days = min_history + windows * horizon + 3
        visits = history(process, days, seed=first_seed + h)
        bt = run_backtest(None, horizon, horizon, REPLICATIONS, seed=h, visits=visits,
                          scenario=process if true_process else None,
                          min_history_days=min_history)
        tables.append(bt.table().assign(history=h))
    return pd.concat(tables, ignore_index=True)


def paired_mae_gain(t: pd.DataFrame, level: float) -> stats.Estimate:
    """Mean over forecasts of |weighted - actual| - |P50 - actual|, with its t interval
    (positive: the P50 is the better point forecast)."""
    return stats.paired_difference(t["error_p50"].abs(), t["error_weighted"].abs(), level)


@pytest.mark.slow
def test_forecasts_of_the_true_process_cover_as_a_correct_forecast_does():
    """The warm start and the forecast alone: the known process forecasts itself.

    48 forecasts of 60 days (12 histories of 4 windows): the share inside the P10-P90 band
    must be EXPECTED within its 99% binomial (Wilson) interval, and the P50 must be the
    better point forecast than the weighted pipeline, which leaves out the deals still to
    come and when the open ones close: the mean paired gain in absolute error, with its
    95% t interval, above 0. The gain of one forecast is close to +(P50 - weighted) when
    the outcome is above the P50 and to -(P50 - weighted) when it is below the weighted
    pipeline, so it varies a lot (sd 100,000 to 120,000): hence the 95% level. (Measured
    over 200 forecasts: coverage 0.750 [0.686, 0.805] against 0.761 expected; the P50's
    error 89,000 smaller on average, +-7,000, about 6 standard errors of a set of 48 above
    0. Over four sets of 48 from other seeds: coverage 0.73 to 0.81, gain 40,000 to
    102,000, lower 95% limit 5,000 to 73,000.)
    """
    t = scored(n_histories=12, windows=4, horizon=60.0, first_seed=500)
    assert len(t) == 48
    cov = score.coverage(t["inside"], level=0.99)
    assert cov.low <= EXPECTED <= cov.high, cov
    gain = paired_mae_gain(t, level=0.95)
    assert gain.ci_low > 0, gain
    # The whole distribution, not only its tails: the number of replications at or below
    # the outcome is Binomial(R, u) with u = F(outcome) uniform, so it is uniform on
    # 0..R exactly (a beta-binomial with a = b = 1). Chi-square on four groups of counts.
    below = np.rint(t["pit"] * REPLICATIONS).astype(int)
    groups = [(0, 9), (10, 20), (21, 30), (31, 40)]
    seen = [int(below.between(a, b).sum()) for a, b in groups]
    expected = [len(t) * (b - a + 1) / (REPLICATIONS + 1) for a, b in groups]
    assert st.chisquare(seen, expected).pvalue > 0.001, seen


#: Coverage may fall short of a correct forecast's by this much when the scenario is
#: calibrated at each as-of date: the band is the simulation's spread with the calibrated
#: parameters taken as true, and leaves out their own uncertainty. Here (120 days of
#: history, about 240 deals and 30 exits from the last stage, whose win share alone then
#: has a standard error near 0.09; a 90-day window) 60 forecasts of 60 histories measured
#: 0.68 [0.56, 0.79] (95%) against 0.76 for the true process (0.72 [0.59, 0.82] for a
#: 60-day window). The margin allows that and still fails when the band almost never
#: covers (27% of forecasts when calibrating on 60 days).
CALIBRATION_MARGIN = 0.2


@pytest.mark.slow
def test_backtest_with_the_scenario_calibrated_at_each_date():
    """The full back-test: calibrate on what was known, forecast the quarter, score.

    16 independent histories, one forecast of 90 days each after 120 days of history.
    """
    t = scored(n_histories=16, windows=1, horizon=90.0, first_seed=900, min_history=120.0,
               true_process=False)
    assert len(t) == 16
    cov = score.coverage(t["inside"], level=0.99)
    assert cov.high >= EXPECTED - CALIBRATION_MARGIN, cov
    assert cov.low <= EXPECTED, cov  # never wider than a correct forecast's band
    # Over a quarter the weighted pipeline misses the deals still to come (half the
    # bookings here): the P50 is better however rough the calibration (measured over 60
    # forecasts: by 207,000 [168,000, 246,000] on a mean actual of 510,000).
    gain = paired_mae_gain(t, level=0.95)
    assert gain.ci_low > 0, gain


def test_a_process_pool_gives_the_same_backtest(short_history):
    from concurrent.futures import ProcessPoolExecutor

    sc = truth()
    serial = run_backtest(None, 45.0, 45.0, 6, seed=2, visits=short_history, scenario=sc)
    with ProcessPoolExecutor(max_workers=2) as pool:
        pooled = run_backtest(None, 45.0, 45.0, 6, seed=2, visits=short_history, scenario=sc,
                              mapper=pool.map)
    pd.testing.assert_frame_equal(serial.table(), pooled.table())


def test_nothing_is_written_when_the_figure_fails(short_history, tmp_path, monkeypatch):
    bt = run_backtest(None, 45.0, 45.0, 3, visits=short_history, scenario=truth())

    def broken(self):
        raise RuntimeError("no figure")

    monkeypatch.setattr(type(bt), "figure_png", broken)
    with pytest.raises(RuntimeError, match="no figure"):
        bt.write(tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_missing_or_unreadable_history_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="nothing.csv"):
        run_backtest(tmp_path / "nothing.csv", 30.0, 30.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("deal_id,stage,entered_at\nD1,Qualify,yesterday\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"bad.csv:2"):
        run_backtest(bad, 30.0, 30.0)
