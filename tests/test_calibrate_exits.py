"""Competing exits, time-outs and deal-dependent odds recovered from a known process.

The histories come from tests/exitgen.py (numpy alone, not salessim's engine): application
races a fast lognormal offer against a slow Weibull loss, offer races a lognormal move on
against an exponential loss with a 30-day time-out to lost, validation is one gamma time
then won or lost with odds that rise by 1.6 per doubling of the deal's value.

Tolerances: each recovered parameter must hold the truth inside its own interval widened
from 95% to 99.9% (the estimate's standard error times the 99.9% normal quantile), as in
test_calibrate_roundtrip; with about 20 such checks a correct estimator fails one with
probability about 2%.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import exitgen
from salessim.calibrate import exits as ex
from salessim.calibrate.estimate import calibrate, time_resolution
from salessim.calibrate.exitwriter import exit_keys, exits_evidence
from salessim.calibrate.incidence import aalen_johansen
from salessim.calibrate.odds import odds_factors
from salessim.calibrate.pipeline import calibrate_visits, read_visits
from salessim.calibrate.timeout import ALPHA, find_timeout

WIDEN = stats.norm.ppf(0.9995) / stats.norm.ppf(0.975)
pytestmark = pytest.mark.xdist_group("calibrate_exits")


def within(truth: float, est: float, low: float, high: float) -> bool:
    """Truth inside the interval widened about the estimate (each side on its own)."""
    if truth >= est:
        return truth <= est + WIDEN * (high - est)
    return truth >= est - WIDEN * (est - low)


def stage_arrays(h: exitgen.History, stage: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Ages and exit codes of one stage's visits, straight from the generated export."""
    f = h.frame[h.frame["stage"] == stage]
    entered = pd.to_datetime(f["entered_at"])
    left = pd.to_datetime(f["exited_at"].replace("", None))
    ages = ((left.fillna(h.as_of) - entered) / pd.Timedelta(days=1)).to_numpy()
    causes = sorted(set(f["next_stage"]) - {""})
    code = np.array([causes.index(x) if x else -1 for x in f["next_stage"]])
    return ages, code, causes


@pytest.fixture(scope="module")
def history() -> exitgen.History:
    return exitgen.generate(seed=1)


@pytest.fixture(scope="module")
def result(history, tmp_path_factory):
    path = history.write(tmp_path_factory.mktemp("exits") / "history.csv")
    visits = read_visits(path, as_of=str(history.as_of))
    return calibrate_visits(visits, str(path), run_backtest=False, report=True)


# --- the Aalen-Johansen estimator -------------------------------------------------------

def test_aalen_johansen_by_hand():
    # Ages 1..5; a at 1 and 3, b at 2 and 5, open at 2 and 4. At risk 6, 5, 3, 1.
    inc = aalen_johansen(np.array([1, 2, 2, 3, 4, 5.0]), np.array([0, 1, -1, 0, -1, 1]),
                         ["a", "b"])
    assert inc.times.tolist() == [1, 2, 3, 5]
    assert inc.at_risk.tolist() == [6, 5, 3, 1]
    np.testing.assert_allclose(inc.cif[0], [1 / 6, 1 / 6, 7 / 18, 7 / 18])
    np.testing.assert_allclose(inc.cif[1], [0, 1 / 6, 1 / 6, 11 / 18])
    np.testing.assert_allclose(inc.survival, [5 / 6, 2 / 3, 4 / 9, 0])
    f, _ = inc.at("a", [0.5, 1, 2.5, 99])
    np.testing.assert_allclose(f, [0, 1 / 6, 1 / 6, 7 / 18])


def test_aalen_johansen_without_censoring_is_a_proportion():
    rng = np.random.default_rng(4)
    t = rng.exponential(1, 50)
    code = rng.integers(0, 3, 50)
    inc = aalen_johansen(t, code, ["a", "b", "c"])
    for k, c in enumerate("abc"):
        f, se = inc.at(c, [0.5, 1.0, 10.0])
        p = np.array([np.mean((t <= x) & (code == k)) for x in (0.5, 1.0, 10.0)])
        np.testing.assert_allclose(f, p)
        np.testing.assert_allclose(se, np.sqrt(p * (1 - p) / 50))


def test_aalen_johansen_standard_error_matches_its_sampling_spread():
    # 300 censored samples: the spread of the estimate against the mean delta-method
    # standard error. The spread's own relative error is about 1 / sqrt(600) = 4%.
    rng = np.random.default_rng(9)
    est, ses = [], []
    for _ in range(300):
        a, b, c = rng.exponential(2, 200), 3 * rng.weibull(1.5, 200), rng.exponential(4, 200)
        t = np.minimum(np.minimum(a, b), c)
        code = np.where(c < np.minimum(a, b), -1, np.where(a < b, 0, 1))
        f, se = aalen_johansen(t, code, ["a", "b"]).at("b", [1.5])
        est.append(f[0])
        ses.append(se[0])
    assert abs(np.std(est) / np.mean(ses) - 1) < 0.15
    true = stats.weibull_min(1.5, scale=3).expect(lambda s: stats.expon(scale=2).sf(s),
                                                  lb=0, ub=1.5)
    assert abs(np.mean(est) - true) < 4 * np.std(est) / math.sqrt(300)


def test_incidence_holds_the_generators_truth(history):
    checks = {"application": [0.25, 1.0, 3.0, 10.0], "offer": [2.0, 10.0, 20.0, 29.0, 31.0]}
    z = stats.norm.ppf(1 - 0.001 / (2 * 2 * sum(map(len, checks.values()))))
    for stage, ages in checks.items():
        t, code, causes = stage_arrays(history, stage)
        inc = aalen_johansen(t, code, causes)
        for cause in causes:
            f, se = inc.at(cause, ages)
            truth = history.truth.cif(stage, cause, ages)
            assert np.all(np.abs(f - truth) <= z * se), (stage, cause, f, truth, se)


# --- time-outs ----------------------------------------------------------------------------

def test_timeout_located_within_a_day():
    for seed in range(1, 6):
        h = exitgen.generate(seed=seed, days=150)
        found = {s: find_timeout(s, *stage_arrays(h, s)) for s in
                 ("application", "offer", "validation")}
        assert found["application"] is None and found["validation"] is None
        to = found["offer"]
        assert to.to == "lost" and abs(to.after - 30) <= 1
        ages, code, causes = stage_arrays(h, "offer")
        hits = to.hits(ages, code, causes)
        assert hits.sum() == to.count
        assert np.all(np.abs(ages[hits] - 30) < 0.5)


def test_no_time_out_found_on_smooth_exits():
    # 10 histories without a time-out, 6 causes each: at the detector's level (0.001 per
    # cause and stage, Bonferroni over the bins) the chance of 2 or more false alarms in
    # 60 scans is below 0.2%.
    truth = exitgen.Truth(timeout=math.inf)
    alarms = 0
    for seed in range(10):
        h = exitgen.generate(seed=100 + seed, days=150, truth=truth)
        alarms += sum(find_timeout(s, *stage_arrays(h, s)) is not None
                      for s in ("application", "offer", "validation"))
    assert alarms <= 1
    assert stats.binom.sf(1, 60, ALPHA) < 0.002


# --- latent times per exit, and the form ---------------------------------------------------

def test_forms_chosen_and_checked(result):
    found = result.calibration.exits
    assert {s: x.form for s, x in found.items()} == {
        "application": "exits", "offer": "exits", "validation": "next"}
    for s in found.values():
        assert s.check[s.form] < s.check_bound  # the chosen form passes the check
    for sid in ("application", "offer"):
        assert found[sid].check["next"] > found[sid].check_bound  # one time fails it


def test_each_exit_median_inside_its_interval(result, history):
    found = result.calibration.exits
    for stage, causes in history.truth.exits().items():
        for cause, spec in causes.items():
            fit = found[stage].fits[cause]
            truth = float(exitgen.frozen(spec).median())
            assert within(truth, fit.median, fit.median_low, fit.median_high), (
                stage, cause, truth, fit.median, fit.median_low, fit.median_high)
            assert fit.median_high / fit.median_low < 1.6  # and narrow


def test_true_family_among_the_best(result, history):
    found = result.calibration.exits
    for stage, causes in history.truth.exits().items():
        for cause, spec in causes.items():
            fits = found[stage].fits[cause].times.fits
            best = fits[0].aic
            assert any(f.family == spec["dist"] and f.aic <= best + 2 for f in fits), (
                stage, cause, [(f.family, f.aic) for f in fits])


def test_timeout_in_the_calibration(result):
    to = result.calibration.exits["offer"].timeout
    assert to.to == "lost" and abs(to.after - 30) <= 1
    assert result.data["stages"]["offer"]["timeout"] == {"after": f"{to.after:.4g} days",
                                                        "to": "lost"}


def test_value_odds_recovered_and_written_only_where_real(result, history):
    found = result.calibration.exits
    v = found["validation"].value
    assert within(history.truth.per_doubling, v.factor, v.low, v.high), v
    assert found["validation"].written["value"]
    stages = result.data["stages"]
    assert stages["validation"]["value_odds"]["per_doubling"] == pytest.approx(v.factor,
                                                                              rel=1e-3)
    for sid in ("application", "offer"):
        assert found[sid].value.p > 0.01 / 3 and "value_odds" not in stages[sid]


def test_empirical_latent_time_where_no_family_fits():
    # Cause a comes at about 1 day or about 10 days (two lognormal modes); b is exponential.
    rng = np.random.default_rng(5)
    n = 3000
    a = np.where(rng.random(n) < 0.5, 1, 10) * rng.lognormal(0, 0.1, n)
    b = rng.exponential(20, n)
    t = np.minimum(a, b)
    code = (b < a).astype(int)
    s = ex._stage("s", t, code, ["a", "b"], 1 / 1440)
    fa, fb = s.fits["a"], s.fits["b"]
    assert fa.spec["dist"] == "empirical" and fa.misfit > ex.MISFIT_SHARE
    values = np.array(fa.spec["values"])
    assert len(values) == ex.EMPIRICAL_POINTS
    assert abs(np.quantile(values, 0.25) - 1.0) < 0.1
    assert abs(np.quantile(values, 0.75) - 10.0) < 0.5  # the upper mode's median
    assert s.timeout is None
    assert fb.spec["dist"] != "empirical"
    assert s.check["exits"] < s.check_bound  # the empirical race matches the incidence


# --- the written scenario -------------------------------------------------------------

def test_scenario_written_and_loaded(result):
    stages = result.data["stages"]
    app, offer = stages["application"], stages["offer"]
    assert "delay" not in app and "next" not in app
    assert set(app["exits"]) == {"offer", "lost"} and set(offer["exits"]) == {"validation",
                                                                              "lost"}
    assert app["exits"]["lost"]["time"]["dist"] == "weibull"
    loaded = result.scenario.stages
    assert loaded["offer"].timeout is not None and loaded["application"].exits is not None
    assert loaded["validation"].value_odds.per_doubling == stages["validation"][
        "value_odds"]["per_doubling"]
    text = result.yaml
    assert "# time-out: " in text and "likelihood ratio" in text
    assert "exits is chosen when lower by more than 10" in text
    ev = json.loads(json.dumps(result.evidence, default=str))["exits"]
    assert ev["offer"]["timeout"]["to"] == "lost" and ev["application"]["form"] == "exits"
    assert ev["validation"]["value_odds"]["written"] is True
    assert "Exits: competing risks" in result.html and "exits.png" in result.figures


def test_refit_keeps_the_chosen_forms(result):
    """A re-fit (the bootstrap's) keeps every analysed stage's form, time-out and written
    odds, in the current form too (it once dropped them there: the bands ran low)."""
    cal = result.calibration
    again = calibrate(cal.visits, families=ex.chosen_families(cal))
    assert set(again.exits) == set(cal.exits)
    assert any(s.form == "next" and s.value_odds for s in cal.exits.values())
    for sid, s in cal.exits.items():
        b = again.exits[sid]
        assert b.form == s.form and b.timeout == s.timeout
        assert b.written == s.written
        if s.value_odds is not None:
            assert b.value_odds == pytest.approx(s.value_odds, rel=1e-3)
        if s.form != "exits":
            continue
        for cause, f in s.fits.items():
            assert b.fits[cause].times.chosen.family == f.times.chosen.family
            np.testing.assert_allclose(b.fits[cause].times.chosen.params,
                                       f.times.chosen.params, rtol=1e-3)
    # A re-fit given only the times of the stages (no exits keys) adds none of the keys.
    plain = calibrate(cal.visits, families={sid: t.chosen for sid, t in cal.times.items()})
    assert plain.exits == {}


def test_visit_and_time_factors(tmp_path):
    """Visit odds in both forms: the loop from validation back to offer brings deals to
    offer a second time, where the move on's latent time is doubled (visit_odds [1, 0.5]
    in the exits form), and to validation, whose odds of moving on halve."""
    truth = exitgen.Truth(loop=0.25, visit_odds=(1.0, 0.5), offer_per_doubling=1.4,
                          offer_visit_odds=(1.0, 0.5))
    h = exitgen.generate(seed=3, days=150, truth=truth)
    path = h.write(tmp_path / "loop.csv")
    visits = read_visits(path, as_of=str(h.as_of))
    found = ex.fit_exits(visits, time_resolution(visits))
    val, offer = found["validation"], found["offer"]
    assert val.form == "next" and offer.form == "exits"
    assert within(0.5, val.visit.factor, val.visit.low, val.visit.high), val.visit
    assert within(1.6, val.value.factor, val.value.low, val.value.high), val.value
    assert within(1.4, offer.value.factor, offer.value.low, offer.value.high), offer.value
    assert within(0.5, offer.visit.factor, offer.visit.low, offer.visit.high), offer.visit
    assert val.written == {"value": True, "visit": True}
    assert offer.written == {"value": True, "visit": True} and offer.visit.p < 1e-6
    stage: dict = {}
    exit_keys(SimpleNamespace(exits=found), "offer", stage)
    assert stage["visit_odds"] == [1.0, float(f"{offer.visit.factor:.4g}")]
    assert set(stage["exits"]) == {"validation", "lost"}
    evidence = exits_evidence(SimpleNamespace(exits=found))["offer"]["visit_odds"]
    assert evidence["written"] is True and evidence["p"] == pytest.approx(offer.visit.p)


def test_no_visit_effect_in_the_exits_form_is_not_written(tmp_path):
    """The same loop without a visit effect at offer: its test does not reject."""
    truth = exitgen.Truth(loop=0.25, offer_per_doubling=1.4)
    h = exitgen.generate(seed=4, days=120, truth=truth)
    visits = read_visits(h.write(tmp_path / "loop.csv"), as_of=str(h.as_of))
    offer = ex.fit_exits(visits, time_resolution(visits))["offer"]
    assert offer.visit is not None and offer.visit.low < 1 < offer.visit.high, offer.visit
    assert not offer.written["visit"] and offer.visit_odds is None


def test_logistic_factor_null_is_not_significant_and_exact_when_known():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1.5, 4000)
    moved = rng.random(4000) < 1 / (1 + np.exp(-(0.2 + math.log(1.3) * x)))
    f = odds_factors(moved, x, None)["per_doubling"]
    assert within(1.3, f.factor, f.low, f.high) and f.p < 1e-6
    null = odds_factors(rng.random(4000) < 0.4, x, None)["per_doubling"]
    assert null.low < 1 < null.high and null.p > 0.001
