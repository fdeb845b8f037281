"""Tests for salessim.compare and `salessim compare`: targets, CRN, Holm, the redesign library.

Statistical assertions use confidence bounds with a stated level; exact assertions are about
formulas and invariants (a scenario compared with itself differs by exactly zero).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from salessim import engine
from salessim.cli import main
from salessim.compare import (
    COMPARISON_COLUMNS,
    MET,
    MISSED,
    UNSURE,
    ScenarioRun,
    Target,
    compare,
    compare_results,
    crn_variance_reduction,
    kpi_names,
    load_runs,
    parse_target,
    parse_target_options,
    scenario_targets,
    settling_replications,
    unique_labels,
)
from salessim.engine import Replication, RunResult
from salessim.errors import ScenarioError
from salessim.scenario import Scenario, load_scenario
from salessim.stats import Estimate, relative_change, target_replications

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "b2b_baseline.yaml"
REDESIGNS = sorted((ROOT / "scenarios" / "redesigns").glob("*.yaml"))


def tiny(delay_mean: float = 10.0, seed: int = 11, horizon: float = 200.0) -> Scenario:
    """One rep calls leads (a queue), then the buyer takes a customer-side delay to decide."""
    return Scenario.model_validate({
        "name": "tiny", "time_unit": "day", "horizon": horizon, "replications": 10, "seed": seed,
        "roles": {"rep": {"headcount": 1, "cost_per_hour": 50}},
        "sources": {"web": {"rate": 4, "deal_value": {"dist": "lognormal", "mean": 1000,
                                                       "cv": 0.5}}},
        "entry": "call",
        "stages": {
            "call": {"role": "rep", "work": {"dist": "exponential", "mean": 0.2},
                     "next": {"meet": 0.5, "lost": 0.5}},
            "meet": {"delay": {"dist": "lognormal", "mean": delay_mean, "cv": 1.0},
                     "next": {"won": 0.8, "lost": 0.2}},
        },
    }, context={"time_unit": "day"})


def target(spec: str, kpi: str = "won") -> Target:
    return parse_target(kpi, spec)


# --- target syntax -------------------------------------------------------------------------


@pytest.mark.parametrize("spec, op, value, relative", [
    ("-20%", "<=", -0.20, True),
    ("+5%", ">=", 0.05, True),
    ("-0%", "<=", 0.0, True),
    ("<= -10%", "<=", -0.10, True),
    (">= 2.5%", ">=", 0.025, True),
    ("<= 0.85", "<=", 0.85, False),
    (">=0.3", ">=", 0.3, False),
    (" >= 1e3 ", ">=", 1000.0, False),
])
def test_target_syntax(spec, op, value, relative):
    t = target(spec)
    assert (t.op, t.relative) == (op, relative)
    assert t.value == pytest.approx(value, abs=1e-15)
    assert t.text == spec.strip()


@pytest.mark.parametrize("spec, rule", [
    ("20%", "needs its sign"),
    ("< 0.8", "use <= or >="),
    ("= 5%", "use <= or >="),
    ("0.85", "a target is a signed relative change"),
    ("fast", "a target is a signed relative change"),
    ("-20 percent", "a target is a signed relative change"),
    (0.85, "a target is a signed relative change"),
    (True, "a target is a signed relative change"),
])
def test_bad_target_names_field_rule_and_value(spec, rule):
    with pytest.raises(ScenarioError, match=re.escape(rule)) as info:
        parse_target("win_rate", spec, file="redesign.yaml", line=7)
    text = str(info.value)
    assert text.startswith("redesign.yaml:7: targets.win_rate: ")
    assert text.endswith(f"(got {spec!r})")


def test_unknown_target_kpi_suggests_the_close_one():
    known = kpi_names(tiny())
    with pytest.raises(ScenarioError, match=r"targets\.win_rat: unknown KPI \(did you mean "
                                            r"'win_rate'\?\)"):
        parse_target("win_rat", "+5%", known)


def test_bad_target_in_a_file_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {BASELINE}\nname: bad\ntargets:\n  won: +5%\n"
                    "  cycle_time_won_median: 20%\n", encoding="utf-8")
    scenario = load_scenario(path)
    with pytest.raises(ScenarioError) as info:
        scenario_targets(scenario, path)
    assert str(info.value) == (f"{path}:5: targets.cycle_time_won_median: a relative target "
                               "needs its sign: -20% (at most -20%) or +20% (at least +20%) "
                               "(got '20%')")


def test_bad_target_option_names_the_option():
    known = kpi_names(tiny())
    with pytest.raises(ScenarioError, match=r"^--target:2: targets: a target option is KPI=SPEC"):
        parse_target_options(["won=+5%", "won"], known)
    with pytest.raises(ScenarioError, match=r"^--target:1: targets\.won: .*needs its sign"):
        parse_target_options(["won=5%"], known)
    assert parse_target_options(["utilisation.rep=<= 0.9"], known)["utilisation.rep"].value == 0.9


def test_cli_bad_target_exits_2_with_the_message(capsys):
    code = main(["compare", str(BASELINE), str(REDESIGNS[0]), "--target", "win_rate=fast"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--target:1: targets.win_rate: a target is a signed relative change" in err
    assert "Traceback" not in err


# --- verdicts ------------------------------------------------------------------------------


def est(lo: float, hi: float) -> Estimate:
    return Estimate((lo + hi) / 2, lo, hi, 10, 1.0)


@pytest.mark.parametrize("spec, lo, hi, verdict", [
    ("-20%", -0.30, -0.25, MET),
    ("-20%", -0.30, -0.20, MET),  # the bound itself satisfies "at most"
    ("-20%", -0.25, -0.15, UNSURE),
    ("-20%", -0.15, -0.05, MISSED),
    ("+5%", 0.06, 0.09, MET),
    ("+5%", 0.01, 0.07, UNSURE),
    ("+5%", -0.02, 0.04, MISSED),
    ("<= 0.85", 0.70, 0.80, MET),
    ("<= 0.85", 0.80, 0.90, UNSURE),
    (">= 0.3", 0.10, 0.20, MISSED),
])
def test_verdict_reads_the_whole_interval(spec, lo, hi, verdict):
    assert target(spec).verdict(est(lo, hi)) == verdict


def test_verdict_without_interval_is_not_available():
    assert target("-20%").verdict(Estimate(-0.3, math.nan, math.nan, 1, math.nan)) == "n/a"


@pytest.fixture(scope="module")
def halved_delay():
    """The tiny process against the same process with the buyer's delay halved, on CRN."""
    base = ScenarioRun("before", tiny(10.0))
    after = ScenarioRun("after", tiny(5.0), targets={
        "delay_mean.meet": target("-40%", "delay_mean.meet"),
    })
    loose = ScenarioRun("after60", tiny(5.0), targets={
        "delay_mean.meet": target("-60%", "delay_mean.meet"),
    })
    return compare(base, [after, loose], replications=10)


def test_halving_a_delay_meets_minus_40_and_misses_minus_60(halved_delay):
    rows = halved_delay.verdicts().set_index("scenario")
    assert rows.loc["after", "verdict"] == MET
    assert rows.loc["after60", "verdict"] == MISSED
    # Every delay is drawn from the same stream and halved, so the change sits near -50%
    # (a little above: the longest baseline delays do not end before the horizon).
    rel = rows.loc["after", ["rel_ci_low", "rel_ci_high"]]
    assert -0.55 < rel["rel_ci_low"] <= rel["rel_ci_high"] < -0.45


def test_comparison_table_columns_and_values(halved_delay):
    table = halved_delay.table
    assert list(table.columns) == COMPARISON_COLUMNS
    assert len(table) == 2 * len(kpi_names(tiny()))
    row = table[(table["scenario"] == "after") & (table["kpi"] == "delay_mean.meet")].iloc[0]
    b = halved_delay.baseline.result.wide()["delay_mean.meet"]
    o = halved_delay.redesigns[0].result.wide()["delay_mean.meet"]
    rel = relative_change(b, o)
    assert row["rel_change"] == pytest.approx(rel.mean)
    assert row["diff"] == pytest.approx(float(np.mean(o - b)))
    assert row["baseline_mean"] == pytest.approx(float(np.mean(b)))
    assert row["n"] == 10
    assert bool(row["significant"])


def test_settling_replications_is_the_pilot_rule_on_the_interval_used():
    rng = np.random.default_rng(3)
    b = rng.normal(100, 10, 8)
    o = 0.9 * b + rng.normal(0, 2, 8)
    t = target("-10%")
    rel = relative_change(b, o)
    n_star = settling_replications(t, b, o)
    # The linearised values have the relative change's mean and standard deviation.
    gap = abs(rel.mean - t.value)
    expected = max(8, math.ceil(8 * (rel.half_width / gap) ** 2 - 1e-9))
    assert n_star == expected
    mean_target = target("<= 91")
    assert settling_replications(mean_target, b, o) == target_replications(o, 91.0)


# --- common random numbers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def b2b_self():
    """The B2B baseline (shortened) compared with itself, loaded twice from its file."""
    sets = ["horizon=150", "warmup=30"]
    base, (same,) = load_runs(BASELINE, [BASELINE], sets)
    return compare(base, [same], replications=4)


def test_a_scenario_compared_with_itself_differs_by_exactly_zero(b2b_self):
    table = b2b_self.table
    assert b2b_self.redesigns[0].label == "b2b_baseline-2"
    finite = table[table["baseline_mean"].notna()]
    assert len(finite) > 50
    for col in ("diff", "diff_ci_low", "diff_ci_high"):
        assert (finite[col] == 0.0).all(), col
    nonzero = finite[finite["baseline_mean"] != 0]
    for col in ("rel_change", "rel_ci_low", "rel_ci_high"):
        assert (nonzero[col] == 0.0).all(), col
    assert (finite["p_value"] == 1.0).all()
    assert not finite["significant"].any()


def test_crn_narrows_the_interval_of_a_difference():
    """CRN against independent streams (the redesign on another seed), B2B e-contracts.

    Each half-width is t * s / sqrt(n) with the same t, so their ratio squared is the ratio of
    the sample variances of the differences. A chi-square interval on each variance (normal
    differences, n - 1 degrees of freedom) at 99.5% one-sided, combined by Bonferroni, bounds
    the true variance ratio from below with 99% confidence.
    """
    sets = ["horizon=200", "warmup=40"]
    base = load_scenario(BASELINE, sets)
    redesign = load_scenario(ROOT / "scenarios" / "redesigns" / "electronic_contracts.yaml", sets)
    n = 16
    frame = crn_variance_reduction(base, redesign, ["won", "wip_mean"], n, base.seed,
                                   base.seed + 1).set_index("kpi")
    df = n - 1
    factor = st.chi2.ppf(0.005, df) / st.chi2.ppf(0.995, df)  # worst case of the two bounds
    lower_bound = frame["variance_ratio"] * factor
    assert lower_bound["won"] > 1, frame  # CRN narrower on the deals won
    assert lower_bound["wip_mean"] > 4, frame  # at least twice as narrow on open leads
    assert np.allclose(frame["ratio"] ** 2, frame["variance_ratio"])


def test_redesigns_must_share_the_baseline_streams():
    base = ScenarioRun("a", tiny(), result=engine.run(tiny(), 2, seed=1))
    other = ScenarioRun("b", tiny(), result=engine.run(tiny(), 2, seed=2))
    with pytest.raises(ValueError, match="common random"):
        compare_results(base, [other])


# --- Holm ----------------------------------------------------------------------------------


def fake_run(label: str, values: list[float]) -> ScenarioRun:
    """A run whose single KPI takes the given values, one per replication."""
    reps = [Replication(i, {"k": v}, tally=None) for i, v in enumerate(values)]
    return ScenarioRun(label, tiny(), result=RunResult(tiny(), 0, reps))


def paired_p(diffs: list[float]) -> float:
    d = np.asarray(diffs)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(d.size))
    return 2 * st.t.sf(abs(t), d.size - 1)


def test_holm_adjusts_over_the_redesigns_as_by_hand():
    zeros = [0.0] * 5
    diffs = {"r1": [1.0, 2.0, 1.5, 2.5, 1.8],    # clear effect
             "r2": [0.4, 0.1, 0.6, 0.05, 0.5],   # raw p about 0.039
             "r3": [0.5, 0.0, 0.6, 0.1, 0.6]}    # raw p about 0.049
    base = fake_run("base", zeros)
    runs = [fake_run(label, d) for label, d in diffs.items()]
    table = compare_results(base, runs).set_index("scenario")
    raw = {label: paired_p(d) for label, d in diffs.items()}
    # By hand: sort the m = 3 raw p-values, multiply the i-th smallest by (m - i + 1), take the
    # running maximum, cap at 1.
    order = sorted(raw, key=raw.get)
    expected, running = {}, 0.0
    for i, label in enumerate(order):
        running = max(running, min(1.0, (3 - i) * raw[label]))
        expected[label] = running
    for label in diffs:
        assert table.loc[label, "p_value"] == pytest.approx(raw[label])
        assert table.loc[label, "p_adjusted"] == pytest.approx(expected[label])
        assert table.loc[label, "significant"] == (expected[label] < 0.05)
    # The case is chosen so the adjustment matters: raw p < 0.05 but adjusted p >= 0.05.
    assert any(raw[k] < 0.05 <= expected[k] for k in diffs)


def test_one_redesign_is_not_adjusted():
    table = compare_results(fake_run("base", [0.0] * 4), [fake_run("r", [0.1, 0.3, 0.2, 0.5])])
    assert table["p_adjusted"].iloc[0] == table["p_value"].iloc[0]


def test_unique_labels():
    assert unique_labels(["a/x.yaml", "b/x.yaml", "y.yaml", "x.yaml"]) == ["x", "x-2", "y", "x-3"]


# --- the redesign library ------------------------------------------------------------------


def test_the_library_has_the_levers():
    names = {p.stem for p in REDESIGNS}
    assert names == {"electronic_contracts", "crm_automation", "simplified_approval",
                     "one_more_se", "standardisation", "faster_first_response", "combined"}


@pytest.mark.parametrize("path", REDESIGNS, ids=lambda p: p.stem)
def test_every_redesign_validates_states_its_change_and_runs(path):
    text = path.read_text(encoding="utf-8")
    head = text.splitlines()
    assert head[0].startswith("# "), "opens with a comment on the change it models"
    first_key = next(line for line in head if line and not line.startswith("#"))
    assert first_key == "extends: ../b2b_baseline.yaml"
    scenario = load_scenario(path)
    base = load_scenario(BASELINE)
    assert scenario != base
    targets = scenario_targets(scenario, path)
    assert targets, "each redesign states what it should achieve"
    rep = engine.run_replication(scenario, 0)
    assert set(targets) <= set(rep.kpis)
    assert rep.kpis["won"] > 0


def test_standardisation_keeps_mean_work_and_halves_its_cv():
    base = load_scenario(BASELINE)
    std = load_scenario(ROOT / "scenarios" / "redesigns" / "standardisation.yaml")
    for sid, stage in base.stages.items():
        before, after = stage.work, std.stages[sid].work
        if before is None:
            continue
        assert after.mean == pytest.approx(before.mean, rel=1e-12), sid
        assert after.cv == pytest.approx(before.cv / 2, rel=1e-12, abs=1e-15), sid


def test_handbook_plan_raises_prospecting_conversion():
    plan = load_scenario(ROOT / "scenarios" / "handbook_plan.yaml")
    assert plan.stages["prospecting"].next == {"initial_contact": 0.85, "lost": 0.15}
    assert scenario_targets(plan, ROOT / "scenarios" / "handbook_plan.yaml")


# --- the command ---------------------------------------------------------------------------


def test_compare_command_writes_every_output(tmp_path, capsys):
    before = tmp_path / "before.yaml"
    after = tmp_path / "after.yaml"
    before.write_text(
        "name: tiny\nhorizon: 120\nreplications: 3\nseed: 5\n"
        "roles: {rep: {headcount: 1}}\n"
        "sources: {web: {rate: 4, deal_value: 1000}}\nentry: call\nstages:\n"
        "  call: {role: rep, work: {dist: exponential, mean: 0.2}, next: {meet: 0.5, lost: 0.5}}\n"
        "  meet: {delay: {dist: exponential, mean: 10}, next: {won: 0.8, lost: 0.2}}\n",
        encoding="utf-8")
    after.write_text("extends: before.yaml\nname: faster\nstages: {meet: {delay: {mean: 5}}}\n"
                     "targets: {delay_mean.meet: -40%}\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main(["compare", str(before), str(after), "--target", "won=+50%", "--out", str(out),
                 "--kpi", "won", "--kpi", "delay_mean.meet"])
    text = capsys.readouterr().out
    assert code == 0
    assert "after: faster" in text and "Targets" in text
    table = pd.read_csv(out / "comparison.csv", keep_default_na=False)
    assert list(table.columns) == [*COMPARISON_COLUMNS, "label", "unit"]
    row = table[table["kpi"] == "cycle_time_won_median"].iloc[0]
    assert (row["label"], row["unit"]) == ("Median cycle time of won deals", "days")
    verdicts = table[table["target"] != ""].set_index("kpi")
    assert verdicts.loc["delay_mean.meet", "verdict"] == MET
    assert verdicts.loc["won", "target"] == "+50%"
    for label in ("before", "after"):
        summary = pd.read_csv(out / label / "summary.csv")
        assert {"kpi", "mean", "ci_low", "ci_high"} <= set(summary.columns)
    assert (out / "report.html").is_file() and (out / "compare.json").is_file()


def test_compare_command_rejects_unknown_kpi_before_running(capsys):
    code = main(["compare", str(BASELINE), str(REDESIGNS[0]), "--kpi", "win_rat"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--kpis: 'win_rat' matches no KPI of these scenarios (did you mean 'win_rate'?)" in err
