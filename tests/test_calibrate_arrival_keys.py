"""Calibration writes ``profile.hourly`` and ``profile.day_effect`` when the data needs them.

On a generated log with a daily shape and a gamma day effect (tests/loggen.py, k = 4), the
calibrated scenario has both, with the evidence in the YAML's comments, the written file
loads, and the hour shape recovers the generator's. Flat hours and Poisson days give
neither key.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sst
from tests import loggen

from salessim.calibrate.arrivals import ALPHA, _dispersion, _hour_shape
from salessim.calibrate.backtest import aligned
from salessim.calibrate.pipeline import calibrate_file
from salessim.model.demand import arrival_gaps
from salessim.rng import RandomStreams
from salessim.scenario import load_scenario


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("arrival_keys")
    log = loggen.generate(seed=11, days=150)
    path = loggen.write_xes(log, tmp / "credit.xes.gz")
    stages = tmp / "stages.yaml"
    stages.write_text(loggen.STAGE_MAP, encoding="utf-8")
    return tmp, calibrate_file(path, stages=stages, run_backtest=False, report=False)


def test_both_keys_are_written_with_their_evidence(calibrated):
    tmp, result = calibrated
    a = result.calibration.arrivals["all"]
    profile = result.scenario.sources["all"].profile
    assert profile.day_effect.shape == pytest.approx(a.day_effect, rel=1e-3)
    assert a.day_effect_ci[0] <= loggen.K <= a.day_effect_ci[1]
    assert a.hourly_test.rejects and profile.hourly == a.hour_profile
    assert np.mean(profile.hourly) == pytest.approx(1, abs=1e-3)
    lines = {line.split(":")[0].strip(): line for line in result.yaml.splitlines()
             if line.startswith("      ")}
    assert "bootstrap over days" in lines["day_effect"] and "95% CI" in lines["day_effect"]
    assert "per hour of day against flat" in lines["hourly"]
    written = tmp / "calibrated.yaml"
    written.write_text(result.yaml, encoding="utf-8")
    loaded = load_scenario(written)
    assert loaded.sources["all"].profile == profile
    assert yaml.safe_load(result.yaml)["sources"]["all"]["profile"]["day_effect"] == {
        "shape": profile.day_effect.shape}


def test_the_hour_shape_recovers_the_generators(calibrated):
    _, result = calibrated
    a = result.calibration.arrivals["all"]
    counts = np.asarray(a.hourly).sum(axis=0)  # shares over the full days
    n = a.n - int(a.daily.iloc[[0, -1]].sum())
    # Multinomial shares: each within z sqrt(p (1 - p) / n) of the truth (the day effect
    # and the weekday shape scale whole days, so they leave the hour shares multinomial).
    z = 4.4  # two-sided 1e-5 each, 24 hours
    assert np.all(np.abs(counts - loggen.HOURS) < z * np.sqrt(loggen.HOURS * (1 - loggen.HOURS) / n))
    assert np.allclose(a.hour_profile, counts * 24, atol=1e-3)


def test_flat_hours_give_no_hourly_profile():
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2025-01-06")
    created = pd.Series(start + pd.to_timedelta(rng.uniform(0, 100, 5000), unit="D"))
    test, shape = _hour_shape(created)
    assert test.df == 23 and test.p >= ALPHA and shape is None
    hours = created.dt.hour.to_numpy()
    peaked = created[(hours >= 9) & (hours < 17) | (rng.uniform(size=5000) < 0.2)]
    test, shape = _hour_shape(peaked)
    assert test.rejects and shape is not None and np.mean(shape) == pytest.approx(1, abs=1e-3)


def test_poisson_days_give_no_day_effect(tmp_path, monkeypatch):
    monkeypatch.setattr(loggen, "K", 1e12)  # gamma(K, 1 / K) is 1: Poisson days
    log = loggen.generate(seed=3, days=120, rate=10.0, front=2, back=2)
    path = loggen.write_xes(log, tmp_path / "poisson.xes.gz")
    stages = tmp_path / "stages.yaml"
    stages.write_text(loggen.STAGE_MAP, encoding="utf-8")
    result = calibrate_file(path, stages=stages, run_backtest=False, report=False)
    a = result.calibration.arrivals["all"]
    assert not a.dispersion.rejects and a.day_effect is None
    profile = result.scenario.sources["all"].profile
    assert profile.day_effect is None and profile.hourly == a.hour_profile is not None
    assert "day_effect" not in result.yaml


def test_calibration_json_keeps_the_hour_test(calibrated):
    _, result = calibrated
    a = result.calibration.arrivals["all"]
    shape = result.evidence["arrival_shape"]["all"]
    assert shape["hour_of_day_test"] == {"statistic": a.hourly_test.statistic, "df": 23,
                                         "p": a.hourly_test.p}


def test_dates_without_a_time_give_no_hour_test():
    days = pd.Series(pd.Timestamp("2025-01-06") + pd.to_timedelta(np.arange(500) % 90, unit="D"))
    assert _hour_shape(days) == (None, None)


def test_simulating_the_calibrated_source_reproduces_the_days_and_hours(calibrated):
    """A parametric bootstrap: the calibrated source, simulated over the window again and
    again, gives indexes of dispersion among which the data's is not extreme, and hour
    shares the data's do not differ from (chi-square of homogeneity)."""
    _, result = calibrated
    a, win = result.calibration.arrivals["all"], result.calibration.window
    scenario = aligned(result.scenario, win.start)
    source = scenario.sources["all"]
    days = len(a.daily)
    weekday = np.asarray(a.daily.index.day_of_week)[1:-1]
    shape = np.asarray(source.profile.weekly)[weekday]
    indexes, hours = [], np.zeros(24)
    for replication in range(200):
        t, times = 0.0, []
        for gap in arrival_gaps(source, "day", RandomStreams(1, replication), "all"):
            t += gap
            if t >= days:
                break
            times.append(t)
        times = np.asarray(times)
        counts = np.bincount(times.astype(int), minlength=days)[1:-1]
        test = _dispersion(counts, shape, 7)
        indexes.append(test.statistic / test.df)
        inner = times[(times >= 1) & (times < days - 1)]
        hours += np.bincount((inner * 24 % 24).astype(int), minlength=24)
    low, high = np.quantile(indexes, [0.005, 0.995])
    assert low <= a.index <= high, (a.index, low, high)
    data = np.asarray(a.hourly).sum(axis=0) * (a.n - int(a.daily.iloc[[0, -1]].sum()))
    _, p, _, _ = sst.chi2_contingency(np.vstack([data.round(), hours]))
    assert p > 1e-3, p
