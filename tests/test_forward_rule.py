"""The forward rule (``ends.is_forward``) is written once and every part agrees with it.

A ``progress: false`` stage (a nurture track) is not forward: leaving a stage for it is no
conversion, and the odds factors (score odds, decay) move the split between the forward
targets and the others with it on the other side. The flow analysis once put it on the
forward side: on the constant-score case below it gave a close rate of 0.44 where the
engine gives 0.71.
"""

from __future__ import annotations

import pytest

from conftest import scenario_of
from salessim import engine
from salessim.analyse import analyse, routing
from salessim.ends import is_forward
from salessim.model.journey import StagePlan
from salessim.records import StageTally
from salessim.stats import t_interval

AT_1 = 9.0
SCORE = 0.9


def nurture_case(replications: int = 12):
    return scenario_of({
        "horizon": 3000, "replications": replications,
        "sources": {"web": {"rate": 1.0, "score": {"dist": "constant", "value": SCORE}}},
        "entry": "qualify",
        "stages": {
            "qualify": {"delay": {"dist": "constant", "value": 1.0},
                        "score_odds": {"at_0": 1.0, "at_1": AT_1},
                        "next": {"won": 0.2, "nurture": 0.4, "lost": 0.4}},
            "nurture": {"delay": {"dist": "constant", "value": 2.0}, "progress": False,
                        "next": {"qualify": 0.5, "lost": 0.5}},
        },
    })


def closed_form() -> tuple[float, float]:
    """(P(won) per visit of qualify, close rate): the odds move won against the rest."""
    m = AT_1**SCORE
    won = m * 0.2 / (0.8 + m * 0.2)
    nurture = 0.4 * (1 - won) / 0.8
    return won, won / (1 - nurture * 0.5)


def test_the_rule_on_ends_and_stages():
    progress = {"qualify": True, "nurture": False}
    assert is_forward("won", progress) and not is_forward("lost", progress)
    assert not is_forward("no_decision", progress)
    assert is_forward("qualify", progress) and not is_forward("nurture", progress)
    with pytest.raises(KeyError):
        is_forward("nowhere", progress)


def test_flow_routing_moves_the_same_split_as_the_engine():
    sc = nurture_case()
    stage = sc.stages["qualify"]
    odds = routing(stage, sc.sources["web"], sc.progress)
    won, _ = closed_form()
    assert odds["won"] == pytest.approx(won, rel=1e-12)
    assert odds["nurture"] == pytest.approx(0.4 * (1 - won) / 0.8, rel=1e-12)
    # The engine's compiled plan, routed at the same odds factor, over a fine grid of u.
    plan = StagePlan("qualify", StageTally())
    names = list(stage.next)
    plan.set_routing(names, [stage.next[n] for n in names],
                     [is_forward(n, sc.progress) for n in names], None, stage.score_odds)
    from salessim.model.journey import _route_with_odds

    n = 200_000
    hits = sum(_route_with_odds(plan, (k + 0.5) / n, AT_1**SCORE) == 0 for k in range(n))
    assert hits / n == pytest.approx(won, abs=2 / n)


def test_flow_analysis_close_rate_agrees_with_the_simulation():
    sc = nurture_case()
    _, close = closed_form()
    analytic = analyse(sc).value("end", "won", "share of leads")
    assert analytic == pytest.approx(close, rel=1e-9)
    result = engine.run(sc)
    ci = t_interval(result.wide()["close_rate"].to_numpy(float), 0.999)
    assert ci.ci_low < analytic < ci.ci_high
    assert ci.ci_high - ci.ci_low < 0.03
