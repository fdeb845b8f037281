"""A warm start in a stage with exits: old deals get the odds old deals have.

An open deal of age a draws each exit's time given T_k > a and leaves by the first, so
its chance of leaving by exit k is P(k | all T > a) = integral from a of f_k(t)
prod_{j != k} S_j(t) dt / prod_j S_j(a), computed here by scipy's quadrature (apart from
the engine's own integration). The shares are checked inside their binomial confidence
interval at a family-wise error of 1e-4 over the file's checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from tests.conftest import scenario_of

from salessim import engine
from salessim.ends import LOST, NO_DECISION, WON
from salessim.errors import ScenarioError
from salessim.scenario import load_scenario

Z = float(stats.norm.isf(1e-4 / 12 / 2))
NO_LEADS = {"web": {"rate": 1e-12, "deal_value": 1000}}
SIGMA2 = math.log1p(1.5**2)
WON_T = stats.lognorm(math.sqrt(SIGMA2), scale=10.0 * math.exp(-SIGMA2 / 2))
LOST_T = stats.weibull_min(0.8, scale=40.0)
EXITS = {"won": {"time": {"dist": "lognormal", "mean": 10.0, "cv": 1.5}},
         "lost": {"time": {"dist": "weibull", "shape": 0.8, "scale": 40.0}}}


def _p_won(age: float, r: float = 1.0) -> float:
    """P(won first | both times beyond age), the won time divided by r."""
    def f(t: float) -> float:
        return r * WON_T.pdf(r * t) * LOST_T.sf(t)
    num = integrate.quad(f, age, np.inf, limit=400)[0]
    return num / (WON_T.sf(r * age) * LOST_T.sf(age))


def _run(stage: dict, pipeline: list[dict], replication: int = 0):
    sc = scenario_of({"horizon": 1e6, "replications": 1, "sources": NO_LEADS, "entry": "offer",
                      "stages": {"offer": stage}, "pipeline": pipeline}, unit="day")
    rep = engine.run_replication(sc, replication)
    assert rep.pipeline is not None
    return rep.pipeline


def _share_ok(hits: int, n: int, p: float) -> None:
    half = Z * math.sqrt(p * (1 - p) / n)
    assert abs(hits / n - p) <= half, f"{hits}/{n} = {hits / n:.4f}, theory {p:.4f} +- {half:.4f}"


@pytest.mark.parametrize("age", [0.0, 12.0, 60.0])
def test_open_deals_of_an_age_leave_by_each_exit_with_the_conditional_odds(age):
    n = 6000
    out = _run({"exits": EXITS}, [{"id": f"D{i}", "stage": "offer", "age": age, "value": 1000}
                                  for i in range(n)])
    assert np.isin(out.end, (WON.code, LOST.code)).all()
    _share_ok(int((out.end == WON.code).sum()), n, _p_won(age))
    # Old deals are less likely to be won: the lognormal's hazard falls with age less
    # than the Weibull's (shape 0.8), and theory says by how much.
    assert _p_won(60.0) < _p_won(12.0) < _p_won(0.0)


def test_value_odds_count_in_a_warm_start():
    n = 6000
    stage = {"exits": EXITS, "value_odds": {"reference": 4000, "per_doubling": 2.0}}
    out = _run(stage, [{"id": f"D{i}", "stage": "offer", "age": 12.0, "value": 16000}
                       for i in range(n)])
    _share_ok(int((out.end == WON.code).sum()), n, _p_won(12.0, r=4.0))


def test_an_open_deals_age_counts_against_the_time_out():
    stage = {"exits": EXITS, "timeout": {"after": 20.0, "to": "no_decision"}}
    n = 6000
    young = [{"id": f"Y{i}", "stage": "offer", "age": 12.0, "value": 1000} for i in range(n)]
    old = [{"id": f"O{i}", "stage": "offer", "age": 25.0, "value": 1000} for i in range(50)]
    out = _run(stage, young + old)
    y_end, y_when = out.end[:n], out.when[:n]
    assert (y_when <= 8.0 + 1e-9).all()  # 20 days less the 12 already spent
    timed = y_end == NO_DECISION.code
    np.testing.assert_allclose(y_when[timed], 8.0, atol=1e-9)
    p_timed = WON_T.sf(20.0) * LOST_T.sf(20.0) / (WON_T.sf(12.0) * LOST_T.sf(12.0))
    _share_ok(int(timed.sum()), n, p_timed)
    # Older than the time-out: they leave by it at once.
    assert (out.end[n:] == NO_DECISION.code).all() and (out.when[n:] == 0.0).all()


def test_a_warm_start_with_exits_is_reproducible_and_keyed_by_deal():
    deals = [{"id": f"D{i}", "stage": "offer", "age": 5.0, "value": 1000} for i in range(40)]
    first = _run({"exits": EXITS}, deals)
    again = _run({"exits": EXITS}, deals)
    np.testing.assert_array_equal(first.when, again.when)
    # A deal keeps its draws when another deal leaves the pipeline.
    fewer = _run({"exits": EXITS}, deals[1:])
    np.testing.assert_array_equal(fewer.when, first.when[1:])


def test_an_open_deal_older_than_every_exit_allows_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("""name: x
time_unit: day
horizon: 10
sources: {web: {rate: 1}}
entry: offer
stages:
  offer:
    exits:
      won: {time: {dist: uniform, low: 1, high: 5}}
      lost: {time: 3}
pipeline:
  - {id: D1, stage: offer, age: 6}
""")
    with pytest.raises(ScenarioError, match=r"pipeline\.0\.age.*longer than any of its exits"):
        load_scenario(path)
