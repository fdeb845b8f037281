"""Every example scenario (scenarios/, subfolders included) validates and runs.

Each one runs one replication of a short horizon (90 days, 10 of them warm-up, in the
scenario's own time unit, or its own horizon if shorter) and must give sane numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from salessim import engine
from salessim import kpis as registry
from salessim.scenario import load_scenario
from salessim.scenario.units import convert

ROOT = Path(__file__).resolve().parent.parent / "scenarios"
EXAMPLES = sorted(p for p in ROOT.rglob("*") if p.suffix in (".yaml", ".yml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT)) for p in EXAMPLES])
def test_example_validates_and_runs(path):
    scenario = load_scenario(path)
    assert scenario.name
    horizon = min(float(scenario.horizon), convert(90, "day", scenario.time_unit))
    warmup = horizon / 9
    short = load_scenario(path, [f"horizon={horizon!r}", f"warmup={warmup!r}"])
    assert (short.horizon, short.warmup) == (horizon, warmup)

    kpis = engine.run_replication(short, 0).kpis
    assert kpis["leads"] > 0
    assert 0 <= kpis["win_rate"] <= 1
    assert 0 <= kpis["close_rate"] <= kpis["win_rate"]
    assert kpis["won"] + kpis["lost"] <= kpis["leads"]
    assert kpis["open"] >= 0
    for name, value in kpis.items():
        assert not math.isinf(value), name
        if name.startswith("utilisation."):
            assert 0 <= value <= 1 + 1e-9, name
        if name.startswith(("conversion.", "visits.", "wait_mean.", "work_mean.")):
            assert math.isnan(value) or value >= 0, name
    # The KPI names known before a run (used to check targets and sweep KPIs) are exactly
    # the ones a run reports.
    assert engine.kpi_names(short) == list(kpis)
    # Every KPI a run reports is declared in the registry (label, unit, direction).
    unknown = [name for name in kpis if registry.label(name) == name]
    assert not unknown
