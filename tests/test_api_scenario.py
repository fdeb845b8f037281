"""Scenarios built and derived in code: duration strings in the scenario's own time unit,
and derived scenarios validated like files."""

from __future__ import annotations

import pytest

from salessim.errors import ScenarioError
from salessim.scenario import Scenario, evolve, load_scenario, resolved

HOURS = {
    "name": "hour funnel", "time_unit": "hour", "horizon": "2 weeks", "warmup": "1 day",
    "roles": {"rep": {"headcount": 1}},
    "sources": {"web": {"rate": 0.5}},
    "entry": "call",
    "stages": {"call": {"role": "rep", "work": {"dist": "constant", "value": "30 minutes"},
                        "next": {"won": 0.5, "lost": 0.5}}},
}


@pytest.mark.parametrize("build", [
    lambda data: Scenario.model_validate(data),
    lambda data: Scenario(**data),
], ids=["model_validate", "constructor"])
def test_a_scenario_built_from_a_dict_reads_durations_in_its_own_unit(build):
    scenario = build(HOURS)
    assert scenario.horizon == 2 * 7 * 24  # never 14 (two weeks read as days)
    assert scenario.warmup == 24
    assert scenario.stages["call"].work.value == 0.5


def test_an_explicit_context_still_wins():
    # The loader passes the context it read from the file; it is the same unit.
    scenario = Scenario.model_validate(HOURS, context={"time_unit": "hour"})
    assert scenario.horizon == 336


def test_evolve_reads_duration_strings_in_the_scenario_s_unit():
    base = Scenario.model_validate(HOURS)
    longer = evolve(base, horizon="3 weeks", warmup=48)
    assert (longer.horizon, longer.warmup, longer.time_unit) == (504, 48, "hour")
    assert base.horizon == 336  # frozen: the original is unchanged


def test_evolve_merges_like_a_redesign_file_and_dotted_keys_are_paths():
    base = load_scenario("scenarios/b2b_baseline.yaml")
    more = evolve(base, {"roles.ae.headcount": base.roles["ae"].headcount + 1,
                        "stages": {"close": {"delay": {"mean": 1}}}})
    assert more.roles["ae"].headcount == base.roles["ae"].headcount + 1
    assert more.roles["ae"].cost_per_hour == base.roles["ae"].cost_per_hour  # merged, kept
    assert more.stages["close"].delay.mean == 1
    assert more.stages["close"].delay.cv == base.stages["close"].delay.cv
    changed = {k for k in resolved(base) if resolved(base)[k] != resolved(more)[k]}
    assert changed == {"roles", "stages"}


def test_evolve_with_no_change_is_the_same_scenario():
    base = load_scenario("scenarios/b2b_baseline.yaml")
    assert evolve(base) == base


def test_evolve_validates_what_model_copy_would_let_through():
    base = load_scenario("scenarios/b2b_baseline.yaml")
    assert base.model_copy(update={"horizon": -5}).horizon == -5  # pydantic checks nothing
    with pytest.raises(ScenarioError, match=r"^evolve: horizon: .*greater than 0 \(got -5\)"):
        evolve(base, horizon=-5)
    with pytest.raises(ScenarioError, match=r"evolve: warmup: warmup \(400\) must be shorter"):
        evolve(base, warmup=400)
    # Whole-process rules too: a route to a stage that does not exist.
    with pytest.raises(ScenarioError, match=r"stages\.close\.next"):
        evolve(base, {"stages.close.next": {"nowhere": 1.0}})


def test_evolve_keeps_the_time_unit_and_takes_no_base():
    base = Scenario.model_validate(HOURS)
    with pytest.raises(ScenarioError, match=r"evolve: time_unit: .*numbers are in hours"):
        evolve(base, time_unit="day")
    assert evolve(base, time_unit="hour") == base
    with pytest.raises(ScenarioError, match=r"evolve: extends:"):
        evolve(base, extends="other.yaml")


def test_evolve_adds_only_under_add():
    base = load_scenario("scenarios/b2b_baseline.yaml")
    with pytest.raises(ScenarioError, match=r"roles\.aee: the base has no such role \(did you "
                                            r"mean 'ae'\?\)"):
        evolve(base, {"roles.aee.headcount": 7})
    more = evolve(base, add={"roles": {"bdr": {"headcount": 2, "cost_per_hour": 30}}})
    assert more.roles["bdr"].headcount == 2 and set(base.roles) < set(more.roles)
