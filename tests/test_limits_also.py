"""The smaller failures found beside the twelve: overloaded roles, an end named as the
first stage, a Dask address of no known kind, --out of nothing or the root, amounts
beyond any deal, and running out of memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import expo, refused, scenario_of
from salessim import cli
from salessim.scenario.size import (
    WAITING_LEAD_BYTES,
    WARN_WAITING_BYTES,
    overloads,
    size_problems,
)

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "scenarios" / "tutorial.yaml"
HISTORY = ROOT / "examples" / "crm" / "stage_history.csv"


def one_rep(rate: float, horizon: float, **stage) -> dict:
    return {"horizon": horizon, "replications": 1,
            "roles": {"rep": {"headcount": 1, "cost_per_hour": 10}},
            "sources": {"web": {"rate": rate, "deal_value": 1000}}, "entry": "call",
            "stages": {"call": {"role": "rep", "work": expo(1.0),
                                "next": {"won": 0.5, "lost": 0.5}, **stage}}}


def test_an_overloaded_role_is_a_finding_with_its_backlog():
    # 2 leads an hour, an hour of work each, one rep: twice the work the rep can do; half
    # the leads are still waiting at the end, 1,000 of the 2,000.
    [over] = overloads(scenario_of(one_rep(2, 1000)))
    assert over.role == "rep" and over.offered == pytest.approx(2000)
    assert over.capacity == pytest.approx(1000) and over.waiting == pytest.approx(1000)
    assert "overloaded" in over.warning() and "200%" in over.warning()
    assert overloads(scenario_of(one_rep(0.5, 1000))) == []
    # Leads that give up (patience) leave the queue: none pile up.
    [patient] = overloads(scenario_of(one_rep(2, 1000, patience=expo(1.0))))
    assert patient.waiting == 0


def test_a_backlog_beyond_memory_is_warned_of_not_refused():
    # 10 leads an hour for 300,000 days, one rep: about 65 million waiting leads.
    scenario = scenario_of(one_rep(10, 300_000 * 24))
    assert size_problems(scenario) == []
    [over] = overloads(scenario)
    assert over.waiting * WAITING_LEAD_BYTES > WARN_WAITING_BYTES
    assert "may not fit in memory" in over.warning()
    assert "may not fit" not in overloads(scenario_of(one_rep(2, 1000)))[0].warning()


def test_the_run_warns_of_an_overloaded_role(tmp_path, capsys):
    import yaml

    path = tmp_path / "over.yaml"
    path.write_text(yaml.safe_dump({"name": "over", "time_unit": "hour", "seed": 1,
                                    **one_rep(2, 300)}))
    assert cli.main(["run", str(path), "--workers", "1", "-n", "2",
                     "--out", str(tmp_path / "o")]) == 0
    assert "role 'rep' is overloaded" in capsys.readouterr().err


def test_out_of_memory_is_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    from salessim import engine

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(engine, "run_replication", exhausted)
    refused(capsys, ["run", str(TUTORIAL), "--workers", "1", "-n", "2", "--set", "horizon=40",
                     "--out", str(tmp_path / "o")], "out of memory")


def test_won_naming_the_first_stage_is_refused_clearly(tmp_path, capsys):
    refused(capsys, ["calibrate", str(HISTORY), "--won", "Qualify", "--no-backtest",
                     "--out", str(tmp_path / "c")],
            "every row is in an end stage", "'Qualify' (won)")


@pytest.mark.parametrize("amount", ["1e308", "2e15"])
def test_an_amount_beyond_any_deal_is_refused_at_its_row(tmp_path, capsys, amount):
    lines = HISTORY.read_text().splitlines()[:60]
    fields = lines[5].split(",")
    fields[6] = amount
    lines[5] = ",".join(fields)
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n")
    refused(capsys, ["calibrate", str(path), "--no-backtest", "--out", str(tmp_path / "c")],
            "h.csv:6: amount: an amount must be a finite number >= 0 and at most 1e+15")


def test_amounts_too_spread_for_a_lognormal_are_kept_as_they_are():
    from dataclasses import replace

    import numpy as np

    from salessim.calibrate.estimate import fit_values
    from salessim.calibrate.pipeline import read_visits

    visits = read_visits(HISTORY)
    deals = visits.deals.copy()
    deals.loc[deals.index[0], "amount"] = 1e-300
    fitted = fit_values(replace(visits, deals=deals))
    spread = [v for v in fitted.values() if "too spread out" in v.note]
    assert spread and spread[0].spec["dist"] == "empirical"
    assert all(np.isfinite(v) for v in spread[0].spec["values"])


@pytest.mark.parametrize("out, needle", [("", "--out must name a folder"),
                                         ("/", "not the root folder")])
def test_out_of_nothing_or_the_root_is_refused(capsys, tmp_path, monkeypatch, out, needle):
    monkeypatch.chdir(tmp_path)
    refused(capsys, ["run", str(TUTORIAL), "-n", "2", "--out", out], needle)
    assert list(tmp_path.iterdir()) == []  # no run record, here or anywhere
    assert not Path("/run.json").exists() or out != "/"


def test_a_dask_address_of_no_known_kind_is_bad_input(tmp_path, capsys):
    pytest.importorskip("distributed")
    refused(capsys, ["sweep", str(ROOT / "experiments" / "se_headcount_by_delay.yaml"),
                     "--dask", "garbage://", "--out", str(tmp_path / "r")],
            "cannot reach the Dask scheduler at garbage://", "unknown address scheme")


def test_a_set_inside_a_field_is_blamed_not_the_file(capsys):
    # next of qualify is 0.3 / 0.7 in the file; the --set makes it 0.5 / 0.7.
    refused(capsys, ["validate", str(TUTORIAL), "--set", "stages.qualify.next.pitch=0.5"],
            "--set:1: stages.qualify.next: probabilities must sum to 1")
    refused(capsys, ["validate", str(TUTORIAL), "--set", "horizon=40", "--set",
                     "stages.qualify.next.pitch=0.5"], "--set:2: stages.qualify.next")


def test_case_file_errors_carry_their_line(tmp_path):
    from salessim.errors import ScenarioError
    from salessim.teaching.casebook import load_case

    (tmp_path / "before.yaml").write_text("name: x\n")
    (tmp_path / "case.yaml").write_text(
        "title: t\nsource: s\nbefore: before.yaml\nafter: [before.yaml]\n"
        "verdicts:\n  before.yaml:\n    won: higher\n")
    with pytest.raises(ScenarioError) as info:
        load_case(tmp_path)
    assert info.value.problems[0].line == 7
    (tmp_path / "case.yaml").write_text("title: t\nsource: s\nbefore: before.yaml\n"
                                        "after:\n  - before.yaml\n  - nothere.yaml\n")
    with pytest.raises(ScenarioError) as info:
        load_case(tmp_path)
    assert info.value.problems[0].line == 6
