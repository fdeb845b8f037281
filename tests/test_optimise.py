"""Optimisation: problem specs, deterministic constraints, search, Kim-Nelson, holdout.

The statistical guarantee is checked on problems whose optimum is known by construction,
with a cheap stand-in evaluator (normal outputs with common random numbers), so many
repetitions fit in a second or two. The real simulation path runs on a tiny scenario.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from salessim import engine
from salessim.cli import main
from salessim.errors import ScenarioError
from salessim.experiments import SerialExecutor
from salessim.optimise import (
    Expression,
    SimulationEvaluator,
    design_yaml,
    kim_nelson,
    kn_constants,
    load_problem,
    optimise,
    staff_budget,
    write_outputs,
)
from salessim.scenario import load_scenario, resolved, scenario_hash

ROOT = Path(__file__).resolve().parents[1]

# Two roles at 1 per hour, no calendar: one head costs 24 x 10 = 240 over the horizon.
TWO_ROLES = """\
name: two roles
time_unit: day
horizon: 10
seed: 3
roles:
  a: {headcount: 1, cost_per_hour: 1}
  b: {headcount: 1, cost_per_hour: 1}
  c: {headcount: 1, cost_per_hour: 1}
sources:
  web: {rate: 1}
entry: s1
stages:
  s1: {role: a, work: {dist: exponential, mean: "1 hour"}, next: {s2: 1}}
  s2: {role: b, work: {dist: exponential, mean: "1 hour"}, next: {s3: 1}}
  s3:
    role: c
    work: {dist: exponential, mean: "1 hour"}
    delay: {dist: lognormal, mean: 2, cv: 0.5}
    next: {won: 0.5, lost: 0.5}
"""

KNOWN = """\
name: known
baseline: two.yaml
variables:
  roles.a.headcount: {type: integer, low: 1, high: 3}
  roles.b.headcount: {type: integer, low: 1, high: 3}
objective: {maximise: won}
constraints:
  budget: {max: 1200}            # a + b + c <= 5 heads, c = 1: a + b <= 4
search: {replications: 5}
selection: {finalists: 6, indifference_zone: 0.5, confidence: 0.95, first_stage: 10}
holdout: {replications: 20}
seed: 1
"""

TINY = """\
name: tiny
time_unit: day
horizon: 40
warmup: 5
seed: 11
roles:
  rep: {headcount: 1, cost_per_hour: 50}
sources:
  web: {rate: 3, cost_per_lead: 10, deal_value: {dist: lognormal, mean: 1000, cv: 0.5}}
entry: call
stages:
  call:
    role: rep
    work: {dist: exponential, mean: "1 hour"}
    next: {close: 0.5, lost: 0.5}
  close:
    role: rep
    work: {dist: exponential, mean: "2 hours"}
    delay: {dist: empirical, values: [1, 3, 6], weights: [1, 2, 1]}
    next: {won: 0.6, lost: 0.4}
"""

TINY_SPEC = """\
name: tiny_opt
baseline: tiny.yaml
variables:
  roles.rep.headcount: {type: integer, low: 1, high: 4}
  stages.close.delay:
    type: choice
    options:
      paper: {dist: empirical, values: [1, 3, 6], weights: [1, 2, 1]}
      esign: {dist: empirical, values: [0.5, 1]}        # no weights: equally likely
objective: {maximise: profit}
constraints:
  budget: {max: 100000, over: horizon}
  kpis: {cycle_time_won_p90: {max: 30}}
search: {replications: 3}
selection: {finalists: 3, first_stage: 5, max_replications: 20}
holdout: {replications: 8}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "two.yaml").write_text(TWO_ROLES)
    (tmp_path / "known.yaml").write_text(KNOWN)
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "tiny_opt.yaml").write_text(TINY_SPEC)
    return tmp_path


class Normal:
    """A stand-in evaluator: ``won`` = mu(design) + common + own noise, standard normals.

    Replication r of every design shares the common draw (common random numbers); a seed
    gives fresh draws. Records every design it is asked to evaluate.
    """

    def __init__(self, mu, sd: float = 1.0):
        self.mu, self.sd, self.asked = mu, sd, []

    def __call__(self, candidates, replications, seed):
        reps = np.asarray(replications)
        common = np.random.default_rng([seed, 0]).normal(size=1000)[reps]
        out = []
        for c in candidates:
            self.asked.append(c)
            key = [int(v) for v in c.values.values()]
            own = np.random.default_rng([seed, 1, *key]).normal(size=1000)[reps]
            out.append({"won": self.mu(c.values) + self.sd * (common + own)})
        return out


def ab(values) -> tuple[int, int]:
    return values["roles.a.headcount"], values["roles.b.headcount"]


# --- the problem --------------------------------------------------------------------------------


def test_budget_is_headcount_times_cost_times_paid_hours():
    b2b = load_scenario(ROOT / "scenarios/b2b_baseline.yaml")
    per_hour = sum(r.headcount * r.cost_per_hour for r in b2b.roles.values())
    # 365 days from a Monday: 52 weeks and a Monday, 261 working days of 8 hours.
    assert staff_budget(b2b, "year") == per_hour * 261 * 8
    assert staff_budget(b2b, "year", roles=["sdr"]) == 3 * 35 * 261 * 8


def test_budget_over_the_window_is_the_staff_cost_kpi(folder):
    scenario = load_scenario(folder / "tiny.yaml")
    kpis = engine.run_replication(scenario, 0).kpis
    assert staff_budget(scenario, "window") == pytest.approx(kpis["staff_cost"], rel=1e-12)
    assert staff_budget(scenario, "horizon") == 50 * 24 * 40


def test_deterministic_constraints_and_feasible_designs(folder):
    problem = load_problem(folder / "known.yaml")
    feasible = {ab(c.values) for c in map(problem.candidate, problem.all_indices())
                if c.feasible}
    assert feasible == {(a, b) for a in (1, 2, 3) for b in (1, 2, 3) if a + b <= 4}
    over = problem.candidate((2, 2))  # a = b = 3
    assert over.scenario is None and over.budget == 7 * 240
    assert over.violations == ("budget 1,680 > 1,200",)


@pytest.mark.parametrize("text, terms", [
    ("revenue - selling_cost", [(1.0, "revenue"), (-1.0, "selling_cost")]),
    ("2 * won + 10 - lost", [(2.0, "won"), (10.0, None), (-1.0, "lost")]),
    ("-0.5*conversion.qualify", [(-0.5, "conversion.qualify")]),
])
def test_derived_expressions(text, terms):
    expr = Expression.parse(text)
    assert list(expr.terms) == terms
    kpis = {"revenue": np.array([5.0, 7.0]), "selling_cost": np.array([1.0, 2.0]),
            "won": np.array([3.0, 4.0]), "lost": np.array([1.0, 1.0]),
            "conversion.qualify": np.array([0.2, 0.4])}
    expected = sum(c * (kpis[n] if n else 1.0) for c, n in terms)
    assert np.array_equal(expr(kpis), expected)


@pytest.mark.parametrize("text", ["revenue -", "revenue * 2", "exp(won)", "won ** 2"])
def test_bad_expressions_are_refused(text):
    with pytest.raises(ValueError, match="cannot read"):
        Expression.parse(text)


@pytest.mark.parametrize("change, line, match", [
    ("roles.a.headcount: {type: integer, low: 1, high: 3}",
     "roles.a.headcount: {type: integr, low: 1, high: 3}",
     r"unknown type; use one of integer, choice, continuous"),
    ("roles.a.headcount: {type: integer, low: 1, high: 3}",
     "roles.a.headcount: {type: integer, low: 0, high: 3}",
     r"roles\.a\.headcount: .*greater than or equal to 1"),
    ("{maximise: won}", "{maximise: profits}", r"unknown KPI \(did you mean 'profit'\?\)"),
    ("{maximise: won}", "{maximise: won, minimise: lost}", "exactly one of"),
    ("budget: {max: 1200}", "budget: {max: 1200, roles: [x]}", "unknown role"),
    ("search: {replications: 5}", "search: {replications: 5, replication: 3}",
     r"unknown key \(did you mean 'replications'\?\)"),
])
def test_bad_specs_name_file_line_field_and_rule(folder, change, line, match):
    text = KNOWN.replace(change, line)
    (folder / "bad.yaml").write_text(text)
    with pytest.raises(ScenarioError, match=match) as info:
        load_problem(folder / "bad.yaml")
    problem = info.value.problems[0]
    assert problem.file.endswith("bad.yaml")
    assert problem.line == next(i for i, x in enumerate(text.splitlines(), 1) if line in x)


def test_stochastic_constraints_are_judged_with_confidence(folder):
    (folder / "bounded.yaml").write_text(KNOWN.replace(
        "  budget: {max: 1200}", "  budget: {max: 1200}\n  kpis: {won: {max: 10}, lost: {min: 0}}"))
    problem = load_problem(folder / "bounded.yaml")
    verdict = problem.stochastic_verdicts
    below, above = np.full(5, 9.0), np.full(5, 11.0)
    straddle = np.array([8.0, 12.0, 9.0, 11.0, 10.0])
    assert verdict({"won": below, "lost": below}) == {"won": "met", "lost": "met"}
    assert verdict({"won": above, "lost": -above})["won"] == "violated"
    assert verdict({"won": above, "lost": -above})["lost"] == "violated"
    assert verdict({"won": straddle, "lost": below})["won"] == "unclear"
    assert problem.screen({"won": below, "lost": below})
    assert not problem.screen({"won": above, "lost": below})


def test_example_staffing_spec(folder):
    problem = load_problem(ROOT / "experiments/staffing_budget.yaml")
    base = problem.baseline
    hours = 261 * 8
    cost = {r: base.roles[r].cost_per_hour * hours for r in base.roles}
    feasible = {
        (s, a, e) for s in range(2, 7) for a in range(3, 9) for e in range(1, 5)
        if s * cost["sdr"] + a * cost["ae"] + e * cost["se"] + cost["legal"] <= 1_650_000
        and s + a + e <= 14
    }
    found = {tuple(c.values.values()) for c in map(problem.candidate, problem.all_indices())
             if c.feasible}
    assert problem.lattice_size == 5 * 6 * 4 and found == feasible
    assert problem.spec.objective.kpi == "profit" and problem.needed_kpis == [
        "revenue", "selling_cost", "cycle_time_won_p90"]


# --- Kim-Nelson -----------------------------------------------------------------------------


def test_kn_constants():
    eta, h2 = kn_constants(2, 10, 0.95)
    assert eta == pytest.approx(0.5 * (0.1 ** (-2 / 9) - 1), rel=1e-12)
    assert h2 == pytest.approx(2 * eta * 9, rel=1e-12)


def test_kn_on_identical_designs_stops_and_finds_no_difference():
    out = np.random.default_rng(4).normal(size=(1, 500))

    def same(systems, reps):
        return np.repeat(out[:, list(reps)], len(systems), axis=0)

    kn = kim_nelson(same, 4, delta=0.1, first_stage=10, max_replications=500)
    assert kn.stop == "indifference" and kn.survivors == [0, 1, 2, 3]
    assert list(kn.replications) == [10, 10, 10, 10]
    assert kn.no_significant_difference and not kn.significant


def test_kn_on_equal_means_terminates_within_its_bound():
    rng = np.random.default_rng(9)
    noise = rng.normal(size=(5, 2000))

    def equal(systems, reps):
        return noise[np.ix_(list(systems), list(reps))]

    kn = kim_nelson(equal, 5, delta=0.5, first_stage=10, max_replications=2000)
    s2 = np.var(noise[:, :10][:, None, :] - noise[:, :10][None, :, :], axis=2, ddof=1)
    bound = math.floor(kn.h2 * s2.max() / 0.5**2) + 1
    assert kn.stop in ("one survivor", "indifference")
    assert kn.replications.max() <= bound


def test_kn_picks_a_clear_winner_early():
    noise = np.random.default_rng(2).normal(size=(3, 200))
    mu = np.array([0.0, 5.0, 1.0])

    def clear(systems, reps):
        return mu[list(systems), None] + noise[np.ix_(list(systems), list(reps))]

    kn = kim_nelson(clear, 3, delta=0.5)
    assert (kn.best, kn.stop, kn.survivors) == (1, "one survivor", [1])
    assert kn.significant


def test_the_known_optimum_is_found_with_the_promised_probability(folder):
    """Slippage configuration: the best is exactly delta better than every other design
    (the least favourable case for KN). KN promises P(correct selection) >= 0.95. Over M
    independent root seeds the number of correct selections is then at least Binomial(M,
    0.95); the test fails if it falls below that distribution's 0.1% quantile."""
    problem = load_problem(folder / "known.yaml")
    best = (2, 2)
    fake = Normal(lambda v: 10.0 if ab(v) == best else 9.5)
    m = 100
    correct = 0
    for seed in range(m):
        result = optimise(problem.with_seed(seed), fake)
        assert len(result.finalists) == 6  # every feasible design goes to KN
        correct += ab(result.chosen.candidate.values) == best
    assert correct >= st.binom.ppf(0.001, m, 0.95)
    # Only feasible designs were ever evaluated (the baseline is the holdout's reference).
    asked = {ab(c.values) for c in fake.asked if c.label != "baseline"}
    assert asked and all(a + b <= 4 for a, b in asked)


def test_neighbourhood_search_finds_the_constrained_optimum_without_infeasible_runs(folder):
    (folder / "big.yaml").write_text("""\
name: big
baseline: two.yaml
variables:
  roles.a.headcount: {type: integer, low: 1, high: 10}
  roles.b.headcount: {type: integer, low: 1, high: 10}
  roles.c.headcount: {type: integer, low: 1, high: 10}
objective: {minimise: lost}
constraints:
  headcount: {max: 15}
search: {method: neighbourhood, replications: 2, max_designs: 120}
selection: {finalists: 4, indifference_zone: 0.1}
holdout: {replications: 5}
""")
    problem = load_problem(folder / "big.yaml")

    def lost(c):
        a, b, e = c.values.values()
        return float((a - 7) ** 2 + (b - 5) ** 2 + (e - 6) ** 2)

    asked = []

    def exact(candidates, replications, seed):
        asked.extend(candidates)
        return [{"lost": np.full(len(replications), lost(c))} for c in candidates]

    result = optimise(problem, exact)
    # Unconstrained optimum (7, 5, 6) has 18 heads; with at most 15 the best is (6, 4, 5).
    assert tuple(result.chosen.candidate.values.values()) == (6, 4, 5)
    assert result.search.method == "neighbourhood"
    assert len(result.search.evaluations) <= 120
    assert all(sum(c.values.values()) <= 15 for c in asked if c.label != "baseline")


# --- the simulation path, files and the command line ------------------------------------------


def test_simulated_optimisation_runs_only_feasible_designs_and_writes_its_files(folder):
    problem = load_problem(folder / "tiny_opt.yaml")
    evaluator = SimulationEvaluator(problem, SerialExecutor())
    result = optimise(problem, evaluator)
    feasible = {c.label for c in map(problem.candidate, problem.all_indices()) if c.feasible}
    assert len(feasible) == 4  # a rep costs 50 x 24 x 40 = 48,000: one or two fit 100,000
    assert set(evaluator.designs) - {"baseline"} <= feasible
    out = folder / "out"
    written = write_outputs(result, out)
    assert [p.name for p in written] == ["leaderboard.csv", "best.yaml", "search.png",
                                         "optimise.json"]
    board = pd.read_csv(out / "leaderboard.csv")
    assert board["stage"].iloc[0] == "baseline" and board["stage"].iloc[1] == "chosen"
    assert set(board["design"][1:]) == {e.candidate.label for e in result.search.evaluations}
    assert (out / "search.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = load_scenario(out / "best.yaml")
    assert best.name.endswith("(optimised: tiny_opt)")
    chosen = resolved(result.chosen.candidate.scenario)
    assert {**resolved(best), "name": chosen["name"]} == chosen


def test_every_design_written_as_a_scenario_file_loads_as_that_design(folder):
    # Includes a distribution without the base's weights: they are dropped, not merged.
    problem = load_problem(folder / "tiny_opt.yaml")
    for index in problem.all_indices():
        cand = problem.candidate(index)
        if not cand.feasible:
            continue
        path = folder / "designs" / f"{'-'.join(map(str, index))}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(design_yaml(problem, cand, path.parent))
        loaded = resolved(load_scenario(path))
        expected = resolved(cand.scenario)
        assert {**loaded, "name": expected["name"]} == expected


def test_cli_optimise(folder, capsys):
    out = folder / "cli"
    code = main(["optimise", str(folder / "tiny_opt.yaml"), "--workers", "1", "--out", str(out),
                 "--holdout", "6", "--seed", "5"])
    text = capsys.readouterr().out
    assert code == 0
    assert "holdout: 6 replications" in text and "chosen (*)" in text
    assert "4 break the budget or a headcount cap (never simulated)" in text
    assert {p.name for p in out.iterdir()} == {"leaderboard.csv", "best.yaml", "search.png",
                                               "optimise.json", "run.json"}
    # The record names what it stands on: the baseline, the chosen design, the spec's bytes.
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    problem = load_problem(folder / "tiny_opt.yaml")
    assert record["scenarios"]["baseline"]["hash"] == scenario_hash(problem.baseline)
    assert record["scenarios"]["chosen"]["hash"] == scenario_hash(load_scenario(out / "best.yaml"))
    assert record["spec"]["sha256"] == hashlib.sha256(
        (folder / "tiny_opt.yaml").read_bytes()).hexdigest()
    assert main(["optimise", str(folder / "tiny_opt.yaml"), "--finalists", "0"]) == 2
    assert "--finalists" in capsys.readouterr().err
