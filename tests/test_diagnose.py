"""Tests for salessim.diagnose and the diagnosis printed by `salessim run`.

The checks are invariants of the bookkeeping (visits flow from one stage to the next, time
shares sum to one, flows are conserved) and the formulas the diagnosis is built from.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salessim import engine, stats
from salessim.cli import main
from salessim.diagnose import (
    NEW,
    OPEN,
    PRECISION_KPIS,
    WENT_COLD_NODE,
    bottlenecks,
    estimate_warmup,
    flow_logs,
    funnel,
    log_rows,
    parse_precision,
    run_to_precision,
    series_matrix,
    transitions,
)
from salessim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]


def scenario(data: dict) -> Scenario:
    base = {"name": "test", "time_unit": "day", "replications": 4, "seed": 3}
    return Scenario.model_validate({**base, **data}, context={"time_unit": "day"})


def linear_funnel(**extra) -> Scenario:
    """Three stages in a row with ample staff: conversions are pure routing."""
    work = {"dist": "exponential", "mean": 0.05}
    return scenario({
        "horizon": 150, "warmup": 10,
        "roles": {"team": {"headcount": 40}},
        "sources": {"web": {"rate": 6}},
        "entry": "a",
        "stages": {
            "a": {"role": "team", "work": work, "next": {"b": 0.8, "lost": 0.2}, "target": 0.5},
            "b": {"role": "team", "work": work, "delay": 2, "next": {"c": 0.6, "lost": 0.4},
                  "target": 0.9},
            "c": {"role": "team", "work": work, "next": {"won": 0.5, "lost": 0.5}},
        },
        **extra,
    })


def tandem() -> Scenario:
    """A well-staffed first stage feeding a single, busy specialist."""
    return scenario({
        "horizon": 120, "warmup": 20,
        "roles": {"many": {"headcount": 30}, "one": {"headcount": 1}},
        "sources": {"web": {"rate": 4}},
        "entry": "a",
        "stages": {
            "a": {"role": "many", "work": {"dist": "exponential", "mean": 0.1},
                  "delay": {"dist": "exponential", "mean": 1}, "next": {"b": 1.0}},
            "b": {"role": "one", "work": {"dist": "exponential", "mean": 0.2},
                  "next": {"won": 0.6, "lost": 0.4}},
        },
    })


def looping() -> Scenario:
    """A loop back (b -> a) and impatient leads at a, for the flow view."""
    return scenario({
        "horizon": 100, "warmup": 15,
        "roles": {"rep": {"headcount": 2}},
        "sources": {"web": {"rate": 8}},
        "entry": "a",
        "stages": {
            "a": {"role": "rep", "work": {"dist": "exponential", "mean": 0.2},
                  "patience": {"dist": "exponential", "mean": 0.5},
                  "next": {"b": 0.7, "lost": 0.3}},
            "b": {"role": "rep", "work": {"dist": "exponential", "mean": 0.1},
                  "delay": {"dist": "exponential", "mean": 3},
                  "next": {"a": 0.2, "won": 0.5, "lost": 0.3}},
        },
    })


# --- funnel --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def funnel_run():
    return engine.run(linear_funnel())


def test_funnel_counts_flow_from_stage_to_stage(funnel_run):
    table = funnel(funnel_run).set_index("stage")
    assert list(table.index) == ["a", "b", "c"]
    # In a line without loops every lead moving on from one stage enters the next.
    assert table.loc["b", "entered"] == table.loc["a", "moved_on"]
    assert table.loc["c", "entered"] == table.loc["b", "moved_on"]
    # Visits leave forward, leave lost, or are still there at the horizon.
    assert (table["entered"] >= table["moved_on"] + table["lost"]).all()
    reps = funnel_run.replications
    assert table.loc["a", "entered"] == np.mean([r.tally.stages["a"].entered for r in reps])


def test_funnel_conversion_interval_and_gap_to_target(funnel_run):
    table = funnel(funnel_run).set_index("stage")
    for sid in "abc":
        est = stats.t_interval([r.kpis[f"conversion.{sid}"] for r in funnel_run.replications])
        assert table.loc[sid, "conversion"] == est.mean
        assert (table.loc[sid, "conversion_ci_low"], table.loc[sid, "conversion_ci_high"]) == (
            est.ci_low, est.ci_high)
    assert table.loc["a", "gap"] == table.loc["a", "conversion"] - 0.5
    # Routing odds 0.8 and 0.6 sit far from the targets 0.5 and 0.9 (binomial sd ~ 0.01).
    assert table.loc["a", "target_status"] == "met"
    assert table.loc["b", "target_status"] == "missed"
    assert math.isnan(table.loc["c", "target"]) and table.loc["c", "target_status"] == ""


# --- bottlenecks ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tandem_run():
    return engine.run(tandem())


def test_bottleneck_names_the_queue_and_the_busiest_role(tandem_run):
    report = bottlenecks(tandem_run)
    assert report.queue_stage == "b"
    assert report.busiest_role == "one"
    roles = report.roles.set_index("role")
    est = stats.t_interval([r.kpis["utilisation.one"] for r in tandem_run.replications])
    assert roles.loc["one", "utilisation"] == est.mean
    assert roles.loc["one", "ci_low"] == est.ci_low
    assert "Most queueing time: b" in report.summary()
    assert "Closest to saturation: one" in report.summary()


def test_time_shares_sum_to_one_and_match_the_totals(tandem_run):
    report = bottlenecks(tandem_run)
    stages = report.stages.set_index("stage")
    total = stages[["wait_share", "work_share", "delay_share"]].to_numpy().sum()
    assert total == pytest.approx(1.0, rel=1e-12)
    reps = tandem_run.replications
    wait_b = sum(r.tally.stages["b"].wait for r in reps)
    visits_b = sum(r.tally.stages["b"].entered for r in reps)
    assert stages.loc["b", "wait"] == pytest.approx(wait_b / visits_b)
    assert stages.loc["a", "delay_share"] > 0 and stages.loc["b", "delay_share"] == 0


def test_negligible_queues_are_called_so():
    # Three people at about a quarter of their time: a few short waits, a 2-day buyer delay.
    report = bottlenecks(engine.run(linear_funnel(roles={"team": {"headcount": 3}}), 2))
    assert report.queue_stage is not None
    assert report.stages["wait_share"].max() < 0.01
    assert report.summary().startswith("Queues for staff are negligible; the longest is at")
    assert bottlenecks(engine.run(linear_funnel(), 2)).summary().startswith(
        "No lead waited for staff.")


# --- warm-up -------------------------------------------------------------------------------


def slow_buyers() -> Scenario:
    """Long customer-side delays: open leads build up for months from an empty start."""
    return scenario({
        "horizon": 400, "roles": {"rep": {"headcount": 5}}, "sources": {"web": {"rate": 3}},
        "entry": "a",
        "stages": {"a": {"role": "rep", "work": {"dist": "exponential", "mean": 0.05},
                         "delay": {"dist": "exponential", "mean": 60},
                         "next": {"won": 0.5, "lost": 0.5}}},
    })


def test_warmup_is_mser5_on_the_mean_open_leads():
    result = engine.run(slow_buyers(), 5)
    est = estimate_warmup(result)
    times, values = series_matrix(result, "wip")
    assert values.shape == (5, 100)
    assert np.array_equal(values[2], np.frombuffer(result.replications[2].tally.wip_series))
    assert np.array_equal(est.mean, values.mean(axis=0))
    # MSER-5 on the mean, shortened by the check across replications (never lengthened).
    assert est.check.mser == stats.mser5(est.mean)
    assert est.check == stats.checked_truncation(values)
    assert est.deleted == est.check.deleted <= est.check.mser
    assert est.warmup == times[est.deleted] == est.deleted * 4.0
    assert np.array_equal(est.welch, stats.welch_moving_average(est.mean, 5))
    # Open leads rise from zero for months (mean delay 60 days): MSER cuts some of that
    # start, and never more than half the run by construction.
    assert 0 < est.warmup <= 200


def test_log_series_need_logs_and_count_what_the_log_says():
    sc = looping()
    with pytest.raises(ValueError, match="needs event logs"):
        series_matrix(engine.run(sc, 1), "won")
    result = engine.run(sc, 2, event_log=True)
    times, won = series_matrix(result, "won")
    step = times[1] - times[0]
    for i, rep in enumerate(result.replications):
        wins = sum(1 for row in rep.log.records() if row.event == "won")
        assert won[i].sum() * step == pytest.approx(wins)
    _, queue = series_matrix(result, "queue")
    assert (queue >= 0).all() and queue.max() > 0
    assert estimate_warmup(result, "queue").series == "queue"


# --- replications for a precision ----------------------------------------------------------


def test_precision_stops_when_reached_and_equals_a_plain_run():
    sc = tandem()
    # The cap is far above what 5% on won needs here, so the rule, not the cap, stops it.
    result, report = run_to_precision(sc, 0.05, ["won"], replications=3, max_replications=500)
    n = report.replications
    assert len(result.replications) == n and not report.capped
    row = report.kpis.set_index("kpi").loc["won"]
    assert row["half_width"] <= 0.05 * row["mean"] and row["reached"]
    # Replications go on from the pilot's numbers: the same as one run of that size.
    assert result.frame().equals(engine.run(sc, n).frame())
    # More than the pilot only when the pilot itself was not precise enough.
    pilot = stats.t_interval(result.wide()["won"].iloc[:3])
    assert (n > 3) == (pilot.half_width > 0.05 * pilot.mean)


def test_precision_respects_the_cap():
    result, report = run_to_precision(tandem(), 0.001, ["won"], replications=3,
                                      max_replications=5)
    assert report.replications == 5 == len(result.replications)
    assert report.capped and "cap" in report.summary()


def test_precision_defaults_and_errors():
    assert set(PRECISION_KPIS) <= set(engine.run_replication(tandem(), 0).kpis)
    with pytest.raises(ValueError, match="unknown KPI 'wins'"):
        run_to_precision(tandem(), 0.05, ["wins"], replications=2)
    with pytest.raises(ValueError, match="pilot needs 2 to 5"):
        run_to_precision(tandem(), 0.05, replications=6, max_replications=5)


@pytest.mark.parametrize("text, value", [("5%", 0.05), ("0.05", 0.05), (" 12.5% ", 0.125)])
def test_parse_precision(text, value):
    assert parse_precision(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["0%", "100%", "-5%", "five", "1.5"])
def test_parse_precision_rejects(text):
    with pytest.raises(ValueError, match="precision"):
        parse_precision(text)


# --- flows ---------------------------------------------------------------------------------


def test_transitions_conserve_leads_and_match_the_kpis():
    sc = looping()
    rep = engine.run_replication(sc, 0, event_log=True)
    flows = transitions(log_rows([rep]), sc.warmup)
    assert flows.attrs["replications"] == 1
    into = flows.groupby("target")["count"].sum()
    out = flows.groupby("source")["count"].sum()
    assert out[NEW] == rep.kpis["leads"]
    assert into["won"] == rep.kpis["won"]
    assert into["lost"] + into.get(WENT_COLD_NODE, 0) == rep.kpis["lost"]
    assert into.get(WENT_COLD_NODE, 0) == rep.kpis["went_cold"] > 0
    assert into.get(OPEN, 0) == rep.kpis["open"]
    for sid in sc.stages:
        assert into[sid] == out[sid] == rep.kpis[f"visits.{sid}"], sid
    loop = flows[(flows["source"] == "b") & (flows["target"] == "a")]["count"].sum()
    assert loop == into["a"] - out[NEW] > 0  # every visit to a that is not a new lead


def test_a_stage_without_staff_appears_in_the_flow():
    """A delay-only stage logs delay_started / delay_finished; the flow counts its visits."""
    sc = scenario({
        "name": "delay only", "horizon": 60, "warmup": 5, "seed": 4,
        "roles": {"rep": {"headcount": 2}}, "sources": {"web": {"rate": 2}},
        "entry": "call",
        "stages": {
            "call": {"role": "rep", "work": 0.1, "next": {"think": 0.7, "lost": 0.3}},
            "think": {"delay": {"dist": "exponential", "mean": 2}, "next": {"close": 1.0}},
            "close": {"role": "rep", "work": 0.1, "next": {"won": 0.5, "lost": 0.5}},
        },
    })
    rep = engine.run_replication(sc, 0, event_log=True)
    flows = transitions(log_rows([rep]), sc.warmup).set_index(["source", "target"])["count"]
    assert flows[("call", "think")] == rep.kpis["visits.think"] > 0
    assert flows[("think", "close")] == rep.kpis["visits.close"]
    assert ("call", "close") not in flows.index


def test_flow_logs_are_the_same_replications():
    sc = looping()
    rows = flow_logs(sc, 2)
    assert sorted(rows["replication"].unique()) == [0, 1]
    again = engine.run(sc, 2, event_log=True).event_log()
    assert len(rows) == len(again)
    assert rows["time"].equals(again["time"])


# --- `salessim run` ------------------------------------------------------------------------


@pytest.fixture
def tandem_file(tmp_path):
    path = tmp_path / "tandem.yaml"
    path.write_text(
        "name: tandem\nhorizon: 120\nwarmup: 20\nreplications: 3\nseed: 3\n"
        "roles: {many: {headcount: 30}, one: {headcount: 1}}\n"
        "sources: {web: {rate: 4}}\nentry: a\nstages:\n"
        "  a: {role: many, work: {dist: exponential, mean: 0.1}, next: {b: 1.0}, target: 0.99}\n"
        "  b: {role: one, work: {dist: exponential, mean: 0.2}, next: {won: 0.6, lost: 0.4}}\n",
        encoding="utf-8")
    return path


def test_run_prints_the_diagnosis_after_the_kpis(tandem_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tandem_file), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    kpis, funnel_at = text.index("KPI "), text.index("Funnel")
    assert kpis < funnel_at < text.index("Where the time goes") < text.index("Staff")
    assert "Most queueing time: b" in text and "Closest to saturation: one" in text
    for name in ("summary.csv", "replications.csv", "funnel.csv", "run.json"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "funnel.csv")
    assert list(table["stage"]) == ["a", "b"] and table.loc[0, "target"] == 0.99


def test_run_with_auto_warmup_and_precision(tandem_file, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", str(tandem_file), "--warmup", "auto", "--precision", "20%",
                 "--precision-kpi", "won", "--max-replications", "8", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "MSER-5" in text and "precision" in text
    meta = json.loads((out / "run.json").read_text())
    assert meta["warmup"] == meta["warmup_estimate"]["warmup"]
    assert meta["resolved_scenario"]["warmup"] == meta["warmup"]
    assert 3 <= meta["replications"] <= 8


def test_run_fixed_warmup_and_bad_options(tandem_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tandem_file), "--warmup", "1 week", "-n", "2", "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["warmup"] == 7.0
    capsys.readouterr()
    assert main(["run", str(tandem_file), "--precision", "5"]) == 2
    assert "a precision must lie strictly between" in capsys.readouterr().err
    assert main(["run", str(tandem_file), "--report"]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    assert main(["run", str(tandem_file), "--warmup", "500"]) == 2
    assert "warmup" in capsys.readouterr().err


def test_one_replication_states_no_interval_for_the_busiest_role():
    one = engine.run(tandem(), replications=1)
    text = bottlenecks(one).summary()
    assert "Closest to saturation: one (utilisation " in text
    assert "nan" not in text and "CI" not in text.split("Closest to saturation")[1]
    assert "% CI [" in bottlenecks(engine.run(tandem(), replications=2)).summary()
