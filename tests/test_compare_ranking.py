"""Redesigns that cannot silently do nothing, and a ranking on verdicts, not on averages
of unlike targets."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

import salessim
from conftest import refused, scenario_of
from salessim.api import evolve
from salessim.reports import summary
from salessim.targets import parse_target


@dataclass
class _Run:
    label: str
    targets: dict = field(default_factory=dict)


@dataclass
class _Comparison:
    redesigns: list
    table: pd.DataFrame


def test_a_redesign_that_met_all_its_targets_ranks_above_one_left_unsure():
    """``all_met`` met its one target by a hair; ``one_unsure`` met one by far and left
    another unsure. An average of the margins would put ``one_unsure`` first."""
    rows = [("all_met", "won", "met", 0.051, 10.0),
            ("one_unsure", "won", "met", 0.90, 10.0),
            ("one_unsure", "cycle_time_won_median", "unsure", -0.05, 10.0)]
    table = pd.DataFrame(rows, columns=["scenario", "kpi", "verdict", "rel_change", "mean"])
    runs = [_Run("one_unsure", {"won": parse_target("won", "+5%"),
                                "cycle_time_won_median": parse_target(
                                    "cycle_time_won_median", "-10%")}),
            _Run("all_met", {"won": parse_target("won", "+5%")})]
    rank = summary.ranking(_Comparison(runs, table))
    assert list(rank["redesign"]) == ["all_met", "one_unsure"]
    assert rank.set_index("redesign").loc["one_unsure", "mean margin"] > rank.set_index(
        "redesign").loc["all_met", "mean margin"]


def _tiny() -> object:
    return scenario_of({
        "horizon": 100, "replications": 2, "roles": {"rep": {"headcount": 1}},
        "sources": {"web": {"rate": 0.3, "deal_value": 1000}}, "entry": "call",
        "stages": {"call": {"role": "rep", "work": {"dist": "exponential", "mean": 1.0},
                            "next": {"won": 0.5, "lost": 0.5}}}})


def test_a_redesign_identical_to_its_baseline_is_warned_about():
    base = _tiny()
    renamed = evolve(base, {"name": "renamed", "targets": {"won": "+5%"}})
    unused = evolve(base, {"roles.rep.cost_per_hour": 0.0, "roles.rep.description": "x"})
    changed = evolve(base, {"roles.rep.headcount": 2})
    report = salessim.compare(base, renamed, unused, changed, replications=2,
                              labels=["base", "renamed", "unused", "changed"],
                              hire_split=False)
    found = {c.scenario: c.what for c in report.no_effect()}
    assert set(found) == {"renamed", "unused"}
    assert "only its name" in found["renamed"]
    assert "every KPI of all 2 replications" in found["unused"]
    assert any("changes nothing" in c.text() for c in report.caveats())


def test_a_misspelt_stage_in_a_redesign_gets_a_did_you_mean(tmp_path, capsys):
    redesign = tmp_path / "misspelt.yaml"
    redesign.write_text("extends: ../../scenarios/tutorial.yaml\nname: misspelt\n"
                        "stages: {qualfy: {work: {dist: exponential, mean: 1}}}\n")
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    redesign.write_text(redesign.read_text().replace(
        "../../scenarios/tutorial.yaml", str(root / "scenarios" / "tutorial.yaml")))
    refused(capsys, ["compare", str(root / "scenarios" / "tutorial.yaml"), str(redesign)],
            "misspelt.yaml:3", "stages.qualfy", "did you mean 'qualify'?", "add:")
