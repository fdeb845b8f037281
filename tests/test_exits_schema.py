"""The exit keys in the scenario: their rules, their errors, their implied shares."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pydantic import TypeAdapter
from tests.conftest import expo, refused, scenario_of

from salessim.errors import ScenarioError
from salessim.scenario import load_scenario
from salessim.scenario.dists import Dist
from salessim.scenario.exits import ValueOdds
from salessim.scenario.schema import Scenario, process_problems
from salessim.scenario.survival import race
from salessim.teaching.bpmn import bpmn_xml
from salessim.teaching.graph import stage_lines

HEAD = """name: x
time_unit: day
horizon: 100
sources: {web: {rate: 1, deal_value: 1000}}
entry: offer
stages:
  offer:
"""
EXITS = """    exits:
      won: {time: {dist: exponential, mean: 2}}
      lost: {time: {dist: exponential, mean: 6}}
"""


def _file(tmp_path, body: str) -> str:
    path = tmp_path / "s.yaml"
    head = HEAD if "role: rep" not in body else HEAD.replace(
        "sources:", "roles: {rep: {headcount: 1}}\nsources:")
    path.write_text(head + body)
    return str(path)


@pytest.mark.parametrize(("body", "needles"), [
    (EXITS + "    next: {won: 1}\n", ["stages.offer", "a stage with exits has no next"]),
    (EXITS + "    delay: 3\n", ["stages.offer", "a stage with exits has no delay"]),
    ("    exits:\n      won: {time: 2}\n", ["stages.offer.exits", "at least 2"]),
    (EXITS + "    timeout: {after: 30, to: nowhere}\n",
     ["stages.offer.timeout.to", "unknown stage or terminal state", "nowhere"]),
    ("    exits:\n      won: {time: 2}\n      lost: {time: 3}\n      later: {time: 4}\n",
     ["stages.offer.exits.later", "unknown stage or terminal state"]),
    ("    delay: 1\n    next: {won: 1}\n    value_odds: {reference: 100, per_doubling: 2}\n",
     ["value_odds changes the odds of moving on", "next needs both kinds of target"]),
    (EXITS + "    visit_odds: [1, .nan]\n", ["stages.offer.visit_odds.1", "finite"]),
    (EXITS + "    visit_odds: [1, 0]\n", ["stages.offer.visit_odds.1", "greater than 0"]),
    (EXITS + "    value_odds: {reference: 0, per_doubling: 2}\n",
     ["stages.offer.value_odds.reference", "greater than 0"]),
    (EXITS + "    timeout: {after: .inf, to: lost}\n", ["stages.offer.timeout.after"]),
    (EXITS + "    timeout: {after: 0, to: lost}\n", ["stages.offer.timeout.after"]),
    ("    exits:\n      won: {time: {dist: exponential, mean: .nan}}\n      lost: {time: 3}\n",
     ["stages.offer.exits.won.time"]),
    (EXITS + "    role: rep\n    work: 1\n    decay: {half_life: 2}\n",
     ["decay routes by next", "a stage with exits has none"]),
])
def test_a_broken_exit_key_is_refused_with_its_place(tmp_path, capsys, body, needles):
    refused(capsys, ["validate", _file(tmp_path, body)], "s.yaml", *needles)


def test_a_stage_reached_only_by_a_time_out_is_reachable():
    sc = scenario_of({"horizon": 10, "sources": {"web": {"rate": 1}}, "entry": "offer",
                      "stages": {"offer": {"delay": expo(1), "next": {"won": 1.0},
                                           "timeout": {"after": 2, "to": "rescue"}},
                                 "rescue": {"delay": expo(1), "next": {"lost": 1.0}}}})
    assert process_problems(sc) == []
    sc = scenario_of({"horizon": 10, "sources": {"web": {"rate": 1}}, "entry": "offer",
                      "stages": {"offer": {"exits": {"won": {"time": expo(1)},
                                                     "rescue": {"time": expo(2)}}},
                                 "rescue": {"delay": expo(1), "next": {"lost": 1.0}}}})
    assert process_problems(sc) == []


def test_a_dumped_scenario_with_exits_validates_again_without_next():
    sc = load_scenario("scenarios/consumer_credit_exits.yaml")
    dumped = sc.model_dump(by_alias=True)
    stage = next(s for s in dumped["stages"].values() if s.get("exits"))
    assert "next" not in stage and stage["delay"] is None
    again = Scenario.model_validate(dumped, context={"time_unit": sc.time_unit})
    assert again.stages == sc.stages


def test_implied_shares_of_exponential_exits_are_the_rates_shares():
    sc = scenario_of({"horizon": 10, "sources": {"web": {"rate": 1}}, "entry": "offer",
                      "stages": {"offer": {"exits": {"won": {"time": expo(2)},
                                                     "lost": {"time": expo(6)}},
                                           "timeout": {"after": 3, "to": "no_decision"}}}})
    implied = sc.stages["offer"].implied
    total = 1 / 2 + 1 / 6
    late = math.exp(-3 * total)
    assert implied.routes["won"] == pytest.approx(0.75 * (1 - late), rel=1e-6)
    assert implied.routes["no_decision"] == pytest.approx(late, rel=1e-9)
    assert implied.mean_time == pytest.approx((1 - late) / total, rel=1e-6)
    assert not implied.exact
    assert sc.stages["offer"].next == implied.routes  # every reader of next sees them


@pytest.mark.parametrize("times", [
    [{"dist": "constant", "value": 2.0}, {"dist": "uniform", "low": 1.0, "high": 3.0}],
    [{"dist": "empirical", "values": [1, 2, 4]}, {"dist": "triangular", "low": 0, "mode": 1,
                                                  "high": 5}],
    [{"dist": "gamma", "mean": 2, "cv": 0.5}, {"dist": "pert", "low": 0, "mode": 2, "high": 6},
     {"dist": "normal", "mean": 3, "sd": 2}],
])
def test_the_race_of_any_families_matches_a_large_sample(times):
    """The integrated race against a million draws (a sample's CI, 5 sd)."""
    dists = [TypeAdapter(Dist).validate_python(t) for t in times]
    rng = np.random.default_rng(7)
    n = 1_000_000
    draws = np.array([list(itertools.islice(d.draws(rng), n)) for d in dists])
    first = draws.argmin(axis=0)
    out = race(dists, cap=2.5)
    capped = np.minimum(draws.min(axis=0), 2.5)
    timed = draws.min(axis=0) > 2.5
    for k in range(len(dists)):
        p = float(((first == k) & ~timed).mean())
        assert out.exits[k] == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n) + 1e-9)
    p = float(timed.mean())
    assert out.timed_out == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n) + 1e-9)
    assert out.mean_time == pytest.approx(capped.mean(), abs=5 * capped.std() / math.sqrt(n))


def test_value_odds_factor_per_doubling():
    odds = ValueOdds(reference=15000, per_doubling=1.3)
    assert odds.factor(15000) == 1.0
    assert odds.factor(60000) == pytest.approx(1.3**2)
    assert odds.factor(0) == odds.factor(1.0) == pytest.approx(1.3 ** math.log2(1 / 15000))


def test_diagrams_show_the_exits_and_the_time_out():
    sc = load_scenario("scenarios/consumer_credit_exits.yaml")
    sid, stage = next((s, st) for s, st in sc.stages.items() if st.timeout is not None)
    lines = stage_lines(stage, sid, sc.time_unit)
    assert any(line.startswith("exits race") for line in lines)
    assert any(line.startswith("time-out 30 days -> ") for line in lines)
    xml = bpmn_xml(sc)
    assert f"first exit of {sid} (time-out 30 -&gt; {stage.timeout.to})" in xml


def test_a_scenario_with_an_unknown_exit_target_names_it(tmp_path):
    path = _file(tmp_path, "    exits:\n      won: {time: 2}\n      lots: {time: 3}\n")
    with pytest.raises(ScenarioError, match=r"did you mean 'lost'"):
        load_scenario(path)
