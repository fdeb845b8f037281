"""Flow analysis and queueing formulas from the scenario alone, without simulating.

The textbook method (Dumas et al., Fundamentals of BPM, ch. 7): a deal's path is a Markov
chain over the stages, so the expected visits per stage solve the linear system
``n = e + n Q`` (loops included: a rework loop with probability r multiplies by
1 / (1 - r)); sequence adds, a choice weights by its odds, parallel work takes the expected
maximum, and the time of a stage visit is its work plus its customer-side delay. The chain
is run per source and per class of deal value between the thresholds of ``only_if`` and
approval levels, so skips and approvals follow the source's value distribution exactly; its
state carries the last role that worked on the deal, so hand-offs are counted as the engine
counts them. Conditioned on ending won (the chain's h-transform), the same sums give the
cycle time of won deals.

Per role: offered load (staff busy on average), utilisation, capacity (the arrival rate at
which the role saturates, all sources scaled together), the bottleneck and the maximum
throughput; per pooled role around the clock with Poisson arrivals and first-come service,
Erlang C (M/M/c) or Allen-Cunneen (M/G/c) for P(wait) and the time queued, and the cycle
time with those waits. Each figure says how it was found (``method``) and whether the
theory is exact for this scenario (``exact``): then a long enough simulation's confidence
interval must contain it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from salessim.model.kinds.flow import Context
from salessim.scenario.schema import Scenario
from salessim.teaching.chain import COLUMNS, Analysis, Chain, chain_of, routing, value_classes
from salessim.teaching.figures import fill_rows

__all__ = ["COLUMNS", "VERSUS_COLUMNS", "Analysis", "Chain", "analyse", "routing", "simulated",
           "versus"]

def analyse(scenario: Scenario, hours_per_day: float | None = None) -> Analysis:
    """Flow analysis and queueing approximations of ``scenario`` (no simulation).

    Args:
        scenario: a validated scenario.
        hours_per_day: working hours per calendar day for cycle-time efficiency; default
            the calendar's weekly working hours / 7 (24 without a calendar).
    """
    if hours_per_day is None:
        hours_per_day = scenario.calendar.hours_per_week / 7 if scenario.calendar else 24.0
    if not (math.isfinite(hours_per_day) and 0 < hours_per_day <= 24):
        raise ValueError(f"hours_per_day must be in (0, 24], got {hours_per_day}")
    rate = sum(s.rate for s in scenario.sources.values())
    ctx = Context(scenario)
    chains = [chain_of(scenario, sid, src.rate / rate * p, value, ctx)
              for sid, src in scenario.sources.items()
              for p, value in value_classes(scenario, src)]
    result = Analysis(scenario, hours_per_day, chains)
    fill_rows(result, rate)
    return result


#: Columns of :func:`versus`.
VERSUS_COLUMNS = ["kpi", "measure", "analytic", "method", "exact", "mean", "ci_low", "ci_high",
                  "inside"]


def simulated(result, kpi: str) -> np.ndarray:
    """One value per replication of a KPI, or of ``visits_per_lead.<stage>``."""
    wide = result.wide()
    if kpi.startswith("visits_per_lead."):
        stage = kpi.split(".", 1)[1]
        return (wide[f"visits.{stage}"] / wide["leads"]).to_numpy(float)
    return wide[kpi].to_numpy(float)


def versus(result, analysis: Analysis | None = None, level: float = 0.95) -> pd.DataFrame:
    """The analytic figures beside the simulated ones, for a :class:`RunResult`.

    One row per figure that has a KPI: the analytic value, how it was found and whether the
    theory is exact for the scenario, the simulated mean with its Student-t interval, and
    whether the interval contains the analytic value (``inside``). Where theory is exact,
    a miss points at too short a run (warm-up, horizon) or too few replications; where it
    is an approximation, the gap is what the formulas leave out.
    """
    from salessim import stats

    analysis = analyse(result.scenario) if analysis is None else analysis
    rows = []
    for r in analysis.table().itertuples(index=False):
        if not r.kpi:
            continue
        values = simulated(result, r.kpi)
        values = values[np.isfinite(values)]
        if values.size < 2:
            est_mean, lo, hi = (values.mean() if values.size else math.nan), math.nan, math.nan
        else:
            est = stats.t_interval(values, level)
            est_mean, lo, hi = est.mean, est.ci_low, est.ci_high
        rows.append((r.kpi, r.measure, r.value, r.method, bool(r.exact), est_mean, lo, hi,
                     bool(lo <= r.value <= hi)))
    return pd.DataFrame(rows, columns=VERSUS_COLUMNS)
