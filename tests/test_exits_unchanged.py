"""Scenarios without the exit keys run exactly as before the keys existed.

The digests below were produced by the engine as it was before ``exits``, ``timeout``,
``value_odds`` and ``visit_odds`` were added (commit 868e43b), from the same code as
these tests: one replication of each shipped scenario on a short horizon with its event
log, hashed record by record together with its KPIs, and one warm start. A change that
moves a single draw, event or time in a scenario without the new keys changes a digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from salessim import engine
from salessim.scenario import load_scenario
from salessim.scenario.schema import Scenario
from salessim.scenario.units import convert

ROOT = Path(__file__).resolve().parent.parent / "scenarios"

#: Shipped scenario -> digest of its run (replication 1, 60 days, a sixth of it warm-up).
PINNED = {
    "b2b_baseline.yaml": "4cc3d829ba758773",
    "b2b_lead_recycling.yaml": "67c31f983d0d5029",
    "handbook_funnel.yaml": "83524c8e113c771c",
    "handbook_plan.yaml": "3ac076af8ff3b58f",
    "order_to_cash.yaml": "7e2582d9b0254133",
    "order_to_cash_e_invoicing.yaml": "328745e2d4c7821f",
    "quarter_end.yaml": "756d3f7b4696741a",
    "quarter_end_new_crm.yaml": "fd1a1abf2dd9d43b",
    "redesigns/combined.yaml": "cc6e7c7704f0cfb4",
    "redesigns/crm_automation.yaml": "c58810abe6d11b83",
    "redesigns/electronic_contracts.yaml": "8b5c95190baeb40f",
    "redesigns/faster_first_response.yaml": "c20328179c702ca0",
    "redesigns/one_more_se.yaml": "e2bc787f2b42c4d9",
    "redesigns/simplified_approval.yaml": "4cc3d829ba758773",
    "redesigns/standardisation.yaml": "a9734948903b35b6",
    "role_based.yaml": "617b72975067cd48",
    "role_based_pooled.yaml": "ebc7e3dbfa2603ed",
    "saas_renewals.yaml": "ccb1636f00a04ec7",
    "saas_renewals_csm_program.yaml": "0921d4c4b615e75b",
    "speed_to_lead.yaml": "96ef6784c72bc8be",
    "speed_to_lead_extended_hours.yaml": "b5005217a0b4fc92",
    "tutorial.yaml": "939e4dfadab33cbe",
}


def _digest(rep: engine.Replication, *extra: object) -> str:
    assert rep.log is not None
    h = hashlib.sha256()
    for event in rep.log.records():
        h.update(repr(tuple(event)).encode())
    h.update(repr(sorted(rep.kpis.items())).encode())
    for item in extra:
        h.update(repr(item).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_shipped_scenario_runs_as_before(name):
    path = ROOT / name
    scenario = load_scenario(path)
    horizon = min(float(scenario.horizon), convert(60, "day", scenario.time_unit))
    short = load_scenario(path, [f"horizon={horizon!r}", f"warmup={horizon / 6!r}"])
    assert _digest(engine.run_replication(short, 1, event_log=True)) == PINNED[name]


def test_warm_start_runs_as_before():
    base = load_scenario(ROOT / "tutorial.yaml", ["horizon=60", "warmup=10"])
    pipeline = [{"id": f"D-{i}", "stage": "pitch" if i % 2 else "qualify", "age": 0.5 * i,
                 "value": 1000.0 * (i + 1), "work_done": i % 3 == 0} for i in range(40)]
    scenario = Scenario.model_validate({**base.model_dump(by_alias=True), "pipeline": pipeline})
    rep = engine.run_replication(scenario, 2, event_log=True)
    assert rep.pipeline is not None
    digest = _digest(rep, rep.pipeline.end.tolist(), rep.pipeline.when.tolist())
    assert digest == "28abac17f9741fdb"


def test_every_shipped_scenario_without_the_new_keys_is_pinned():
    shipped = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.yaml")}
    uses_exits = {name for name in shipped if "exits:" in (ROOT / name).read_text()}
    assert shipped - uses_exits == set(PINNED)
