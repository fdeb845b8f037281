"""The KPI registry, the number formats by unit, and the two rules written once (verdict,
staff cost)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from salessim import kpis, stats
from salessim.compare import parse_target, settling_replications
from salessim.engine import run_replication
from salessim.metrics import staff_cost_of
from salessim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_every_entry_is_complete_and_unique():
    ids = [k.id for k in kpis.REGISTRY]
    assert len(ids) == len(set(ids))
    for k in kpis.REGISTRY:
        assert re.fullmatch(r"[a-z0-9_]+(\.<[a-z]+>)*", k.id), k.id
        assert k.unit in kpis.UNITS, k.id
        assert k.label and k.definition, k.id
        assert k.higher_is_better in (True, False, None)
        # A family's label names each of its placeholders.
        for field in k.placeholders:
            assert "{" + field + "}" in k.label, k.id


def test_family_names_resolve_to_their_pattern():
    assert kpis.spec("conversion.qualify").id == "conversion.<stage>"
    assert kpis.spec("utilisation.ae").id == "utilisation.<role>"
    assert kpis.spec("utilisation.ae.2").id == "utilisation.<role>.<member>"
    assert kpis.spec("receivables").id == "receivables"
    assert kpis.spec("receivables.over_90").id == "receivables.<bucket>"
    assert kpis.label("utilisation.ae.2") == "Utilisation of ae member 2"
    assert kpis.label("conversion.demo") == "Conversion at demo"
    for bad in ("conversion", "conversion.", "nonsense", "won.extra"):
        with pytest.raises(KeyError):
            kpis.spec(bad)
    assert kpis.label("profit") == "profit"  # a derived quantity keeps its name


def test_readme_kpi_table_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- fig:kpi-table -->", "<!-- /fig:kpi-table -->"
    table = readme.split(begin, 1)[1].split(end, 1)[0].strip()
    assert table == kpis.markdown_table()


def test_scenario_time_unit_goes_into_the_heading():
    assert kpis.heading("cycle_time_won_median", "day") == "Median cycle time of won deals (days)"
    assert kpis.heading("win_rate") == "Win rate (%)"
    assert kpis.heading("won") == "Deals won"
    assert kpis.unit_text("throughput", "week") == "per week"


@pytest.mark.parametrize(("value", "text"), [
    (3.401e-05, "0.00003401"), (0.5, "0.5"), (37.7612, "37.76"), (160.4, "160.4"),
    (12345.6, "12,346"), (-4.995, "-4.995"), (0.0, "0"), (1e-12, "0"), (math.nan, "n/a"),
    (None, "n/a"), (2.0, "2"), (math.inf, "inf"),
])
def test_plain_numbers_never_show_an_exponent(value, text):
    assert kpis.format_plain(value) == text


def test_values_are_formatted_by_unit():
    assert kpis.format_value("win_rate", 0.4215) == "42.1%"
    assert kpis.format_value("win_rate", math.nan) == "n/a"
    assert kpis.format_value("selling_cost", 1491795.6) == "1,491,796"
    assert kpis.format_value("cost_per_win", 12.345) == "12.35"
    assert kpis.format_value("selling_cost", 0.0) == "0"
    assert kpis.format_difference("selling_cost", 0.0) == "0"
    assert kpis.format_value("cycle_time_won_median", 37.76, "day") == "37.76 days"
    assert kpis.format_value("dso", 42.04) == "42.04 days"
    assert kpis.format_value("won", 160.4) == "160.4"
    assert kpis.format_difference("win_rate", 0.012) == "+1.2 pts"
    assert kpis.format_difference("cycle_time_won_median", -4.995, "day") == "-4.995 days"
    assert kpis.format_difference("revenue", 2500.0) == "+2,500"
    assert kpis.format_change(0.0137) == "+1.4%"
    assert kpis.format_change(-0.132) == "-13.2%"


@pytest.mark.parametrize(("low", "high", "op", "bound", "expected"), [
    (0.1, 0.2, ">=", 0.05, "met"), (0.1, 0.2, ">=", 0.1, "met"), (0.1, 0.2, ">=", 0.15, "unsure"),
    (0.1, 0.2, ">=", 0.25, "missed"), (-0.3, -0.25, "<=", -0.2, "met"),
    (-0.3, -0.1, "<=", -0.2, "unsure"), (-0.1, 0.0, "<=", -0.2, "missed"),
    (math.nan, 0.1, "<=", 0.0, "n/a"),
])
def test_the_one_verdict_rule(low, high, op, bound, expected):
    assert kpis.verdict(low, high, op, bound) == expected


def test_every_verdict_goes_through_the_one_rule(monkeypatch):
    """Targets, funnel conversion targets and optimisation bounds all call kpis.verdict."""
    from salessim import diagnose, targets
    from salessim.optimise import problem

    for module in (targets, diagnose, problem):
        assert module.verdict is kpis.verdict
    calls = []

    def spy(*args):
        calls.append(args)
        return kpis.verdict(*args)

    for module in (targets, diagnose, problem):
        monkeypatch.setattr(module, "verdict", spy)
    target = parse_target("win_rate", "+5%")
    assert target.verdict(stats.Estimate(0.07, 0.06, 0.08, 10, 0.01, 0.95)) == "met"
    assert diagnose._status(stats.Estimate(0.7, 0.6, 0.8, 10, 0.1, 0.95), 0.65) == "unsure"
    assert len(calls) == 2


def test_settling_replications_divide_by_the_absolute_baseline():
    """A loss of about 100 cut to about 50 is a change of +50%, as stats.relative_change says;
    the replications that would settle a +40% target are counted on that scale."""
    rng = np.random.default_rng(7)
    base = -100 + rng.normal(0, 30, 10)
    other = base + 50 + rng.normal(0, 30, 10)
    rel = stats.relative_change(base, other)
    assert rel.mean > 0
    lin = stats.relative_change_linearised(base, other)
    assert np.mean(lin) == pytest.approx(rel.mean)
    assert np.std(lin, ddof=1) == pytest.approx(rel.std)
    target = parse_target("revenue", "+40%")
    n = settling_replications(target, base, other)
    # The pilot-scaling rule: n * (h / |R - bound|)^2 with R and h from the interval itself.
    gap = abs(rel.mean - 0.40)
    expected = max(10, math.ceil(10 * (rel.half_width / gap) ** 2))
    assert n == expected
    # Under the signed baseline the estimate would be -50% and the answer about 10.
    assert n > 10


def test_staff_cost_kpi_is_the_one_staff_cost_rule():
    path = ROOT / "scenarios" / "role_based.yaml"  # role calendars and several roles
    scenario = load_scenario(path, ["horizon=40", "warmup=5"])
    got = run_replication(scenario, 0).kpis["staff_cost"]
    assert got == pytest.approx(staff_cost_of(scenario, 5.0, 40.0), rel=1e-12)
    from salessim.optimise.problem import staff_budget

    assert staff_budget(scenario, "window") == staff_cost_of(scenario, 5.0, 40.0)
