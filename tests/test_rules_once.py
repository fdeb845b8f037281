"""Rules that several parts of salessim apply are written once; each test here would have
caught a second copy that drifted.

- Time units convert only through ``scenario/units.py`` (the optimisation budget had its own
  table; the calibration back-test took the scenario's unit for days).
- The win rate is ``kpis.win_rate`` for the KPI and for the calibration back-test (which
  left no-decision deals out).
- "The role's calendar, else the scenario's" is ``Scenario.calendar_of``.
- The ends of a deal are named through ``ends.py``.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from salessim import engine, kpis
from salessim.calibrate.backtest import history_kpis, simulated_histories
from salessim.diagnose import bottlenecks
from salessim.ends import END_NAMES
from salessim.metrics import staff_cost_of
from salessim.optimise.problem import staff_budget
from salessim.scenario import load_scenario
from salessim.scenario.units import UNIT_HOURS
from salessim.stats import t_interval

SRC = Path(__file__).resolve().parents[1] / "src" / "salessim"


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- time units -------------------------------------------------------------------------------


def test_no_module_but_units_keeps_a_table_of_time_units():
    """A dict keyed by two or more time units outside scenario/units.py is a second table
    of conversions (optimise/problem.py had ``{"minute": 1 / 1440, "hour": 1 / 24, ...}``)."""
    found = []
    for name, tree in _modules():
        if name == "scenario/units.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if len(keys & set(UNIT_HOURS)) >= 2:
                    found.append(f"{name}:{node.lineno}")
    assert not found, f"time units converted outside scenario/units.py: {found}"


@pytest.mark.parametrize("unit", ["minute", "hour", "day", "week"])
def test_a_years_staff_budget_is_the_same_in_every_time_unit(tmp_path, unit):
    # One person at 10 an hour with no calendar is paid every hour: 365 x 24 x 10.
    horizon = 365 * 24 / UNIT_HOURS[unit]  # a year, in the unit
    path = _write(tmp_path, f"""
name: budget
time_unit: {unit}
horizon: {horizon}
roles: {{ae: {{headcount: 1, cost_per_hour: 10}}}}
sources: {{web: {{rate: 0.001}}}}
entry: call
stages: {{call: {{role: ae, next: {{won: 1}}}}}}
""")
    scenario = load_scenario(path)
    assert staff_budget(scenario, "year") == pytest.approx(365 * 24 * 10, rel=1e-12)
    assert staff_cost_of(scenario, 0, scenario.horizon) == pytest.approx(365 * 24 * 10,
                                                                         rel=1e-12)


@pytest.mark.parametrize("unit, rate", [("day", 24.0), ("hour", 1.0)])
def test_the_calibration_backtest_simulates_the_whole_period_in_any_unit(tmp_path, unit, rate):
    """Over 45 days at one lead an hour, a simulated history holds Poisson(1,080) leads,
    whatever the scenario's time unit (an hour scenario used to simulate 45 hours)."""
    path = _write(tmp_path, f"""
name: one an hour
time_unit: {unit}
horizon: 100
sources: {{web: {{rate: {rate}}}}}
entry: talk
stages: {{talk: {{delay: {{dist: constant, value: "1 hour"}}, next: {{won: 1}}}}}}
""")
    days = 45.0
    histories = simulated_histories(load_scenario(path), days, replications=2, seed=3)
    expected = 24 * days
    for visits in histories:
        n = len(visits.deals)
        # Five standard deviations of a Poisson count: a miss has odds under 1 in 10^6.
        assert abs(n - expected) <= 5 * math.sqrt(expected), n
        assert visits.days == pytest.approx(days)


# --- win rate ---------------------------------------------------------------------------------


def test_win_rate_rule():
    assert kpis.win_rate(3, 1) == 0.75
    assert kpis.win_rate(2, 1, 1) == 0.5  # a deal with no decision is a deal not won
    assert math.isnan(kpis.win_rate(0, 0, 0))


def test_the_backtest_win_rate_of_a_simulated_history_is_the_runs_kpi(tmp_path):
    """The history read back from a run's event log has the run's own win rate, no-decision
    deals included in the denominator on both sides."""
    path = _write(tmp_path, """
name: three ends
time_unit: day
horizon: 30
sources: {web: {rate: 20}}
entry: talk
stages:
  talk:
    delay: {dist: exponential, mean: 2}
    next: {won: 0.4, lost: 0.35, no_decision: 0.25}
""")
    scenario = load_scenario(path)
    [visits] = simulated_histories(scenario, 30.0, replications=1, seed=5)
    data, _ = history_kpis(visits)
    rep = engine.run(scenario.model_copy(update={"horizon": 30.0, "warmup": 0.0}),
                     replications=1, seed=5).replications[0]
    assert rep.kpis["no_decision"] > 0
    assert data["win_rate"] == pytest.approx(rep.kpis["win_rate"], rel=1e-12)
    assert data["won"] == rep.kpis["won"]


# --- the role's calendar ----------------------------------------------------------------------


def test_calendar_of_a_role_is_its_own_else_the_scenarios(tmp_path):
    path = _write(tmp_path, """
name: calendars
time_unit: hour
horizon: 1000
calendar: {workdays: [mon, tue, wed, thu, fri], hours: [9, 17]}
roles:
  sdr: {headcount: 1}
  ae: {headcount: 1, calendar: {workdays: [mon, tue], hours: [10, 12]}}
sources: {web: {rate: 0.01}}
entry: call
stages: {call: {roles: [sdr, ae], next: {won: 1}}}
""")
    sc = load_scenario(path)
    assert sc.calendar_of("sdr") == sc.calendar
    assert sc.calendar_of("ae") == sc.roles["ae"].calendar
    shared = sc.shared_calendar_of(["sdr", "ae"])
    assert list(shared.workdays) == ["mon", "tue"] and tuple(shared.hours) == (10, 12)
    bare = sc.model_copy(update={"calendar": None})
    assert bare.calendar_of("sdr") is None


def test_the_calendar_fallback_is_written_once():
    """``<x>.calendar or <y>.calendar`` anywhere but Scenario.calendar_of is a second copy."""
    found = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if (isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or)
                    and any(isinstance(v, ast.Attribute) and v.attr == "calendar"
                            for v in node.values[:1])
                    and any(isinstance(v, ast.Attribute) and v.attr == "calendar"
                            for v in node.values[1:])):
                found.append(f"{name}:{node.lineno}")
    # The one definition.
    assert len(found) == 1 and found[0].startswith("scenario/"), found


# --- ends -------------------------------------------------------------------------------------

#: Modules where an end's name is written as a string, and why. KPI ids ("won", "lost",
#: "no_decision" are also KPI names) and the names of log events are contracts of their
#: own; the other entries are to be replaced by ``salessim.ends`` names.
END_LITERALS = {
    "ends.py": "the definition",
    "kpis.py": "KPI ids",
    "metrics.py": "KPI ids",
    "calibrate/backtest.py": "KPI ids of the back-test",
    "forecast/simulate.py": "KPI ids of a forecast",
    "forecast/tables.py": "KPI ids of a forecast",
    "reports/summary.py": "KPI ids",
    "teaching/casebook.py": "KPI ids",
    "diagnose.py": "a column name of the funnel table (lost visits)",
    "reports/tables.py": "a column heading of the funnel table",
    "calibrate/readers.py": "Salesforce IsWon read as an end (calibration formats work)",
    "reports/figures.py": "flow-view nodes (public API work)",
}


def test_ends_are_named_through_ends_py():
    found = set()
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in END_NAMES:
                found.add(name)
    assert found - set(END_LITERALS) == set(), "write ends.WON.name (and so on) instead"
    assert set(END_LITERALS) - found == set(), "no literal left: remove it from END_LITERALS"


# --- the bottleneck sentence ------------------------------------------------------------------


def test_bottleneck_summary_names_the_level_it_computed(tmp_path):
    path = _write(tmp_path, """
name: one queue
time_unit: hour
horizon: 400
replications: 5
roles: {ae: {headcount: 1}}
sources: {web: {rate: 0.5}}
entry: call
stages: {call: {role: ae, work: {dist: exponential, mean: 1.5}, next: {won: 1}}}
""")
    result = engine.run(load_scenario(path), replications=5, seed=2)
    report = bottlenecks(result, level=0.9)
    est = t_interval(np.array([r.kpis["utilisation.ae"] for r in result.replications]), 0.9)
    text = report.summary()
    assert f"90% CI [{est.ci_low:.1%}, {est.ci_high:.1%}]" in text
    assert "95%" not in text
