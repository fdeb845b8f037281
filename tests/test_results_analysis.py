"""Paired contrasts, factorial effects and the metamodel, checked on synthetic result tables
with known answers (and once on a tiny real sweep)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from salessim.errors import UsageError
from salessim.experiments.analysis import contrasts, effects
from salessim.experiments.analysis_fit import fit_metamodel


def table(designs: dict[str, dict], values: dict[str, list[float]], kpi: str = "won",
          scenario: str = "base") -> pd.DataFrame:
    """A result table: designs -> factor values, design -> one value per replication."""
    rows = []
    for d, factors in designs.items():
        for r, v in enumerate(values[d]):
            rows.append({"experiment": "x", "design": d, "scenario": scenario, **factors,
                         "scenario_hash": "h", "replication": r, "kpi": kpi, "value": v,
                         "status": "ok", "error": None})
    return pd.DataFrame(rows)


def factorial(k: int, response, reps: int, noise: float = 0.0, seed: int = 1):
    """A 2^k design on factors f0..f(k-1) at levels 10/20, y = response(coded x) + noise;
    the noise of replication r is shared by every design (common random numbers) plus a
    smaller own part."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 5 * noise, reps)
    designs, values = {}, {}
    for i, xs in enumerate(itertools.product([-1, 1], repeat=k)):
        d = f"d{i:03d}"
        designs[d] = {f"f{j}": 15 + 5 * x for j, x in enumerate(xs)}
        values[d] = list(response(xs) + common + rng.normal(0, noise, reps))
    return table(designs, values)


def additive(xs):
    a, b, c = xs
    return 10 + 3 * a + 2 * b - 0.5 * c - 1.5 * a * b


def test_effects_recover_known_additive_effects_and_interaction_exactly():
    frame = factorial(3, additive, reps=4)
    got = effects(frame, "won").set_index("effect")["estimate"]
    # An effect is the mean at +1 minus the mean at -1: twice the coded coefficient.
    assert got["f0"] == pytest.approx(6) and got["f1"] == pytest.approx(4)
    assert got["f2"] == pytest.approx(-1) and got["f0 x f1"] == pytest.approx(-3)
    assert got["f0 x f2"] == pytest.approx(0, abs=1e-12)
    assert got["f1 x f2"] == pytest.approx(0, abs=1e-12)


def test_effect_intervals_cover_the_truth_and_common_noise_cancels():
    frame = factorial(3, additive, reps=30, noise=1.0, seed=7)
    got = effects(frame, "won", level=0.999).set_index("effect")
    truth = {"f0": 6, "f1": 4, "f2": -1, "f0 x f1": -3, "f0 x f2": 0, "f1 x f2": 0}
    for name, value in truth.items():
        assert got.loc[name, "ci_low"] <= value <= got.loc[name, "ci_high"], name
    # Per replication, e_r = (2/8) sum x_d y_dr: the common part (sd 5) cancels and the
    # own noise (sd 1) leaves sd(e_r) = 2/8 * sqrt(8) = 0.707.
    assert got["std"].max() < 1.2


def test_effects_refuse_three_levels():
    designs = {f"d{i}": {"f0": v} for i, v in enumerate([1, 2, 3])}
    frame = table(designs, {d: [1.0, 2.0] for d in designs})
    with pytest.raises(UsageError, match="two-level"):
        effects(frame, "won")


def test_aliased_effects_of_a_half_fraction_are_named_together():
    # 2^(3-1) with C = AB: C's column is A x B's.
    runs = [(-1, -1, 1), (1, -1, -1), (-1, 1, -1), (1, 1, 1)]
    designs = {f"d{i}": {"A": a, "B": b, "C": c} for i, (a, b, c) in enumerate(runs)}
    frame = table(designs, {f"d{i}": [4.0 * a + 1.0, 4.0 * a + 3.0]
                            for i, (a, b, c) in enumerate(runs)})
    got = effects(frame, "won").set_index("effect")["estimate"]
    assert set(got.index) == {"A = B x C", "B = A x C", "C = A x B"}
    assert got["A = B x C"] == pytest.approx(8.0)


def test_contrasts_pair_on_replication_and_holm_matches_a_hand_computation():
    diffs = {"a": [0.0] * 5, "b": [1.0, 1.2, 0.8, 1.1, 0.9], "c": [0.1, -0.2, 0.3, 0.0, 0.05],
             "d": [2.0, 2.5, 1.5, 2.2, 1.8]}
    common = np.array([100.0, -50.0, 20.0, 300.0, 7.0])  # CRN: cancels from every pair
    frame = table({d: {"f": i} for i, d in enumerate(diffs)},
                  {d: list(common + np.array(v)) for d, v in diffs.items()})
    got = contrasts(frame, "won").set_index("design")
    assert list(got.index) == ["b", "c", "d"] and set(got["reference"]) == {"a"}
    from scipy import stats as sps

    raw = {}
    for d in ("b", "c", "d"):
        x = np.array(diffs[d])
        assert got.loc[d, "difference"] == pytest.approx(x.mean())
        half = sps.t.ppf(0.975, 4) * x.std(ddof=1) / np.sqrt(5)
        assert got.loc[d, "ci_high"] - got.loc[d, "difference"] == pytest.approx(half)
        raw[d] = sps.ttest_1samp(x, 0).pvalue
        assert got.loc[d, "p_value"] == pytest.approx(raw[d])
    # Holm by hand: sort ascending, multiply by 3, 2, 1, keep the running maximum.
    order = sorted(raw, key=raw.get)
    expected, running = {}, 0.0
    for rank, d in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[d]))
        expected[d] = running
    for d in raw:
        assert got.loc[d, "p_holm"] == pytest.approx(expected[d])


def test_contrasts_against_a_chosen_reference_and_unknown_names():
    frame = table({"a": {"f": 1}, "b": {"f": 2}}, {"a": [1.0, 2.0, 3.0], "b": [2.0, 4.0, 5.0]})
    got = contrasts(frame, "won", reference="b")
    assert list(got["design"]) == ["a"]
    assert got["difference"].iloc[0] == pytest.approx(-5 / 3)
    with pytest.raises(UsageError, match="no design 'z'"):
        contrasts(frame, "won", reference="z")
    with pytest.raises(UsageError, match="no KPI 'lost'"):
        contrasts(frame, "lost")


@pytest.mark.parametrize("kind", ["linear", "quadratic"])
def test_metamodel_coefficients_equal_lstsq_with_their_fit_statistics(kind):
    rng = np.random.default_rng(3)
    xs = [(a, b) for a in (1, 2, 3, 4) for b in (0.5, 1.0, 2.0)]
    designs = {f"d{i:02d}": {"a": a, "b": b} for i, (a, b) in enumerate(xs)}
    values = {d: list(5 + 2 * v["a"] - 3 * v["b"] + 0.5 * v["a"] * v["b"]
                      + rng.normal(0, 0.3, 3)) for d, v in designs.items()}
    frame = table(designs, values)
    model = fit_metamodel(frame, "won", kind)
    a = np.array([v["a"] for v in designs.values()], float)
    b = np.array([v["b"] for v in designs.values()], float)
    cols = [np.ones(12), a, b] + ([a**2, b**2, a * b] if kind == "quadratic" else [])
    x = np.column_stack(cols)
    y = np.array([np.mean(values[d]) for d in designs])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    assert model.coefficients["estimate"].to_numpy() == pytest.approx(beta)
    resid = y - x @ beta
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    df = 12 - x.shape[1]
    assert model.r2 == pytest.approx(r2) and model.df == df
    assert model.adj_r2 == pytest.approx(1 - (1 - r2) * 11 / df)
    assert model.rse == pytest.approx(np.sqrt(resid @ resid / df))
    from scipy import stats as sps

    se = np.sqrt(resid @ resid / df * np.diag(np.linalg.inv(x.T @ x)))
    assert model.coefficients["std_error"].to_numpy() == pytest.approx(se)
    assert model.coefficients["ci_low"].to_numpy() == pytest.approx(
        beta - sps.t.ppf(0.975, df) * se)
    assert model.predict({"a": 2, "b": 1.0}) == pytest.approx(
        float(np.array([1, 2, 1.0] + ([4, 1, 2] if kind == "quadratic" else [])) @ beta))


def test_metamodel_needs_more_designs_than_terms():
    designs = {f"d{i}": {"a": a} for i, a in enumerate([1, 2, 3])}
    frame = table(designs, {d: [1.0, 2.0] for d in designs})
    with pytest.raises(UsageError, match="more designs"):
        fit_metamodel(frame, "won", "quadratic")


def test_all_pairs_are_the_later_minus_the_earlier_holm_over_all():
    diffs = {"a": [0.0, 0.0, 0.0], "b": [1.0, 2.0, 3.0], "c": [5.0, 5.5, 7.0]}
    frame = table({d: {"f": i} for i, d in enumerate(diffs)},
                  {d: [10 * r + x for r, x in enumerate(v)] for d, v in diffs.items()})
    got = contrasts(frame, "won", all_pairs=True)
    assert list(zip(got["reference"], got["design"], strict=True)) == [
        ("a", "b"), ("a", "c"), ("b", "c")]
    assert got["difference"].tolist() == pytest.approx([2.0, 17.5 / 3, 17.5 / 3 - 2.0])
    from salessim.stats import holm

    assert got["p_holm"].to_numpy() == pytest.approx(holm(got["p_value"].to_numpy()))
    assert got["p_holm"].max() <= 1 and (got["p_holm"] >= got["p_value"]).all()
    with pytest.raises(UsageError, match="no single reference"):
        contrasts(frame, "won", reference="a", all_pairs=True)


def test_a_failed_run_drops_its_replication_from_the_pairs_it_belongs_to():
    frame = factorial(2, lambda xs: 1.0 + xs[0], reps=5, noise=0.5)
    bad = (frame["design"] == "d003") & (frame["replication"] == 2)
    frame.loc[bad, ["status", "value"]] = ["error", np.nan]
    got = contrasts(frame, "won").set_index("design")
    assert got.loc["d001", "n"] == 5 and got.loc["d003", "n"] == 4
    eff = effects(frame, "won").set_index("effect")
    assert set(eff["n"]) == {4}
