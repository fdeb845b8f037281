"""The warnings ``run`` gives (warm-up, rising open leads, busy roles) wherever a result
is read: ``compare`` for the baseline and each redesign, the forecast, ``optimise``."""

from __future__ import annotations

from pathlib import Path

import salessim
from conftest import scenario_of
from salessim.api import evolve

ROOT = Path(__file__).resolve().parents[1]


def _busy(delay: float = 150.0) -> object:
    """Starts empty, 90% busy; a customer-side delay of ``delay`` hours fills the process
    over that long: a transient MSER-5 sees on the open leads, and a busy role."""
    return scenario_of({
        "horizon": 600, "warmup": 0, "replications": 4,
        "roles": {"rep": {"headcount": 1}},
        "sources": {"web": {"rate": 0.9, "deal_value": 1000}},
        "entry": "call",
        "stages": {"call": {"role": "rep", "work": {"dist": "exponential", "mean": 1.0},
                            "delay": {"dist": "constant", "value": delay},
                            "next": {"won": 1.0}}}})


def test_compare_judges_the_warm_up_of_the_baseline_and_of_each_redesign():
    base = _busy()
    other = evolve(base, {"sources.web.rate": 0.92})
    report = salessim.compare(base, other, replications=4, labels=["base", "other"],
                              hire_split=False)
    warm = [c for c in report.caveats() if "MSER-5" in c.text()]
    assert {c.scenario for c in warm} == {"base", "other"}
    busy = [c for c in report.caveats() if "busy" in c.text()]
    assert {c.scenario for c in busy} == {"base", "other"}
    assert "Warnings" in report.summary()


def test_a_redesign_with_its_own_transient_is_warned_about_alone():
    """The baseline fills at once, the redesign (customers take 150 hours more) over a
    long transient: only the redesign's warm-up is too short."""
    base = _busy(delay=1.0)
    other = evolve(base, {"stages.call.delay.value": 150.0})
    report = salessim.compare(base, other, replications=4, labels=["base", "other"],
                              hire_split=False)
    warm = {c.scenario for c in report.caveats() if "MSER-5" in c.text()}
    assert warm == {"other"}


def test_the_forecast_warns_of_busy_roles():
    from salessim.forecast import parse_date, read_pipeline, run_forecast
    from salessim.scenario import load_scenario

    crm = ROOT / "examples" / "crm"
    base = load_scenario(crm / "calibrated.yaml")
    snap = read_pipeline(crm / "stage_history.csv", base)
    forecast = run_forecast(base, snap, parse_date("2026-09-30", "--until"), 4)
    assert any("owner is" in w and "busy" in w for w in forecast.warnings), forecast.warnings


SPEC = """\
name: busy_opt
baseline: busy.yaml
variables:
  roles.rep.headcount: {type: integer, low: 1, high: 2}
objective: {maximise: won}
search: {replications: 2}
selection: {finalists: 2, first_stage: 3, max_replications: 6}
holdout: {replications: 3}
"""


def test_optimise_gives_the_warnings_of_the_baseline_and_the_chosen_design(tmp_path):
    import yaml

    from salessim.experiments.executors import SerialExecutor
    from salessim.optimise import SimulationEvaluator, load_problem, optimise
    from salessim.scenario.load import resolved

    data = resolved(_busy())
    (tmp_path / "busy.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "spec.yaml").write_text(SPEC)
    problem = load_problem(tmp_path / "spec.yaml")
    result = optimise(problem, SimulationEvaluator(problem, SerialExecutor()))
    assert any(c.startswith("baseline: rep is") for c in result.caveats), result.caveats
    assert "\nWarnings\n- baseline: " in result.report()
