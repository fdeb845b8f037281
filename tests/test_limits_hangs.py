"""Scenarios that validate must not hang a run: loops that take no simulated time, steps
of a minute's fraction, and back-tests of a quarter of a million forecasts.

Each of these ran for ever (or for weeks) after ``validate`` said ok. A test that one
no longer hangs runs it under :func:`conftest.cpu_limit`, so a return of the defect fails
the test instead of stopping the suite.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import SEED, const, cpu_limit, expo, refused, scenario_of
from salessim import engine
from salessim.errors import ScenarioError, UsageError
from salessim.model.runsize import estimate
from salessim.scenario.size import (
    MAX_CYCLES,
    ZERO_TIME_TURNS,
    recurring_steps,
    size_problems,
    zero_time_turns,
)

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
HISTORY = ROOT / "examples" / "crm" / "stage_history.csv"


def funnel(stages: dict, entry: str, unit_horizon: float = 30, **parts) -> dict:
    return {"horizon": unit_horizon, "replications": 1,
            "roles": {"rep": {"headcount": 2, "cost_per_hour": 10}},
            "sources": {"web": {"rate": 2, "deal_value": 1000}},
            "entry": entry, "stages": stages, **parts}


def problems_of(doc: dict) -> list:
    return size_problems(scenario_of(doc, unit="day"))


# --- 1. a loop of skipped stages ---------------------------------------------------------


def test_a_stage_that_sends_skipped_deals_back_to_itself_is_refused():
    doc = funnel({"call": {"role": "rep", "work": expo(0.1),
                           "only_if": {"deal_value_above": 5000, "otherwise": "call"},
                           "next": {"won": 0.5, "lost": 0.5}}}, "call")
    [problem] = problems_of(doc)
    assert problem.field == "stages.call.only_if.otherwise"
    assert "call -> call" in problem.rule


def test_a_chain_of_skips_that_comes_back_is_refused_once():
    skip = {"deal_value_above": 5000}
    doc = funnel({
        "a": {"role": "rep", "work": expo(0.1), "only_if": {**skip, "otherwise": "b"},
              "next": {"b": 1}},
        "b": {"role": "rep", "work": expo(0.1), "only_if": {**skip, "otherwise": "a"},
              "next": {"won": 0.5, "lost": 0.5}},
    }, "a")
    [problem] = problems_of(doc)
    assert problem.field == "stages.a.only_if.otherwise" and "a -> b -> a" in problem.rule


def zero_time_loop() -> dict:
    """A deal worth 1000 skips ``qualify`` back to ``triage``, which takes no time and
    sends it to ``qualify`` again: a loop no static rule of skips sees (it passes ``next``)."""
    return funnel({
        "triage": {"next": {"qualify": 1}},
        "qualify": {"role": "rep", "work": expo(0.1),
                    "only_if": {"deal_value_above": 5000, "otherwise": "triage"},
                    "next": {"won": 0.5, "lost": 0.5}},
    }, "triage")


def test_a_loop_that_takes_no_time_stops_the_run_naming_the_stage_and_rule():
    scenario = scenario_of(zero_time_loop(), unit="day")
    assert size_problems(scenario) == []
    with cpu_limit(20), pytest.raises(ScenarioError) as info:
        engine.run_replication(scenario, 0, event_log=True)
    [problem] = info.value.problems
    assert problem.field == "stages.qualify.only_if"
    assert f"{ZERO_TIME_TURNS:,} times" in problem.rule and "never end" in problem.rule
    assert problem.value == 1000


def test_the_command_refuses_the_loop_with_exit_2(tmp_path, capsys):
    import yaml

    path = tmp_path / "loop.yaml"
    path.write_text(yaml.safe_dump({"name": "loop", "time_unit": "day", "seed": SEED,
                                    **zero_time_loop()}))
    with cpu_limit(30):
        refused(capsys, ["run", str(path), "--workers", "1", "--out", str(tmp_path / "out")],
                "stages.qualify.only_if", "without simulated time passing")
    assert not (tmp_path / "out").exists()


def test_skips_that_go_on_in_time_are_no_loop():
    # Deals worth 1000 skip qualify on to a staffed stage that takes time: every deal
    # passes qualify by once, far more than ZERO_TIME_TURNS deals in all.
    doc = funnel({
        "qualify": {"role": "rep", "work": expo(0.001),
                    "only_if": {"deal_value_above": 5000, "otherwise": "pitch"},
                    "next": {"pitch": 1}},
        "pitch": {"role": "rep", "work": const(0.0001), "next": {"qualify": 0.5, "won": 0.5}},
    }, "qualify", unit_horizon=10_000)
    doc["sources"]["web"]["rate"] = 3
    rep = engine.run_replication(scenario_of(doc, unit="day"), 0)
    assert rep.tally.stages["qualify"].skipped > 2 * ZERO_TIME_TURNS


def test_the_guard_leaves_room_for_loops_by_the_odds():
    # A loop by the odds through stages that take no time returns 1/(1-p) times per
    # lead on average: the guard is 50 times that (a false alarm has odds below e^-50).
    doc = funnel({
        "triage": {"only_if": {"deal_value_above": 5000, "otherwise": "check"},
                   "next": {"check": 1}},
        "check": {"next": {"triage": 0.9999, "won": 0.0001}},
    }, "triage")
    scenario = scenario_of(doc, unit="day")
    assert zero_time_turns(scenario) == pytest.approx(50 * 2 * 10_000, rel=1e-6)
    assert zero_time_turns(scenario_of(zero_time_loop(), unit="day")) == ZERO_TIME_TURNS


# --- 2 and 3. renewal terms and meetings of a fraction of a minute -------------------------


def renewal(term: float, probability: float = 1.0) -> dict:
    doc = funnel({"call": {"role": "rep", "work": expo(0.1), "next": {"won": 0.5, "lost": 0.5}}},
                 "call", unit_horizon=100)
    doc["renewal"] = {"term": term, "probability": probability}
    return doc


def test_a_renewal_term_below_a_minute_is_refused():
    [problem] = problems_of(renewal(1e-7))
    assert problem.field == "renewal.term" and "at least a minute" in problem.rule


def test_a_renewal_term_with_too_many_steps_in_the_horizon_is_refused():
    doc = renewal(0.1)
    doc["horizon"] = 300_000  # days: 3 million terms of 2.4 hours
    doc["sources"]["web"]["rate"] = 0.001
    [problem] = problems_of(doc)
    assert problem.field == "renewal.term" and f"{MAX_CYCLES:,}" in problem.rule


def test_renewals_are_counted_in_the_size_of_a_run():
    # 2 leads a day for 100 days, half won; renewed every day with p = 1: each won deal
    # is up for renewal about 100 times (horizon / term) at most; with p = 1/2 twice.
    certain = scenario_of(renewal(1.0), unit="day")
    _, renewals = recurring_steps(certain)
    assert renewals == pytest.approx(200 * 0.5 * 100)
    _, halves = recurring_steps(scenario_of(renewal(1.0, 0.5), unit="day"))
    assert halves == pytest.approx(200 * 0.5 * (1 - 0.5 ** 100) / 0.5)
    base = estimate(scenario_of({k: v for k, v in renewal(1.0).items() if k != "renewal"},
                                unit="day"))
    assert estimate(certain).events - base.events == pytest.approx(2 * renewals)
    assert estimate(certain).visits - base.visits == pytest.approx(renewals)


def test_tutorial_with_a_renewal_every_tenth_of_a_microsecond_is_refused(capsys):
    with cpu_limit(20):
        refused(capsys, ["validate", str(TUTORIAL), "--set",
                         "renewal={term: 1e-7, probability: 1}"],
                "renewal.term", "at least a minute")


def meeting(every: float, horizon: float = 30) -> dict:
    return funnel({"review": {"role": "rep", "meeting": {"every": every},
                              "next": {"won": 0.5, "lost": 0.5}}}, "review",
                  unit_horizon=horizon)


def test_a_meeting_interval_below_a_minute_is_refused():
    [problem] = problems_of(meeting(1e-7))
    assert problem.field == "stages.review.meeting.every"
    assert "at least a minute" in problem.rule


def test_meetings_are_limited_and_counted_per_horizon():
    [problem] = problems_of(meeting(0.01, horizon=20_000))  # 2 million meetings
    assert problem.field == "stages.review.meeting.every"
    assert "2e+06 steps" in problem.rule
    scenario = scenario_of(meeting(0.5), unit="day")
    meetings, _ = recurring_steps(scenario)
    assert meetings == 60
    # Per lead: created, an end and the meeting visit's one event; per meeting two.
    size = estimate(scenario)
    assert math.isclose(size.events, size.leads * 3 + 2 * 60)


def test_meetings_a_minute_apart_run_quickly():
    # The shortest interval accepted, over a day: 1,440 meetings.
    doc = meeting(1 / 1440, horizon=1)
    with cpu_limit(20):
        rep = engine.run_replication(scenario_of(doc, unit="day"), 0)
    assert rep.tally.stages["review"].meetings <= 1441


# --- 4. a back-test of every minute ------------------------------------------------------


def test_a_backtest_of_too_many_forecasts_is_refused_with_the_work(capsys, tmp_path):
    from salessim.forecast.backtest import MAX_FORECASTS

    with cpu_limit(60):
        refused(capsys, ["forecast", "--backtest", str(HISTORY), "--every", "1 minute",
                         "--horizon", "30 days", "--out", str(tmp_path / "bt")],
                "as-of dates", f"the limit is {MAX_FORECASTS:,}", "calibrations")
    assert not (tmp_path / "bt").exists()


def test_a_backtest_spacing_of_no_time_is_refused_not_divided_by():
    from salessim.calibrate.pipeline import read_visits
    from salessim.forecast.backtest import as_of_dates

    visits = read_visits(HISTORY)
    with cpu_limit(10), pytest.raises(UsageError, match="as-of dates"):
        as_of_dates(visits, 1e-300, 30)
    assert len(as_of_dates(visits, 30, 30)) >= 2
    with pytest.raises(UsageError):
        as_of_dates(visits, 0.0, 30)
