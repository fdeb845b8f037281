"""Fractional factorials, CSV design matrices and Latin hypercubes: the designs' columns,
resolution and strata, and the experiment-file errors that name the problem."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from salessim.errors import ScenarioError
from salessim.experiments import load_experiment
from salessim.experiments.designs_fractional import STANDARD_GENERATORS, fractional_factorial

TINY = """\
name: tiny
horizon: 30
roles:
  rep: {headcount: 1}
sources:
  web: {rate: 3}
entry: call
stages:
  call:
    role: rep
    work: {dist: exponential, mean: "1 hour"}
    next: {won: 0.5, lost: 0.5}
"""


def test_half_fraction_with_d_equal_abc_has_the_right_columns_and_resolution_iv():
    f = fractional_factorial(4, ["D=ABC"])
    m = f.matrix
    assert m.shape == (8, 4)
    # A, B, C: the full 2^3 in standard order (A fastest); D the product of the three.
    expected = np.array([(a, b, c, a * b * c) for c, b, a in itertools.product([-1, 1],
                                                                              repeat=3)])
    assert np.array_equal(m, expected)
    assert f.words == ("ABCD",) and f.resolution == 4
    # Resolution IV: main effects orthogonal to one another and to every 2-factor product.
    columns = [m[:, i] for i in range(4)] + [m[:, i] * m[:, j]
                                              for i, j in itertools.combinations(range(4), 2)]
    for i in range(4):
        for j, other in enumerate(columns):
            if j != i:
                assert int(m[:, i] @ other) == 0


def test_the_other_half_and_the_full_defining_relation():
    f = fractional_factorial(5, ["D=AB", "E=-AC"])
    assert f.words == ("ABD", "-ACE", "-BCDE") and f.resolution == 3
    assert np.array_equal(f.matrix[:, 4], -f.matrix[:, 0] * f.matrix[:, 2])


@pytest.mark.parametrize("k, p, resolution", [
    (3, 1, 3), (4, 1, 4), (5, 1, 5), (5, 2, 3), (6, 1, 6), (6, 2, 4), (6, 3, 3), (7, 1, 7),
    (7, 2, 4), (7, 3, 4), (7, 4, 3), (8, 1, 8), (8, 2, 5), (8, 3, 4), (8, 4, 4)])
def test_standard_generators_reach_the_tabled_resolution(k, p, resolution):
    f = fractional_factorial(k, STANDARD_GENERATORS[(k, p)])
    assert f.matrix.shape == (2 ** (k - p), k) and f.resolution == resolution
    assert len(f.words) == 2**p - 1
    assert len({tuple(row) for row in f.matrix}) == 2 ** (k - p)  # no repeated run


@pytest.mark.parametrize("generators, message", [
    (["D=ABX"], "names X"), (["D ABC"], "written like"), (["D=ABC", "D=AB"], "generated once"),
    (["C=AB", "D=AC"], "base factors")])
def test_bad_generators_are_named(generators, message):
    with pytest.raises(ValueError, match=message):
        fractional_factorial(4, generators)


def _write(folder: Path, design: str, factors: str = "") -> Path:
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    path = folder / "exp.yaml"
    path.write_text(f"name: x\nscenarios: tiny.yaml\n{factors}design: {design}\n"
                    "replications: 2\n", encoding="utf-8")
    return path


FOUR = """factors:
  roles.rep.headcount: [1, 2]
  warmup: [0, 5]
  sources.web.rate: [2, 4]
  horizon: [20, 40]
"""


def test_a_fraction_in_an_experiment_file_maps_coded_levels_to_the_listed_ones(tmp_path):
    exp = load_experiment(_write(tmp_path, "{kind: fractional_factorial, fraction: 1}", FOUR))
    table = exp.design_table()
    assert len(table) == 8 and [d["design"] for d in table][:2] == ["d000", "d001"]
    coded = np.array([[-1 if d[k] == lo else 1 for k, (lo, _) in
                       zip(exp.factors, [(1, 2), (0, 5), (2, 4), (20, 40)], strict=True)]
                      for d in table])
    assert np.array_equal(coded, fractional_factorial(4, ["D=ABC"]).matrix)
    same = load_experiment(_write(tmp_path, "{kind: fractional_factorial, generators: [D=ABC]}",
                                  FOUR))
    assert same.design_table() == table


@pytest.mark.parametrize("design, factors, message", [
    ("{kind: fractional_factorial}", FOUR, "generators"),
    ("{kind: fractional_factorial, fraction: 3}", FOUR, "no standard generators"),
    ("{kind: fractional_factorial, fraction: 1}", "factors:\n  horizon: [1, 2, 3]\n",
     "two levels"),
    ("{kind: lhs, samples: 3, generators: [C=AB]}", FOUR, "for fractional_factorial"),
])
def test_bad_fraction_specs_name_the_rule(tmp_path, design, factors, message):
    with pytest.raises(ScenarioError, match=message):
        load_experiment(_write(tmp_path, design, factors))


def test_a_csv_design_matrix_gives_its_rows_as_designs(tmp_path):
    (tmp_path / "matrix.csv").write_text(
        "roles.rep.headcount,stages.call.work.mean\n1,1 hour\n3,2 hours\n", encoding="utf-8")
    exp = load_experiment(_write(tmp_path, "{file: matrix.csv}"))
    assert [(d.id, d.values) for d in exp.designs] == [
        ("d000", {"roles.rep.headcount": 1, "stages.call.work.mean": "1 hour"}),
        ("d001", {"roles.rep.headcount": 3, "stages.call.work.mean": "2 hours"})]
    assert exp.scenarios["d001"].roles["rep"].headcount == 3


def test_a_named_csv_matrix_keeps_the_names(tmp_path):
    (tmp_path / "m.csv").write_text("design,sources.web.rate\nlow,1.5\nhigh,6\n",
                                    encoding="utf-8")
    exp = load_experiment(_write(tmp_path, "{kind: file, file: m.csv}"))
    assert [(d.id, d.values) for d in exp.designs] == [
        ("low", {"sources.web.rate": 1.5}), ("high", {"sources.web.rate": 6})]


@pytest.mark.parametrize("csv, message", [
    ("roles.rep.headcount\n1\n\n0\n", r"m.csv:4: roles.rep.headcount.*\[in design d001\]"),
    ("roles.rep.headcount,horizon\n1,\n", r"m.csv:2: column 'horizon' is empty"),
    ("design,horizon\na,10\na,20\n", r"m.csv:3: design name 'a' is repeated"),
    ("horizon\n", "at least one row"),
    ("Not A Key\n1\n", "dotted scenario key"),
])
def test_csv_matrix_errors_name_file_line_and_column(tmp_path, csv, message):
    (tmp_path / "m.csv").write_text(csv, encoding="utf-8")
    with pytest.raises(ScenarioError, match=message):
        load_experiment(_write(tmp_path, "{file: m.csv}"))


def test_a_missing_matrix_file_is_named(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read the design matrix"):
        load_experiment(_write(tmp_path, "{file: nowhere.csv}"))


def test_latin_hypercube_has_one_point_per_stratum_per_factor(tmp_path):
    n = 7
    factors = ("factors:\n  sources.web.rate: {low: 1, high: 8}\n"
               "  horizon: {low: 10, high: 80}\n")
    exp = load_experiment(_write(tmp_path, f"{{kind: lhs, samples: {n}, seed: 11}}", factors))
    rate = np.array([d.values["sources.web.rate"] for d in exp.designs])
    horizon = np.array([d.values["horizon"] for d in exp.designs])
    assert sorted(np.floor((rate - 1) / 7 * n).astype(int)) == list(range(n))
    assert sorted(np.floor((horizon - 10) / 70 * n).astype(int)) == list(range(n))


def test_sobol_points_are_the_published_sequence_and_balanced(tmp_path):
    factors = "factors:\n  sources.web.rate: {low: 1, high: 9}\n  horizon: {low: 10, high: 18}\n"
    exp = load_experiment(_write(tmp_path, "{kind: sobol, samples: 8}", factors))
    rate = [d.values["sources.web.rate"] - 1 for d in exp.designs]
    horizon = [d.values["horizon"] - 10 for d in exp.designs]
    # The first points of Sobol's sequence (Joe-Kuo direction numbers), times 8.
    assert rate == [0, 4, 6, 2, 3, 7, 5, 1]
    assert horizon == [0, 4, 2, 6, 3, 7, 1, 5]
    assert sorted(int(r) for r in rate) == list(range(8))  # one per stratum


@pytest.mark.parametrize("design, message", [
    ("{kind: sobol, samples: 6}", "power of two"),
    ("{kind: sobol, samples: 8, seed: 3}", "takes no seed"),
])
def test_bad_sobol_specs(tmp_path, design, message):
    factors = "factors:\n  horizon: {low: 10, high: 18}\n"
    with pytest.raises(ScenarioError, match=message):
        load_experiment(_write(tmp_path, design, factors))
