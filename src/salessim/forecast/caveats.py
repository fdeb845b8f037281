"""The warnings ``run`` gives, for a forecast's runs: open leads rising, busy roles.

A forecast starts from the open pipeline (a warm start), not from an empty process, so
there is no warm-up to judge; the other warnings read its replications as ``run`` and
``compare`` do (:func:`salessim.reports.summary.run_caveats`).
"""

from __future__ import annotations

from salessim.compare import ScenarioRun
from salessim.engine import RunResult
from salessim.reports.summary import run_caveats
from salessim.scenario.schema import Scenario


def forecast_caveats(scenario: Scenario, result: RunResult) -> list[str]:
    """Each warning on the forecast's replications as a line (the scenario named)."""
    run = ScenarioRun(scenario.name, scenario, result=result)
    return [c.text() for c in run_caveats(run, None)]
