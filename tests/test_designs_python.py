"""Designs from Python: ``salessim.api.studies.experiment`` validates exactly as a file."""

from __future__ import annotations

import pandas as pd
import pytest

from salessim.api.studies import experiment, sweep
from salessim.errors import ScenarioError
from salessim.experiments import load_experiment, load_results

TINY = """\
name: tiny
horizon: 20
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


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    return tmp_path


def test_a_dataframe_design_matrix_is_the_list_design_of_a_file(folder):
    matrix = pd.DataFrame({"design": ["one", "two"], "roles.rep.headcount": [1, 2],
                           "sources.web.rate": [2.5, 4.0]})
    exp = experiment("tiny.yaml", design=matrix, replications=2, seed=9, name="m", base=folder)
    (folder / "m.yaml").write_text(
        "name: m\nscenarios: tiny.yaml\nreplications: 2\nseed: 9\ndesign:\n  kind: list\n"
        "  designs:\n    one: {roles.rep.headcount: 1, sources.web.rate: 2.5}\n"
        "    two: {roles.rep.headcount: 2, sources.web.rate: 4.0}\n", encoding="utf-8")
    same = load_experiment(folder / "m.yaml")
    assert exp.design_table() == same.design_table() and exp.hash == same.hash
    assert type(exp.designs[1].values["roles.rep.headcount"]) is int  # not numpy.int64


def test_design_kinds_from_python_and_a_sweep(folder):
    exp = experiment("tiny.yaml", factors={"roles.rep.headcount": [1, 2],
                                           "sources.web.rate": [2, 4], "horizon": [15, 20]},
                     design={"kind": "fractional_factorial", "generators": ["C=AB"]},
                     replications=2, kpis=["leads", "won"], base=folder)
    assert len(exp.designs) == 4
    report = sweep(exp, folder / "out")
    assert report.ran == 8
    frame = load_results(folder / "out")
    assert set(frame["design"]) == {"d000", "d001", "d002", "d003"}


def test_a_bad_level_from_python_names_the_field(folder):
    with pytest.raises(ScenarioError, match=r"roles.rep.headcount.*\[in design d000\]"):
        experiment("tiny.yaml", design=[{"roles.rep.headcount": 0}], base=folder)
    with pytest.raises(ScenarioError, match="samples"):
        experiment("tiny.yaml", factors={"horizon": {"low": 1, "high": 2}},
                   design={"kind": "lhs"}, base=folder)
