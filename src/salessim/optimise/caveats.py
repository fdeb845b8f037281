"""The warnings ``run`` gives, for the baseline and the chosen design of an optimisation.

The search, the selection and the holdout keep only the KPIs they need; these warnings
need each design's replications (the open-leads series, its warm-up): the baseline and
the chosen design are run again on the holdout's seed, and read as ``run`` and
``compare`` read theirs (:func:`salessim.reports.summary.run_caveats`): a warm-up shorter
than MSER-5 suggests, open leads rising, busy roles.
"""

from __future__ import annotations

from collections.abc import Sequence

from salessim import diagnose, engine
from salessim.compare import ScenarioRun
from salessim.optimise.problem import Candidate
from salessim.reports.summary import run_caveats


def design_caveats(designs: Sequence[Candidate], replications: int, seed: int) -> list[str]:
    """Each warning on the designs' replications as a line (the design named)."""
    lines = []
    for design in designs:
        if design.scenario is None:  # never simulated (infeasible)
            continue
        result = engine.run(design.scenario, replications, seed)
        run = ScenarioRun(design.label, design.scenario, result=result)
        estimate = None if design.scenario.pipeline else diagnose.estimate_warmup(result)
        lines += [c.text() for c in run_caveats(run, estimate)]
    return lines
