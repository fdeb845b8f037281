"""Hour-of-day arrival shapes and a gamma day effect (``profile.hourly``, ``day_effect``).

- Without the new keys nothing changes: the KPIs of shipped scenarios (one with a weekly
  and monthly profile, one homogeneous) are bit for bit those before the keys existed.
- ``hourly`` is a shape: counts per hour of day follow rate x hourly / mean(hourly), and
  the day's total (hence the size estimate) stays rate x 24 hours.
- ``day_effect: {shape: k}``: daily counts are negative binomial, index of dispersion
  1 + m / k, checked against a tolerance from the sampling error of the variance; the
  draws of other streams (a lead's value) do not shift.
- The loader refuses bad values at their field.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from salessim.analyse import analyse
from salessim.calibrate.backtest import aligned
from salessim.engine import run_replication
from salessim.errors import ScenarioError
from salessim.model.demand import arrival_gaps
from salessim.rng import RandomStreams
from salessim.scenario import load_scenario
from salessim.scenario.schema import Scenario
from salessim.scenario.size import expected_leads

ROOT = Path(__file__).resolve().parents[1]
#: Two-sided level of the statistical checks: a correct simulation fails one of them about
#: once in 10,000 runs.
Z = sst.norm.isf(0.5e-4)
HOURLY = [0.1] * 7 + [1, 2, 3, 3, 2, 1.5, 2, 3, 3, 2, 1] + [0.5] * 6


def scenario(profile: dict | None, rate: float = 40.0, horizon: float = 400.0) -> Scenario:
    source: dict = {"rate": rate, "deal_value": {"dist": "uniform", "low": 0, "high": 1}}
    if profile is not None:
        source["profile"] = profile
    return Scenario.model_validate({
        "name": "arrivals", "time_unit": "day", "horizon": horizon, "sources": {"web": source},
        "entry": "sign", "stages": {"sign": {"next": {"won": 1}}}})


def times(sc: Scenario, until: float, replication: int = 0) -> np.ndarray:
    """The source's arrival times before ``until``, straight from its gaps."""
    out, t = [], 0.0
    for gap in arrival_gaps(sc.sources["web"], sc.time_unit, RandomStreams(11, replication),
                            "web"):
        t += gap
        if t >= until:
            break
        out.append(t)
    return np.array(out)


def test_a_source_without_a_profile_draws_plain_exponential_gaps():
    """No profile: the gaps are the ``arrivals:<source>`` stream's exponentials, in order
    (the path every scenario without the new keys takes, untouched by them)."""
    got = np.diff(times(scenario(None), 30.0), prepend=0.0)
    want = RandomStreams(11, 0).generator("arrivals:web").exponential(1 / 40, len(got))
    assert len(got) > 1000
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("profile", [
    {"weekly": [1.2, 1.1, 1, 1, 0.9, 0.5, 0.3]},
    {"day_effect": {"shape": 2.0}},
])
def test_a_flat_hourly_shape_changes_nothing(profile):
    """``hourly`` of 24 equal values multiplies the rate and its peak by exactly 1: the
    same arrival times, bit for bit, with and without it."""
    plain = times(scenario(profile), 60.0)
    flat = times(scenario({**profile, "hourly": [3.0] * 24}), 60.0)
    assert len(plain) > 1000
    assert np.array_equal(plain, flat)


def test_hourly_shape_sets_the_counts_per_hour_of_day():
    days = 300
    t = times(scenario({"hourly": HOURLY}), days)
    hour = np.floor((t * 24) % 24).astype(int)
    observed = np.bincount(hour, minlength=24)
    shape = np.array(HOURLY) / np.mean(HOURLY)
    expected = 40.0 / 24 * shape * days
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert sst.chi2.sf(chi2, 24) > 1e-4, (observed, expected.round())
    # Mean over the day kept: the total is Poisson with mean rate x days.
    assert abs(len(t) - 40.0 * days) < Z * math.sqrt(40.0 * days)


def test_hourly_with_weekly_multiplies_and_keeps_the_size_estimate():
    weekly = [1, 1, 1, 1, 1, 0.5, 0.2]
    plain, shaped = scenario({"weekly": weekly}), scenario({"weekly": weekly, "hourly": HOURLY})
    assert expected_leads(shaped) == expected_leads(plain)
    t = times(shaped, 350)
    cell = np.floor(t).astype(int) % 7 * 24 + np.floor((t * 24) % 24).astype(int)
    observed = np.bincount(cell, minlength=168)
    expected = np.outer(weekly, np.array(HOURLY) / np.mean(HOURLY)).ravel() * 40.0 / 24 * 50
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert sst.chi2.sf(chi2, 168) > 1e-4


def test_day_effect_gives_negative_binomial_days():
    k, m, days = 2.0, 40.0, 3000
    t = times(scenario({"day_effect": {"shape": k}}, rate=m, horizon=days), days)
    counts = np.bincount(np.floor(t).astype(int), minlength=days)[:days]
    index = counts.var(ddof=1) / counts.mean()
    truth = 1 + m / k
    # The sampling error of the variance of negative binomial counts:
    # Var(s^2) ~ (mu4 - sigma^4) / n, mu4 = sigma^4 (3 + excess kurtosis).
    nb = sst.nbinom(k, k / (k + m))
    var, kurt = (float(x) for x in nb.stats(moments="vk"))
    se = math.sqrt(var ** 2 * (2 + kurt) / days) / m
    assert abs(index - truth) < Z * se, (index, truth, se)
    assert abs(counts.mean() - m) < Z * math.sqrt(var / days)
    # And the counts' distribution is the negative binomial (chi-square on pooled bins).
    # Cells (a, b] of about equal chance; counts are whole, so histogram edges at b + 0.5.
    cells = np.concatenate([[-1], np.unique(nb.ppf(np.linspace(0.02, 0.98, 30))), [np.inf]])
    observed = np.histogram(counts, bins=cells + 0.5)[0]
    expected = np.diff(nb.cdf(cells)) * days
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert sst.chi2.sf(chi2, len(expected) - 1) > 1e-4


def test_day_effect_leaves_the_other_streams_alone():
    plain = run_replication(scenario(None, horizon=30), 0, 3, event_log=True).log
    shaken = run_replication(scenario({"day_effect": {"shape": 1.5}}, horizon=30), 0, 3,
                             event_log=True).log
    a, b = plain.cases(), shaken.cases()
    n = min(len(a), len(b))
    assert n > 500 and len(a) != len(b)
    assert np.array_equal(a["deal_value"].to_numpy()[:n], b["deal_value"].to_numpy()[:n])


@pytest.mark.parametrize("profile, field, rule", [
    ({"hourly": [1] * 23}, "sources.web.profile.hourly", "at least 24"),
    ({"hourly": [1] * 23 + [float("nan")]}, "sources.web.profile.hourly.23", "finite"),
    ({"hourly": [0] * 24}, "sources.web.profile", "one above 0"),
    ({"day_effect": {"shape": 0}}, "sources.web.profile.day_effect.shape", "greater than 0"),
    ({"day_effect": {"shape": float("inf")}}, "sources.web.profile.day_effect.shape", "finite"),
    ({"day_effect": {}}, "sources.web.profile.day_effect.shape", "required"),
])
def test_bad_values_are_refused_at_their_field(tmp_path, profile, field, rule):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps({
        "name": "bad", "time_unit": "day", "horizon": 10, "sources": {"web": {"rate": 1, "profile": profile}},
        "entry": "sign", "stages": {"sign": {"next": {"won": 1}}}}).replace("NaN", ".nan")
        .replace("Infinity", ".inf"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert field in text and rule in text.lower(), text


def test_flow_analysis_and_size_estimate_see_the_same_mean_rate():
    def staffed(profile: dict | None) -> Scenario:
        data = scenario(profile).model_dump(mode="json", exclude_unset=True)
        data["roles"] = {"rep": {"headcount": 3}}
        data["stages"]["sign"].update({"role": "rep", "work": 0.05})
        return Scenario.model_validate(data)

    plain = staffed(None)
    shaped = staffed({"hourly": HOURLY, "day_effect": {"shape": 1.5}})
    assert expected_leads(shaped) == expected_leads(plain) == 40.0 * 400
    rows = analyse(shaped).rows
    assert any("utilisation" in str(row) and row[3] == pytest.approx(40 * 0.05 / 3)
               for row in rows), rows
    # The flow rules are the same; the queueing formulas (Poisson arrivals) are left out.
    plain_rows = [repr(row) for row in analyse(plain).rows]
    assert set(map(repr, rows)) <= set(plain_rows)
    assert all("allen_cunneen" in row or "erlang_c" in row
               for row in set(plain_rows) - set(map(repr, rows)))


def test_a_start_at_another_hour_turns_the_hourly_shape():
    sc = scenario({"weekly": [1, 2, 3, 4, 5, 6, 7], "hourly": HOURLY})
    turned = aligned(sc, pd.Timestamp("2026-03-04 14:30")).sources["web"].profile
    assert turned.hourly == HOURLY[14:] + HOURLY[:14]
    assert turned.weekly == [3, 4, 5, 6, 7, 1, 2]  # a Wednesday
    assert aligned(sc, pd.Timestamp("2026-03-02")).sources["web"].profile.hourly == HOURLY
