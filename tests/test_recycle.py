"""Lead recycling: a nurture track brings a share of lost leads back into the funnel.

Against the flow analysis (exact here: routing by fixed odds), the KPIs that split wins into
first-pass and recycled ones, conversion that re-entries do not inflate, common random
numbers for the other stages, and the validation rules of ``recycle``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from conftest import expo, scenario_of
from salessim import engine
from salessim.analyse import analyse, versus
from salessim.errors import ScenarioError
from salessim.scenario import Scenario, load_scenario
from salessim.scenario.dists import Constant
from salessim.stats import t_interval

BACK = 0.5


def const_dist(value: float) -> Constant:
    return Constant(dist="constant", value=value)
  # share of the track's leads that re-enter at qualify


def funnel(back: float = BACK, away: float = 30.0, replications: int = 10, **extra):
    """qualify -> demo -> won, with lost leads of qualify and demo sent to a nurture track."""
    return scenario_of({
        "horizon": 6000, "warmup": 500, "replications": replications,
        "roles": {"sdr": {"headcount": 4}},
        "sources": {"web": {"rate": 1.0, "deal_value": 1000}},
        "entry": "qualify",
        "stages": {
            "qualify": {"role": "sdr", "work": expo(1.0),
                        "next": {"demo": 0.4, "nurture": 0.4, "lost": 0.2}},
            "demo": {"delay": expo(5.0), "next": {"won": 0.5, "nurture": 0.3, "lost": 0.2}},
            "nurture": {"delay": expo(away),
                        "recycle": {"back": {"qualify": back}, "rest": "no_decision"}},
        },
        **extra,
    })


def exact_answers(back: float = BACK) -> dict[str, float]:
    """Close rate and the share of wins recycled, by first-step analysis.

    From qualify, a first pass wins with w = 0.4 x 0.5 = 0.2 and reaches the track with
    t = 0.4 + 0.4 x 0.3 = 0.52; from the track a deal comes back with ``back``. So
    P(won) = w / (1 - t x back), and the first-pass share of it is w.
    """
    w, t = 0.2, 0.52
    won = w / (1 - t * back)
    return {"close_rate": won, "recycled_win_share": (won - w) / won,
            "visits_per_lead.qualify": 1 / (1 - t * back),
            "visits_per_lead.nurture": t / (1 - t * back)}


def test_the_stage_routes_by_its_own_odds_and_is_no_progress():
    sc = funnel()
    nurture = sc.stages["nurture"]
    assert nurture.next == {"qualify": BACK, "no_decision": 1 - BACK}
    assert nurture.progress is False and sc.progress["nurture"] is False


def test_flow_analysis_is_exact_and_the_simulation_agrees():
    sc = funnel()
    a = analyse(sc)
    truth = exact_answers()
    assert a.value("end", "won", "share of leads") == pytest.approx(truth["close_rate"])
    assert a.value("end", "won", "share of wins recycled") == pytest.approx(
        truth["recycled_win_share"])
    assert a.value("stage", "nurture", "visits per lead") == pytest.approx(
        truth["visits_per_lead.nurture"])
    table = versus(engine.run(sc), a, level=0.999).set_index("kpi")
    for kpi, value in truth.items():
        row = table.loc[kpi]
        assert row["exact"], kpi
        assert row["ci_low"] < value < row["ci_high"], (kpi, row)
        assert row["ci_high"] - row["ci_low"] < 0.15 * value, kpi


def test_wins_split_into_first_pass_and_recycled():
    result = engine.run(funnel(replications=4))
    wide = result.wide()
    assert (wide["won_first_pass"] + wide["won_recycled"] == wide["won"]).all()
    assert (wide["won_recycled"] > 0).all()
    pd.testing.assert_series_equal(wide["recycled_win_share"],
                                   wide["won_recycled"] / wide["won"], check_names=False)


def test_recycled_wins_are_the_won_leads_that_visited_the_track():
    """Counted from the event log, independently of the engine's tally: a recycled win is
    a lead created after the warm-up, won, that entered the nurture track before."""
    sc = funnel(replications=1)
    result = engine.run(sc, event_log=True)
    log = result.event_log()
    created = log[log.event == "created"].set_index("lead").time
    counted = set(created[created >= sc.warmup].index)
    won = set(log[log.event == "won"].lead) & counted
    nurtured = set(log[(log.event == "entered") & (log.stage == "nurture")].lead)
    kpis = result.wide().iloc[0]
    assert kpis["won"] == len(won)
    assert kpis["won_recycled"] == len(won & nurtured) > 0
    assert kpis["won_first_pass"] == len(won - nurtured) > 0


def test_re_entries_do_not_inflate_conversion():
    """Leaving for the track is no conversion; a re-entered visit counts as one visit."""
    result = engine.run(funnel(replications=6))
    wide = result.wide()
    # qualify moves on only to demo: 0.4 of its visits, first or re-entered.
    ci = t_interval(wide["conversion.qualify"].to_numpy(float), 0.999)
    assert ci.ci_low < 0.4 < ci.ci_high
    ci = t_interval(wide["conversion.demo"].to_numpy(float), 0.999)
    assert ci.ci_low < 0.5 < ci.ci_high
    # The track's conversion is the share that comes back.
    ci = t_interval(wide["conversion.nurture"].to_numpy(float), 0.999)
    assert ci.ci_low < BACK < ci.ci_high
    # Close rate is per lead: a recycled win counts once.
    assert (wide["won"] <= wide["leads"]).all()


def test_the_track_shifts_no_lead_draws():
    """Its time and odds come from its own streams (``delay:nurture``, ``route:nurture``):
    changing them leaves every lead's arrival, value and first routing draws as they were.

    With fixed work and delay elsewhere and staff enough that nobody waits, a lead's first
    pass depends on nothing else, so every first-pass win is the same, lead by lead.
    """
    def run(back: float, away: float) -> pd.DataFrame:
        sc = funnel(back=back, away=away, replications=1, roles={"sdr": {"headcount": 200}})
        stages = {**sc.stages}
        stages["qualify"] = stages["qualify"].model_copy(update={"work": const_dist(1.0)})
        stages["demo"] = stages["demo"].model_copy(update={"delay": const_dist(5.0)})
        sc = sc.model_copy(update={"stages": stages})
        return engine.run_replication(sc, 0, event_log=True).log.plain_frame()

    def first_pass_wins(frame: pd.DataFrame) -> list:
        nurtured = set(frame.loc[frame["stage"] == "nurture", "lead"])
        won = frame[(frame["event"] == "won") & ~frame["lead"].isin(nurtured)]
        return sorted(zip(won["lead"], won["time"], strict=True))

    a, b = run(0.5, 30.0), run(0.1, 90.0)
    created = a[a["event"] == "created"][["lead", "time"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(created,
                                  b[b["event"] == "created"][["lead", "time"]].reset_index(drop=True))
    assert len(first_pass_wins(a)) > 100
    assert first_pass_wins(a) == first_pass_wins(b)
    assert (a["stage"] == "nurture").sum() != (b["stage"] == "nurture").sum()


@pytest.mark.parametrize(("change", "message"), [
    ({"next": {"qualify": 1.0}}, "routes by recycle.back"),
    ({"delay": None}, "give the stage a delay"),
    ({"progress": True}, "no progress"),
    ({"recycle": {"back": {"won": 0.5}}}, "not an end"),
    ({"recycle": {"back": {"qualify": 0.5}, "rest": "won"}}, "rest"),
    ({"recycle": {"back": {"qualify": 0.7, "demo": 0.6}}}, "at most 1"),
])
def test_validation_names_the_rule(change, message, tmp_path):
    nurture = {"delay": expo(30.0), "recycle": {"back": {"qualify": 0.5}}}
    nurture.update(change)
    nurture = {k: v for k, v in nurture.items() if v is not None}
    with pytest.raises(ValidationError, match=message):
        scenario_of({"horizon": 100, "roles": {"sdr": {"headcount": 1}},
                     "sources": {"web": {"rate": 1.0}}, "entry": "qualify",
                     "stages": {"qualify": {"role": "sdr", "work": expo(1.0),
                                            "next": {"demo": 0.5, "nurture": 0.5}},
                                "demo": {"next": {"won": 0.5, "lost": 0.5}},
                                "nurture": nurture}})


def test_an_unknown_stage_to_come_back_to_is_refused_at_load(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: recycling\nhorizon: 100\nsources: {web: {rate: 1}}\nentry: qualify\n"
        "stages:\n  qualify: {delay: 1, next: {won: 0.5, nurture: 0.5}}\n"
        "  nurture: {delay: 10, recycle: {back: {qualfy: 0.3}}}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="qualfy") as err:
        load_scenario(path)
    assert "did you mean 'qualify'" in str(err.value)


def test_the_editor_schema_says_what_validation_says():
    import jsonschema

    from salessim.scenario.editor_schema import json_schema

    doc = {"name": "recycling", "horizon": 100, "sources": {"web": {"rate": 1}},
           "entry": "qualify",
           "stages": {"qualify": {"delay": 1, "next": {"won": 0.5, "nurture": 0.5}},
                      "nurture": {"delay": 10, "recycle": {"back": {"qualify": 0.3}}}}}
    schema = json_schema()
    jsonschema.validate(doc, schema)
    doc["stages"]["nurture"]["next"] = {"lost": 1.0}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
    del doc["stages"]["qualify"]["next"]
    del doc["stages"]["nurture"]["next"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_a_dumped_scenario_validates_again():
    """A run writes its effective scenario (with the track's ``next``): it reads back."""
    sc = funnel()
    again = Scenario.model_validate(sc.model_dump(by_alias=True), context={"time_unit": "hour"})
    assert again == sc
