"""The casebook: every answer checked twice, by the formulas and by the simulation.

For each case the before and after scenarios run on common random numbers (salessim.compare);
every analytic figure the case names as exact theory must lie inside its simulated 99.9%
interval, which must be narrow, and every before/after verdict the case states must hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy import stats as sst

from salessim.analyse import versus
from salessim.errors import ScenarioError
from salessim.teaching.casebook import checked_kpis, load_case, run_case, verdict_of

CASES = Path(__file__).resolve().parents[1] / "cases"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "case.yaml").is_file())


def test_the_casebook_has_its_cases():
    assert {"ibm_credit", "handbook_funnel", "pooling", "speed_to_lead", "approval_bottleneck",
            "ford_payables"} <= set(NAMES)
    for name in NAMES:
        case = load_case(CASES / name)
        assert (CASES / name / "README.md").is_file()
        answers = (CASES / name / "answers.md").read_text(encoding="utf-8")
        assert case.title in answers
        for label, kpi, kind in case.expected():
            assert f"- {Path(label).stem}, {kpi}: expected {kind}, found {kind}" in answers


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_case_answers_hold(name):
    case, comparison = run_case(CASES / name)
    n = comparison.replications
    # Containment at the case's strict level (many figures per case); precision judged on
    # the 95% half-width, the estimate's usual precision.
    to_95 = sst.t.ppf(0.975, n - 1) / sst.t.ppf((1 + case.level) / 2, n - 1)
    checked = 0
    for run in comparison.runs:
        table = checked_kpis(case, versus(run.result, level=case.level))
        for r in table.itertuples(index=False):
            assert r.ci_low <= r.analytic <= r.ci_high, (
                f"{run.label} {r.kpi}: analytic {r.analytic:.5g} outside the simulated "
                f"[{r.ci_low:.5g}, {r.ci_high:.5g}]")
            half = (r.ci_high - r.ci_low) / 2 * to_95
            assert half <= 0.25 * abs(r.analytic) + 0.01, f"{run.label} {r.kpi}: too wide"
            checked += 1
    assert checked > 0 or case.theory == ["none"]
    for label, kpi, kind in case.expected():
        assert verdict_of(comparison, Path(label).stem, kpi, kind) == kind, (label, kpi)


def test_a_bad_case_file_names_the_field(tmp_path):
    (tmp_path / "before.yaml").write_text("name: x\n")
    (tmp_path / "case.yaml").write_text(
        "title: t\nsource: s\nbefore: before.yaml\nafter: [before.yaml]\n"
        "verdicts: {before.yaml: {won: higher}}\n")
    with pytest.raises(ScenarioError, match=r"verdicts.before.yaml.won: a verdict is one of"):
        load_case(tmp_path)
    (tmp_path / "case.yaml").write_text("title: t\nsource: s\nbefore: nothere.yaml\nafter: []\n")
    with pytest.raises(ScenarioError, match="after"):
        load_case(tmp_path)
    (tmp_path / "case.yaml").write_text("title: t\nsource: a: b\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_case(tmp_path)



def test_a_bad_list_item_in_a_case_file_names_its_line(tmp_path):
    (tmp_path / "case.yaml").write_text(
        "title: t\nsource: s\nbefore: before.yaml\nafter:\n  - before.yaml\n  - 3\n")
    with pytest.raises(ScenarioError) as caught:
        load_case(tmp_path)
    problem = caught.value.problems[0]
    assert (problem.field, problem.line) == ("after.1", 6)


TEACHING = (CASES.parent / "docs" / "teaching.md").read_text(encoding="utf-8")


def doc_blocks(language: str) -> list[str]:
    import re

    return re.findall(rf"```{language}\n(.*?)```", TEACHING, flags=re.S)


@pytest.mark.parametrize("code", doc_blocks("python"))
def test_teaching_doc_python_runs(code, monkeypatch):
    monkeypatch.chdir(CASES.parent)
    exec(compile(code, "docs/teaching.md", "exec"), {})


def test_teaching_doc_commands_run(tmp_path, monkeypatch):
    import shlex

    from salessim.cli import main

    monkeypatch.chdir(CASES.parent)
    lines = [line for block in doc_blocks("sh") for line in block.splitlines()
             if line.startswith("salessim ")]
    assert len(lines) >= 6
    for line in lines:
        args = [a.replace("out/", f"{tmp_path}/") for a in shlex.split(line)[1:]]
        assert main(args) == 0, line
    assert (tmp_path / "ibm.html").is_file() and (tmp_path / "ibm_before.bpmn").is_file()


def test_validate_checks_a_case_file_and_its_scenarios(tmp_path, capsys):
    import shutil

    from salessim.cli import main

    cases = sorted(Path(__file__).resolve().parents[1].glob("cases/*/case.yaml"))
    assert cases and main(["validate", *map(str, cases)]) == 0
    assert capsys.readouterr().out.count(": ok (case ") == len(cases)
    # A broken case: a key given twice, then an after scenario that does not load.
    folder = tmp_path / "pooling"
    shutil.copytree(cases[0].parent, folder)
    text = (folder / "case.yaml").read_text(encoding="utf-8")
    (folder / "case.yaml").write_text(text + "replications: 3\n", encoding="utf-8")
    assert main(["validate", str(folder / "case.yaml")]) == 2
    assert "replications" in capsys.readouterr().err
    (folder / "case.yaml").write_text(text, encoding="utf-8")
    after = load_case(folder).after[0]
    (folder / after).write_text("name: broken\nhorizon: -1\n", encoding="utf-8")
    assert main(["validate", str(folder / "case.yaml")]) == 2
    assert after in capsys.readouterr().err
