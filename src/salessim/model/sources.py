"""Lead sources: a process per channel that creates leads with their own attributes.

A lead's value, score and needs are drawn when it is created, a fixed number of draws per
lead from the source's own streams, and so are its first-visit routing draws: the same
lead has the same attributes and the same luck in every design (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import simpy

from salessim.model.deal import Deal
from salessim.model.demand import arrival_gaps
from salessim.records import EventLog, Tally
from salessim.rng import RandomStreams
from salessim.scenario.dists import Dist, blocks
from salessim.scenario.mechanics import Needs, clip01
from salessim.scenario.schema import Scenario


class Sources:
    """The lead sources of one replication.

    Args:
        scenario: the validated scenario.
        env: the SimPy environment.
        streams: the replication's random streams.
        tally: running totals (leads and lead cost, per source).
        log: the event log, or None.
        routed: the stages with a routing draw, in slot order (see ``Deal.luck``).
        start: called with each new deal (the journey).
    """

    def __init__(self, scenario: Scenario, env: simpy.Environment, streams: RandomStreams,
                 tally: Tally, log: EventLog | None, routed: list[str],
                 start: Callable[[Deal], Any]) -> None:
        self.scenario = scenario
        self.env = env
        self.streams = streams
        self.tally = tally
        self.log = log
        self.routed = routed
        self.start = start
        self.uses_needs = any(s.queue == "needs" for s in scenario.stages.values())
        for k, sid in enumerate(scenario.sources):
            env.process(self._source(sid, k))

    def _draws(self, dist: Dist, stream: str) -> Iterator[float]:
        return dist.draws(self.streams.generator(stream))

    def _source(self, sid: str, code: int) -> Generator[simpy.Event, Any, None]:
        sc, env, tally, log, start = self.scenario, self.env, self.tally, self.log, self.start
        warmup = float(sc.warmup)
        source = sc.sources[sid]
        gaps = arrival_gaps(source, sc.time_unit, self.streams, sid)
        values = self._draws(source.deal_value, f"lead:{sid}")
        scores = self._score_draws(sid)
        needs = self._needs_draws(sid) if self.uses_needs else None
        luck = [blocks(self.streams.generator(f"route:{st}:{sid}").random) for st in self.routed]
        cost = source.cost_per_lead
        k = 0
        gaps = iter(gaps)
        gap = next(gaps, None)
        arrival = None if gap is None else env.timeout(gap)
        while arrival is not None:
            yield arrival
            # The next arrival is scheduled before this lead starts walking (at once, in
            # this step), so the order of events is that of a lead process started now.
            gap = next(gaps, None)
            arrival = None if gap is None else env.timeout(gap)
            k += 1
            now = env.now
            counted = now >= warmup
            deal = Deal(sid, k, next(values), now, counted, list(map(next, luck)))
            if scores is not None:
                deal.score = next(scores)
            if needs is not None:
                deal.needs = next(needs)
            if counted:
                tally.leads += 1
                tally.leads_by_source[sid] += 1
                if cost:  # free leads add nothing (the totals start at 0.0: exact)
                    tally.lead_cost += cost
                    tally.lead_cost_by_source[sid] += cost
            if log is not None:
                deal.lead = log.new_lead(code, k, deal.value, deal.score, counted)
            start(deal)

    def _score_draws(self, sid: str) -> Iterator[float] | None:
        source = self.scenario.sources[sid]
        if source.score is not None:
            return map(clip01, self._draws(source.score, f"score:{sid}"))
        if source.score_factors is None:
            return None
        factors = source.score_factors
        total = sum(f.weight for f in factors.values())
        weights = [f.weight / total for f in factors.values()]
        draws = [self._draws(f.value, f"score:{sid}:{name}") for name, f in factors.items()]
        return (clip01(sum(w * clip01(x) for w, x in zip(weights, xs, strict=True)))
                for xs in zip(*draws, strict=False))

    def _needs_draws(self, sid: str) -> Iterator[float]:
        needs = self.scenario.sources[sid].needs or Needs()
        w = self.scenario.needs_weights
        parts = [self._draws(getattr(needs, k), f"needs:{sid}:{k}")
                 for k in ("impact", "difficulty", "urgency")]
        return (w.impact * a + w.difficulty * b + w.urgency * c
                for a, b, c in zip(*parts, strict=False))
