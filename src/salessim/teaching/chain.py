"""The Markov chain of a deal's path, per source and class of deal value, and the
:class:`Analysis` that holds the chains and the figures computed from them.

Built by :func:`salessim.analyse.analyse`; read by :mod:`salessim.teaching.figures`, which
fills the figures. The chain's moves use the one forward rule of :mod:`salessim.ends`:
the odds factors (decay, score odds) move the split between forward targets and the
others exactly as the engine does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salessim.ends import is_forward, shifted_forward
from salessim.model.kinds import kind_of, numeric
from salessim.model.kinds.flow import Context, Visit
from salessim.scenario.schema import TERMINALS, Scenario, Source, Stage
from salessim.teaching.kinds import visit

#: Columns of :meth:`Analysis.table`.
COLUMNS = ["section", "item", "measure", "value", "unit", "method", "exact", "kpi"]


def _mean_score(source: Source) -> float:
    if source.score is not None:
        return min(max(source.score.mean, 0.0), 1.0)
    if source.score_factors is not None:
        f = source.score_factors
        return sum(x.weight * x.value.mean for x in f.values()) / sum(x.weight for x in f.values())
    return 0.5  # the engine's score of an unscored lead


def routing(stage: Stage, source: Source, progress: dict[str, bool]) -> dict[str, float]:
    """A stage's odds of each target. Decay is taken at zero wait and score odds at the
    source's mean score (an approximation, flagged as such).

    Args:
        stage: the stage.
        source: the source of the deals.
        progress: stage id -> does reaching it count as progress (``Scenario.progress``):
            the odds factors move the split between forward targets and the others.
    """
    odds = 1.0
    if stage.decay is not None:
        odds *= stage.decay.multiplier(0.0)
    if stage.score_odds is not None:
        odds *= stage.score_odds.multiplier(_mean_score(source))
    shares = stage.implied.routes  # exits and a time-out: their implied shares
    forward = {t: p for t, p in shares.items() if is_forward(t, progress)}
    p_on = sum(forward.values())
    new = shifted_forward(p_on, odds)
    if new == p_on:
        return dict(shares)
    return {t: p * (new / p_on if t in forward else (1 - new) / (1 - p_on))
            for t, p in shares.items()}


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
    moves: np.ndarray | None = None  # state to state probabilities (Q)
    exits: np.ndarray | None = None  # state to end probabilities (R), ends as in TERMINALS

    def first_hits(self, hit: set[str]) -> np.ndarray:
        """Per state, P(the walk from the entry reaches it before any state of a stage in
        ``hit`` and the state is in ``hit``): where a deal first enters those stages."""
        if self.moves is None:
            raise ValueError("a chain without its moves (chain_of keeps them)")
        q = self.moves.copy()
        for i, (sid, _) in enumerate(self.states):
            if sid in hit:
                q[i] = 0.0  # absorbing: only the first entry counts
        reach = np.linalg.solve((np.eye(len(self.states)) - q).T, np.eye(len(self.states))[0])
        return np.array([reach[i] if sid in hit else 0.0
                         for i, (sid, _) in enumerate(self.states)])

    @property
    def p_end(self) -> np.ndarray:
        return self.ends[0]


def value_classes(scenario: Scenario, source: Source) -> list[tuple[float, float]]:
    """(probability, a value inside) per class between the value thresholds in use."""
    cuts = sorted({s.only_if.deal_value_above for s in scenario.stages.values() if s.only_if}
                  | {cut for s in scenario.stages.values() for cut, _ in kind_of(s).value_cuts(s)})
    out, below = [], 0.0
    for cut in cuts:
        at_most = numeric.share_at_most(source.deal_value, cut)
        if at_most - below > 1e-12:
            out.append((at_most - below, cut))
        below = at_most
    if 1 - below > 1e-12:
        out.append((1 - below, (cuts[-1] + 1.0) if cuts else 0.0))
    return out


def chain_of(scenario: Scenario, sid_source: str, share: float, value: float,
           ctx: Context) -> Chain:
    source = scenario.sources[sid_source]
    start: tuple[str, str | None] = (scenario.entry, None)
    index = {start: 0}
    states = [start]
    fresh: list[Visit] = []
    moves: list[list[tuple[str | int, float]]] = []  # per state: (end or state, probability)
    k = 0
    while k < len(states):  # the states a deal can reach, breadth first
        sid, last = states[k]
        stage = scenario.stages[sid]
        v = visit(stage, sid, value, last, ctx)
        fresh.append(v)
        routes = {v.otherwise: 1.0} if v.skipped and v.otherwise else routing(stage, source, scenario.progress)
        out: list[tuple[str | int, float]] = []
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
        for to, p in out:
            if isinstance(to, str):
                r[i, TERMINALS.index(to)] += p
            else:
                q[i, to] += p
    a = np.eye(n) - q
    visits = np.linalg.solve(a.T, np.eye(n)[0])
    ends = np.linalg.solve(a, r)
    return Chain(sid_source, share, value, states, visits, ends, fresh, q, r)


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

    def sum(self, per_visit: Callable[..., float], won: bool = False,
            visits: list[list[Visit]] | None = None) -> float:
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
