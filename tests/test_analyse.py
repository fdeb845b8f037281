"""Flow analysis against hand-computed answers and against the simulation.

Hand-computed cases pin the formulas (the rework loop, the h-transform for won deals,
hand-offs, the expected maximum of parallel work, approval and skip shares from a value
distribution, Erlang C). Simulation cases check that, where the analysis says its theory
is exact, a long run's 99.9% interval contains every analytic figure and is narrow.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from salessim.analyse import analyse, versus
from salessim.cli import main
from salessim.engine import run
from salessim.model.kinds import REGISTRY, kind_of, numeric
from salessim.scenario import Scenario
from salessim.scenario.dists import Exponential, Lognormal
from salessim.teaching.queueing import erlang_c, pooled_wait

UNIT = "hour"


def scenario(stages: dict, roles: dict, entry: str = "a", **extra) -> Scenario:
    data = {"name": "analysis check", "time_unit": UNIT, "horizon": 1000, "seed": 1,
            "roles": roles, "entry": entry, "stages": stages,
            "sources": {"web": {"rate": 1.0, "deal_value": 1000}}}
    data.update(extra)
    return Scenario.model_validate(data, context={"time_unit": UNIT})


def loop_scenario(**extra) -> Scenario:
    """a (x, 1 h work + 2 h delay) -> b (y, 3 h) half the time; b wins or loops back."""
    return scenario({
        "a": {"role": "x", "work": 1.0, "delay": 2.0, "next": {"b": 0.5, "lost": 0.5}},
        "b": {"role": "y", "work": 3.0, "next": {"won": 0.5, "a": 0.5}},
    }, {"x": {"headcount": 5}, "y": {"headcount": 5}}, **extra)


def test_rework_loop_by_hand():
    # From a, P(back to a) = 0.5 * 0.5 = 1/4: visits to a = 1 / (1 - 1/4) = 4/3, to b half
    # that; P(won) = (1/4) / (3/4) = 1/3. Won deals loop K times with P(K=k) = 3/4 (1/4)^k,
    # so they visit a and b 1 + 1/3 = 4/3 times each.
    a = analyse(loop_scenario())
    assert a.value("stage", "a", "visits per lead") == pytest.approx(4 / 3)
    assert a.value("stage", "b", "visits per lead") == pytest.approx(2 / 3)
    assert a.value("end", "won", "share of leads") == pytest.approx(1 / 3)
    assert a.value("end", "lost", "share of leads") == pytest.approx(2 / 3)
    assert a.value("process", "won deals", "cycle time, no queues") == pytest.approx(8.0)
    assert a.value("process", "all leads", "cycle time, no queues") == pytest.approx(
        4 / 3 * 3 + 2 / 3 * 3)
    assert a.value("process", "won deals", "processing time") == pytest.approx(16 / 3)
    assert a.value("process", "won deals", "cycle-time efficiency") == pytest.approx(2 / 3)
    # A hand-off before every b visit (x to y) and every a visit but the first (y to x).
    assert a.value("process", "all", "hand-offs per lead") == pytest.approx(2 / 3 + 1 / 3)
    assert a.value("process", "all", "hand-offs per won deal") == pytest.approx(4 / 3 + 1 / 3)
    # Load: 4/3 h of x and 2 h of y per lead at one lead an hour, over 5 staff each.
    assert a.value("role", "x", "utilisation") == pytest.approx(4 / 3 / 5)
    assert a.value("role", "y", "utilisation") == pytest.approx(2 / 5)
    assert a.value("process", "y", "bottleneck (highest utilisation)") == pytest.approx(0.4)
    assert a.value("process", "all", "max lead arrival rate") == pytest.approx(2.5)


def test_handoff_delays_by_pair_add_to_the_cycle():
    a = analyse(loop_scenario(handoff={"delay": 0.5, "pairs": {"x>y": 2.0}}))
    # Per won deal: 4/3 hand-offs x to y at 2 h, 1/3 y to x at the default 0.5 h.
    assert a.value("process", "won deals", "cycle time, no queues") == pytest.approx(
        8.0 + 4 / 3 * 2.0 + 1 / 3 * 0.5)
    assert a.value("process", "all", "hand-off time per lead") == pytest.approx(
        2 / 3 * 2.0 + 1 / 3 * 0.5)


def test_parallel_work_takes_the_expected_maximum():
    exp1 = {"dist": "exponential", "mean": 1.0}
    sc = scenario({"a": {"parallel": {"p": {"role": "x", "work": exp1},
                                      "q": {"role": "y", "work": exp1, "delay": exp1}},
                         "next": {"won": 1.0}}},
                  {"x": {"headcount": 3}, "y": {"headcount": 3}})
    a = analyse(sc)
    # E[max(E1, E1 + E1')] = 1 + 2 - E[min] with E[min] = int (1 + t) e^{-2t} dt = 3/4.
    assert a.value("stage", "a", "time per visit, no queues") == pytest.approx(2.25, rel=2e-3)
    assert a.value("process", "won deals", "processing time") == pytest.approx(1.5, rel=2e-3)
    assert kind_of(sc.stages["a"]).name == "parallel tasks"


def test_expected_maximum_matches_closed_forms():
    e = numeric.masses(Exponential(dist="exponential", mean=2.0))
    assert numeric.expected_max([e, e, e]) == pytest.approx(2 * (1 + 1 / 2 + 1 / 3), rel=1e-3)
    ln = Lognormal(dist="lognormal", mean=3.0, cv=0.5)
    assert numeric.masses(ln).mean == pytest.approx(3.0)
    assert numeric.last_shares([e, e]) == pytest.approx([0.5, 0.5], abs=1e-3)


def test_approval_and_skip_shares_follow_the_value_distribution():
    sc = scenario({
        "a": {"role": "x", "work": 1.0, "next": {"b": 1.0}},
        "b": {"approvals": [{"role": "m", "above": 40000, "work": 1.0},
                            {"role": "v", "above": 80000, "work": 2.0, "delay": 5.0}],
              "next": {"c": 1.0}},
        "c": {"role": "x", "work": 1.0, "only_if": {"deal_value_above": 25000},
              "next": {"won": 1.0}},
    }, {"x": {"headcount": 2}, "m": {"headcount": 1}, "v": {"headcount": 1}},
        sources={"web": {"rate": 1.0, "deal_value": {"dist": "uniform", "low": 0,
                                                      "high": 100000}}})
    a = analyse(sc)
    assert a.value("stage", "b", "share above 40000 (m)") == pytest.approx(0.6)
    assert a.value("stage", "b", "share above 80000 (v)") == pytest.approx(0.2)
    assert a.value("stage", "b", "work per piece of staff work") == pytest.approx(
        (0.6 * 1 + 0.2 * 2) / 0.8)
    assert a.value("stage", "b", "time per visit, no queues") == pytest.approx(
        0.6 * 1 + 0.2 * (2 + 5))
    assert a.value("stage", "c", "share skipping (only_if)") == pytest.approx(0.25)
    assert a.value("stage", "c", "visits per lead") == pytest.approx(0.75)
    assert a.value("role", "m", "utilisation") == pytest.approx(0.6)
    # x works 1 h on every lead and 1 h more on the 75% above 25,000, with 2 staff.
    assert a.value("role", "x", "utilisation") == pytest.approx(1.75 / 2)
    # Hand-offs: x -> m -> x for values in (40,000, 80,000] (40%), x -> m -> v -> x above
    # (20%); below 40,000 x does everything.
    assert a.value("process", "all", "hand-offs per lead") == pytest.approx(0.4 * 2 + 0.2 * 3)


def test_calendar_states_its_working_hours_and_stretches_work():
    cal = {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17]}
    a = analyse(loop_scenario(calendar=cal))
    assert a.value("process", "all", "working hours per day (stated)") == pytest.approx(40 / 7)
    # Work stops outside working hours: the clock time exceeds the working time.
    assert a.value("process", "won deals", "cycle time, no queues") > 8.0
    assert analyse(loop_scenario(calendar=cal), hours_per_day=8).value(
        "process", "all", "working hours per day (stated)") == 8
    with pytest.raises(ValueError, match="hours_per_day"):
        analyse(loop_scenario(), hours_per_day=math.nan)


def test_erlang_c_by_hand():
    # C(2, 1) = (1/2 * 2) / (1 + 1 + 1) = 1/3; C(1, a) = a (M/M/1: P(wait) = rho).
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    mm1 = pooled_wait(1, 0.5, 1.0, 1.0)
    assert (mm1.wait, mm1.method) == (pytest.approx(1.0), "erlang_c")  # rho s / (1 - rho)
    md1 = pooled_wait(1, 0.5, 1.0, 0.0)  # Pollaczek-Khinchine: half the M/M/1 wait
    assert (md1.wait, md1.method) == (pytest.approx(0.5), "allen_cunneen")
    assert pooled_wait(2, 3.0, 1.0, 1.0).wait == math.inf
    with pytest.raises(ValueError, match="offered load"):
        erlang_c(2, 2.0)


def test_every_stage_has_exactly_one_kind():
    names = [kind.name for kind in REGISTRY]
    assert len(set(names)) == len(names)
    assert [k.name for k in REGISTRY if k.field is None] == ["delay only"]


# --- against the simulation ---------------------------------------------------------------


def agree(table: pd.DataFrame, max_share: float) -> None:
    """Every exact figure inside its interval, and the interval narrow."""
    exact = table[table.exact]
    assert len(exact) >= 8
    for r in exact.itertuples(index=False):
        half = (r.ci_high - r.ci_low) / 2
        assert r.inside, f"{r.kpi}: analytic {r.analytic:.5g} outside [{r.ci_low:.5g}, {r.ci_high:.5g}]"
        assert half <= max_share * max(abs(r.analytic), 0.05), f"{r.kpi}: too wide ({half:.3g})"


@pytest.mark.slow
def test_jackson_network_with_a_loop_agrees_with_simulation():
    exp = lambda m: {"dist": "exponential", "mean": m}  # noqa: E731
    sc = scenario({
        "a": {"role": "x", "work": exp(1.0), "delay": exp(2.0), "next": {"b": 0.5, "lost": 0.5}},
        "b": {"role": "y", "work": exp(0.6), "next": {"won": 0.5, "a": 0.5}},
    }, {"x": {"headcount": 2}, "y": {"headcount": 1}}, horizon=15000, warmup=500, seed=3)
    a = analyse(sc)
    assert a.value("role", "x", "P(wait)") == pytest.approx(erlang_c(2, 4 / 3))
    table = versus(run(sc, replications=8), a, level=0.999)
    assert {"wait_mean.a", "wait_mean.b", "cycle_time_won_mean", "wip_mean"} <= set(
        table.kpi[table.exact])
    agree(table, 0.2)


def test_parallel_approvals_and_skips_agree_with_simulation():
    ln = lambda m: {"dist": "lognormal", "mean": m, "cv": 0.5}  # noqa: E731
    sc = scenario({
        "a": {"role": "x", "work": ln(0.5), "next": {"b": 0.8, "lost": 0.2}},
        "b": {"approvals": [{"role": "m", "above": 30000, "work": ln(1.0)},
                            {"role": "v", "above": 60000, "work": ln(1.0), "delay": ln(2.0)}],
              "next": {"c": 0.9, "a": 0.1}},
        "c": {"parallel": {"p": {"role": "x", "work": ln(1.0), "delay": ln(1.0)},
                           "q": {"role": "m", "work": ln(0.5)}},
              "only_if": {"deal_value_above": 20000}, "next": {"won": 0.7, "lost": 0.3}},
    }, {"x": {"headcount": 3}, "m": {"headcount": 2}, "v": {"headcount": 1}},
        horizon=8000, warmup=100, seed=5, handoff={"delay": ln(0.3)},
        sources={"web": {"rate": 1.0,
                         "deal_value": {"dist": "lognormal", "mean": 40000, "cv": 0.8}}})
    a = analyse(sc)
    table = versus(run(sc, replications=5), a, level=0.999)
    assert not table.set_index("kpi").loc["cycle_time_won_mean", "exact"]  # fork-join
    assert table.set_index("kpi").loc["handoffs_mean", "exact"]
    agree(table, 0.15)


def test_analyse_command_writes_csv_and_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "flow.csv"
    assert main(["analyse", "scenarios/handbook_funnel.yaml", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert set(table.columns) == {"section", "item", "measure", "value", "unit", "method",
                                  "exact", "kpi"}
    assert np.isfinite(table.value).all()
    assert "Per role" in capsys.readouterr().out
    assert main(["analyse", "scenarios/handbook_funnel.yaml", "--out", str(tmp_path / "x.txt")]) == 2
    assert main(["analyse", "scenarios/handbook_funnel.yaml", "--hours-per-day", "30"]) == 2
    assert "--hours-per-day" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhorizon: 10\nsources: {w: {rate: 1}}\nentry: a\n"
                   "stages: {a: {next: {won: 0.5}}}\n")
    assert main(["analyse", str(bad)]) == 2
    assert "sum to 1" in capsys.readouterr().err


def test_run_shows_the_analytic_figures_beside_the_simulated(capsys):
    assert main(["run", "cases/pooling/before.yaml", "-n", "2", "--workers", "1",
                 "--set", "horizon=300", "--analytic"]) == 0
    out = capsys.readouterr().out.split("Formulas against the simulation", 1)[1]
    line = next(x for x in out.splitlines() if x.startswith("wait_mean.qualify_web"))
    assert "0.7022" in line and "erlang_c" in line and "exact" in line


def test_a_meeting_stage_waits_half_its_interval_plus_its_length():
    from conftest import scenario_of

    sc = scenario_of({
        "horizon": 2000, "roles": {"manager": {"headcount": 1}},
        "sources": {"web": {"rate": 0.05}}, "entry": "review",
        "stages": {"review": {"role": "manager", "next": {"won": 1.0},
                              "meeting": {"every": 168, "first": 34, "length": 2.0}}},
    })
    table = analyse(sc).table().set_index(["section", "item", "measure"])
    assert table.loc[("process", "won deals", "cycle time, no queues"), "value"] == 84 + 2
    util = table.loc[("role", "manager", "utilisation")]
    assert util["value"] == pytest.approx(2 / 168) and not util["exact"]
