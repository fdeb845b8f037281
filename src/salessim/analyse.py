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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salessim.scenario.schema import TERMINALS, Scenario, Source, Stage
from salessim.teaching import numeric
from salessim.teaching.kinds import Context, Visit, visit

#: Columns of :meth:`Analysis.table`.
COLUMNS = ["section", "item", "measure", "value", "unit", "method", "exact", "kpi"]


def _mean_score(source: Source) -> float:
    if source.score is not None:
        return min(max(source.score.mean, 0.0), 1.0)
    if source.score_factors is not None:
        f = source.score_factors
        return sum(x.weight * x.value.mean for x in f.values()) / sum(x.weight for x in f.values())
    return 0.5  # the engine's score of an unscored lead


def routing(stage: Stage, source: Source) -> dict[str, float]:
    """A stage's odds of each target. Decay is taken at zero wait and score odds at the
    source's mean score (an approximation, flagged as such)."""
    odds = 1.0
    if stage.decay is not None:
        odds *= stage.decay.multiplier(0.0)
    if stage.score_odds is not None:
        odds *= stage.score_odds.multiplier(_mean_score(source))
    forward = {t: p for t, p in stage.next.items() if t not in ("lost", "no_decision")}
    p_on = sum(forward.values())
    if odds == 1.0 or p_on in (0.0, 1.0):
        return dict(stage.next)
    new = odds * p_on / (1 - p_on + odds * p_on)
    return {t: p * (new / p_on if t in forward else (1 - new) / (1 - p_on))
            for t, p in stage.next.items()}


@dataclass
class Chain:
    """The Markov chain of one source's deals in one class of deal value."""

    source: str
    share: float  # of all leads
    value: float  # a value inside the class (decides skips and approvals)
    states: list[tuple[str, str | None]]
    visits: np.ndarray  # expected visits to each state, from the entry
    ends: np.ndarray  # per state, P(end in each of TERMINALS)
    fresh: list[Visit]  # per state, the visit without queues

    @property
    def p_end(self) -> np.ndarray:
        return self.ends[0]


def _value_classes(scenario: Scenario, source: Source) -> list[tuple[float, float]]:
    """(probability, a value inside) per class between the value thresholds in use."""
    cuts = sorted({s.only_if.deal_value_above for s in scenario.stages.values() if s.only_if}
                  | {a.above for s in scenario.stages.values() for a in (s.approvals or [])})
    out, below = [], 0.0
    for cut in cuts:
        at_most = numeric.share_at_most(source.deal_value, cut)
        if at_most - below > 1e-12:
            out.append((at_most - below, cut))
        below = at_most
    if 1 - below > 1e-12:
        out.append((1 - below, (cuts[-1] + 1.0) if cuts else 0.0))
    return out


def _chain(scenario: Scenario, sid_source: str, share: float, value: float,
           ctx: Context) -> Chain:
    source = scenario.sources[sid_source]
    start = (scenario.entry, None)
    index, states, fresh, moves = {start: 0}, [start], [], []
    k = 0
    while k < len(states):  # the states a deal can reach, breadth first
        sid, last = states[k]
        stage = scenario.stages[sid]
        v = visit(stage, sid, value, last, ctx)
        fresh.append(v)
        routes = {v.otherwise: 1.0} if v.skipped and v.otherwise else routing(stage, source)
        out = []
        for new_last, p_last in v.last.items():
            for target, p in routes.items():
                if p * p_last == 0:
                    continue
                if target in TERMINALS:
                    out.append((target, p * p_last))
                    continue
                state = (target, new_last)
                if state not in index:
                    index[state] = len(states)
                    states.append(state)
                out.append((index[state], p * p_last))
        moves.append(out)
        k += 1
    n = len(states)
    q, r = np.zeros((n, n)), np.zeros((n, len(TERMINALS)))
    for i, out in enumerate(moves):
        for target, p in out:
            if isinstance(target, str):
                r[i, TERMINALS.index(target)] += p
            else:
                q[i, target] += p
    a = np.eye(n) - q
    visits = np.linalg.solve(a.T, np.eye(n)[0])
    ends = np.linalg.solve(a, r)
    return Chain(sid_source, share, value, states, visits, ends, fresh)


@dataclass
class Analysis:
    """Flow analysis of a scenario. Build it with :func:`analyse`."""

    scenario: Scenario
    hours_per_day: float
    chains: list[Chain]
    rows: list[tuple] = field(default_factory=list)
    waits: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per figure: section, item, measure, value, unit, method, exact, kpi."""
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def value(self, section: str, item: str, measure: str) -> float:
        t = self.table()
        hit = t[(t.section == section) & (t.item == item) & (t.measure == measure)]
        if hit.empty:
            raise KeyError(f"no figure {section}/{item}/{measure}")
        return float(hit.value.iloc[0])

    def sum(self, per_visit, won: bool = False, visits: list[Visit] | None = None) -> float:
        """Sum over chains and states of share x visits x per_visit(visit, state).

        With ``won``, conditioned on ending won (visits weighted by P(won | state)).
        """
        total = norm = 0.0
        for c, chain in enumerate(self.chains):
            vs = chain.fresh if visits is None else visits[c]
            weight = chain.ends[:, 0] if won else np.ones(len(chain.states))
            total += chain.share * sum(chain.visits[i] * weight[i] * per_visit(vs[i], state)
                                       for i, state in enumerate(chain.states))
            norm += chain.share * (chain.p_end[0] if won else 1.0)
        return total / norm if norm else math.nan


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
    chains = [_chain(scenario, sid, src.rate / rate * p, value, ctx)
              for sid, src in scenario.sources.items()
              for p, value in _value_classes(scenario, src)]
    result = Analysis(scenario, hours_per_day, chains)
    from salessim.teaching.figures import fill_rows

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
