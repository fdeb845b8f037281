"""A stage with no observed exit: a stated prior, never a silent 100% to lost.

The history is the known process of tests/forecast_histories.py run for 25 days: deals
reach negotiation and none has left it yet (truth: won 0.6, lost 0.3, back 0.1).
"""

from __future__ import annotations

import pytest
from tests.forecast_histories import history, truth

from salessim.calibrate.estimate import Routing, calibrate, pool_unexited, wilson
from salessim.calibrate.readers import ExportError
from salessim.calibrate.writer import (
    check_scenario,
    evidence,
    routes,
    scenario_data,
    scenario_yaml,
)
from salessim.forecast import parse_until
from salessim.forecast.gap import PipelineGap


@pytest.fixture(scope="module")
def short():
    visits = history(truth(), 25, 1)
    return calibrate(visits)


def test_a_stage_never_left_is_pooled_from_the_stages_with_exits(short):
    r = short.routing["negotiation"]
    assert r.exits == 0 and r.open > 0
    others = [x for sid, x in short.routing.items() if sid != "negotiation"]
    total = sum(x.exits for x in others)
    lost = sum(x.counts.get("lost", 0) for x in others)
    # The pooled loss share goes to lost; the rest moves on (the last stage: to won).
    assert routes(short, "negotiation") == pytest.approx({"lost": lost / total,
                                                           "won": 1 - lost / total}, abs=1e-6)
    assert r.intervals["lost"] == pytest.approx(wilson(lost, total))
    # The scenario can win: 0 won would make every forecast from it say 0.
    data = scenario_data(short, "short")
    assert data["stages"]["negotiation"]["next"]["won"] > 0.3
    text = scenario_yaml(short, data, "history")
    assert "# prior, not data: no exit seen: pooled prior from the" in text
    assert check_scenario(text).stages["negotiation"].next == data["stages"]["negotiation"][
        "next"]
    assert any("'negotiation'" in w and "prior, not an estimate" in w for w in short.warnings)
    assert "prior" in evidence(short, data, "history")["routing"]["negotiation"]


def test_no_exit_anywhere_is_refused_naming_the_stage(short):
    empty = {"qualify": Routing("qualify", 0, 3, {}, {}, {})}
    with pytest.raises(ExportError, match="stage 'qualify': no visit of any stage ended"):
        pool_unexited(short.visits, empty)


def _gap(**change) -> PipelineGap:
    base = dict(weighted=0.0, simulated_mean=0.0, simulated_p50=0.0, still_open=0.0,
                capacity=0.0, capacity_low=0.0, capacity_high=0.0, staffed=False)
    return PipelineGap(**{**base, **change})


def test_the_forecast_never_says_none_is_open_when_deals_are():
    until = parse_until("2026-09-30")  # the whole of 30 September
    assert "No deal is open" in _gap().sentence(until)
    text = _gap(open_deals=59, open_value=418860.0).sentence(until)
    assert "none is open" not in text and "No deal is open" not in text
    assert text.startswith("The 59 open deals (418,860 of value) bring nothing by the end of "
                           "2026-09-30")
    assert "none has an amount" in _gap(open_deals=3).sentence(until)
