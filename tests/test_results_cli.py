"""``salessim results`` with --contrasts, --effects, --metamodel and --format, on one tiny
real sweep: the CLI's numbers are the library's, paired on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest

from salessim.cli import main
from salessim.experiments import load_experiment, load_results, sweep
from salessim.experiments.analysis import contrasts

TINY = """\
name: tiny
horizon: 30
warmup: 5
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
    delay: {dist: exponential, mean: 3}
    next: {won: 0.6, lost: 0.4}
"""

EXPERIMENT = """\
name: two_by_two
scenarios: tiny.yaml
factors:
  roles.rep.headcount: [1, 2]
  stages.close.delay.mean: [1, 3]
replications: 4
kpis: [leads, won, win_rate, cycle_time_won_median]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    (root / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (root / "exp.yaml").write_text(EXPERIMENT, encoding="utf-8")
    out = root / "out"
    sweep(load_experiment(root / "exp.yaml"), out)
    return out


def test_designs_share_their_random_numbers(folder):
    # Lead arrivals do not depend on headcount or the close delay: with common random
    # numbers every design sees the same leads in replication r, so the paired difference
    # of the leads created is exactly zero (independent streams would not give this).
    frame = load_results(folder)
    created = frame[frame["kpi"] == "leads"].pivot(index="replication", columns="design",
                                                   values="value")
    assert created.shape == (4, 4) and created["d000"].nunique() > 1
    got = contrasts(frame, "leads")
    assert list(got["design"]) == ["d001", "d002", "d003"]
    assert np.all(got["difference"] == 0) and np.all(got["ci_low"] == got["ci_high"])
    assert np.all(got["p_holm"] == 1.0)


def test_contrasts_effects_and_metamodel_from_the_command_line(folder, capsys):
    assert main(["results", str(folder), "--kpi", "won", "--contrasts", "--reference", "d003",
                 "--effects", "--metamodel", "linear"]) == 0
    out = capsys.readouterr().out
    assert "each design against d003 (design minus reference), paired on replication" in out
    assert "Holm-adjusted over 3 contrasts" in out
    assert "roles.rep.headcount x stages.close.delay.mean" in out
    assert "linear response surface fitted to 4 design means" in out


@pytest.mark.parametrize("fmt, marks", [
    ("markdown", ["**Win rate (%)**", "| design |", "|---|", "difference (pts)"]),
    ("latex", [r"\begin{tabular}", r"Win rate (\%)", r"roles.rep.headcount", r"\hline"]),
])
def test_tables_in_markdown_and_latex_carry_units(folder, capsys, fmt, marks):
    assert main(["results", str(folder), "--kpi", "win_rate", "--contrasts",
                 "--format", fmt]) == 0
    out = capsys.readouterr().out
    for mark in marks:
        assert mark in out, mark
    frame = load_results(folder)
    share = frame[(frame["kpi"] == "win_rate") & (frame["design"] == "d000")]["value"].mean()
    assert f"{100 * share:.4g}"[:4] in out  # shares in percent


@pytest.mark.parametrize("argv, message", [
    (["--reference", "d001"], "add --contrasts"),
    (["--contrasts", "--all-pairs", "--reference", "d001", "--kpi", "won"], "leave out"),
    (["--contrasts"], "--kpi"),
    (["--contrasts", "--kpi", "won", "--reference", "zz"], "no design 'zz'"),
])
def test_bad_analysis_options_exit_2(folder, capsys, argv, message):
    assert main(["results", str(folder), *argv]) == 2
    assert message in capsys.readouterr().err


def test_plots_are_labelled_from_the_kpi_registry(folder):
    from salessim.experiments import plot_kpi_by_factor, summarise_results

    summary = summarise_results(load_results(folder))
    fig = plot_kpi_by_factor(summary, "win_rate", "roles.rep.headcount",
                             "stages.close.delay.mean")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Win rate (%)" and ax.get_title().startswith("Win rate by")
    mean = summary[(summary["kpi"] == "win_rate") & (summary["design"] == "d000")]["mean"]
    assert 100 * float(mean.iloc[0]) in [float(y) for line in ax.lines for y in line.get_ydata()]
    fig = plot_kpi_by_factor(summary, "cycle_time_won_median", "roles.rep.headcount",
                             "stages.close.delay.mean", time_unit="day")
    assert fig.axes[0].get_ylabel() == "Median cycle time of won deals (days)"


def test_render_escapes_latex_and_markdown():
    from salessim.experiments.analysis_tables import render

    latex = render("a_b & 5%", ["x", "y"], [["p_1", "1|2"], ["<0.0001", "x^2"]], "latex")
    assert r"\textless{}0.0001 & x\^{}2" in latex
    assert r"\caption{a\_b \& 5\%}" in latex and r"p\_1 & 1|2 \\" in latex
    assert latex.splitlines()[3] == r"\begin{tabular}{lr}"
    markdown = render("cap", ["x", "y"], [["p_1", "1|2"]], "markdown")
    assert markdown.splitlines() == ["**cap**", "", "| x | y |", "|---|---:|",
                                     r"| p_1 | 1\|2 |"]


def test_all_pairs_from_the_command_line(folder, capsys):
    assert main(["results", str(folder), "--kpi", "won", "--contrasts", "--all-pairs",
                 "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "every pair of designs" in out and "Holm-adjusted over 6 contrasts" in out
    assert "| d003 | d002 |" in out
